from __future__ import annotations

from agent_tools.risk.base import OrderContext, Rejection


class DrawdownHalt:
    """Beyond the configured drawdown from peak equity only sells are accepted."""

    name = "drawdown_halt"
    needs_price = True

    def check(self, order: OrderContext) -> Rejection | None:
        limit = order.limits.max_drawdown
        if limit is None or order.side != "buy" or order.peak_equity <= 0:
            return None
        drawdown = 1 - order.equity / order.peak_equity
        if drawdown > limit:
            return Rejection(
                self.name,
                f"drawdown halt: equity ${order.equity:,.2f} is {drawdown:.1%} below its peak ${order.peak_equity:,.2f} "
                f"(limit {limit:.0%}); only sells are accepted",
                {"sides": ["sell"]},
            )
        return None
