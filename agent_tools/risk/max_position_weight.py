from __future__ import annotations

from decimal import Decimal

from agent_tools.risk.base import OrderContext, Rejection, fmt_qty


class MaxPositionWeight:
    """After a buy, one symbol weighs at most the configured share of equity (sells only ever reduce weight)."""

    name = "max_position_weight"
    needs_price = True

    def check(self, order: OrderContext) -> Rejection | None:
        limit = order.limits.max_position_weight
        if limit is None or order.side != "buy" or order.equity <= 0:
            return None
        cap = Decimal(str(limit))

        def weight_after(q: Decimal) -> Decimal:
            equity_after = order.equity - order.fee_for(q)
            return (order.held + q) * order.fill_price / equity_after if equity_after > 0 else Decimal("1e9")

        weight = weight_after(order.quantity)
        if weight <= cap:
            return None
        most = order.largest(lambda q: weight_after(q) <= cap, order.quantity)
        return Rejection(
            self.name,
            f"{order.symbol} would be {weight:.1%} of equity after this buy, above the {cap:.0%} limit; "
            f"you can buy at most {fmt_qty(most)} more",
            {"max_amount": float(most)},
        )
