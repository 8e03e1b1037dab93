"""The point-in-time view: what a model may see of the bundled prices at one instant, and nothing more."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, datetime
from functools import cache

import pytest

from agent_tools.market_calendar import MARKET_TZ, parse_instant
from agent_tools.market_data import SymbolBars
from agent_tools.point_in_time import MarketView, ViewError
from tests.conftest import PROJECT_DIR

D = date(2025, 10, 2)


@cache
def csv_rows(kind: str, symbol: str) -> dict[str, dict[str, float]]:
    """The raw file's rows for one symbol keyed by date/timestamp, read without the project's loader."""
    key = "date" if kind == "daily" else "timestamp"
    with (PROJECT_DIR / "data" / "prices" / f"{kind}_prices.csv").open(encoding="utf-8") as handle:
        return {row[key]: {k: float(row[k]) for k in ("open", "high", "low", "close", "volume")}
                for row in csv.DictReader(handle) if row["symbol"] == symbol}


def view_at(market, text: str) -> MarketView:
    return MarketView(market.data, parse_instant(text), market.calendar)


def test_daily_history_at_10_00_has_full_bars_only_for_earlier_sessions(market):
    rows = view_at(market, "2025-10-02T10:00-04:00").daily_history("AAPL", 60)

    full = rows[:-1]
    assert full and all(date.fromisoformat(r["date"]) < D for r in full)
    assert full[-1]["date"] == "2025-10-01"
    expected = csv_rows("daily", "AAPL")["2025-10-01"]
    assert {k: full[-1][k] for k in expected} == expected


def test_daily_history_at_10_00_shows_only_the_open_of_today(market):
    rows = view_at(market, "2025-10-02T10:00-04:00").daily_history("AAPL", 60)

    assert rows[-1] == {"date": "2025-10-02", "open": csv_rows("daily", "AAPL")["2025-10-02"]["open"], "partial": "open only"}


def test_nothing_after_the_instant_is_visible(market):
    view = view_at(market, "2025-10-02T10:00-04:00")

    assert max(b.day for b in view.completed_daily_bars("AAPL")) == date(2025, 10, 1)
    assert all(b.end <= view.instant for b in view.completed_hourly_bars("AAPL"))
    assert max(date.fromisoformat(r["date"]) for r in view.daily_history("AAPL", 60)) == D


def test_quote_at_10_00_is_the_open_of_the_hourly_bar_starting_at_10_00(market):
    """One instant for price and news: at 10:00 the price is the first one at or after 10:00, not the 09:30 open."""
    view = view_at(market, "2025-10-02T10:00-04:00")
    quote = view.quote("AAPL")

    assert quote.price == csv_rows("hourly", "AAPL")["2025-10-02 10:00:00"]["open"]
    assert quote.price != csv_rows("daily", "AAPL")["2025-10-02"]["open"]
    assert quote.as_of == view.instant == datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ)
    assert quote.basis == "open of the 10:00 hourly bar"


def test_with_daily_bars_only_the_instant_is_the_open_it_trades_at(market):
    daily_only = replace(market.data, hourly={}, _points={})
    view = MarketView(daily_only, parse_instant("2025-10-02T10:00-04:00"), market.calendar)

    assert view.instant == datetime(2025, 10, 2, 9, 30, tzinfo=MARKET_TZ)
    assert view.decision_time == datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ)
    assert view.quote("AAPL").price == csv_rows("daily", "AAPL")["2025-10-02"]["open"]


def test_between_bar_starts_the_instant_is_the_last_price_point_before_the_decision(market):
    view = view_at(market, "2025-10-02T10:30-04:00")

    assert view.instant == datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ)
    assert view.quote("MSFT").as_of == view.instant


def test_a_symbol_missing_its_bar_at_the_instant_has_no_price_rather_than_an_older_one(market):
    hourly = dict(market.data.hourly)
    bars = market.data.hourly["AAPL"]
    keep = [i for i, b in enumerate(bars.bars) if b.start != datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ)]
    hourly["AAPL"] = SymbolBars.from_bars(bars.bars[i] for i in keep)
    view = MarketView(replace(market.data, hourly=hourly, _points={}), parse_instant("2025-10-02T10:00-04:00"),
                      market.calendar)

    with pytest.raises(ViewError, match="its intraday bar is missing"):
        view.quote("AAPL")
    assert view.quote("MSFT").as_of == view.instant


def test_before_the_open_the_quote_is_the_previous_close_and_today_is_absent(market):
    view = view_at(market, "2025-10-02T09:00-04:00")

    assert view.quote("AAPL").price == csv_rows("daily", "AAPL")["2025-10-01"]["close"]
    assert view.daily_history("AAPL", 5)[-1]["date"] == "2025-10-01"


def test_after_the_close_the_full_bar_of_the_day_is_visible(market):
    rows = view_at(market, "2025-10-02T16:00-04:00").daily_history("AAPL", 5)

    assert rows[-1]["date"] == "2025-10-02"
    assert rows[-1]["close"] == csv_rows("daily", "AAPL")["2025-10-02"]["close"]
    assert "partial" not in rows[-1]


def test_hourly_bar_labelled_10_00_is_visible_at_11_00(market):
    view = view_at(market, "2025-10-02T11:00-04:00")

    bar = view.completed_hourly_bars("AAPL")[-1]
    assert (bar.start, bar.end) == (datetime(2025, 10, 2, 10, tzinfo=MARKET_TZ), datetime(2025, 10, 2, 11, tzinfo=MARKET_TZ))
    assert view.quote("AAPL").price == csv_rows("hourly", "AAPL")["2025-10-02 10:00:00"]["close"]


def test_hourly_bar_labelled_10_00_is_not_visible_at_10_59(market):
    view = view_at(market, "2025-10-02T10:59-04:00")

    last = view.completed_hourly_bars("AAPL")[-1]
    assert last.start == datetime(2025, 10, 1, 15, tzinfo=MARKET_TZ)
    assert view.quote("AAPL").price == csv_rows("hourly", "AAPL")["2025-10-02 10:00:00"]["open"]


def test_history_with_an_end_date_after_the_instant_is_refused(market):
    view = view_at(market, "2025-10-02T10:00-04:00")

    with pytest.raises(ViewError, match="end_date 2025-10-03 is in the future"):
        view.daily_history("AAPL", 5, date(2025, 10, 3))


def test_history_with_an_earlier_end_date_stops_there_without_todays_open(market):
    rows = view_at(market, "2025-10-02T10:00-04:00").daily_history("AAPL", 3, date(2025, 9, 30))

    assert [r["date"] for r in rows] == ["2025-09-26", "2025-09-29", "2025-09-30"]


@pytest.mark.parametrize("days", [0, 61])
def test_history_length_is_bounded(market, days):
    with pytest.raises(ViewError, match="days must be between 1 and 60"):
        view_at(market, "2025-10-02T10:00-04:00").daily_history("AAPL", days)


@pytest.mark.parametrize("call", ["quote", "completed_daily_bars", "completed_hourly_bars", "last_close"])
def test_unknown_symbol_is_refused_by_name(market, call):
    view = view_at(market, "2025-10-02T10:00-04:00")

    with pytest.raises(ViewError, match="unknown symbol 'ZZZZ'"):
        getattr(view, call)("ZZZZ")


def test_symbols_are_matched_case_insensitively(market):
    view = view_at(market, "2025-10-02T10:00-04:00")

    assert view.quote(" aapl ").symbol == "AAPL"


def test_instant_after_the_data_ends_has_no_quote_during_a_session(market):
    with pytest.raises(ViewError, match="the bundled data ends 2025-11-10"):
        view_at(market, "2025-11-11T10:00-05:00").quote("AAPL")
