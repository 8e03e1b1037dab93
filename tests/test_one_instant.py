"""One instant for price and news: the price a model sees and fills at, and the cut-off for its news, are the same."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from agent_tools.market_calendar import MARKET_TZ
from agent_tools.news import LocalNewsSource
from arena.desk_factory import Market
from tests.replay_helpers import desk_at

TEN = datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ)


def hourly_open(market, symbol: str, start: datetime) -> float:
    return next(b.open for b in market.data.hourly[symbol].bars if b.start == start)


def daily_open(market, symbol: str, day) -> float:
    series = market.data.daily[symbol]
    return series.bars[series.index_of_day(day)].open


def corpus(tmp_path, *stamps: str) -> LocalNewsSource:
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps({"title": f"item at {s}", "published_at": s}) + "\n" for s in stamps))
    return LocalNewsSource(path)


def test_a_buy_at_10_00_fills_at_the_10_00_price_not_the_09_30_open(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path)

    fill = desk.trade("buy", "NVDA", 3)

    price_at_ten = hourly_open(market, "NVDA", TEN)
    assert price_at_ten != daily_open(market, "NVDA", TEN.date())
    assert fill["price"] == round(price_at_ten * 1.0005, 4)  # plus 5 bps slippage
    shown = desk.get_price(["NVDA"])["prices"]["NVDA"]
    assert (shown["price"], shown["as_of"]) == (price_at_ten, "2025-10-02T10:00:00-04:00")


def test_news_after_the_price_time_is_never_shown(default_config, market, tmp_path):
    news = corpus(tmp_path, "2025-10-02T09:45:00-04:00", "2025-10-02T10:00:00-04:00", "2025-10-02T10:00:01-04:00")
    desk = desk_at(default_config, Market(market.data, market.calendar, news), tmp_path / "out")

    result = desk.search_news(limit=20)

    price_time = desk.get_price(["QQQ"])["prices"]["QQQ"]["as_of"]
    assert result["news_up_to"] == price_time == "2025-10-02T10:00:00-04:00"
    assert [i["published_at"] for i in result["items"]] == ["2025-10-02T10:00:00-04:00", "2025-10-02T09:45:00-04:00"]


def test_with_daily_bars_only_the_session_sees_news_up_to_the_open_it_trades_at(default_config, market, tmp_path):
    daily_only = replace(market.data, hourly={}, _points={})
    news = corpus(tmp_path, "2025-10-02T09:29:00-04:00", "2025-10-02T09:45:00-04:00")
    desk = desk_at(default_config, Market(daily_only, market.calendar, news), tmp_path / "out")

    fill = desk.trade("buy", "NVDA", 1)
    result = desk.search_news(limit=20)

    assert fill["price"] == round(daily_open(market, "NVDA", TEN.date()) * 1.0005, 4)
    assert result["news_up_to"] == "2025-10-02T09:30:00-04:00"
    assert [i["title"] for i in result["items"]] == ["item at 2025-10-02T09:29:00-04:00"]


def test_the_prompt_says_what_time_the_prices_are(default_config, market, tmp_path):
    from arena.prompt import opening_messages

    desk = desk_at(default_config, market, tmp_path)
    daily_only = desk_at(default_config, Market(replace(market.data, hourly={}, _points={}), market.calendar,
                                                market.news), tmp_path / "daily")

    today = opening_messages(desk.ctx, desk.view, desk.ledger.state, "costs", 5)[1]["content"]
    early = opening_messages(daily_only.ctx, daily_only.view, daily_only.ledger.state, "costs", 5)[1]["content"]

    assert "Prices and news are as of 10:00 EDT (open of the 10:00 hourly bar)" in today
    assert "Prices and news are as of 09:30 EDT (open of 2025-10-02): the data has no later price before 10:00" in early
