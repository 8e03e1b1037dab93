from __future__ import annotations

from agent_tools.fills import cents
from agent_tools.risk.base import OrderContext, Rejection, fmt_qty


class SufficientCash:
    """A buy's cost plus fees fits in the cash (no margin); the rejection says the most shares affordable."""

    name = "sufficient_cash"
    needs_price = True

    def check(self, order: OrderContext) -> Rejection | None:
        if order.side != "buy":
            proceeds = cents(order.quantity * order.fill_price)
            if order.cash + proceeds - order.fee >= 0:
                return None
            return Rejection(
                self.name,
                f"insufficient cash: selling {fmt_qty(order.quantity)} {order.symbol} brings ${proceeds:,.2f} but the fee is "
                f"${order.fee:,.2f} and cash is ${order.cash:,.2f} (no margin); sell a larger amount",
            )
        cost = order.quantity * order.fill_price + order.fee
        if cost <= order.cash:
            return None
        affordable = order.largest(lambda q: q * order.fill_price + order.fee_for(q) <= order.cash, order.cash / order.fill_price)
        return Rejection(
            self.name,
            f"insufficient cash: {fmt_qty(order.quantity)} {order.symbol} at ${order.fill_price} costs ${cost:,.2f} with fees, "
            f"cash is ${order.cash:,.2f}; you can afford at most {fmt_qty(affordable)}",
            {"max_amount": float(affordable)},
        )
