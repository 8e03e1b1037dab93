"""Time loading a daily price CSV file (`load_market_data`): a first read (parsed) and a second (from the cache).

    .venv/bin/python scripts/bench_parse.py <daily_prices.csv> [--reps 3]

Each rep uses a fresh cache folder (the calendar is built there before any timing), so "first" is a real parse;
prints the median (min-max) of each and the load average. Times only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("daily", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    with args.daily.open(newline="", encoding="utf-8-sig") as handle:
        universe = tuple(sorted({row["symbol"] for row in csv.DictReader(handle)}))
    first, again = [], []
    for _ in range(args.reps):
        with tempfile.TemporaryDirectory() as folder:
            os.environ["TRADEARENA_CACHE"] = folder
            from agent_tools.market_calendar import MarketCalendar
            from agent_tools.market_data import load_market_data

            calendar = MarketCalendar()
            calendar.sessions_between(date(1990, 1, 1), date.today())
            for times in (first, again):
                start = time.perf_counter()
                load_market_data(args.daily, None, universe, calendar)
                times.append(time.perf_counter() - start)
    print(f"{args.daily}: first read {spread(first)}, from the cache {spread(again)}; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
