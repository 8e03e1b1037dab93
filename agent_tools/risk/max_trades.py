from __future__ import annotations

from agent_tools.risk.base import OrderContext, Rejection


class MaxTradesPerSession:
    """At most N fills per session, so one runaway loop cannot churn the account."""

    name = "max_trades_per_session"
    needs_price = False

    def check(self, order: OrderContext) -> Rejection | None:
        limit = order.limits.max_trades_per_session
        if limit is not None and order.trades_this_session >= limit:
            return Rejection(self.name, f"trade limit reached: {limit} trades per session; finish the session", {"trades_left": 0})
        return None
