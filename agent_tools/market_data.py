"""Bundled market data: load daily and hourly bars, validate them, and index them for fast point-in-time lookups.

Loading fails with a message naming the file, the line and the symbol; a half-valid price file is never used.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, hourly_bar_end
from agent_tools.parquet_store import Dataset, is_dataset
from agent_tools.universe import Universe

DAILY_COLUMNS = ("date", "symbol", "open", "high", "low", "close", "volume")
HOURLY_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")


class MarketDataError(ValueError):
    """The price files are unusable; the message names file, line and symbol."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. `start` is the session date's open (daily) or the bar label (hourly); `end` when it completed.
    Slotted: ten years of a hundred symbols are a quarter of a million of them.

    `open_at` is when the open price existed, if later than `start`: a daily bar built from hourly bars opens at the
    first hourly bar's start (10:00), not at 09:30. `from_hourly` marks such a bar (not an exchange daily bar)."""

    symbol: str
    start: datetime
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    open_at: datetime | None = None
    from_hourly: bool = False

    @property
    def day(self) -> date:
        return self.start.date()

    @property
    def opened(self) -> datetime:
        """The instant the open price existed."""
        return self.open_at or self.start


@dataclass
class SymbolBars:
    """One symbol's bars in time order, with the end times kept apart for bisecting."""

    bars: list[Bar] = field(default_factory=list)
    ends: list[datetime] = field(default_factory=list)
    days: list[date] = field(default_factory=list)

    def count_ended_by(self, instant: datetime) -> int:
        """How many bars had ended at or before the instant."""
        return bisect.bisect_right(self.ends, instant)

    def index_of_day(self, day: date) -> int | None:
        i = bisect.bisect_left(self.days, day)
        return i if i < len(self.days) and self.days[i] == day else None


@dataclass
class MarketData:
    """Every bar we have, indexed per symbol. Immutable once loaded; views read it without copying."""

    universe: tuple[str, ...]
    daily: dict[str, SymbolBars]
    hourly: dict[str, SymbolBars]
    daily_path: Path
    hourly_path: Path | None
    members: Universe | None = None
    intraday_minutes: int = 60
    _points: dict[date, list[datetime]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.members is None:
            self.members = Universe.of(self.universe)

    def intraday_points(self, day: date) -> list[datetime]:
        """Every instant of `day` at which the intraday data sets a price (bar opens and closes), in order.

        A session's prices and news are cut at the latest of these at or before its decision time, so the price a
        model sees and fills at is never older than the news it reads.
        """
        points = self._points.get(day)
        if points is None:
            found: set[datetime] = set()
            for series in self.hourly.values():
                lo = bisect.bisect_left(series.days, day)
                hi = bisect.bisect_right(series.days, day)
                for bar in series.bars[lo:hi]:
                    found.update((bar.start, bar.end))
            points = self._points[day] = sorted(found)
        return points

    @property
    def first_day(self) -> date:
        return min(b.days[0] for b in self.daily.values())

    @property
    def last_day(self) -> date:
        return max(b.days[-1] for b in self.daily.values())

    def trading_days(self) -> list[date]:
        """Days with daily bars for the universe, in order."""
        days: set[date] = set()
        for bars in self.daily.values():
            days.update(bars.days)
        return sorted(days)


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise MarketDataError(f"{path}: price file not found; run from the project folder or set data paths in config")
    try:
        frame = pd.read_csv(path, dtype={"symbol": str}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MarketDataError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MarketDataError(f"{path}: missing column(s) {', '.join(missing)}; expected header {','.join(columns)}")
    return frame


def _fail_row(path: Path, frame: pd.DataFrame, mask: pd.Series, problem: str) -> None:
    if mask.any():
        i = int(mask.to_numpy().nonzero()[0][0])
        row = frame.iloc[i]
        where = row.get("date", row.get("timestamp"))
        raise MarketDataError(f"{path} line {i + 2}: {problem} (symbol {row['symbol']}, {where}); fix or remove that row")


def _validate_prices(path: Path, frame: pd.DataFrame, time_column: str) -> pd.DataFrame:
    _fail_row(path, frame, frame["symbol"].isna() | (frame["symbol"].astype(str).str.strip() == ""), "missing symbol")
    for column in (*PRICE_COLUMNS, "volume"):
        numeric = pd.to_numeric(frame[column], errors="coerce")
        _fail_row(path, frame, numeric.isna(), f"missing or non-numeric {column!r}")
        frame[column] = numeric.astype(float)
    for column in PRICE_COLUMNS:
        _fail_row(path, frame, frame[column] <= 0, f"non-positive {column!r}")
    _fail_row(path, frame, frame["volume"] < 0, "negative 'volume'")
    _fail_row(path, frame, frame["high"] < frame[["open", "close", "low"]].max(axis=1), "'high' below open, low or close")
    _fail_row(path, frame, frame["low"] > frame[["open", "close", "high"]].min(axis=1), "'low' above open, high or close")
    _fail_row(path, frame, frame.duplicated(subset=[time_column, "symbol"], keep="first"), "duplicate bar")
    return frame


def _parse_times(path: Path, frame: pd.DataFrame, column: str, fmt: str) -> pd.Series:
    parsed = pd.to_datetime(frame[column], format=fmt, errors="coerce")
    _fail_row(path, frame, parsed.isna(), f"unparseable {column} (expected {fmt})")
    return parsed


def _check_universe(path: Path, symbols: Iterable[str], universe: tuple[str, ...]) -> None:
    present = set(symbols)
    missing = [s for s in universe if s not in present]
    if missing:
        raise MarketDataError(
            f"{path}: universe symbol(s) {', '.join(missing[:5])} have no bars; "
            "remove them from the config's 'universe' or add their prices"
        )


@dataclass(frozen=True)
class Window:
    """What a run needs: its symbols and the days it covers (None: everything). Only fetched Parquet datasets are
    read selectively; a CSV file is read whole."""

    symbols: tuple[str, ...]
    start: date | None = None
    end: date | None = None


def _read_dataset(path: Path, columns: tuple[str, ...], window: Window) -> tuple[pd.DataFrame, int | None]:
    """A fetched dataset's bars as the CSV loader's frame (text dates and New York timestamps), and its bar minutes."""
    dataset = Dataset.open(path)
    frame = dataset.read(window.symbols, window.start, window.end)
    if dataset.time_column == "date":
        frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    else:
        frame["timestamp"] = (pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(MARKET_TZ)
                              .dt.strftime("%Y-%m-%d %H:%M:%S"))
    if columns[0] != dataset.time_column:
        raise MarketDataError(f"{path}: holds {dataset.timeframe} bars; use it for the "
                              f"{'daily' if dataset.time_column == 'date' else 'intraday'} prices")
    return frame[list(columns)].reset_index(drop=True), dataset.bar_minutes


def _read_daily(path: Path, window: Window | None = None) -> pd.DataFrame:
    if is_dataset(path):
        raw, _ = _read_dataset(path, DAILY_COLUMNS, window or Window(()))
    else:
        raw = _read_csv(path, DAILY_COLUMNS)
    frame = _validate_prices(path, raw, "date")
    frame["day"] = _parse_times(path, frame, "date", "%Y-%m-%d").dt.date
    return frame


def load_daily(path: Path, universe: tuple[str, ...], calendar: MarketCalendar,
               extra: Iterable[Path] = (), window: Window | None = None) -> dict[str, SymbolBars]:
    """Daily bars from the main file, plus any extra files (live price archives) for days the main file lacks."""
    frames = [_read_daily(path, window or Window(universe))] + [_read_daily(Path(p)) for p in extra]
    frame = pd.concat(frames, ignore_index=True).drop_duplicates(subset=["day", "symbol"], keep="first")
    _check_universe(path, frame["symbol"], universe)
    frame = frame[frame["symbol"].isin(universe)].sort_values(["symbol", "day"])
    sessions = {s.day: s for s in calendar.sessions_between(frame["day"].min(), frame["day"].max())}
    out: dict[str, SymbolBars] = {}
    symbols: dict[str, str] = {}  # one string per symbol, one date and datetime per session, shared by every bar
    for symbol, day, open_, high, low, close, volume in zip(
            frame["symbol"], frame["day"], frame["open"].tolist(), frame["high"].tolist(), frame["low"].tolist(),
            frame["close"].tolist(), frame["volume"].tolist(), strict=True):
        session = sessions.get(day)
        if session is None:
            raise MarketDataError(f"{path}: {symbol} has a bar on {day}, which is not an NYSE session")
        symbol = symbols.setdefault(symbol, symbol)
        bars = out.get(symbol)
        if bars is None:
            bars = out[symbol] = SymbolBars()
        bars.bars.append(Bar(symbol, session.open, session.close, open_, high, low, close, volume))
        bars.ends.append(session.close)
        bars.days.append(session.day)
    return out


def load_hourly(path: Path, universe: tuple[str, ...], calendar: MarketCalendar, window: Window | None = None,
                minutes: int = 60) -> dict[str, SymbolBars]:
    """Hourly labels are the bar's start in New York time (10:00 is 10:00-11:00); a bar ends an hour later.

    The source's labels run 10:00..15:00 and its 15:00 close matches the daily close, so the label is the start.
    """
    if is_dataset(path):
        raw, fetched_minutes = _read_dataset(path, HOURLY_COLUMNS, window or Window(universe))
        minutes = fetched_minutes or minutes
    else:
        raw = _read_csv(path, HOURLY_COLUMNS)
    frame = _validate_prices(path, raw, "timestamp")
    frame["label"] = _parse_times(path, frame, "timestamp", "%Y-%m-%d %H:%M:%S")
    frame = frame[frame["symbol"].isin(universe)].sort_values(["symbol", "label"])
    if frame.empty:
        return {}
    first, last = frame["label"].min().date(), frame["label"].max().date()
    sessions = {s.day: s for s in calendar.sessions_between(first, last)}
    out: dict[str, SymbolBars] = {}
    for row in frame.itertuples(index=False):
        start = row.label.to_pydatetime().replace(tzinfo=MARKET_TZ)
        session = sessions.get(start.date())
        if session is None or not session.contains(start):
            raise MarketDataError(f"{path}: {row.symbol} bar labelled {start:%Y-%m-%d %H:%M} is outside NYSE hours")
        bars = out.setdefault(row.symbol, SymbolBars())
        bars.bars.append(
            Bar(row.symbol, start, hourly_bar_end(start, session, minutes), row.open, row.high, row.low, row.close,
                row.volume)
        )
        bars.ends.append(bars.bars[-1].end)
        bars.days.append(start.date())
    return out


def _expected_starts(session, minutes: int) -> list[datetime]:
    """The bar starts a complete intraday day has: every `minutes` on the clock from the first at or after the open
    (10:00..15:00 for the bundled 60-minute bars, whose 09:30-10:00 half hour is absent) up to the close."""
    midnight = session.open.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    elapsed = session.open - midnight
    t = midnight + step * -(-elapsed // step)
    starts = []
    while t < session.close:
        starts.append(t)
        t += step
    return starts


def complete_daily(daily: dict[str, SymbolBars], hourly: dict[str, SymbolBars], calendar: MarketCalendar,
                   minutes: int) -> int:
    """Add a daily bar, built from the intraday bars, for each day a symbol has no daily bar but a complete set of
    intraday bars; returns how many were added. An existing daily bar is never replaced, and a day with any intraday
    bar missing stays without a daily bar (its open, high, low or close would be a guess).

    No look-ahead: the open is the first intraday bar's open and is dated at that bar's start (`open_at`, 10:00 for
    the bundled data, not 09:30); high, low and volume cover only the intraday bars (10:00-16:00); the close is the
    last bar's close, set at the session's close like an exchange daily bar's.
    """
    added = 0
    for symbol, series in hourly.items():
        have = daily.get(symbol)
        have_days = set(have.days) if have is not None else set()
        by_day: dict[date, list[Bar]] = {}
        for bar in series.bars:
            if bar.day not in have_days:
                by_day.setdefault(bar.day, []).append(bar)
        new: list[Bar] = []
        for day, bars in by_day.items():
            session = calendar.session_on(day)
            if session is None or [b.start for b in bars] != _expected_starts(session, minutes):
                continue
            new.append(Bar(symbol, session.open, session.close, bars[0].open, max(b.high for b in bars),
                           min(b.low for b in bars), bars[-1].close, sum(b.volume for b in bars),
                           open_at=bars[0].start if bars[0].start > session.open else None, from_hourly=True))
        if not new:
            continue
        merged = sorted([*(have.bars if have is not None else []), *new], key=lambda b: b.start)
        daily[symbol] = SymbolBars(merged, [b.end for b in merged], [b.day for b in merged])
        added += len(new)
    return added


def load_market_data(
    daily_path: Path, hourly_path: Path | None, universe: tuple[str, ...], calendar: MarketCalendar | None = None,
    extra_daily: Iterable[Path] = (), members: Universe | None = None, window: Window | None = None,
    intraday_minutes: int = 60,
) -> MarketData:
    """Daily bars and (optionally) intraday bars, from CSV files or fetched Parquet datasets; `window` limits what is
    read from a dataset to the symbols and days a run needs."""
    calendar = calendar or MarketCalendar()
    if not universe:
        raise MarketDataError("the universe is empty; list symbols under 'universe' in the config")
    window = window or Window(tuple(universe))
    daily = load_daily(Path(daily_path), universe, calendar, extra_daily, window)
    minutes = intraday_minutes
    if hourly_path and is_dataset(Path(hourly_path)):
        minutes = Dataset.open(Path(hourly_path)).bar_minutes or minutes
    hourly = load_hourly(Path(hourly_path), universe, calendar, window, minutes) if hourly_path else {}
    complete_daily(daily, hourly, calendar, minutes)
    return MarketData(tuple(universe), daily, hourly, Path(daily_path), Path(hourly_path) if hourly_path else None,
                      members, intraday_minutes=minutes)
