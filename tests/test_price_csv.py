"""The fast CSV reader gives exactly what the careful row-by-row reader gives (same symbols, times, file lines and
float bits), on the bundled files and on odd but valid files; any file it cannot read exactly like `csv.reader`, and
any file with a bad row, it declines, so the careful reader loads it or names the problem."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from agent_tools.market_data import (
    DAILY_COLUMNS,
    DAILY_FORMAT,
    HOURLY_COLUMNS,
    INTRADAY_FORMAT,
    _csv_rows,
    _read_rows,
    load_market_data,
)
from agent_tools.price_csv import read_price_columns
from tests.conftest import PROJECT_DIR

PRICES = PROJECT_DIR / "data" / "prices"
HEADER = "date,symbol,open,high,low,close,volume"


def as_columns(rows) -> dict:
    return {symbol: (r.times, list(r.lines), *(getattr(r, f).tobytes() for f in ("open", "high", "low", "close", "volume")))
            for symbol, r in rows.items()}


def careful(path, columns=DAILY_COLUMNS, fmt=DAILY_FORMAT, daily=True) -> dict:
    return as_columns(_read_rows(path, _csv_rows(path, columns), fmt, daily))


def fast(path, columns=DAILY_COLUMNS, fmt=DAILY_FORMAT, daily=True) -> dict | None:
    rows = read_price_columns(path, columns, fmt, daily)
    return None if rows is None else as_columns(rows)


def write(tmp_path, lines: list[str], newline: str = "\n", name: str = "daily.csv", end: str | None = None):
    path = tmp_path / name
    path.write_bytes((newline.join(lines) + (newline if end is None else end)).encode("utf-8"))
    return path


def odd_file(seed: int) -> tuple[list[str], str]:
    """A valid daily file in an unusual shape: columns reordered plus an extra one, numbers written several ways,
    symbols missing on some days, listed in a different order each day, the days themselves shuffled."""
    rng = random.Random(seed)
    header = ["volume", "symbol", "note", "close", "low", "date", "open", "high"]
    rng.shuffle(header)
    symbols = ["AAA", "BBB", "CCC", "D.E", " FF"]
    lines = []
    days = [date(2025, 9, 1) + timedelta(days=k) for k in range(30)]
    rng.shuffle(days)
    for day in days:
        today = [s for s in symbols if rng.random() < 0.8]
        rng.shuffle(today)
        for symbol in today:
            cents = sorted(rng.randint(100, 10_000) for _ in range(4))  # two decimals: every spelling is exact
            values = dict(zip(("low", *rng.sample(["open", "close"], 2), "high"), (c / 100 for c in cents), strict=True))
            text = {k: rng.choice([f"{v:.4f}", repr(v), f"{v:e}", f" {v:.2f} ", f"+{v:.3f}"]) for k, v in values.items()}
            text["volume"] = rng.choice(["1000", "1_000", "0", "2.5e3", "-0"])
            text.update(date=day.isoformat(), symbol=symbol, note=rng.choice(["", "x y", "n/a"]))
            lines.append(",".join(text[k] for k in header))
    return [",".join(header), *lines], rng.choice(["\n", "\r\n"])


def test_the_bundled_files_read_fast_to_exactly_the_careful_readers_columns():
    assert fast(PRICES / "daily_prices.csv") == careful(PRICES / "daily_prices.csv")
    hourly = (PRICES / "hourly_prices.csv", HOURLY_COLUMNS, INTRADAY_FORMAT, False)
    assert fast(*hourly) == careful(*hourly)


@pytest.mark.parametrize("seed", range(6))
def test_odd_but_valid_files_read_fast_to_exactly_the_careful_readers_columns(tmp_path, seed):
    lines, newline = odd_file(seed)
    path = write(tmp_path, lines, newline, end="" if seed % 2 else None)
    if seed == 0:
        path.write_bytes("\ufeff".encode() + path.read_bytes())

    got = fast(path)

    assert got is not None and got == careful(path)


def test_a_file_sorted_by_symbol_and_a_symbol_with_one_row_read_the_same(tmp_path):
    rows = [f"2025-10-{d:02d},{s},10,11,9,10.5,{d}" for s in ("AAA", "BBB") for d in range(1, 10) if d != 3]
    path = write(tmp_path, [HEADER, *rows, "2025-10-02,CCC,5,6,4,5,1"])

    assert fast(path) == careful(path)


@pytest.mark.parametrize("body", [
    ['2025-10-01,"AAA",10,11,9,10.5,1'],  # a quoted field
    ["2025-10-01,AAA,10,11,9,10.5,1", "", "2025-10-02,AAA,10,11,9,10.5,1"],  # a blank line
    ["2025-10-01,AAA,10,11,9,10.5,1\r2025-10-02,AAA,10,11,9,10.5,1"],  # a lone carriage return
])
def test_a_file_the_fast_reader_cannot_mirror_is_declined_and_still_loads(tmp_path, body):
    path = write(tmp_path, [HEADER, *body])

    assert read_price_columns(path, DAILY_COLUMNS, DAILY_FORMAT, daily=True) is None
    assert len(load_market_data(path, None, ("AAA",)).daily["AAA"]) == len(careful(path)["AAA"][0])


@pytest.mark.parametrize("row", [
    "2025-10-02,AAA,x,11,9,10.5,1", "2025-10-02,AAA,nan,11,9,10.5,1", "2025-10-02,AAA,10,inf,9,10.5,1",
    "2025-10-02,AAA,10,11,9,10.5,nan", "2025-10-02,AAA,10,11,9,10.5,-1", "2025-10-02,AAA,10,11,-9,10.5,1",
    "2025-10-02,AAA,0,11,9,10.5,1", "2025-10-02,AAA,10,9.5,9,10.5,1", "2025-10-02,AAA,10,11,10.2,10.5,1",
    "2025-10-02,AAA,10,11,9,11.5,1", "2025-10-02,AAA,10,11,9,8.5,1", "2025-10-02, ,10,11,9,10.5,1",
    "2025-10-01,AAA,10,11,9,10.5,1", "2025-13-02,AAA,10,11,9,10.5,1", "2025-10-02,AAA,10,11,9,10.5",
    "2025-10-02,AAA,10,11,9,10.5,1,7",
])
def test_a_file_with_a_bad_row_is_left_to_the_careful_reader(tmp_path, row):
    good = [f"2025-10-{d:02d},{s},10,11,9,10.5,1" for d in (1, 3) for s in ("AAA", "BBB")]
    path = write(tmp_path, [HEADER, *good, row])

    assert read_price_columns(path, DAILY_COLUMNS, DAILY_FORMAT, daily=True) is None
