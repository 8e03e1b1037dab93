from __future__ import annotations

from decimal import Decimal

from agent_tools.risk.base import OrderContext, Rejection, fmt_qty


class MaxOrderValue:
    """One order's notional stays under the configured maximum."""

    name = "max_order_value"
    needs_price = True

    def check(self, order: OrderContext) -> Rejection | None:
        limit = order.limits.max_order_value
        if limit is None:
            return None
        cap = Decimal(str(limit))
        value = order.quantity * order.fill_price
        if value <= cap:
            return None
        most = order.largest(lambda q: q * order.fill_price <= cap, cap / order.fill_price)
        return Rejection(
            self.name,
            f"order value ${value:,.2f} exceeds the ${cap:,.2f} limit per order; at most {fmt_qty(most)} {order.symbol}",
            {"max_amount": float(most)},
        )
