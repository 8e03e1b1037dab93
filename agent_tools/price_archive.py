"""The live price archive: completed daily bars a live session fetched, kept in `<out>/market/daily_prices.csv`.

Live runs happen after the bundled data ends; `report` values them with these bars (same CSV format as the bundled
file). Bars are facts once a session has closed, so a bar already archived is never rewritten.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from filelock import FileLock

from agent_tools.market_data import DAILY_COLUMNS, Bar

ARCHIVE = Path("market") / "daily_prices.csv"


def archive_path(out_dir: Path) -> Path:
    return Path(out_dir) / ARCHIVE


def archive_daily_bars(out_dir: Path, bars: Iterable[Bar]) -> int:
    """Merge bars into the archive (atomically, under a lock); returns how many were new."""
    path = archive_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=60):
        rows: dict[tuple[str, str], list[str]] = {}
        if path.exists():
            with path.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    rows[(row["date"], row["symbol"])] = [row[c] for c in DAILY_COLUMNS]
        before = len(rows)
        for bar in bars:
            key = (bar.day.isoformat(), bar.symbol)
            if key not in rows:
                rows[key] = [key[0], bar.symbol, f"{bar.open:.4f}", f"{bar.high:.4f}", f"{bar.low:.4f}",
                             f"{bar.close:.4f}", str(int(bar.volume))]
        if len(rows) == before:
            return 0
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(DAILY_COLUMNS)
            writer.writerows(rows[k] for k in sorted(rows))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return len(rows) - before


def archives_in(folders: Iterable[Path]) -> list[Path]:
    """The price archives of these run folders (and of their parents, for a model folder passed directly)."""
    found: list[Path] = []
    for folder in folders:
        for candidate in (archive_path(folder), archive_path(Path(folder).parent)):
            if candidate.exists() and candidate not in found:
                found.append(candidate)
    return found
