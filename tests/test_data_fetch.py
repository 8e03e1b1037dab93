"""`main.py data fetch` against a fake Alpaca market-data server through the real alpaca-py: Parquet datasets,
incremental and resumable, read by a replay as transparently as the bundled CSVs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from agent_tools.market_calendar import MARKET_TZ
from agent_tools.parquet_store import Dataset
from arena.config import DEFAULT_CONFIG, ArenaConfig
from arena.data_fetch import FetchError, fetch
from arena.desk_factory import load_market
from arena.run_loop import run_replay
from main import cli
from tests.fakes.fake_alpaca import alpaca_env
from tests.fakes.fake_market_data import FakeMarketData, news_item, price

SYMBOLS = ["AAPL", "MSFT", "QQQ"]
NOW = datetime(2025, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def fake(monkeypatch):
    news = [news_item(1, "2025-10-02T13:00:00Z"), news_item(2, "2025-10-09T22:06:15Z", "2025-10-10T21:00:00Z"),
            news_item(3, "2025-11-03T15:00:00Z", symbols=("MSFT",))]
    with FakeMarketData(news=news) as server:
        for name, value in alpaca_env(server).items():
            monkeypatch.setenv(name, value)
        yield server


def config_for(fake: FakeMarketData, **data) -> ArenaConfig:
    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["universe"] = SYMBOLS
    raw["live"] = {"data_url": fake.url}
    raw["news"] = {"source": "none"}
    if data:
        raw["data"] = data
    return ArenaConfig.model_validate(raw)


def run_fetch(fake, dest: Path, start="2025-10-01", end="2025-10-31", timeframe="hour", **options):
    return fetch(config_for(fake), date.fromisoformat(start), date.fromisoformat(end), timeframe, SYMBOLS, dest,
                 now=NOW, **options)


def test_a_fetch_stores_daily_and_hourly_bars_in_session_with_their_prices(fake, tmp_path):
    report = run_fetch(fake, tmp_path)

    daily = Dataset.open(tmp_path / "day").read(["AAPL"])
    hourly = Dataset.open(tmp_path / "hour").read(["AAPL"])
    assert len(daily) == 23 and report.bars["day"] == 23 * 3  # the 23 October sessions, 3 symbols
    assert daily["date"].min() == date(2025, 10, 1) and daily["date"].max() == date(2025, 10, 31)
    ten = pd.Timestamp(datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ)).tz_convert("UTC")
    row = hourly[hourly["timestamp"] == ten].iloc[0]
    assert row["open"] == price("AAPL", date(2025, 10, 2), 60)
    starts = {t.tz_convert(MARKET_TZ).time() for t in hourly["timestamp"]}
    assert starts == {time(h) for h in range(10, 16)}  # the 09:00 pre-market bar is dropped
    assert report.dropped_outside_session == 23 * 3
    queries = fake.bar_requests
    assert {q["timeframe"] for q in queries} == {"1Day", "1Hour"}
    assert all(q["adjustment"] == "split" and q["asof"] == "2025-10-31" for q in queries)


def test_a_second_fetch_asks_only_for_what_is_missing(fake, tmp_path):
    run_fetch(fake, tmp_path, end="2025-10-31", with_news=False)
    before = len(fake.bar_requests)

    again = run_fetch(fake, tmp_path, end="2025-11-14", with_news=False)

    new = fake.bar_requests[before:]
    assert {q["start"][:10] for q in new} == {"2025-11-01"} and len(new) == 2  # November only, day and hour
    assert again.skipped == {"day": 3, "hour": 3}
    assert len(Dataset.open(tmp_path / "day").read(["MSFT"])) == 23 + 10


def test_a_fetch_that_fails_midway_keeps_what_it_fetched_and_a_rerun_resumes(fake, tmp_path):
    fake.fail_after(1)  # the October daily request succeeds, the next one fails
    with pytest.raises(FetchError, match="run the same command again to resume"):
        run_fetch(fake, tmp_path, start="2025-10-01", end="2025-11-28", with_news=False)
    assert len(Dataset.open(tmp_path / "day").read(["AAPL"])) == 23

    fake.fail_after(None)
    served = len(fake.bar_requests)
    run_fetch(fake, tmp_path, start="2025-10-01", end="2025-11-28", with_news=False)

    resumed = fake.bar_requests[served:]
    assert ("1Day", "2025-10-01") not in {(q["timeframe"], q["start"][:10]) for q in resumed}
    whole = tmp_path / "whole"
    run_fetch(fake, whole, start="2025-10-01", end="2025-11-28", with_news=False)
    for frame in ("day", "hour"):
        pd.testing.assert_frame_equal(Dataset.open(tmp_path / frame).read(SYMBOLS).sort_values(list(
            Dataset.open(whole / frame).read(SYMBOLS).columns[:2])).reset_index(drop=True),
            Dataset.open(whole / frame).read(SYMBOLS).sort_values(list(
                Dataset.open(whole / frame).read(SYMBOLS).columns[:2])).reset_index(drop=True))


def test_news_is_stored_as_a_corpus_visible_from_its_update(fake, tmp_path):
    report = run_fetch(fake, tmp_path)

    lines = [json.loads(line) for line in (tmp_path / "news" / "alpaca_news.jsonl").read_text().splitlines()]
    assert report.news == 2 and [i["title"] for i in lines] == ["Story 1", "Story 2"]
    assert lines[1]["published_at"].startswith("2025-10-09T22:06:15") and lines[1]["updated_at"].startswith(
        "2025-10-10T21:00:00")


def test_a_replay_runs_on_fetched_data_and_fills_at_the_fetched_10_00_price(fake, tmp_path):
    run_fetch(fake, tmp_path / "fetched", with_news=False)
    config = config_for(fake, daily_prices=str(tmp_path / "fetched" / "day"),
                        intraday_prices=str(tmp_path / "fetched" / "hour"), hourly_prices=None)
    config = config.model_copy(update={"models": [m for m in config.models if m.signature == "baseline-buy-and-hold-qqq"]})
    market = load_market(config, date(2025, 10, 20), date(2025, 10, 21))
    out = tmp_path / "run"

    asyncio.run(run_replay(config, market, config.enabled_models(), out, date(2025, 10, 20), date(2025, 10, 21), 1))

    [buy] = [json.loads(line) for line in (out / "baseline-buy-and-hold-qqq" / "position" / "position.jsonl")
             .read_text().splitlines() if '"buy"' in line]
    assert buy["price"] == round(price("QQQ", date(2025, 10, 20), 60) * 1.0005, 4)
    assert market.data.first_day >= date(2025, 10, 1)  # only what the run needs was read


def test_the_command_fetches_with_a_progress_bar_and_says_how_to_replay(fake, tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text(config_for(fake).model_dump_json(by_alias=True), encoding="utf-8")

    result = CliRunner().invoke(cli, ["data", "fetch", "--start", "2025-10-01", "--end", "2025-10-10", "--timeframe",
                                      "day", "--config", str(config), "--dest", str(tmp_path / "d"), "--no-news"])

    assert result.exit_code == 0, result.output
    assert f"day: 24 bar(s) written to {tmp_path / 'd' / 'day'}" in result.output
    assert f'replay it with "data": {{"daily_prices": "{tmp_path / "d" / "day"}"}}' in result.output


def test_the_command_without_keys_is_a_one_line_error(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    config = tmp_path / "config.json"
    config.write_text(config_for(fake).model_dump_json(by_alias=True), encoding="utf-8")

    result = CliRunner().invoke(cli, ["data", "fetch", "--start", "2025-10-01", "--end", "2025-10-10", "--config",
                                      str(config), "--dest", str(tmp_path / "d")])

    assert result.exit_code == 2
    assert result.output.strip() == ("error: data fetch needs Alpaca API keys: set the environment variable(s) "
                                     "APCA_API_SECRET_KEY (a free Alpaca account's key id and secret), or name others "
                                     "in live.api_key_env / live.secret_key_env")


def test_a_failed_request_is_one_error_line_and_exit_1(fake, tmp_path):
    fake.fail_after(0)
    config = tmp_path / "config.json"
    config.write_text(config_for(fake).model_dump_json(by_alias=True), encoding="utf-8")

    result = CliRunner().invoke(cli, ["data", "fetch", "--start", "2025-10-01", "--end", "2025-10-10", "--config",
                                      str(config), "--dest", str(tmp_path / "d"), "--no-news"])

    assert result.exit_code == 1
    [line] = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert line == ("error: Alpaca market data: day bars 2025-10 for 3 symbol(s) failed (HTTP 500: internal server "
                    "error); what was fetched before is kept: run the same command again to resume")
