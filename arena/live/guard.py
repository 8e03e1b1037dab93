"""The market-day guard: before anything else, is the market open at the clock's instant (New York time)?

It runs on the clock alone, before the config's keys are read or anything is contacted, so a weekend, an NYSE
holiday, before the open or after an (early) close exits 0 with one line, whatever the config.
"""

from __future__ import annotations

from datetime import datetime

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar


def wall_clock() -> datetime:
    """The real now in New York time (independent of the machine's zone)."""
    return datetime.now(MARKET_TZ)



def closed_reason(clock: datetime, calendar: MarketCalendar) -> str | None:
    """Why there is no live session at this instant (one line), or None when the market is open."""
    return calendar.closed_reason(clock)
