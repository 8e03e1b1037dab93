from __future__ import annotations

from agent_tools.risk.base import OrderContext, Rejection


class TradableSymbol:
    """The symbol is in the universe on the session's day; a held symbol that has left it may still be sold."""

    name = "tradable_symbol"
    needs_price = False

    def check(self, order: OrderContext) -> Rejection | None:
        symbol = order.symbol.strip().upper() if isinstance(order.symbol, str) else ""
        held = order.holdings.get(symbol, 0) > 0
        if symbol not in order.universe and not (order.side == "sell" and held):
            if held:  # a symbol that left the universe: the position may be closed, not added to
                return Rejection(self.name, f"{symbol} has left the tradable universe: you may sell it, not buy more")
            return Rejection(self.name, f"unknown symbol {order.symbol!r}: not in the tradable universe; call get_price to check a ticker")
        order.symbol = symbol
        return None
