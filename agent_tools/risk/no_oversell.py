from __future__ import annotations

from agent_tools.risk.base import OrderContext, Rejection, fmt_qty


class NoOversell:
    """Never sell more than is held: no shorting."""

    name = "no_oversell"
    needs_price = False

    def check(self, order: OrderContext) -> Rejection | None:
        if order.side == "sell" and order.quantity > order.held:
            return Rejection(
                self.name,
                f"cannot sell {fmt_qty(order.quantity)} {order.symbol}: you hold {fmt_qty(order.held)} (no short selling)",
                {"max_amount": float(order.held)},
            )
        return None
