"""The live market seen from now: a PriceView over Alpaca market data (alpaca-py's StockHistoricalDataClient).

Real time is the point in time. The same rules as the replay hold: full daily bars only of sessions that have
closed, today's open (nothing else of today's bar), and a quote no newer than the clock. The clock is the wall
clock, or a pinned instant (`--now`) for drills and tests: then every request is bounded by that instant, so a
drill never sees a price from after it.

Requests are few and batched: one daily-bars request for the whole universe (cached for the session), one
latest-bar request for the whole universe (kept a few seconds), and a per-symbol minute-bar request only when the
latest bar is newer than a pinned clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest
from alpaca.data.timeframe import TimeFrame

from agent_tools.alpaca_http import Backoff, describe_api_error, with_retries
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, TradingSession, require_aware
from agent_tools.market_data import Bar
from agent_tools.point_in_time import MAX_HISTORY_DAYS, DailyHistory, Quote, ViewError

QUOTE_TTL_SECONDS = 10.0  # a minute bar changes once a minute; re-asking more often only costs rate limit
DAILY_TTL_SECONDS = 900.0  # completed sessions do not change; refetch now and then for a long-lived tool server
HISTORY_CALENDAR_DAYS = MAX_HISTORY_DAYS * 7 // 5 + 20  # enough calendar days for MAX_HISTORY_DAYS sessions
MINUTE = timedelta(minutes=1)


class LiveDataError(ValueError):
    """Alpaca market data could not be read (network, key, plan); the message is one line without secrets."""


__all__ = ["LiveDataError", "LiveView", "describe_api_error"]


class LiveView(DailyHistory):
    """PriceView over Alpaca market data at the clock's instant; thread-safe (tools run in worker threads)."""

    def __init__(self, client: StockHistoricalDataClient, universe: tuple[str, ...], feed: str,
                 calendar: MarketCalendar | None = None, clock: Callable[[], datetime] | None = None,
                 pinned: datetime | None = None, key_env: str = "APCA_API_KEY_ID", retry: Backoff | None = None):
        self.client = client
        self.universe = tuple(universe)
        self._universe_set = frozenset(self.universe)
        self.feed = DataFeed(feed)
        self.calendar = calendar or MarketCalendar()
        self.pinned = require_aware(pinned, "pinned clock") if pinned is not None else None
        self._clock = clock or (lambda: datetime.now(MARKET_TZ))
        self.key_env = key_env
        self.retry = retry or Backoff()
        self._lock = threading.RLock()
        self._daily: dict[str, list[Bar]] | None = None
        self._today_open: dict[str, float] = {}
        self._daily_at = 0.0
        self._latest: dict[str, Any] | None = None
        self._latest_at = 0.0
        self._quotes: dict[str, tuple[float, Quote]] = {}

    # -- the clock -------------------------------------------------------------------------------------------
    @property
    def instant(self) -> datetime:
        """Now: the pinned instant, or the wall clock in New York time."""
        return self.pinned if self.pinned is not None else self._clock().astimezone(MARKET_TZ)

    def _fresh(self, fetched_at: float, ttl: float) -> bool:
        return self.pinned is not None or time.monotonic() - fetched_at < ttl

    # -- fetching --------------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """One market-data request; 429, 5xx, timeouts and unreadable answers are retried with backoff."""
        try:
            return with_retries(fn, self.retry)
        except Exception as exc:
            hint = ""
            if isinstance(exc, APIError) and exc.status_code in (401, 403):
                hint = f"; check the key in {self.key_env} and the data feed (free plans need \"data_feed\": \"iex\")"
            raise LiveDataError(f"Alpaca market data: {what} failed ({describe_api_error(exc)}){hint}") from None

    def _load_daily(self) -> dict[str, list[Bar]]:
        """Daily bars of the whole universe in one request: completed sessions in full, today's open kept apart."""
        with self._lock:
            if self._daily is not None and self._fresh(self._daily_at, DAILY_TTL_SECONDS):
                return self._daily
            now = self.instant
            # A drill pinned in the past asks for history as of its own date (`asof`), not as of today.
            asof = self.pinned.date().isoformat() if self.pinned is not None else None
            request = StockBarsRequest(symbol_or_symbols=list(self.universe), timeframe=TimeFrame.Day,
                                       start=now - timedelta(days=HISTORY_CALENDAR_DAYS), end=now, feed=self.feed,
                                       adjustment=Adjustment.SPLIT, asof=asof)
            barset = self._call("daily bars", lambda: self.client.get_stock_bars(request))
            daily: dict[str, list[Bar]] = {s: [] for s in self.universe}
            today_open: dict[str, float] = {}
            for symbol, bars in barset.data.items():
                if symbol not in daily:
                    continue
                seen: set = set()
                for raw in bars:
                    day = raw.timestamp.astimezone(MARKET_TZ).date()
                    session = self.calendar.session_on(day)
                    if session is None or day > now.date() or raw.timestamp > now or day in seen:
                        continue  # not a session, stamped after the clock, or a second bar for a day already read
                    seen.add(day)
                    if session.close <= now:
                        daily[symbol].append(Bar(symbol, session.open, session.close, float(raw.open), float(raw.high),
                                                 float(raw.low), float(raw.close), float(raw.volume)))
                    elif session.open <= now:
                        today_open[symbol] = float(raw.open)  # today's bar is partial: only its open is a fact yet
            for bars in daily.values():
                bars.sort(key=lambda b: b.start)
            self._daily, self._today_open, self._daily_at = daily, today_open, time.monotonic()
            return daily

    def _load_latest(self) -> dict[str, Any]:
        """The latest minute bar of every universe symbol, one request."""
        with self._lock:
            if self._latest is not None and self._fresh(self._latest_at, QUOTE_TTL_SECONDS):
                return self._latest
            request = StockLatestBarRequest(symbol_or_symbols=list(self.universe), feed=self.feed)
            self._latest = dict(self._call("latest bars", lambda: self.client.get_stock_latest_bar(request)))
            self._latest_at = time.monotonic()
            return self._latest

    def _minute_bar_before(self, symbol: str, session: TradingSession, now: datetime) -> Any | None:
        """The last complete minute bar of today up to `now` (a pinned clock: the latest bar may be newer)."""
        end = now - MINUTE
        if end < session.open:
            return None
        request = StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Minute, start=session.open, end=end,
                                   feed=self.feed, sort=Sort.DESC, limit=1)
        barset = self._call(f"minute bars of {symbol}", lambda: self.client.get_stock_bars(request))
        bars = [b for b in barset.data.get(symbol, []) if session.open <= b.timestamp and b.timestamp + MINUTE <= now]
        return max(bars, key=lambda b: b.timestamp) if bars else None

    def prefetch(self, symbols: list[str] | tuple[str, ...] = ()) -> None:
        """Fetch before the session starts (in a worker thread), so building the prompt never waits on the network."""
        self._load_daily()
        for symbol in symbols:
            try:
                self.quote(symbol)
            except ViewError:
                continue

    # -- bars ------------------------------------------------------------------------------------------------
    def loaded_daily_bars(self) -> list[Bar]:
        """Every completed daily bar fetched so far (for the price archive that `report` values live runs with)."""
        with self._lock:
            return [bar for bars in (self._daily or {}).values() for bar in bars]

    def completed_daily_bars(self, symbol: str) -> list[Bar]:
        clean = self.check_symbol(symbol)
        try:
            daily = self._load_daily()
        except LiveDataError as exc:
            raise ViewError(str(exc)) from None
        now = self.instant
        return [b for b in daily.get(clean, []) if b.end <= now]

    def session_open(self, symbol: str) -> float | None:
        """Today's opening price once the session has opened (never today's high, low or close)."""
        clean = self.check_symbol(symbol)
        session = self.calendar.session_on(self.instant.date())
        if session is None or not session.contains(self.instant):
            return None
        try:
            self._load_daily()
        except LiveDataError as exc:
            raise ViewError(str(exc)) from None
        return self._today_open.get(clean)

    def quote(self, symbol: str) -> Quote:
        """The latest price at the clock: the last complete minute bar of today, else today's open, else the last
        close when the market is not open. During the session a price older than today's open is refused."""
        clean = self.check_symbol(symbol)
        with self._lock:
            cached = self._quotes.get(clean)
            if cached is not None and self._fresh(cached[0], QUOTE_TTL_SECONDS):
                return cached[1]
            try:
                quote = self._quote_now(clean)
            except LiveDataError as exc:
                raise ViewError(str(exc)) from None
            self._quotes[clean] = (time.monotonic(), quote)
            return quote

    def _quote_now(self, symbol: str) -> Quote:
        now = self.instant
        session = self.calendar.session_on(now.date())
        if session is not None and session.open <= now:
            latest = self._load_latest().get(symbol)
            bar = latest if latest is not None and session.open <= latest.timestamp and latest.timestamp + MINUTE <= now else None
            if bar is None:
                bar = self._minute_bar_before(symbol, session, now)
            if bar is not None:
                start = bar.timestamp.astimezone(MARKET_TZ)
                return Quote(symbol, float(bar.close), start + MINUTE,
                             f"close of the {start:%H:%M} one-minute bar ({self.feed.value})")
            today_open = self.session_open(symbol)
            if today_open is not None:
                return Quote(symbol, today_open, session.open, f"open of {session.day.isoformat()}")
            if session.contains(now):
                raise ViewError(f"no price for {symbol} yet in the {session.day.isoformat()} session "
                                f"({self.feed.value} feed); try again later or another symbol")
        bars = self.completed_daily_bars(symbol)
        if not bars:
            raise ViewError(f"no price for {symbol} at {now:%Y-%m-%d %H:%M %Z} in Alpaca's {self.feed.value} data")
        return Quote(symbol, bars[-1].close, bars[-1].end, f"close of {bars[-1].day.isoformat()}")
