"""The daemon's event watcher: at each poll while the market is open, each model's event rules (`run.events`)
are checked against live prices and its own ledger, under the day's budget (`run.max_sessions_per_day`,
`run.min_interval_minutes`) counted from its `sessions.jsonl`. What it finds is an event session for one model,
run by `run_live(event=...)` exactly once (its id is `<signature>@<poll instant>`)."""

from __future__ import annotations

from collections.abc import Container
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from agent_tools.exits import ExitBook, check_bar
from agent_tools.ledger import PositionLedger, json_number
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from agent_tools.news import NoNews
from agent_tools.point_in_time import ViewError
from arena.config import ArenaConfig
from arena.desk_factory import build_news, exit_defaults
from arena.events import EventWatch
from arena.live.accounts import live_view, plan_for
from arena.live.trigger import scheduled_for
from arena.session_log import read_session_records
from arena.triggers import DayBudget, Trigger


class LiveEvents:
    def __init__(self, config: ArenaConfig, config_path: str | None, out: str | None, models: list[str] | None,
                 pinned: bool = False):
        self.config = config
        self.out_dir = Path(out).resolve() if out else config.path(config.live.out_dir)
        self.models = [m for m in config.enabled_models(models) if config.acts_every_trigger(m)]
        self.pinned = pinned
        self.calendar = MarketCalendar()
        self.news = build_news(config)
        self.watches: dict[str, EventWatch] = {}
        self.day: date | None = None
        self.last_poll: datetime | None = None

    def poll(self, now: datetime) -> list[tuple[Trigger, str]]:
        session = self.calendar.session_on(now.astimezone(MARKET_TZ).date())
        if session is None or not session.open <= now < session.close:
            return []
        if session.day != self.day:
            self.day, self.watches, self.last_poll = session.day, {}, session.open
        since, self.last_poll = self.last_poll or session.open, now
        instant = now.astimezone(MARKET_TZ).replace(second=0, microsecond=0)
        run = self.config.run
        found = []
        for model in self.models:
            watch = self.watches.setdefault(model.signature, EventWatch(list(run.events), self.news))
            taken = [datetime.fromisoformat(s["trigger_time"]) for s in read_session_records(
                self.out_dir / model.signature) if s.get("kind") != "exit" and s.get("date") == session.day.isoformat()]
            budget = DayBudget(run.max_sessions_per_day, timedelta(minutes=run.min_interval_minutes),
                               scheduled_for(session, run.times), taken)
            if budget.admits_event(instant) is not None:
                continue
            ledger = PositionLedger.for_signature(self.out_dir, model.signature, tuple(self.config.universe))
            view = live_view(self.config, plan_for(self.config, model), self.calendar,
                             instant if self.pinned else None)
            for candidate in watch.check(view, ledger.state, since):
                event = Trigger(instant, candidate.kind, candidate.why)
                watch.taken(event)
                found.append((event, model.signature))
                break
        return found


class LiveExits:
    """The daemon's exit watcher: at each poll while the market is open, each position with exit levels is priced
    live; one at or through a level is sold through the model's broker (Alpaca or paper) without asking the model,
    booked as a sell with `trigger` and `level`, and given a `kind: exit` line in sessions.jsonl. The order id
    `<signature>@<poll minute>#exit:<symbol>` makes a re-sent exit (a crash, a restart) return its recorded fill."""

    def __init__(self, config: ArenaConfig, out: str | None, models: list[str] | None, pinned: bool = False):
        self.config = config
        self.out_dir = Path(out).resolve() if out else config.path(config.live.out_dir)
        self.models = config.enabled_models(models)
        self.pinned = pinned
        self.calendar = MarketCalendar()
        self.peaks: dict[tuple[str, str], Decimal] = {}  # (signature, symbol) -> highest price seen while held

    def forget_sold(self, signature: str, held: Container[str]) -> None:
        """Drop the trailing-stop peaks of positions no longer held: a later buy starts a new peak from its cost."""
        for key in [k for k in self.peaks if k[0] == signature and k[1] not in held]:
            del self.peaks[key]

    def poll(self, now: datetime) -> list[dict]:
        session = self.calendar.session_on(now.astimezone(MARKET_TZ).date())
        if session is None or not session.open <= now < session.close:
            return []
        done = []
        for model in self.models:
            book = ExitBook(self.out_dir / model.signature, exit_defaults(self.config, model.signature))
            ledger_path = self.out_dir / model.signature / "position" / "position.jsonl"
            if not (book.defaults.any or book.path.exists()) or not ledger_path.exists():
                continue
            ledger = PositionLedger.for_signature(self.out_dir, model.signature, tuple(self.config.universe))
            done += self._model(model, book, ledger, session, now)
        return done

    def _model(self, model, book: ExitBook, ledger: PositionLedger, session, now: datetime) -> list[dict]:
        state = ledger.state
        self.forget_sold(model.signature, state.holdings)
        costs = state.average_costs()
        plan = plan_for(self.config, model)
        instant = now.astimezone(MARKET_TZ).replace(second=0, microsecond=0)
        view = live_view(self.config, plan, self.calendar, instant if self.pinned else None)
        done = []
        for symbol in sorted(state.holdings):
            levels, cost = book.levels(symbol), costs.get(symbol)
            if not levels.any or cost is None:
                continue
            try:
                price = Decimal(str(view.quote(symbol).price))
            except ViewError:
                continue
            key = (model.signature, symbol)
            peak = self.peaks[key] = max(self.peaks.get(key, cost), price)
            hit = check_bar(levels.prices(cost, peak), float(price), float(price), float(price))
            if hit is not None:
                done.append(self._sell(model, plan, ledger, view, session, instant, symbol, hit))
        self.forget_sold(model.signature, ledger.state.holdings)
        return done

    def _sell(self, model, plan, ledger: PositionLedger, view, session, instant: datetime, symbol: str, hit) -> dict:
        from agent_tools.brokers.simulated import SimulatedBroker
        from arena.desk_factory import Market, build_desk, session_context
        from arena.exit_watch import exit_session_line
        from arena.live.accounts import alpaca_broker
        from arena.live.guard import wall_clock
        from arena.session_log import append_session_record

        ctx = session_context(self.config, model, instant, self.out_dir, mode="live", trigger=f"exit:{hit.rule}")
        broker = alpaca_broker(plan, ctx.model_dir, warn=False) if plan.settings.broker == "alpaca" else None
        clock = (lambda: instant) if self.pinned else wall_clock
        market = Market(data=None, calendar=self.calendar, news=NoNews())  # type: ignore[arg-type]
        desk = build_desk(self.config, ctx, market, view=view, broker=broker or SimulatedBroker(), ledger=ledger,
                          clock=clock)
        quantity = ledger.state.quantity(symbol)
        result = desk.trade("sell", symbol, json_number(quantity), f"{hit.rule} at {hit.level}: the price crossed it",
                            f"exit:{symbol}", tags={"trigger": hit.rule, "level": float(hit.level)})
        sid = f"{ctx.session_id}#exit:{symbol}"
        if sid not in {r["session_id"] for r in read_session_records(ctx.model_dir)}:
            append_session_record(ctx.model_dir, exit_session_line(
                sid, model.signature, session.day, instant, "live", hit.rule, symbol, result.get("price"),
                float(hit.level)))
        return result
