"""A replay's triggers for one model, day by day, in time order: the scheduled times, and between them the event
triggers and exit rules checked at every intraday bar (an event is seen at a bar's end, the instant the data would
have shown it).

`ReplayPlanner.day` is a generator: the run loop runs each session before asking for the next trigger, so what
is checked after a session (exits, events, the day's budget) sees the ledger that session left.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from agent_tools.ledger import PositionLedger
from arena.config import ArenaConfig, ConfigError, ModelSettings
from arena.desk_factory import Market
from arena.triggers import DayBudget, Trigger, scheduled_triggers


class ReplayPlanner:
    def __init__(self, config: ArenaConfig, model: ModelSettings, market: Market):
        self.config = config
        self.model = model
        self.market = market
        self.every_trigger = config.acts_every_trigger(model)

    def scheduled(self, day: date) -> list[Trigger]:
        """The day's scheduled triggers (a baseline's first one only, unless it acts at every trigger)."""
        triggers = scheduled_triggers(self.market.calendar, day, self.config.run.times)
        return triggers if self.every_trigger else triggers[:1]

    def budget(self, day: date) -> DayBudget:
        run = self.config.run
        return DayBudget(run.max_sessions_per_day, timedelta(minutes=run.min_interval_minutes),
                         [t.instant for t in self.scheduled(day)])

    def day(self, day: date, ledger: PositionLedger) -> Iterator[Trigger]:
        budget = self.budget(day)
        for trigger in self.scheduled(day):
            budget.take(trigger.instant)
            yield trigger


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
