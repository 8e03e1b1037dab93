"""Build the tools' world from config: market data, calendar and news once per process, a desk per session."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agent_tools.brokers.base import Broker
from agent_tools.brokers.simulated import SimulatedBroker
from agent_tools.context import SessionContext
from agent_tools.exits import ExitBook, ExitLevels
from agent_tools.fills import build_fee_model, build_fill_model
from agent_tools.ledger import PositionLedger
from agent_tools.market_calendar import MarketCalendar
from agent_tools.market_data import MarketData, Window, load_market_data
from agent_tools.news import AlphaVantageNewsSource, LocalNewsSource, NewsSource, NoNews
from agent_tools.news_lint import LintFinding, lint_items
from agent_tools.point_in_time import MarketView, PriceView
from agent_tools.risk import default_rules
from agent_tools.trading_desk import TradingDesk
from arena.config import ArenaConfig, secret_env_names
from arena.session_context import session_context as session_context  # re-exported: callers import it here
from arena.session_log import Redactor


@dataclass
class Market:
    """Loaded once per process and shared read-only by every session."""

    data: MarketData
    calendar: MarketCalendar
    news: NewsSource


def build_news(config: ArenaConfig) -> NewsSource:
    """The configured news source; a local corpus is linted as it loads (findings are warnings here, errors
    under `main.py audit`)."""
    settings = config.news
    if settings.source == "local":
        source = LocalNewsSource(config.path(settings.path), settings.min_age_minutes)
        warn_lint_findings(lint_items(source.items, source.path))
        return source
    if settings.source == "alphavantage":
        return AlphaVantageNewsSource(settings.api_key_env, settings.base_url, min_age_minutes=settings.min_age_minutes)
    return NoNews()


def warn_lint_findings(findings: list[LintFinding], shown: int = 5) -> None:
    log = logging.getLogger("tradearena.news")
    for finding in findings[:shown]:
        log.warning("news lint: %s", finding)
    if len(findings) > shown:
        log.warning("news lint: %d more finding(s); `main.py audit` lists them all", len(findings) - shown)


HISTORY_MARGIN = timedelta(days=120)  # calendar days before a run's first day: get_history's 60 sessions and more


def load_market_data_for(config: ArenaConfig, calendar: MarketCalendar | None = None, start: date | None = None,
                         end: date | None = None) -> MarketData:
    """The config's price data (bundled CSVs or fetched Parquet datasets) with its universe and membership dates.
    With start/end, a fetched dataset is read only for those days (and the history before them)."""
    intraday = config.data.intraday_prices or config.data.hourly_prices
    window = Window(tuple(config.universe), start - HISTORY_MARGIN if start else None, end)
    return load_market_data(config.path(config.data.daily_prices), config.path(intraday) if intraday else None,
                            tuple(config.universe), calendar, members=config.membership, window=window)


def load_market(config: ArenaConfig, start: date | None = None, end: date | None = None) -> Market:
    calendar = MarketCalendar()
    market = Market(load_market_data_for(config, calendar, start, end), calendar, build_news(config))
    # The bars live as long as the process: out of the garbage collector's sight, a full collection no longer walks
    # a quarter of a million of them mid-session (100+ ms pauses on ten years of data), and forked workers do not
    # copy their pages by touching their GC headers.
    gc.freeze()
    return market


def build_desk(config: ArenaConfig, ctx: SessionContext, market: Market, view: PriceView | None = None,
               broker: Broker | None = None, news: NewsSource | None = None,
               ledger: PositionLedger | None = None, redact: Callable[[str], str] | None = None,
               clock: Callable[[], datetime] | None = None) -> TradingDesk:
    """One session's desk: the view, ledger, broker, rules and pricing models bound to an immutable context.

    `redact` removes secrets from what the model writes into the ledger; by default every configured key variable.
    `clock` (live sessions): the real time, which moves on during the session; market hours are checked against
    it per order. Without it the session's instant is the time (a replay).
    """
    view = view or MarketView(market.data, ctx.instant, market.calendar)
    ledger = ledger or PositionLedger.for_signature(ctx.out_dir, ctx.signature, tuple(config.universe))
    execution = config.execution
    return TradingDesk(
        ctx=ctx,
        view=view,
        ledger=ledger,
        broker=broker or SimulatedBroker(),
        news=news or market.news,
        rules=default_rules(),
        fill_model=build_fill_model(execution.slippage_bps),
        fee_model=build_fee_model(execution.fee_model, execution.per_share, execution.fee_minimum, execution.fee_bps),
        market_open=lambda: market.calendar.is_open(clock() if clock is not None else ctx.instant),
        audit_path=ctx.log_dir / "audit.jsonl",
        redact=redact or Redactor.from_env(secret_env_names(config)),
        clock=clock,
        exits=ExitBook(ctx.model_dir, exit_defaults(config, ctx.signature)),
    )


def exit_defaults(config: ArenaConfig, signature: str) -> ExitLevels:
    """The config's exit rules for a signature (its model's overrides; the global ones for any other name)."""
    model = next((m for m in config.models if m.signature == signature), None)
    rules = config.exits_for(model) if model is not None else config.exits
    return ExitLevels(rules.stop_loss, rules.take_profit, rules.trailing_stop)
