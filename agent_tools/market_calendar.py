"""NYSE trading sessions from a maintained calendar (pandas-market-calendars), never a hand-written list.

Every time here is timezone-aware; the market's zone is America/New_York whatever the machine's zone.
"""

from __future__ import annotations

import bisect
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
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


class _Sessions:
    """NYSE sessions by year, built from pandas-market-calendars in one schedule call for a whole range of years
    (a ten-year replay does not rebuild the calendar year by year), kept for the process.

    With a cache folder (`TRADEARENA_CACHE`, default `~/.cache/tradearena`), the built years are also kept on disk
    under the library's version, so the live market-day guard answers without importing pandas; a new library
    version (say, an unscheduled closure added) starts a new file.
    """

    def __init__(self) -> None:
        self.years: dict[int, tuple[TradingSession, ...]] = {}

    def __call__(self, year: int, upto: int | None = None, disk: bool = False) -> tuple[TradingSession, ...]:
        if year not in self.years:
            last = max(year, upto or year)
            if not (disk and self._from_disk(year, last)):
                self._build(year, last)
                if disk:
                    self._to_disk()
        return self.years[year]

    def cache_clear(self) -> None:
        self.years.clear()

    def _build(self, first: int, last: int) -> None:
        import pandas_market_calendars as mcal  # imported lazily: ~0.3 s, only when a calendar is built

        nyse = mcal.get_calendar("NYSE")
        schedule = nyse.schedule(start_date=f"{first}-01-01", end_date=f"{last}-12-31")
        early = {ts.date() for ts in nyse.early_closes(schedule).index}
        opens = schedule["market_open"].dt.tz_convert(MARKET_TZ).dt.to_pydatetime()
        closes = schedule["market_close"].dt.tz_convert(MARKET_TZ).dt.to_pydatetime()
        built: dict[int, list[TradingSession]] = {y: [] for y in range(first, last + 1)}
        for label, open_, close in zip(schedule.index, opens, closes, strict=True):
            day = label.date()
            built[day.year].append(TradingSession(day, open_.astimezone(MARKET_TZ), close.astimezone(MARKET_TZ),
                                                  day in early))
        for y, sessions in built.items():
            self.years.setdefault(y, tuple(sessions))

    @staticmethod
    def _disk_path() -> Path | None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            tag = version("pandas_market_calendars")
        except PackageNotFoundError:
            return None
        return cache_folder() / f"nyse-sessions-{tag}.json"

    def _from_disk(self, first: int, last: int) -> bool:
        path = self._disk_path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8")) if path is not None else {}
        except (OSError, ValueError):
            return False
        if not all(str(y) in raw for y in range(first, last + 1)):
            return False
        for y in range(first, last + 1):
            self.years.setdefault(y, tuple(
                TradingSession(date.fromisoformat(d), datetime.fromisoformat(o).astimezone(MARKET_TZ),
                               datetime.fromisoformat(c).astimezone(MARKET_TZ), bool(e))
                for d, o, c, e in raw[str(y)]))
        return True

    def _to_disk(self) -> None:
        """Best effort (a read-only home only means the next run builds again); written whole, then renamed."""
        path = self._disk_path()
        if path is None:
            return
        raw = {str(y): [[s.day.isoformat(), s.open.isoformat(), s.close.isoformat(), s.early_close] for s in sessions]
               for y, sessions in self.years.items()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps(raw), encoding="utf-8")
            os.replace(scratch, path)
        except OSError:
            pass


_year_sessions = _Sessions()


class MarketCalendar:
    """Lookups over NYSE sessions; years are loaded on first use and cached for the process and on disk (see
    `_Sessions`: start-up skips pandas-market-calendars, and the live guard answers without importing pandas);
    `disk=False` always asks the library."""

    def __init__(self, disk: bool = True):
        self.disk = disk

    def _year(self, year: int, upto: int | None = None) -> tuple[TradingSession, ...]:
        return _year_sessions(year, upto, self.disk)

    def sessions_between(self, start: date, end: date) -> list[TradingSession]:
        """Sessions with start <= day <= end, in order (a missing range of years is built in one go)."""
        out: list[TradingSession] = []
        for year in range(start.year, end.year + 1):
            out.extend(s for s in self._year(year, end.year) if start <= s.day <= end)
        return out

    def session_on(self, day: date) -> TradingSession | None:
        sessions = self._year(day.year)
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
            earlier = [s for s in self._year(year) if s.day < day]
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


def cache_folder() -> Path:
    """Where derived files are kept between runs (the calendar's sessions, parsed price columns)."""
    return Path(os.environ.get("TRADEARENA_CACHE") or Path.home() / ".cache" / "tradearena")


def at_market_time(day: date, clock: time) -> datetime:
    """The aware New York instant for a wall-clock time on a day (DST handled by zoneinfo)."""
    return datetime.combine(day, clock, tzinfo=MARKET_TZ)


def hourly_bar_end(label: datetime, session: TradingSession | None, minutes: int = 60) -> datetime:
    """A bar's label is its start; it ends `minutes` later, or at the session's close if that comes first."""
    end = label + timedelta(minutes=minutes)
    if session is not None and end > session.close:
        return session.close
    return end
