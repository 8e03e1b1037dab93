"""Loading the price files: a bad row stops the load with a message naming the file, the line and the symbol."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from agent_tools.market_calendar import MARKET_TZ
from agent_tools.market_data import MarketDataError, load_market_data

DAILY_HEADER = "date,symbol,open,high,low,close,volume"
DAILY_ROWS = [
    "2025-10-01,AAA,10.00,11.00,9.50,10.50,1000",
    "2025-10-01,BBB,20.00,21.00,19.50,20.50,2000",
    "2025-10-02,AAA,10.50,11.50,10.00,11.00,1100",
    "2025-10-02,BBB,20.50,21.50,20.00,21.00,2100",
]
HOURLY_HEADER = "timestamp,symbol,open,high,low,close,volume"
HOURLY_ROWS = [
    "2025-10-01 10:00:00,AAA,10.00,10.20,9.90,10.10,100",
    "2025-10-01 15:00:00,AAA,10.40,10.60,10.30,10.50,100",
]
UNIVERSE = ("AAA", "BBB")


def write_csv(tmp_path: Path, header: str, rows: list[str], name: str = "daily.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def daily_with(tmp_path: Path, line: int, text: str) -> Path:
    """The valid daily file with file line `line` (the header is line 1) replaced by `text`."""
    rows = list(DAILY_ROWS)
    rows[line - 2] = text
    return write_csv(tmp_path, DAILY_HEADER, rows)


def load_error(path: Path, universe: tuple[str, ...] = UNIVERSE, hourly: Path | None = None) -> str:
    with pytest.raises(MarketDataError) as info:
        load_market_data(path, hourly, universe)
    return str(info.value)


def test_valid_files_load_with_daily_bars_ending_at_the_session_close(tmp_path):
    data = load_market_data(write_csv(tmp_path, DAILY_HEADER, DAILY_ROWS),
                            write_csv(tmp_path, HOURLY_HEADER, HOURLY_ROWS, "hourly.csv"), UNIVERSE)

    bar = data.daily["AAA"].bars[1]
    assert (bar.day, bar.open, bar.high, bar.low, bar.close, bar.volume) == (date(2025, 10, 2), 10.5, 11.5, 10.0, 11.0, 1100)
    assert bar.start == datetime(2025, 10, 2, 9, 30, tzinfo=MARKET_TZ)
    assert bar.end == datetime(2025, 10, 2, 16, 0, tzinfo=MARKET_TZ)
    assert [b.end for b in data.hourly["AAA"].bars] == [
        datetime(2025, 10, 1, 11, 0, tzinfo=MARKET_TZ), datetime(2025, 10, 1, 16, 0, tzinfo=MARKET_TZ)]


def test_missing_column_is_named_with_the_file(tmp_path):
    path = write_csv(tmp_path, "date,symbol,open,high,low,close", [r.rsplit(",", 1)[0] for r in DAILY_ROWS])

    message = load_error(path)

    assert str(path) in message
    assert "missing column(s) volume" in message


def test_non_positive_price_names_file_line_and_symbol(tmp_path):
    path = daily_with(tmp_path, 3, "2025-10-01,BBB,20.00,21.00,0,20.50,2000")

    message = load_error(path)

    assert f"{path} line 3" in message
    assert "non-positive 'low'" in message
    assert "symbol BBB" in message


def test_negative_price_is_refused_like_zero(tmp_path):
    path = daily_with(tmp_path, 4, "2025-10-02,AAA,-10.50,11.50,10.00,11.00,1100")

    message = load_error(path)

    assert f"{path} line 4" in message
    assert "non-positive 'open'" in message
    assert "symbol AAA" in message


def test_missing_price_names_file_line_and_symbol(tmp_path):
    path = daily_with(tmp_path, 5, "2025-10-02,BBB,20.50,21.50,20.00,,2100")

    message = load_error(path)

    assert f"{path} line 5" in message
    assert "missing or non-numeric 'close'" in message
    assert "symbol BBB" in message


def test_duplicate_bar_names_the_second_occurrence(tmp_path):
    path = daily_with(tmp_path, 4, "2025-10-01,AAA,10.00,11.00,9.50,10.50,1000")

    message = load_error(path)

    assert f"{path} line 4" in message
    assert "duplicate bar" in message
    assert "symbol AAA" in message


def test_unparseable_date_names_file_line_and_symbol(tmp_path):
    path = daily_with(tmp_path, 5, "2025-13-02,BBB,20.50,21.50,20.00,21.00,2100")

    message = load_error(path)

    assert f"{path} line 5" in message
    assert "unparseable date" in message
    assert "symbol BBB" in message


def test_unparseable_hourly_timestamp_names_file_line_and_symbol(tmp_path):
    daily = write_csv(tmp_path, DAILY_HEADER, DAILY_ROWS)
    hourly = write_csv(tmp_path, HOURLY_HEADER, [HOURLY_ROWS[0], "2025-10-01T25:00,AAA,10.40,10.60,10.30,10.50,100"],
                       "hourly.csv")

    message = load_error(daily, hourly=hourly)

    assert f"{hourly} line 3" in message
    assert "unparseable timestamp" in message
    assert "symbol AAA" in message


def test_universe_symbol_without_bars_is_named(tmp_path):
    path = write_csv(tmp_path, DAILY_HEADER, DAILY_ROWS)

    message = load_error(path, universe=("AAA", "BBB", "ZZZ"))

    assert str(path) in message
    assert "ZZZ" in message
    assert "AAA" not in message


def test_bar_on_a_day_without_an_nyse_session_is_refused(tmp_path):
    path = daily_with(tmp_path, 5, "2025-10-04,BBB,20.50,21.50,20.00,21.00,2100")  # a Saturday

    message = load_error(path)

    assert str(path) in message
    assert "BBB" in message
    assert "2025-10-04" in message
    assert "not an NYSE session" in message


def test_missing_price_file_is_named(tmp_path):
    path = tmp_path / "nowhere.csv"

    assert str(path) in load_error(path)
