"""What the market looks like at one instant: the only door through which a model sees prices.

Rules (daily replay at D 10:00 ET): full bars of sessions that closed at or before the instant, the open of D
(nothing else of D: no high, low, close or volume), nothing after. A daily bar built from hourly bars (see
`market_data.complete_daily`) has no 09:30 price: its open is shown from the first hourly bar's start (10:00). Hourly bars are visible once they have ended
(a bar labelled 10:00 covers 10:00-11:00 and is visible from 11:00); a bar's open is the price at its start. The
price at the instant is the one orders fill at, and the instant is also the cut-off for news. A later date or a
symbol outside the universe (or outside its membership dates) is an error, never an empty success.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from agent_tools.market_calendar import MarketCalendar, TradingSession, require_aware
from agent_tools.market_data import Bar, MarketData
from agent_tools.tool_bounds import MAX_HISTORY_DAYS as MAX_HISTORY_DAYS
from agent_tools.universe import Universe


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

    def completed_daily_bars(self, symbol: str) -> Sequence[Bar]: ...

    def recent_daily_bars(self, symbol: str, count: int, end_day: date | None = None) -> list[Bar]: ...

    def close_on(self, symbol: str, day: date) -> float | None: ...

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

    def completed_daily_bars(self, symbol: str) -> Sequence[Bar]:
        raise NotImplementedError

    def recent_daily_bars(self, symbol: str, count: int, end_day: date | None = None) -> list[Bar]:
        """The last `count` complete daily bars up to `end_day` (default: the instant), oldest first."""
        bars = self.completed_daily_bars(symbol)
        if end_day is not None:
            bars = [b for b in bars if b.day <= end_day]
        return list(bars[-count:]) if count > 0 else []

    def close_on(self, symbol: str, day: date) -> float | None:
        """The close of `day` if that session had closed by the instant, else None (also for a symbol not shown)."""
        try:
            bars = self.recent_daily_bars(symbol, 1, day)
        except ViewError:
            return None
        return bars[0].close if bars and bars[0].day == day else None

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
        rows: list[dict] = [
            {"date": b.day.isoformat(), "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume}
            | ({"built_from": "hourly bars"} if b.from_hourly else {})
            for b in self.recent_daily_bars(symbol, days, end_day)
        ]
        today_open = self.session_open(symbol)
        if today_open is not None and (end_day is None or end_day >= now.date()):
            rows.append({"date": now.date().isoformat(), "open": today_open, "partial": "open only"})
        return rows

    def last_close(self, symbol: str) -> float | None:
        bars = self.recent_daily_bars(symbol, 1)
        return bars[-1].close if bars else None


def information_instant(data: MarketData, calendar: MarketCalendar, decision: datetime) -> datetime:
    """The instant a session at `decision` sees the market from: the latest price point at or before it.

    During a session a price is known only where the data sets one: the open (09:30) and, with intraday bars, each
    bar's open and close. Prices, fills and news are all cut at that one instant, so a model never reads news newer
    than the price it trades at. With the bundled hourly bars, 10:00 is a bar's open, so the instant is 10:00; with
    daily bars only it is the 09:30 open. Outside a session the decision time itself.
    """
    decision = require_aware(decision, "decision time")
    session = calendar.session_on(decision.date())
    if session is None or not session.contains(decision):
        return decision
    points = [p for p in data.intraday_points(session.day) if session.open <= p <= decision]
    return max([session.open, *points])


class MarketView(DailyHistory):
    """Bundled data seen from one instant. Cheap to build (no copying): per-symbol cut-offs are found by bisecting.

    `decision_time` is when the session runs (10:00); `instant` is the time of the prices it sees and trades at
    (see `information_instant`), which is also the cut-off for its news.
    """

    def __init__(self, data: MarketData, instant: datetime, calendar: MarketCalendar | None = None):
        self.data = data
        self.calendar = calendar or MarketCalendar()
        self.decision_time = require_aware(instant, "view instant")
        self.instant = information_instant(data, self.calendar, self.decision_time)
        self.members = data.members or Universe.of(data.universe)
        self.universe = self.members.on(self.instant.date())
        self._universe_set = frozenset(self.members.visible(self.instant.date()))
        self.session: TradingSession | None = self.calendar.session_on(self.instant.date())
        self._quotes: dict[str, Quote] = {}

    def check_symbol(self, symbol: str) -> str:
        clean = symbol.strip().upper() if isinstance(symbol, str) else symbol
        why = self.members.why_not(clean, self.instant.date()) if isinstance(clean, str) else None
        if why:
            raise ViewError(why)
        return super().check_symbol(symbol)

    # -- bars ------------------------------------------------------------------------------------------------
    def completed_daily_bars(self, symbol: str) -> Sequence[Bar]:
        """Daily bars of sessions that had closed at or before the instant."""
        series = self.data.daily[self.check_symbol(symbol)]
        return series.bars[: series.count_ended_by(self.instant)]

    def recent_daily_bars(self, symbol: str, count: int, end_day: date | None = None) -> list[Bar]:
        """As the protocol says, found by bisecting: the cost does not grow with the length of the history."""
        series = self.data.daily[self.check_symbol(symbol)]
        n = series.count_ended_by(self.instant)
        if end_day is not None:
            n = min(n, bisect.bisect_right(series.days, end_day))
        return list(series.bars[max(0, n - count):n]) if count > 0 else []

    def close_on(self, symbol: str, day: date) -> float | None:
        """The close of `day` from the data once that session closed; any symbol with bars (a holding may have
        left the universe since)."""
        series = self.data.daily.get(symbol)
        i = series.index_of_day(day) if series is not None else None
        if i is None or series is None or series.ends[i] > self.instant:
            return None
        return series.close[i]

    def session_open(self, symbol: str) -> float | None:
        """Today's opening price once the session has opened; only the open, never today's high, low or close."""
        if self.session is None or self.instant < self.session.open:
            return None
        series = self.data.daily[self.check_symbol(symbol)]
        i = series.index_of_day(self.session.day)
        if i is None or series.ends[i] <= self.instant:
            return None  # no bar for today, or today has closed (then the full bar is visible instead)
        if self.instant < series.opened(i):
            return None  # a bar built from hourly bars: its open is the 10:00 price, unknown before 10:00
        return series.open[i]

    def _session_open_at(self, symbol: str) -> datetime:
        """When today's open price existed: 09:30 for an exchange daily bar, the first hourly bar's start for one
        built from hourly bars."""
        assert self.session is not None
        series = self.data.daily[symbol]
        i = series.index_of_day(self.session.day)
        return series.opened(i) if i is not None else self.session.open

    def completed_hourly_bars(self, symbol: str) -> Sequence[Bar]:
        series = self.data.hourly.get(self.check_symbol(symbol))
        if series is None:
            return []
        return series.bars[: series.count_ended_by(self.instant)]

    def _opening_bar(self, symbol: str) -> Bar | None:
        """The intraday bar that starts exactly at the instant: its open is the first price at or after it."""
        series = self.data.hourly.get(symbol)
        if series is None:
            return None
        lo, hi = series.day_range(self.instant.date())
        return next((series.bar(i) for i in range(lo, hi) if series.starts[i] == self.instant), None)

    # -- prices ----------------------------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote:
        """The price at the instant: the open of the intraday bar starting then, else the newest of the last
        completed bar's close, today's open and the last daily close. In a session, a price older than the instant
        is refused: trading at it while reading later news is the look-ahead this view exists to prevent."""
        clean = self.check_symbol(symbol)
        cached = self._quotes.get(clean)
        if cached is not None:
            return cached
        candidates: list[Quote] = []
        daily = self.recent_daily_bars(clean, 1)
        if daily:
            candidates.append(Quote(clean, daily[-1].close, daily[-1].end, f"close of {daily[-1].day.isoformat()}"))
        today_open = self.session_open(clean)
        if today_open is not None and self.session is not None:
            candidates.append(Quote(clean, today_open, self._session_open_at(clean),
                                    f"open of {self.session.day.isoformat()}"))
        kind = "hourly" if self.data.intraday_minutes == 60 else f"{self.data.intraday_minutes}-minute"
        hourly = self.data.hourly.get(clean)
        ended = hourly.count_ended_by(self.instant) if hourly is not None else 0
        if hourly is not None and ended:
            bar = hourly.bars[ended - 1]
            candidates.append(Quote(clean, bar.close, bar.end, f"close of the {bar.start:%H:%M} {kind} bar"))
        opening = self._opening_bar(clean) if today_open is not None else None
        if opening is not None:  # preferred on a tie: the price at the instant, not the one just before it
            candidates.append(Quote(clean, opening.open, opening.start, f"open of the {opening.start:%H:%M} {kind} bar"))
        if not candidates:
            raise ViewError(f"no price for {clean} at {self.instant:%Y-%m-%d %H:%M %Z}: the data starts {self.data.first_day}")
        # On a tie the opening bar wins (the price at the instant), then the official daily close over an hourly one.
        rank = {id(q): r for r, q in enumerate(candidates)}
        best = max(candidates, key=lambda q: (q.as_of, q.basis.startswith("open of the"), -rank[id(q)]))
        if self.session is not None and self.session.contains(self.instant):
            if best.as_of < self.session.open and self.data.last_day >= self.session.day:
                raise ViewError(
                    f"no price for {clean} at {self.instant:%H:%M %Z} on {self.session.day}: the data's first price "
                    f"of that day comes later (its daily bar is built from hourly bars); it cannot be traded yet"
                )
            if best.as_of < self.session.open:
                raise ViewError(
                    f"no price for {clean} during the {self.session.day.isoformat()} session: "
                    f"the bundled data ends {self.data.last_day.isoformat()}"
                )
            if best.as_of < self.instant:
                raise ViewError(
                    f"no price for {clean} at {self.instant:%H:%M %Z} on {self.session.day}: its intraday bar is "
                    f"missing from the data (latest: {best.basis} at {best.as_of:%H:%M}); it cannot be traded now"
                )
        self._quotes[clean] = best
        return best
