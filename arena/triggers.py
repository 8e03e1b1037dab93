"""Triggers: when a model's session runs. Scheduled times (`run.decision_times`, New York), event triggers found
between them (`run.events`, see `arena.events`), and the day's limits that hold across both
(`run.max_sessions_per_day`, `run.min_interval_minutes`).

A session is identified by `<signature>@<instant>` whatever triggered it, so a rerun finds a finished session of
any trigger and never runs it again. Scheduled sessions are never crowded out: an event session is admitted only
if it leaves room (in the cap and the interval) for every scheduled session still ahead that day; the config is
refused on load when the scheduled times alone break the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, TradingSession, at_market_time

SCHEDULED = "scheduled"


@dataclass(frozen=True)
class Trigger:
    """One decision instant and what fired it: `scheduled` or `event:<type>[:<symbol>]`, with a sentence for the
    model's prompt."""

    instant: datetime
    kind: str = SCHEDULED
    why: str = ""

    @property
    def is_event(self) -> bool:
        return self.kind.startswith("event:")

    def prompt_line(self) -> str:
        at = self.instant.astimezone(MARKET_TZ)
        if self.is_event:
            return f"This session was triggered by an event at {at:%H:%M %Z}: {self.why}"
        return f"This is the scheduled {at:%H:%M %Z} session."


def clamp_into(session: TradingSession, instant: datetime) -> datetime:
    """A decision instant inside the session (an early close still gets its trigger, a minute before the close)."""
    return min(max(instant, session.open), session.close - timedelta(minutes=1))


def scheduled_instants(session: TradingSession, times: list[time]) -> list[datetime]:
    """The day's scheduled decision instants, in order, clamped into the session (duplicates after clamping merge)."""
    return sorted({clamp_into(session, at_market_time(session.day, t)) for t in times})


def scheduled_triggers(calendar: MarketCalendar, day: date, times: list[time]) -> list[Trigger]:
    session = calendar.session_on(day)
    if session is None:
        return []
    return [Trigger(instant) for instant in scheduled_instants(session, times)]


@dataclass
class DayBudget:
    """The day's session cap and minimum interval, across scheduled and event sessions of one model."""

    cap: int
    interval: timedelta
    scheduled: list[datetime]  # the day's scheduled instants
    taken: list[datetime] = field(default_factory=list)

    def take(self, instant: datetime) -> None:
        self.taken.append(instant)

    def admits_event(self, instant: datetime) -> str | None:
        """None when an event session may run at `instant`; else why not (one phrase)."""
        ahead = [s for s in self.scheduled if s > instant and s not in self.taken]
        if len(self.taken) + len(ahead) + 1 > self.cap:
            return f"the day's cap of {self.cap} sessions"
        if any(abs(instant - t) < self.interval for t in self.taken):
            return f"the minimum interval of {self.interval.total_seconds() / 60:g} minutes since the last session"
        if any(s - instant < self.interval for s in ahead):
            return f"the minimum interval of {self.interval.total_seconds() / 60:g} minutes before a scheduled session"
        return None
