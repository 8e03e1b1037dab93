"""Fetched bars on disk: one Parquet dataset per timeframe, one file per symbol and month, and a coverage manifest.

Layout under a dataset folder (e.g. `data/fetched/hour`):

    _coverage.json                 what was fetched: per symbol, the day ranges asked for (even days without bars,
                                   so a rerun does not ask again), with the date prices were adjusted as of
    symbol=AAPL/2025-10.parquet    the bars: `date` (daily) or `timestamp` (intraday, UTC, the bar's start), then
                                   open, high, low, close, volume

Writes are atomic (a temporary file, then a rename), the bars before the manifest: a fetch killed at any point
leaves whole files, and the chunk whose manifest entry is missing is fetched again and merged (no duplicates).
Reading asks pyarrow for only the symbols and the date range a run needs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas (and pyarrow) are imported where bars are read or written: a replay on CSV files, or
    import pandas as pd  # a check whether a path is a dataset, does not pay for them

MANIFEST = "_coverage.json"
TIMEFRAMES = {"day": None, "hour": 60, "minute": 1}  # bar length in minutes (None: daily)
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]


class StoreError(ValueError):
    """A dataset folder is unusable (no manifest, another timeframe); the message names the folder."""


def is_dataset(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST).exists()


def merge_ranges(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract(start: date, end: date, covered: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """The parts of start..end not in `covered` (merged, ordered ranges)."""
    missing, cursor = [], start
    for a, b in covered:
        if b < cursor or a > end:
            continue
        if a > cursor:
            missing.append((cursor, min(end, a - timedelta(days=1))))
        cursor = max(cursor, b + timedelta(days=1))
        if cursor > end:
            break
    if cursor <= end:
        missing.append((cursor, end))
    return missing


def month_chunks(start: date, end: date) -> list[tuple[date, date]]:
    chunks, cursor = [], start
    while cursor <= end:
        next_month = (cursor.replace(day=1) + timedelta(days=32)).replace(day=1)
        chunks.append((cursor, min(end, next_month - timedelta(days=1))))
        cursor = next_month
    return chunks


def _atomic_write_bytes(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


@dataclass
class Dataset:
    """One timeframe's dataset folder."""

    root: Path
    timeframe: str

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.timeframe not in TIMEFRAMES:
            raise StoreError(f"timeframe must be one of {', '.join(TIMEFRAMES)}, got {self.timeframe!r}")

    @classmethod
    def open(cls, root: Path) -> Dataset:
        """An existing dataset folder (its manifest says its timeframe)."""
        manifest = cls._read_manifest(Path(root))
        if manifest is None:
            raise StoreError(f"{root}: not a fetched dataset (no {MANIFEST}); fetch one with `main.py data fetch`")
        return cls(Path(root), manifest.get("timeframe", "day"))

    @property
    def bar_minutes(self) -> int | None:
        return TIMEFRAMES[self.timeframe]

    @property
    def time_column(self) -> str:
        return "date" if self.bar_minutes is None else "timestamp"

    # -- the manifest ------------------------------------------------------------------------------------------
    @staticmethod
    def _read_manifest(root: Path) -> dict | None:
        try:
            return json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def manifest(self) -> dict:
        found = self._read_manifest(self.root)
        if found is not None and found.get("timeframe", self.timeframe) != self.timeframe:
            raise StoreError(f"{self.root} holds {found.get('timeframe')} bars, not {self.timeframe}; "
                             "use one folder per timeframe")
        return found or {"timeframe": self.timeframe, "bar_minutes": self.bar_minutes, "symbols": {}}

    def covered(self, symbol: str) -> list[tuple[date, date]]:
        ranges = self.manifest()["symbols"].get(symbol, [])
        return merge_ranges([(date.fromisoformat(r["start"]), date.fromisoformat(r["end"])) for r in ranges])

    def missing(self, symbol: str, start: date, end: date) -> list[tuple[date, date]]:
        return subtract(start, end, self.covered(symbol))

    def _record(self, symbols: list[str], start: date, end: date, meta: dict) -> None:
        manifest = self.manifest()
        manifest.update({k: v for k, v in meta.items() if k not in ("asof",)})
        for symbol in symbols:
            entries = manifest["symbols"].setdefault(symbol, [])
            entries.append({"start": start.isoformat(), "end": end.isoformat(), "asof": meta.get("asof")})
        _atomic_write_bytes(self.root / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1) + "\n",
                                                                             encoding="utf-8"))

    # -- bars --------------------------------------------------------------------------------------------------
    def _file(self, symbol: str, month: str) -> Path:
        return self.root / f"symbol={symbol}" / f"{month}.parquet"

    def write_chunk(self, frames: dict[str, pd.DataFrame], symbols: list[str], start: date, end: date,
                    meta: dict) -> int:
        """Merge each symbol's new bars into its month files, then record start..end as fetched for `symbols`."""
        import pandas as pd

        written = 0
        key = self.time_column
        for symbol, frame in frames.items():
            if frame.empty:
                continue
            months = frame[key].map(lambda t: f"{t:%Y-%m}")
            for month, part in frame.groupby(months):
                path = self._file(symbol, str(month))
                if path.exists():
                    part = pd.concat([pd.read_parquet(path), part], ignore_index=True)
                part = part.drop_duplicates(subset=[key], keep="last").sort_values(key)[[key, *PRICE_COLUMNS]]
                table = part.reset_index(drop=True)
                _atomic_write_bytes(path, lambda tmp, t=table: t.to_parquet(tmp, index=False))
                written += len(frame[months == month])
        self._record(symbols, start, end, meta)
        return written

    def read(self, symbols: list[str] | tuple[str, ...], start: date | None = None,
             end: date | None = None) -> pd.DataFrame:
        """The bars of `symbols` between start and end (inclusive days), with a `symbol` column."""
        import pandas as pd
        import pyarrow.dataset as ds

        if not any(self.root.glob("symbol=*/*.parquet")):
            return pd.DataFrame(columns=["symbol", self.time_column, *PRICE_COLUMNS])
        dataset = ds.dataset(str(self.root), format="parquet", partitioning="hive",
                             exclude_invalid_files=True)
        condition = ds.field("symbol").isin(list(symbols))
        key = ds.field(self.time_column)
        if self.time_column == "date":
            if start:
                condition &= key >= start
            if end:
                condition &= key <= end
        else:
            if start:
                condition &= key >= pd.Timestamp(datetime.combine(start, datetime.min.time()), tz="UTC")
            if end:
                condition &= key < pd.Timestamp(datetime.combine(end + timedelta(days=2), datetime.min.time()), tz="UTC")
        frame = dataset.to_table(filter=condition).to_pandas()
        frame["symbol"] = frame["symbol"].astype(str)
        return frame
