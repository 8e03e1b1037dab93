"""A replay's triggers for one model, day by day, in time order: the scheduled times, and between them the event
triggers and exit rules checked at every intraday price point (an event is seen at a bar's end, the instant the
data would have shown it; see `arena.events` and `arena.exit_watch`).

`ReplayPlanner.day` is a generator: the run loop runs each session before asking for the next trigger, so what
is checked after a session (exits, events, the day's budget) sees the ledger that session left. A rerun walks the
day again: where the ledger is already written past a point, the events that fired there are read back from
`sessions.jsonl` (or from the ledger and log of a session a crash cut off) instead of being detected again, so a
rerun runs exactly the sessions an uninterrupted run would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from agent_tools.ledger import PositionLedger
from agent_tools.point_in_time import MarketView
from arena.config import ArenaConfig, ConfigError, ModelSettings
from arena.desk_factory import Market
from arena.events import EventWatch
from arena.exit_watch import ReplayExits
from arena.session_log import read_log_events
from arena.triggers import DayBudget, Trigger, scheduled_triggers


class ReplayPlanner:
    def __init__(self, config: ArenaConfig, model: ModelSettings, market: Market, out_dir: Path | None = None,
                 recorded: dict[str, dict] | None = None):
        self.config = config
        self.model = model
        self.market = market
        self.every_trigger = config.acts_every_trigger(model)
        self.recorded = recorded or {}
        self.exits = ReplayExits(config, model, market.data, Path(out_dir), recorded) if out_dir is not None else None
        self.events = config.run.events if self.every_trigger else []
        self.model_dir = Path(out_dir) / model.signature if out_dir is not None else None

    def scheduled(self, day: date) -> list[Trigger]:
        """The day's scheduled triggers (a baseline's first one only, unless it acts at every trigger)."""
        triggers = scheduled_triggers(self.market.calendar, day, self.config.run.times)
        return triggers if self.every_trigger else triggers[:1]

    def budget(self, day: date) -> DayBudget:
        run = self.config.run
        return DayBudget(run.max_sessions_per_day, timedelta(minutes=run.min_interval_minutes),
                         [t.instant for t in self.scheduled(day)])

    def session_id(self, instant: datetime) -> str:
        return f"{self.model.signature}@{instant.isoformat(timespec='minutes')}"

    def day(self, day: date, ledger: PositionLedger) -> Iterator[Trigger]:
        session = self.market.calendar.session_on(day)
        if session is None:
            return
        budget = self.budget(day)
        scheduled = {t.instant: t for t in self.scheduled(day)}
        points = sorted({session.open, session.close, *self.market.data.intraday_points(day), *scheduled})
        watch = EventWatch(list(self.events), self.market.news) if self.events else None
        last_check = session.open
        for point in points:
            if self.exits is not None:
                self.exits.at(ledger, session, point)
            if watch is not None and point not in scheduled and session.open < point < session.close:
                event = self._event_at(point, ledger, watch, budget, last_check)
                last_check = point
                if event is not None:
                    budget.take(point)
                    watch.taken(event)
                    yield event
                    watch.session_ran(MarketView(self.market.data, point, self.market.calendar), ledger.state)
            if point in scheduled:
                budget.take(point)
                yield scheduled[point]
                if watch is not None:
                    watch.session_ran(MarketView(self.market.data, point, self.market.calendar), ledger.state)

    def _event_at(self, point: datetime, ledger: PositionLedger, watch: EventWatch, budget: DayBudget,
                  since: datetime) -> Trigger | None:
        """The event session at `point`: read back when history past it is written (a rerun), else detected."""
        sid = self.session_id(point)
        state = ledger.state
        if state.last_time is not None and state.last_time >= point:
            kind = (self.recorded.get(sid) or {}).get("trigger") or self._crashed_kind(sid, ledger)
            return Trigger(point, kind, "(resumed)") if kind and kind.startswith("event:") else None
        view = MarketView(self.market.data, point, self.market.calendar)
        for candidate in watch.check(view, state, since):
            if budget.admits_event(point) is None:
                return candidate
        return None

    def _crashed_kind(self, sid: str, ledger: PositionLedger) -> str | None:
        """The trigger of a session a crash cut off after it wrote the ledger (its log's session_start says it)."""
        if sid not in ledger.state.session_ids or self.model_dir is None:
            return None
        day = sid.split("@", 1)[1][:10]
        kinds = [e.get("trigger") for e in read_log_events(self.model_dir / "log" / day / "log.jsonl")
                 if e.get("type") == "session_start" and e.get("session_id") == sid]
        return kinds[-1] if kinds else None


def check_intraday(config: ArenaConfig, market: Market, days: list[date]) -> None:
    """Several decision times a day, or event triggers, need intraday bars on every replayed day: without them every
    session of the day would see the same 09:30 open. A one-line error names the days and the data to fetch."""
    run = config.run
    if len(run.times) < 2 and not run.events:
        return
    missing = [d for d in days if not market.data.intraday_points(d)]
    if not missing:
        return
    what = f"decision_times {'/'.join(f'{t:%H:%M}' for t in run.times)}" if len(run.times) > 1 else "run.events"
    span = f"{missing[0]}" if len(missing) == 1 else f"{missing[0]}..{missing[-1]}"
    raise ConfigError(
        f"{what} need intraday prices, and the data has none on {len(missing)} of {len(days)} days ({span}); "
        f"replay days with intraday bars (the bundled hourly bars cover 2025-10-01..2025-11-10) or fetch them: "
        f"main.py data fetch --start {missing[0]} --end {missing[-1]} --timeframe hour")
