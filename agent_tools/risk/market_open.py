from __future__ import annotations

from agent_tools.risk.base import OrderContext, Rejection


class MarketOpen:
    """Orders only while NYSE is open at the session's instant."""

    name = "market_open"
    needs_price = False

    def check(self, order: OrderContext) -> Rejection | None:
        if not order.market_open:
            return Rejection(self.name, f"the market is closed at {order.instant:%Y-%m-%d %H:%M %Z}; no orders can be filled now")
        return None
