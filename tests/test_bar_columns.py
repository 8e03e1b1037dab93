"""Bars held as columns: every row of the price files is the same bar, at the same instants, as the file says; the
point-in-time view still never shows a bar before it ended; a bad file still stops the load with one line."""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import date, datetime, timedelta

import pytest

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, hourly_bar_end
from agent_tools.market_data import Bar, MarketDataError, SymbolBars, load_market_data
from agent_tools.point_in_time import MarketView
from tests.conftest import PROJECT_DIR, PYTHON, default_config_dict, subprocess_env

PRICES = PROJECT_DIR / "data" / "prices"
FIELDS = ("open", "high", "low", "close", "volume")
HEADER = "date,symbol,open,high,low,close,volume"
GOOD = ["2025-10-01,AAA,10.00,11.00,9.50,10.50,1000", "2025-10-02,AAA,10.50,11.50,10.00,11.00,1100"]


def file_rows(name: str) -> list[dict[str, str]]:
    with (PRICES / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(tmp_path, *lines: str, name: str = "daily.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_error(path, universe=("AAA",)) -> str:
    with pytest.raises(MarketDataError) as info:
        load_market_data(path, None, universe)
    return str(info.value)


def test_every_daily_row_is_a_bar_from_the_session_open_to_its_close_with_the_file_numbers(market):
    calendar = MarketCalendar()
    rows = file_rows("daily_prices.csv")
    for row in rows:
        series = market.data.daily[row["symbol"]]
        i = series.index_of_day(date.fromisoformat(row["date"]))
        bar = series.bars[i]
        session = calendar.session_on(bar.day)
        assert (bar.symbol, bar.start, bar.end) == (row["symbol"], session.open, session.close)
        assert [getattr(bar, f) for f in FIELDS] == [float(row[f]) for f in FIELDS]
        assert [getattr(series, f)[i] for f in FIELDS] == [float(row[f]) for f in FIELDS]
        assert not bar.from_hourly and bar.opened == session.open


def test_every_hourly_row_is_a_bar_from_its_label_to_the_next_hour(market):
    calendar = MarketCalendar()
    for row in file_rows("hourly_prices.csv"):
        start = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=MARKET_TZ)
        series = market.data.hourly[row["symbol"]]
        lo, hi = series.day_range(start.date())
        [bar] = [b for b in series.bars[lo:hi] if b.start == start]
        assert bar.end == hourly_bar_end(start, calendar.session_on(start.date()))
        assert [getattr(bar, f) for f in FIELDS] == [float(row[f]) for f in FIELDS]


def test_bars_read_like_a_list_and_slices_stay_lazy(market):
    series = market.data.daily["AAPL"]
    listed = list(series.bars)

    assert len(series.bars) == len(listed) == len(series)
    assert series.bars[-1] == listed[-1] and series.bars[0] == listed[0]
    assert series.bars[5:9] == listed[5:9] and list(series.bars[-3:]) == listed[-3:]
    assert series.bars[len(listed):] == [] and not series.bars[3:3]
    with pytest.raises(IndexError):
        series.bars[len(listed)]
    assert type(series.bars[1:]).__name__ == "BarRange"  # a view, not a copy of thousands of bars


def test_columns_built_from_bars_give_the_same_bars_back():
    start = datetime(2025, 10, 2, 9, 30, tzinfo=MARKET_TZ)
    bars = [Bar("AAA", start, start + timedelta(hours=6, minutes=30), 1.0, 2.0, 0.5, 1.5, 10.0),
            Bar("AAA", start + timedelta(days=1), start + timedelta(days=1, hours=6, minutes=30), 1.5, 2.5, 1.0, 2.0,
                20.0, open_at=start + timedelta(days=1, minutes=30), from_hourly=True)]

    series = SymbolBars.from_bars(bars)

    assert list(series.bars) == bars
    assert series.opened(1) == bars[1].opened and series.opened(0) == start
    assert series.days == [date(2025, 10, 2), date(2025, 10, 3)]


@pytest.mark.parametrize("at", ["2025-10-02T09:30-04:00", "2025-10-02T10:00-04:00", "2025-10-02T12:30-04:00",
                                "2025-10-02T16:00-04:00", "2025-10-04T12:00-04:00", "2025-10-06T10:00-04:00"])
def test_the_view_shows_every_bar_that_ended_by_the_instant_and_none_after(market, at):
    view = MarketView(market.data, datetime.fromisoformat(at), market.calendar)
    for symbol in ("AAPL", "QQQ", "NVDA"):
        for seen, series in ((view.completed_daily_bars(symbol), market.data.daily[symbol]),
                             (view.completed_hourly_bars(symbol), market.data.hourly[symbol])):
            assert all(b.end <= view.instant for b in seen)
            assert all(b.end > view.instant for b in series.bars[len(seen):])
            assert list(seen) == list(series.bars)[:len(seen)]
        recent = view.recent_daily_bars(symbol, 5)
        assert isinstance(recent, list) and recent == list(view.completed_daily_bars(symbol))[-5:]


def test_a_row_with_too_many_fields_is_named_in_one_line(tmp_path):
    path = write(tmp_path, HEADER, GOOD[0], GOOD[1] + ",7")

    message = load_error(path)

    assert str(path) in message and "line 3" in message and "\n" not in message


def test_an_infinite_price_is_refused_like_a_missing_one(tmp_path):
    path = write(tmp_path, HEADER, GOOD[0], "2025-10-02,AAA,10.50,inf,10.00,11.00,1100")

    assert "line 3: missing or non-numeric 'high'" in load_error(path)


def test_blank_lines_are_skipped_and_lines_still_counted_in_the_file(tmp_path):
    path = write(tmp_path, HEADER, GOOD[0], "", "2025-10-02,AAA,10.50,11.50,0,11.00,1100")

    assert "line 4: non-positive 'low'" in load_error(path)


def test_columns_in_another_order_and_a_byte_order_mark_load_the_same_bars(tmp_path):
    plain = load_market_data(write(tmp_path, HEADER, *GOOD), None, ("AAA",))
    reordered = write(tmp_path, "\ufeffsymbol,volume,close,low,high,open,date",
                      "AAA,1000,10.50,9.50,11.00,10.00,2025-10-01", "AAA,1100,11.00,10.00,11.50,10.50,2025-10-02",
                      name="reordered.csv")

    assert list(load_market_data(reordered, None, ("AAA",)).daily["AAA"].bars) == list(plain.daily["AAA"].bars)


@pytest.mark.parametrize("make", [lambda d: write(d, ""), lambda d: d])
def test_an_empty_file_or_a_folder_is_one_line_naming_it(tmp_path, make):
    path = make(tmp_path)

    message = load_error(path)

    assert str(path) in message and "\n" not in message


def test_the_first_kind_of_problem_in_the_file_is_reported_wherever_it_is(tmp_path):
    path = write(tmp_path, HEADER, "2025-10-01,AAA,10.00,9.00,9.50,10.50,1000", "2025-10-02,,10.50,11.50,10.00,11.00,1")

    assert "line 3: missing symbol (symbol missing, 2025-10-02)" in load_error(path)


def test_a_duplicate_is_named_at_its_second_line_even_when_the_rows_are_out_of_order(tmp_path):
    path = write(tmp_path, HEADER, GOOD[1], GOOD[0], GOOD[1])

    assert "line 4: duplicate bar (symbol AAA, 2025-10-02)" in load_error(path)


def test_an_archive_adds_only_the_days_the_main_file_lacks(tmp_path):
    main = write(tmp_path, HEADER, *GOOD)
    archive = write(tmp_path, HEADER, "2025-10-02,AAA,99,99,99,99,1", "2025-10-03,AAA,12,13,11,12.5,1200",
                    "2025-10-01,AAA,98,98,98,98,1", name="archive.csv")

    series = load_market_data(main, None, ("AAA",), extra_daily=[archive]).daily["AAA"]

    assert series.days == [date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3)]
    assert list(series.close) == [10.5, 11.0, 12.5]


def test_a_replay_on_csv_files_imports_neither_pandas_nor_the_openai_sdk(tmp_path):
    config = default_config_dict()
    config["run"]["end"] = config["run"]["start"]
    config["models"] = [m for m in config["models"] if m.get("kind") == "baseline"][:1]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    probe = ("import runpy, sys\nsys.argv = ['main.py', 'run', '--config', sys.argv[1], '--out', sys.argv[2], "
             "'--workers', '1']\ntry:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\nprint(sorted(m for m in ('pandas', 'pyarrow', 'openai', 'numpy') "
             "if m in sys.modules))\n")

    done = subprocess.run([PYTHON, "-c", probe, str(path), str(tmp_path / "out")], cwd=PROJECT_DIR,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / config["models"][0]["signature"] / "sessions.jsonl").exists()
