"""The daemon's event watcher: at each poll while the market is open, each model's event rules (`run.events`)
are checked against live prices and its own ledger, under the day's budget (`run.max_sessions_per_day`,
`run.min_interval_minutes`) counted from its `sessions.jsonl`. What it finds is an event session for one model,
run by `run_live(event=...)` exactly once (its id is `<signature>@<poll instant>`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from agent_tools.ledger import PositionLedger
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from arena.config import ArenaConfig
from arena.desk_factory import build_news
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
