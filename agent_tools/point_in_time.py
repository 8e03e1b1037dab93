"""What the market looks like at one instant: the only door through which a model sees prices.

Rules (daily replay at D 10:00 ET): full bars of sessions that closed at or before the instant, the open of D
(nothing else of D: no high, low, close or volume), nothing after. Hourly bars are visible once they have ended
(a bar labelled 10:00 covers 10:00-11:00 and is visible from 11:00). A later date or a symbol outside the universe
is an error, never an empty success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from agent_tools.market_calendar import MarketCalendar, TradingSession, require_aware
from agent_tools.market_data import Bar, MarketData

MAX_HISTORY_DAYS = 60


class ViewError(ValueError):
    """A request the point-in-time view refuses (future date, unknown symbol, no price); the message says why."""


@dataclass(frozen=True)
class Quote:
    """The latest price known at the instant, with when it was set and what it is (open, hourly close, close)."""

    symbol: str
    price: float
    as_of: datetime
    basis: str


class PriceView(Protocol):
    """What the tools need from a market view; replay (bundled data) and live (broker market data) both provide it."""

    instant: datetime
    universe: tuple[str, ...]

    def check_symbol(self, symbol: str) -> str: ...

    def quote(self, symbol: str) -> Quote: ...

    def completed_daily_bars(self, symbol: str) -> list[Bar]: ...

    def daily_history(self, symbol: str, days: int, end_day: date | None = None) -> list[dict]: ...

    def last_close(self, symbol: str) -> float | None: ...


class DailyHistory:
    """Rules shared by every view: symbols from the universe only; complete bars up to the instant, then today's
    open only. A view provides `instant`, `universe`, `_universe_set`, `completed_daily_bars` and `session_open`.
    """

    instant: datetime
    universe: tuple[str, ...]
    _universe_set: frozenset[str]

    def check_symbol(self, symbol: str) -> str:
        if not isinstance(symbol, str) or not symbol.strip():
            raise ViewError("symbol must be a ticker such as 'AAPL'")
        clean = symbol.strip().upper()
        if clean not in self._universe_set:
            raise ViewError(f"unknown symbol {symbol!r}: not in the tradable universe ({len(self.universe)} symbols, e.g. AAPL, NVDA, QQQ)")
        return clean

    def completed_daily_bars(self, symbol: str) -> list[Bar]:
        raise NotImplementedError

    def session_open(self, symbol: str) -> float | None:
        raise NotImplementedError

    def daily_history(self, symbol: str, days: int, end_day: date | None = None) -> list[dict]:
        """Up to `days` complete daily bars ending at `end_day` (default: the instant), plus today's open if known."""
        now = self.instant
        if end_day is not None and end_day > now.date():
            raise ViewError(
                f"end_date {end_day.isoformat()} is in the future: the current time is "
                f"{now:%Y-%m-%d %H:%M %Z}; ask for {now.date().isoformat()} or earlier"
            )
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise ViewError(f"days must be between 1 and {MAX_HISTORY_DAYS}, got {days}")
        bars = self.completed_daily_bars(symbol)
        if end_day is not None:
            bars = [b for b in bars if b.day <= end_day]
        rows: list[dict] = [
            {"date": b.day.isoformat(), "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume}
            for b in bars[-days:]
        ]
        today_open = self.session_open(symbol)
        if today_open is not None and (end_day is None or end_day >= now.date()):
            rows.append({"date": now.date().isoformat(), "open": today_open, "partial": "open only"})
        return rows

    def last_close(self, symbol: str) -> float | None:
        bars = self.completed_daily_bars(symbol)
        return bars[-1].close if bars else None


class MarketView(DailyHistory):
    """Bundled data seen from one instant. Cheap to build (no copying): per-symbol cut-offs are found by bisecting."""

    def __init__(self, data: MarketData, instant: datetime, calendar: MarketCalendar | None = None):
        self.data = data
        self.instant = require_aware(instant, "view instant")
        self.universe = data.universe
        self._universe_set = frozenset(data.universe)
        self.calendar = calendar or MarketCalendar()
        self.session: TradingSession | None = self.calendar.session_on(self.instant.date())
        self._quotes: dict[str, Quote] = {}

    # -- bars ------------------------------------------------------------------------------------------------
    def completed_daily_bars(self, symbol: str) -> list[Bar]:
        """Daily bars of sessions that had closed at or before the instant."""
        series = self.data.daily[self.check_symbol(symbol)]
        return series.bars[: series.count_ended_by(self.instant)]

    def session_open(self, symbol: str) -> float | None:
        """Today's opening price once the session has opened; only the open, never today's high, low or close."""
        if self.session is None or self.instant < self.session.open:
            return None
        series = self.data.daily[self.check_symbol(symbol)]
        i = series.index_of_day(self.session.day)
        if i is None or series.bars[i].end <= self.instant:
            return None  # no bar for today, or today has closed (then the full bar is visible instead)
        return series.bars[i].open

    def completed_hourly_bars(self, symbol: str) -> list[Bar]:
        series = self.data.hourly.get(self.check_symbol(symbol))
        if series is None:
            return []
        return series.bars[: series.count_ended_by(self.instant)]

    # -- prices ----------------------------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote:
        """The latest price known at the instant: last hourly close, today's open, or the last close, whichever is newest."""
        clean = self.check_symbol(symbol)
        cached = self._quotes.get(clean)
        if cached is not None:
            return cached
        candidates: list[Quote] = []
        daily = self.completed_daily_bars(clean)
        if daily:
            candidates.append(Quote(clean, daily[-1].close, daily[-1].end, f"close of {daily[-1].day.isoformat()}"))
        today_open = self.session_open(clean)
        if today_open is not None and self.session is not None:
            candidates.append(Quote(clean, today_open, self.session.open, f"open of {self.session.day.isoformat()}"))
        hourly = self.completed_hourly_bars(clean)
        if hourly:
            bar = hourly[-1]
            candidates.append(Quote(clean, bar.close, bar.end, f"close of the {bar.start:%H:%M} hourly bar"))
        if not candidates:
            raise ViewError(f"no price for {clean} at {self.instant:%Y-%m-%d %H:%M %Z}: the data starts {self.data.first_day}")
        best = max(candidates, key=lambda q: q.as_of)
        if self.session is not None and self.session.contains(self.instant) and best.as_of < self.session.open:
            raise ViewError(
                f"no price for {clean} during the {self.session.day.isoformat()} session: "
                f"the bundled data ends {self.data.last_day.isoformat()}"
            )
        self._quotes[clean] = best
        return best
