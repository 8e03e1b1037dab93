from __future__ import annotations

from agent_tools.risk.base import OrderContext, Rejection


class TradableSymbol:
    """The symbol is in the configured universe."""

    name = "tradable_symbol"
    needs_price = False

    def check(self, order: OrderContext) -> Rejection | None:
        symbol = order.symbol.strip().upper() if isinstance(order.symbol, str) else ""
        if symbol not in order.universe:
            return Rejection(self.name, f"unknown symbol {order.symbol!r}: not in the tradable universe; call get_price to check a ticker")
        order.symbol = symbol
        return None
