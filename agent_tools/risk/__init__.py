"""Risk rules, one a file, checked in this order before any fill."""

from agent_tools.risk.base import OrderContext, Rejection, RiskRule
from agent_tools.risk.drawdown_halt import DrawdownHalt
from agent_tools.risk.market_open import MarketOpen
from agent_tools.risk.max_order_value import MaxOrderValue
from agent_tools.risk.max_position_weight import MaxPositionWeight
from agent_tools.risk.max_trades import MaxTradesPerSession
from agent_tools.risk.no_oversell import NoOversell
from agent_tools.risk.positive_amount import PositiveAmount
from agent_tools.risk.sufficient_cash import SufficientCash
from agent_tools.risk.tradable_symbol import TradableSymbol


def default_rules() -> list[RiskRule]:
    return [
        PositiveAmount(),
        TradableSymbol(),
        MarketOpen(),
        MaxTradesPerSession(),
        NoOversell(),
        DrawdownHalt(),
        SufficientCash(),
        MaxOrderValue(),
        MaxPositionWeight(),
    ]


def first_rejection(rules: list[RiskRule], order: OrderContext, price_order) -> Rejection | None:
    """Run rules in order; `price_order(order)` fills in prices before the first rule that needs them."""
    for rule in rules:
        if rule.needs_price and not order.priced:
            price_order(order)
            order.priced = True
        rejection = rule.check(order)
        if rejection is not None:
            return rejection
    return None


__all__ = ["OrderContext", "Rejection", "RiskRule", "default_rules", "first_rejection"]
