"""NYSE trading sessions from a maintained calendar (pandas-market-calendars), never a hand-written list.

Every time here is timezone-aware; the market's zone is America/New_York whatever the machine's zone.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MARKET_TZ = ZoneInfo("America/New_York")


class CalendarError(ValueError):
    """A date or instant the calendar cannot place (naive time, unparseable date)."""


@dataclass(frozen=True)
class TradingSession:
    """One NYSE session: its date and its open and close as aware datetimes in New York time."""

    day: date
    open: datetime
    close: datetime
    early_close: bool

    def contains(self, instant: datetime) -> bool:
        return self.open <= instant < self.close


def require_aware(instant: datetime, what: str = "time") -> datetime:
    """Refuse naive datetimes: a naive time means the machine's zone, which is how look-ahead bugs start."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(f"{what} {instant.isoformat()} has no time zone; give an offset, e.g. 2025-10-02T10:00-04:00")
    return instant.astimezone(MARKET_TZ)


def parse_instant(text: str) -> datetime:
    """Parse an ISO instant; one without an offset is read as New York time (the documented convention)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CalendarError(f"cannot parse time {text!r}; use ISO 8601, e.g. 2025-10-02T10:00-04:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=MARKET_TZ)
    return value.astimezone(MARKET_TZ)


def parse_day(text: str | date) -> date:
    if isinstance(text, date) and not isinstance(text, datetime):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise CalendarError(f"cannot parse date {text!r}; use YYYY-MM-DD, e.g. 2025-10-01") from None


@lru_cache(maxsize=64)
def _year_sessions(year: int) -> tuple[TradingSession, ...]:
    import pandas_market_calendars as mcal  # imported lazily: ~0.3 s, only when a calendar is needed

    nyse = mcal.get_calendar("NYSE")
    schedule = nyse.schedule(start_date=f"{year}-01-01", end_date=f"{year}-12-31")
    early = {ts.date() for ts in nyse.early_closes(schedule).index}
    sessions = []
    for label, row in schedule.iterrows():
        day = label.date()
        sessions.append(
            TradingSession(
                day=day,
                open=row["market_open"].to_pydatetime().astimezone(MARKET_TZ),
                close=row["market_close"].to_pydatetime().astimezone(MARKET_TZ),
                early_close=day in early,
            )
        )
    return tuple(sessions)


class MarketCalendar:
    """Lookups over NYSE sessions; years are loaded on first use and cached for the process."""

    def sessions_between(self, start: date, end: date) -> list[TradingSession]:
        """Sessions with start <= day <= end, in order."""
        out: list[TradingSession] = []
        for year in range(start.year, end.year + 1):
            out.extend(s for s in _year_sessions(year) if start <= s.day <= end)
        return out

    def session_on(self, day: date) -> TradingSession | None:
        sessions = _year_sessions(day.year)
        days = [s.day for s in sessions]
        i = bisect.bisect_left(days, day)
        if i < len(days) and days[i] == day:
            return sessions[i]
        return None

    def session_at(self, instant: datetime) -> TradingSession | None:
        """The session open at this instant, or None when the market is closed."""
        instant = require_aware(instant)
        session = self.session_on(instant.date())
        return session if session is not None and session.contains(instant) else None

    def is_open(self, instant: datetime) -> bool:
        return self.session_at(instant) is not None

    def previous_session(self, day: date) -> TradingSession | None:
        """The last session strictly before this day (looks back across year ends)."""
        for year in (day.year, day.year - 1):
            earlier = [s for s in _year_sessions(year) if s.day < day]
            if earlier:
                return earlier[-1]
        return None

    def trading_days(self, start: date, end: date) -> list[date]:
        return [s.day for s in self.sessions_between(start, end)]

    def closed_reason(self, instant: datetime) -> str | None:
        """Why the market is closed at this instant (weekend, holiday, before open, after close), or None if open."""
        instant = require_aware(instant)
        day = instant.date()
        session = self.session_on(day)
        stamp = instant.strftime("%Y-%m-%d %H:%M %Z")
        if session is None:
            if day.weekday() >= 5:
                return f"market closed: {stamp} is a {instant.strftime('%A')}"
            return f"market closed: {day.isoformat()} is an NYSE holiday"
        if instant < session.open:
            return f"market closed: {stamp} is before the open at {session.open.strftime('%H:%M %Z')}"
        if instant >= session.close:
            kind = "early close" if session.early_close else "close"
            return f"market closed: {stamp} is after the {kind} at {session.close.strftime('%H:%M %Z')}"
        return None


def at_market_time(day: date, clock: time) -> datetime:
    """The aware New York instant for a wall-clock time on a day (DST handled by zoneinfo)."""
    return datetime.combine(day, clock, tzinfo=MARKET_TZ)


def hourly_bar_end(label: datetime, session: TradingSession | None, minutes: int = 60) -> datetime:
    """A bar's label is its start; it ends `minutes` later, or at the session's close if that comes first."""
    end = label + timedelta(minutes=minutes)
    if session is not None and end > session.close:
        return session.close
    return end
