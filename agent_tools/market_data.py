"""Bundled market data: load daily and intraday bars, validate them, and index them for fast point-in-time lookups.

Bars are held as columns per symbol (`SymbolBars`): one float array per price field and one list of shared session
times, not one object per bar, so ten years of a hundred symbols take about 16 MB, not 180. A `Bar` is made when
someone reads one. CSV files are parsed with the standard library (no pandas in a replay): a plain valid file in bulk
(`price_csv`, its columns cached by `price_cache`), anything else row by row here; fetched Parquet datasets go
through pandas and pyarrow, imported only then. Loading fails with a message naming the file, the line and the
symbol; a half-valid price file is never used.
"""

from __future__ import annotations

import bisect
import csv
import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, overload

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, TradingSession, hourly_bar_end
from agent_tools.parquet_store import Dataset, is_dataset
from agent_tools.price_cache import read_prices
from agent_tools.price_csv import SymbolRows as _SymbolRows
from agent_tools.universe import Universe

DAILY_COLUMNS = ("date", "symbol", "open", "high", "low", "close", "volume")
HOURLY_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")
DAILY_FORMAT, INTRADAY_FORMAT = "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"


class MarketDataError(ValueError):
    """The price files are unusable; the message names file, line and symbol."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. `start` is the session date's open (daily) or the bar label (hourly); `end` when it completed.

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


class SymbolBars:
    """One symbol's bars in time order, as columns: start, end and day lists (the datetimes are shared by every
    symbol's bar of a session) and one float array per price field. `ends` and `days` are kept for bisecting.

    `bars` reads them as `Bar`s (a lazy sequence: indexing or iterating makes one bar at a time, a slice is another
    lazy sequence); `close[i]`-style column reads skip even that. Immutable once built.
    """

    __slots__ = ("symbol", "starts", "ends", "days", "open", "high", "low", "close", "volume", "open_at",
                 "from_hourly")

    def __init__(self, symbol: str, starts: list[datetime], ends: list[datetime], days: list[date],
                 open: array, high: array, low: array, close: array, volume: array,  # noqa: A002
                 open_at: dict[int, datetime] | None = None, from_hourly: frozenset[int] = frozenset()):
        if not len(starts) == len(ends) == len(days) == len(open) == len(high) == len(low) == len(close) == len(volume):
            raise ValueError(f"{symbol}: bar columns of different lengths")
        self.symbol, self.starts, self.ends, self.days = symbol, starts, ends, days
        self.open, self.high, self.low, self.close, self.volume = open, high, low, close, volume
        self.open_at = open_at or {}  # index -> when the open existed, only where later than the bar's start
        self.from_hourly = from_hourly  # indices of daily bars built from intraday bars

    @classmethod
    def from_bars(cls, bars: Iterable[Bar], symbol: str | None = None) -> SymbolBars:
        """Columns from bars already in time order (tests, blinded copies, bars merged from two sources)."""
        bars = list(bars)
        name = symbol if symbol is not None else (bars[0].symbol if bars else "")
        return cls(name, [b.start for b in bars], [b.end for b in bars], [b.day for b in bars],
                   array("d", (b.open for b in bars)), array("d", (b.high for b in bars)),
                   array("d", (b.low for b in bars)), array("d", (b.close for b in bars)),
                   array("d", (b.volume for b in bars)),
                   {i: b.open_at for i, b in enumerate(bars) if b.open_at is not None},
                   frozenset(i for i, b in enumerate(bars) if b.from_hourly))

    def __len__(self) -> int:
        return len(self.ends)

    def bar(self, i: int) -> Bar:
        """The i-th bar (negative counts from the end, as for a list)."""
        if i < 0:
            i += len(self.ends)
        return Bar(self.symbol, self.starts[i], self.ends[i], self.open[i], self.high[i], self.low[i], self.close[i],
                   self.volume[i], self.open_at.get(i), i in self.from_hourly)

    def opened(self, i: int) -> datetime:
        """When the i-th bar's open price existed."""
        return self.open_at.get(i) or self.starts[i]

    @property
    def bars(self) -> BarRange:
        return BarRange(self, 0, len(self.ends))

    def count_ended_by(self, instant: datetime) -> int:
        """How many bars had ended at or before the instant."""
        return bisect.bisect_right(self.ends, instant)

    def index_of_day(self, day: date) -> int | None:
        i = bisect.bisect_left(self.days, day)
        return i if i < len(self.days) and self.days[i] == day else None

    def day_range(self, day: date) -> tuple[int, int]:
        """The indices [lo, hi) of the bars of `day`."""
        return bisect.bisect_left(self.days, day), bisect.bisect_right(self.days, day)


class BarRange(Sequence[Bar]):
    """Bars lo..hi-1 of a `SymbolBars`, made on reading; what `SymbolBars.bars` and its slices return."""

    __slots__ = ("_series", "_lo", "_hi")

    def __init__(self, series: SymbolBars, lo: int, hi: int):
        self._series, self._lo, self._hi = series, lo, max(lo, hi)

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, index: int) -> Bar: ...

    @overload
    def __getitem__(self, index: slice) -> BarRange: ...

    def __getitem__(self, index: int | slice) -> Bar | BarRange:
        if isinstance(index, slice):
            lo, hi, step = index.indices(len(self))
            if step != 1:
                raise ValueError("bars can be sliced with step 1 only")
            return BarRange(self._series, self._lo + lo, self._lo + hi)
        n = len(self)
        if not -n <= index < n:
            raise IndexError("bar index out of range")
        return self._series.bar(self._lo + (index % n))

    def __iter__(self) -> Iterator[Bar]:
        bar = self._series.bar
        for i in range(self._lo, self._hi):
            yield bar(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BarRange({self._series.symbol}, {self._lo}:{self._hi})"


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
                lo, hi = series.day_range(day)
                found.update(series.starts[lo:hi])
                found.update(series.ends[lo:hi])
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


# -- reading and validating ----------------------------------------------------------------------------------------
# The checks, in the order a file is judged by: the first kind of problem found anywhere in the file is the one
# reported, at its first line (so the message does not depend on how the rows happen to be ordered).
_MISSING_SYMBOL, _NON_NUMERIC, _NON_POSITIVE, _NEGATIVE_VOLUME, _HIGH, _LOW, _DUPLICATE, _TIME = 0, 1, 6, 10, 11, 12, 13, 14
_NUMERIC_COLUMNS = (*PRICE_COLUMNS, "volume")


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _check_row(symbol: Any, raw: tuple[Any, ...]) -> tuple[int, str] | tuple[None, tuple[float, ...]]:
    """The row's first problem (check number, text), or its five numbers."""
    if not isinstance(symbol, str) or not symbol.strip():
        return _MISSING_SYMBOL, "missing symbol"
    values = tuple(_number(x) for x in raw)
    for k, (column, value) in enumerate(zip(_NUMERIC_COLUMNS, values, strict=True)):
        if value is None:
            return _NON_NUMERIC + k, f"missing or non-numeric {column!r}"
    o, h, lo, c, v = values
    for k, (column, value) in enumerate(zip(PRICE_COLUMNS, values, strict=False)):
        if value <= 0:  # type: ignore[operator]
            return _NON_POSITIVE + k, f"non-positive {column!r}"
    if v < 0:  # type: ignore[operator]
        return _NEGATIVE_VOLUME, "negative 'volume'"
    if h < max(o, c, lo):  # type: ignore[type-var]
        return _HIGH, "'high' below open, low or close"
    if lo > min(o, c, h):  # type: ignore[type-var]
        return _LOW, "'low' above open, high or close"
    return None, values  # type: ignore[return-value]


def _read_rows(path: Path, rows: Iterable[tuple[int, list[Any]]], fmt: str, daily: bool) -> dict[str, _SymbolRows]:
    """Validate rows (line, [time, symbol, open, high, low, close, volume]) and group them by symbol, in time order.

    Every row is checked, whatever its symbol; the error names the file, the line, the symbol and the time."""
    out: dict[str, _SymbolRows] = {}
    parsed: dict[Any, Any] = {}  # each distinct time text is parsed once
    worst: tuple[int, int, str, Any, Any] | None = None  # (check, line, problem, symbol, time text)
    for line, (when, symbol, *raw) in rows:
        check, result = _check_row(symbol, tuple(raw))
        if check is not None:
            if worst is None or check < worst[0]:
                worst = (check, line, str(result), symbol, when)
            continue
        at = parsed.get(when, parsed)
        if at is parsed:
            try:
                at = datetime.strptime(when, fmt) if isinstance(when, str) else None
            except ValueError:
                at = None
            if daily and at is not None:
                at = at.date()
            parsed[when] = at
        if at is None:
            if worst is None:
                worst = (_TIME, line, f"unparseable {'date' if daily else 'timestamp'} (expected {fmt})", symbol, when)
            continue
        rows_of = out.get(symbol)
        if rows_of is None:
            rows_of = out[symbol] = _SymbolRows()
        rows_of.add(at, line, result)  # type: ignore[arg-type]
    if worst is None or worst[0] > _DUPLICATE:
        repeated: tuple[int, str, Any] | None = None
        for symbol in list(out):
            out[symbol], line = out[symbol].sort()
            if line is not None and (repeated is None or line < repeated[0]):
                i = out[symbol].lines.index(line)
                repeated = (line, symbol, out[symbol].times[i])
        if repeated is not None:
            when = repeated[2]
            worst = (_DUPLICATE, repeated[0], "duplicate bar", repeated[1],
                     when.isoformat() if daily else when.strftime(fmt))
    if worst is not None:
        _, line, problem, symbol, when = worst
        symbol = symbol if isinstance(symbol, str) and symbol.strip() else "missing"
        raise MarketDataError(f"{path} line {line}: {problem} (symbol {symbol}, {when}); fix or remove that row")
    return out


def _csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """The rows of a price CSV file, reordered to `columns`, each with its file line."""
    if not path.exists():
        raise MarketDataError(f"{path}: price file not found; run from the project folder or set data paths in config")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [c for c in columns if c not in header]
            if missing:
                raise MarketDataError(f"{path}: missing column(s) {', '.join(missing)}; "
                                      f"expected header {','.join(columns)}")
            where = [header.index(c) for c in columns]
            width = len(header)
            for row in reader:
                if not row:
                    continue  # a blank line
                if len(row) > width:
                    raise MarketDataError(f"{path}: not a readable CSV file (line {reader.line_num}: "
                                          f"expected {width} fields, saw {len(row)})")
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield reader.line_num, [row[i] for i in where]
    except (csv.Error, UnicodeDecodeError, OSError) as exc:
        raise MarketDataError(f"{path}: not a readable CSV file ({exc})") from None


@dataclass(frozen=True)
class Window:
    """What a run needs: its symbols and the days it covers (None: everything). Only fetched Parquet datasets are
    read selectively; a CSV file is read whole."""

    symbols: tuple[str, ...]
    start: date | None = None
    end: date | None = None


def _dataset_rows(path: Path, columns: tuple[str, ...], window: Window) -> tuple[list[tuple[int, list[Any]]], int | None]:
    """A fetched dataset's bars as rows like a CSV file's (text dates and New York timestamps), and its bar minutes."""
    import pandas as pd

    dataset = Dataset.open(path)
    if columns[0] != dataset.time_column:
        raise MarketDataError(f"{path}: holds {dataset.timeframe} bars; use it for the "
                              f"{'daily' if dataset.time_column == 'date' else 'intraday'} prices")
    frame = dataset.read(window.symbols, window.start, window.end)
    if dataset.time_column == "date":
        frame["date"] = pd.to_datetime(frame["date"]).dt.strftime(DAILY_FORMAT)
    else:
        frame["timestamp"] = (pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(MARKET_TZ)
                              .dt.strftime(INTRADAY_FORMAT))
    values = zip(*(frame[c].tolist() for c in columns), strict=True)
    return [(i + 2, list(row)) for i, row in enumerate(values)], dataset.bar_minutes


def _read_daily(path: Path, window: Window | None = None) -> dict[str, _SymbolRows]:
    if is_dataset(path):
        rows = _dataset_rows(path, DAILY_COLUMNS, window or Window(()))[0]
        return _read_rows(path, rows, DAILY_FORMAT, daily=True)
    return _read_csv(path, DAILY_COLUMNS, DAILY_FORMAT, daily=True)


def _read_csv(path: Path, columns: tuple[str, ...], fmt: str, daily: bool) -> dict[str, _SymbolRows]:
    """A price CSV file: in bulk (`read_prices`) when it can, else row by row (which names the first problem)."""
    fast = read_prices(path, columns, fmt, daily)
    return fast if fast is not None else _read_rows(path, _csv_rows(path, columns), fmt, daily)


def _check_universe(path: Path, symbols: Iterable[str], universe: tuple[str, ...]) -> None:
    present = set(symbols)
    missing = [s for s in universe if s not in present]
    if missing:
        raise MarketDataError(
            f"{path}: universe symbol(s) {', '.join(missing[:5])} have no bars; "
            "remove them from the config's 'universe' or add their prices"
        )


def _sessions(calendar: MarketCalendar, rows: dict[str, _SymbolRows]) -> dict[date, TradingSession]:
    """The calendar's sessions over the days the rows cover, built once for the whole range."""
    days = [d for r in rows.values() if r.times for d in (r.times[0], r.times[-1])]
    if not days:
        return {}
    first, last = min(days), max(days)
    if isinstance(first, datetime):
        first, last = first.date(), last.date()
    return {s.day: s for s in calendar.sessions_between(first, last)}


def load_daily(path: Path, universe: tuple[str, ...], calendar: MarketCalendar,
               extra: Iterable[Path] = (), window: Window | None = None) -> dict[str, SymbolBars]:
    """Daily bars from the main file, plus any extra files (live price archives) for days the main file lacks."""
    rows = _read_daily(path, window or Window(universe))
    for more in (_read_daily(Path(p)) for p in extra):
        for symbol, extra_rows in more.items():
            have = rows.get(symbol)
            known = set(have.times) if have is not None else set()
            new = [i for i, day in enumerate(extra_rows.times) if day not in known]
            if new:
                rows[symbol] = extra_rows.take(new, into=have).sort()[0]
    _check_universe(path, rows, universe)
    wanted = set(universe)
    rows = {s: r for s, r in sorted(rows.items()) if s in wanted}
    sessions = _sessions(calendar, rows)
    out: dict[str, SymbolBars] = {}
    opens, closes, days = ({day: getattr(s, name) for day, s in sessions.items()} for name in ("open", "close", "day"))
    for symbol, r in rows.items():
        try:
            starts, ends, on = (list(map(by_day.__getitem__, r.times)) for by_day in (opens, closes, days))
        except KeyError:
            day = next(day for day in r.times if day not in sessions)
            raise MarketDataError(f"{path}: {symbol} has a bar on {day}, which is not an NYSE session") from None
        out[symbol] = SymbolBars(symbol, starts, ends, on, r.open, r.high, r.low, r.close, r.volume)
    return out


def load_hourly(path: Path, universe: tuple[str, ...], calendar: MarketCalendar, window: Window | None = None,
                minutes: int = 60) -> dict[str, SymbolBars]:
    """Hourly labels are the bar's start in New York time (10:00 is 10:00-11:00); a bar ends an hour later.

    The source's labels run 10:00..15:00 and its 15:00 close matches the daily close, so the label is the start.
    """
    if is_dataset(path):
        listed, fetched_minutes = _dataset_rows(path, HOURLY_COLUMNS, window or Window(universe))
        rows: Iterable[tuple[int, list[Any]]] = listed
        minutes = fetched_minutes or minutes
        read = _read_rows(path, rows, INTRADAY_FORMAT, daily=False)
    else:
        read = _read_csv(path, HOURLY_COLUMNS, INTRADAY_FORMAT, daily=False)
    wanted = set(universe)
    by_symbol = {s: r for s, r in sorted(read.items()) if s in wanted}
    sessions = _sessions(calendar, by_symbol)
    out: dict[str, SymbolBars] = {}
    start_of: dict[datetime, datetime] = {}  # each distinct label placed once; the instants are shared by symbols
    end_of: dict[datetime, datetime] = {}
    day_of: dict[datetime, date] = {}
    for symbol, r in by_symbol.items():
        for label in dict.fromkeys(r.times):  # in time order, so the first bad label is the one named
            if label in start_of:
                continue
            start = label.replace(tzinfo=MARKET_TZ)
            session = sessions.get(start.date())
            if session is None or not session.contains(start):
                raise MarketDataError(f"{path}: {symbol} bar labelled {start:%Y-%m-%d %H:%M} is outside NYSE hours")
            start_of[label], end_of[label], day_of[label] = start, hourly_bar_end(start, session, minutes), session.day
        starts, ends, days = (list(map(by_label.__getitem__, r.times)) for by_label in (start_of, end_of, day_of))
        out[symbol] = SymbolBars(symbol, starts, ends, days, r.open, r.high, r.low, r.close, r.volume)
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
        by_day: dict[date, list[int]] = {}
        for i, day in enumerate(series.days):
            if day not in have_days:
                by_day.setdefault(day, []).append(i)
        new: list[Bar] = []
        for day, index in by_day.items():
            session = calendar.session_on(day)
            if session is None or [series.starts[i] for i in index] != _expected_starts(session, minutes):
                continue
            first, last = index[0], index[-1]
            new.append(Bar(symbol, session.open, session.close, series.open[first],
                           max(series.high[i] for i in index), min(series.low[i] for i in index), series.close[last],
                           sum(series.volume[i] for i in index),
                           open_at=series.starts[first] if series.starts[first] > session.open else None,
                           from_hourly=True))
        if not new:
            continue
        merged = sorted([*(have.bars if have is not None else []), *new], key=lambda b: b.start)
        daily[symbol] = SymbolBars.from_bars(merged, symbol)
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
