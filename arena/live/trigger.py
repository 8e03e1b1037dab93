"""The live trigger: which decision instant an invocation belongs to. Every run on a session day, whatever its
clock, belongs to that day's trigger; the session id `<signature>@<trigger>` is what makes it exactly once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from agent_tools.market_calendar import TradingSession, at_market_time


def trigger_for(session: TradingSession, decision_time: time) -> datetime:
    """The session day's decision time, clamped into the session (an early close still gets its trigger)."""
    wanted = at_market_time(session.day, decision_time)
    return min(max(wanted, session.open), session.close - timedelta(minutes=1))

