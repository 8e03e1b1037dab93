from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from agent_tools.risk.base import OrderContext, Rejection

MAX_DECIMALS = 4
MAX_AMOUNT = Decimal("1e15")  # far beyond any account; keeps Decimal arithmetic (28 digits) exact in later rules


class PositiveAmount:
    """The amount is a positive whole number of shares (or a positive fraction with 4 decimals when fractional is on)."""

    name = "positive_amount"
    needs_price = False

    def check(self, order: OrderContext) -> Rejection | None:
        raw = order.raw_amount
        kind = "a positive fraction of a share (up to 4 decimals)" if order.limits.fractional else "a positive whole number of shares"
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            return Rejection(self.name, f"amount must be {kind}, got {raw!r}")
        if isinstance(raw, float) and not math.isfinite(raw):
            return Rejection(self.name, f"amount must be {kind}, got {raw!r}")
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            return Rejection(self.name, f"amount must be {kind}, got {raw!r}")
        if value <= 0:
            return Rejection(self.name, f"amount must be {kind}, got {raw!r}")
        if value > MAX_AMOUNT:
            return Rejection(self.name, f"amount {raw!r} is too large: at most {MAX_AMOUNT:,.0f} shares per order")
        if not order.limits.fractional and value != value.to_integral_value():
            whole = int(value)
            hint = f"; try {whole}" if whole > 0 else ""
            return Rejection(self.name, f"amount must be a whole number of shares (fractional trading is off), got {raw!r}{hint}",
                             {"max_decimals": 0})
        if order.limits.fractional and value != value.quantize(Decimal(1).scaleb(-MAX_DECIMALS)):
            return Rejection(self.name, f"amount may have at most {MAX_DECIMALS} decimals, got {raw!r}")
        order.quantity = value if order.limits.fractional else value.to_integral_value()
        return None
