"""The desk behind the MCP tools: one bound session's research, portfolio and order desks over one ledger.

A desk is built for one SessionContext and never changes it. The work is done by small parts, one job each:
`research` (prices, history, news), `portfolio` (the account as the model sees it), `order_desk` (risk rules,
fills, broker, ledger writes), `chronology` (a session never writes before the ledger's last record) and `audit`
(the trail of fills and refusals).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from agent_tools.audit import AuditTrail
from agent_tools.brokers.base import Broker
from agent_tools.chronology import check_chronology, record_no_trade, session_records
from agent_tools.context import SessionContext
from agent_tools.errors import ToolInputError, TradeRejected
from agent_tools.exits import ExitBook
from agent_tools.fills import FeeModel, FillModel, cents
from agent_tools.ledger import LedgerState, PositionLedger
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.news import NewsSource
from agent_tools.order_desk import OrderDesk
from agent_tools.point_in_time import PriceView
from agent_tools.portfolio import PortfolioView, equity, peak_equity, position_at_session_start
from agent_tools.research import MAX_PRICE_SYMBOLS, Research
from agent_tools.risk import RiskRule

__all__ = ["MAX_PRICE_SYMBOLS", "ToolInputError", "TradeRejected", "TradingDesk", "check_chronology",
           "record_no_trade", "session_records"]


@dataclass
class TradingDesk:
    ctx: SessionContext
    view: PriceView
    ledger: PositionLedger
    broker: Broker
    news: NewsSource
    rules: list[RiskRule]
    fill_model: FillModel
    fee_model: FeeModel
    market_open: Callable[[], bool]  # asked per order: a live session can run past the close
    audit_path: Path | None = None
    redact: Callable[[str], str] = str  # API keys out of what the model writes into the ledger (trade reasons)
    clock: Callable[[], datetime] | None = None  # live: the real clock (the context's instant is the trigger)
    exits: ExitBook | None = None  # exit levels per position (set_exit); None: the tool refuses
    research: Research = field(init=False)
    portfolio: PortfolioView = field(init=False)
    orders: OrderDesk = field(init=False)
    trail: AuditTrail = field(init=False)

    def __post_init__(self) -> None:
        check_chronology(self.ledger, self.ctx)
        self._ensure_initialized()
        self.trail = AuditTrail(self.ctx.session_id, self._now, self.audit_path)
        self.research = Research(self.ctx, self.view, self.news, self._now)
        self.portfolio = PortfolioView(self.ctx, self.view, self.ledger,
                                       position_at_session_start(self.ledger, self.ctx.session_id))
        self.orders = OrderDesk(
            ctx=self.ctx, ledger=self.ledger, broker=self.broker, rules=self.rules, fill_model=self.fill_model,
            fee_model=self.fee_model, market_open=self.market_open, universe=frozenset(self.view.universe),
            quote=self.research.quote, audit=self.trail, now=self._now,
            trades_this_session=self.ledger.state.session(self.ctx.session_id).trades,
            peak_equity=peak_equity(self.ledger, self.view, self.ctx), redact=self.redact,
        )

    def _ensure_initialized(self) -> None:
        """A new ledger starts with AI-Trader's id-0 record: the initial cash and no action."""
        def build(state: LedgerState) -> dict | None:
            if state.initialized:
                return None
            return {
                "date": self.ctx.day.isoformat(),
                "positions": self.ledger.positions_snapshot(cents(self.ctx.initial_cash), {}),
                "time": self.ctx.instant.astimezone(MARKET_TZ).isoformat(),  # the session instant (chronology)
                "session_id": self.ctx.session_id,
            }
        self.ledger.append(build)

    def _now(self) -> str:
        """When things happen: the session's instant in a replay, the clock in a live session."""
        moment = self.clock() if self.clock is not None else self.ctx.instant
        return moment.astimezone(MARKET_TZ).isoformat()

    # -- what the session and the tests look at ----------------------------------------------------------------
    @property
    def audit(self) -> list[dict]:
        return self.trail.events

    @property
    def peak_equity(self) -> Decimal:
        return self.orders.peak_equity

    @property
    def trades_this_session(self) -> int:
        return self.orders.trades_this_session

    @property
    def start_position(self) -> tuple[Decimal, dict[str, Decimal]]:
        return self.portfolio.start_position

    def equity(self, state: LedgerState | None = None) -> Decimal:
        return equity(state or self.ledger.state, self.view)

    # -- the tools -----------------------------------------------------------------------------------------------
    def get_price(self, symbols: list[str]) -> dict:
        return self.research.get_price(symbols)

    def get_history(self, symbol: str, days: int = 20, end_date: str | None = None) -> dict:
        return self.research.get_history(symbol, days, end_date)

    def search_news(self, query: str = "", ticker: str | None = None, limit: int = 5) -> dict:
        return self.research.search_news(query, ticker, limit)

    def get_portfolio(self) -> dict:
        report = self.portfolio.report(self._now(), self.trades_this_session, self.market_open())
        if self.exits is not None:
            costs = self.ledger.state.average_costs()
            for symbol, row in report["holdings"].items():
                levels = self.exits.levels(symbol)
                if levels.any and symbol in costs:
                    row["exits"] = {rule: {"fraction": getattr(levels, rule), "price": float(price)}
                                    for rule, price in levels.prices(costs[symbol]).items()}
        return report

    def set_exit(self, symbol: str, stop_loss: float | None = None, take_profit: float | None = None,
                 trailing_stop: float | None = None) -> dict:
        """Set or change the exit rules of a position; they are checked on every bar without asking the model."""
        if self.exits is None:
            raise ToolInputError("set_exit is not available for this account")
        clean = self.view.check_symbol(symbol) if isinstance(symbol, str) else symbol
        if self.ledger.state.quantity(clean) <= 0:
            raise ToolInputError(f"set_exit: you hold no {clean}; exit rules apply to positions you hold")
        levels = self.exits.set(clean, self._now(), self.ctx.session_id, stop_loss=stop_loss,
                                take_profit=take_profit, trailing_stop=trailing_stop)
        self.trail.record({"type": "set_exit", "symbol": clean, "stop_loss": levels.stop_loss,
                           "take_profit": levels.take_profit, "trailing_stop": levels.trailing_stop})
        cost = self.ledger.state.average_costs().get(clean)
        return {"symbol": clean, "stop_loss": levels.stop_loss, "take_profit": levels.take_profit,
                "trailing_stop": levels.trailing_stop,
                "prices": {k: float(v) for k, v in levels.prices(cost).items()} if cost is not None else {},
                "note": "trailing_stop's price moves up with the highest price since entry"
                        if levels.trailing_stop else ""}

    def trade(self, side: str, symbol: str, amount: object, reason: str | None = None, call_id: str | None = None,
              tags: dict | None = None) -> dict:
        return self.orders.trade(side, symbol, amount, reason, call_id, tags)

    def finish(self) -> dict | None:
        return record_no_trade(self.ledger, self.ctx)
