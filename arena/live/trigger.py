"""The live trigger: which decision instant an invocation belongs to. Every run on a session day, whatever its
clock, belongs to that day's trigger; the session id `<signature>@<trigger>` is what makes it exactly once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from agent_tools.market_calendar import TradingSession, at_market_time

LATE_WARNING = timedelta(minutes=30)


def trigger_for(session: TradingSession, decision_time: time) -> datetime:
    """The session day's decision time, clamped into the session (an early close still gets its trigger)."""
    wanted = at_market_time(session.day, decision_time)
    return min(max(wanted, session.open), session.close - timedelta(minutes=1))



def scheduled_for(session: TradingSession, decision_times: list[time]) -> list[datetime]:
    """The day's scheduled trigger instants, in order (several with `run.decision_times`)."""
    return sorted({trigger_for(session, t) for t in decision_times})


def trigger_at(session: TradingSession, decision_times: list[time], clock: datetime) -> datetime:
    """The scheduled trigger an invocation at `clock` belongs to: the latest one due (up to 30 minutes early), else
    the day's first. So a 10:05 run belongs to 10:00, a 14:45 run to 15:00, and a 12:00 rerun to 10:00."""
    instants = scheduled_for(session, decision_times)
    due = [t for t in instants if t <= clock + LATE_WARNING]
    return due[-1] if due else instants[0]


def nearest(session: TradingSession, decision_times: list[time], clock: datetime) -> datetime:
    """The scheduled trigger closest to `clock` (the one a cron fire was meant for)."""
    return min(scheduled_for(session, decision_times), key=lambda t: abs(clock - t))
