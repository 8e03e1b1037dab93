"""Days with hourly bars but no daily bar get a daily bar built from the hourly ones, without look-ahead."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date, datetime, time
from pathlib import Path

import pytest

from agent_tools.market_calendar import MARKET_TZ, at_market_time
from agent_tools.market_data import load_market_data
from agent_tools.point_in_time import MarketView, ViewError
from arena.config import load_config
from arena.run_loop import run_replay

DAY = date(2025, 11, 4)  # after the bundled daily file's last day, inside the hourly file


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MARKET_TZ)


def test_replay_after_the_daily_file_runs_and_fills_at_the_10_00_hourly_open(write_config, market, tmp_path):
    model = {"signature": "bh", "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
             "limits": {"max_position_weight": 1.0}}
    config = load_config(write_config(models=[model]))
    out = tmp_path / "out"
    asyncio.run(run_replay(config, market, config.enabled_models(), out, date(2025, 11, 3), date(2025, 11, 5),
                           parallel=1))

    records = [json.loads(line) for line in (out / "bh" / "position" / "position.jsonl").read_text().splitlines()]
    buys = [r for r in records if r.get("this_action", {}).get("action") == "buy"]
    assert [b["date"] for b in buys] == ["2025-11-03"]
    hourly_open = next(b.open for b in market.data.hourly["QQQ"].bars if b.start == at_market_time(date(2025, 11, 3), time(10)))
    assert hourly_open < buys[0]["price"] < hourly_open * 1.01  # the 10:00 price plus slippage
    assert {r["date"] for r in records} >= {"2025-11-04", "2025-11-05"}


def test_a_completed_days_open_is_hidden_at_09_45_and_shown_at_10_00(market):
    early = MarketView(market.data, at(DAY, 9, 45), market.calendar)
    assert early.session_open("AAPL") is None
    assert all(row["date"] != DAY.isoformat() for row in early.daily_history("AAPL", 5))
    with pytest.raises(ViewError, match="cannot be traded yet"):
        early.quote("AAPL")

    ten = MarketView(market.data, at(DAY, 10), market.calendar)
    first = next(b for b in market.data.hourly["AAPL"].bars if b.start == at(DAY, 10))
    assert ten.session_open("AAPL") == first.open
    assert ten.quote("AAPL").price == first.open


def test_a_completed_day_closes_at_the_last_hourly_close_and_says_it_was_built_from_hourly_bars(market):
    hours = [b for b in market.data.hourly["NVDA"].bars if b.day == DAY]
    bar = market.data.daily["NVDA"].bars[market.data.daily["NVDA"].index_of_day(DAY)]
    assert [h.start.hour for h in hours] == [10, 11, 12, 13, 14, 15]
    assert (bar.open, bar.close, bar.end) == (hours[0].open, hours[-1].close, at(DAY, 16))
    assert (bar.high, bar.low) == (max(h.high for h in hours), min(h.low for h in hours))
    assert bar.volume == sum(h.volume for h in hours)

    rows = MarketView(market.data, at(date(2025, 11, 5), 10), market.calendar).daily_history("NVDA", 3)
    assert [r.get("built_from") for r in rows[:2]] == ["hourly bars", "hourly bars"]
    assert market.data.last_day == date(2025, 11, 10)


def test_an_existing_daily_bar_is_kept_as_the_exchange_published_it(market, default_config):
    path = default_config.path(default_config.data.daily_prices)
    with open(path, newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["date"] == "2025-10-30" and r["symbol"] == "AAPL")
    series = market.data.daily["AAPL"]
    bar = series.bars[series.index_of_day(date(2025, 10, 30))]
    assert not bar.from_hourly and bar.opened == at(date(2025, 10, 30), 9, 30)
    assert (bar.open, bar.high, bar.low, bar.volume) == (float(row["open"]), float(row["high"]), float(row["low"]),
                                                          float(row["volume"]))


def test_a_day_with_a_missing_hour_gets_no_daily_bar(tmp_path: Path):
    daily = tmp_path / "daily.csv"
    daily.write_text("date,symbol,open,high,low,close,volume\n2025-10-01,AAA,10,11,9,10.5,1000\n")
    hours = [f"2025-10-02 {h}:00:00,AAA,10,11,9,10.5,10" for h in range(10, 16)]
    hours += [f"2025-10-03 {h}:00:00,AAA,10,11,9,10.5,10" for h in range(10, 16) if h != 12]
    hourly = tmp_path / "hourly.csv"
    hourly.write_text("timestamp,symbol,open,high,low,close,volume\n" + "\n".join(hours) + "\n")

    data = load_market_data(daily, hourly, ("AAA",))
    assert data.daily["AAA"].days == [date(2025, 10, 1), date(2025, 10, 2)]
