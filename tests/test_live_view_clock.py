"""The live view trusts no bar from after its clock, reads each day once, and asks for history as of a drill's date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient

from agent_tools.live_view import LiveView
from agent_tools.market_calendar import MARKET_TZ, parse_instant
from tests.fakes.fake_alpaca import SMALL_UNIVERSE, FakeAlpaca, alpaca_env, iso


@pytest.fixture
def fake(monkeypatch):
    with FakeAlpaca(latest_bar_time=datetime(2025, 11, 26, 15, 4, tzinfo=UTC)) as server:
        for name, value in alpaca_env(server).items():
            monkeypatch.setenv(name, value)
        yield server


def view(fake: FakeAlpaca, clock: str, pinned: bool = True) -> LiveView:
    client = StockHistoricalDataClient(fake.key, fake.secret, url_override=fake.url)
    moment = parse_instant(clock)
    return LiveView(client, tuple(SMALL_UNIVERSE), "iex", pinned=moment if pinned else None,
                    clock=lambda: moment.astimezone(UTC))


def raw_bar(moment: datetime, price: float) -> dict:
    return {"t": iso(moment), "o": price, "h": price + 1, "l": price - 1, "c": price, "v": 1, "n": 1, "vw": price}


def test_a_daily_bar_stamped_after_the_clock_is_ignored(fake):
    fake.extra_daily["AAPL"] = [raw_bar(datetime(2025, 11, 26, 10, 30, tzinfo=MARKET_TZ), 999.0)]  # 10:30, clock 10:06
    live = view(fake, "2025-11-26T10:06-05:00")

    rows = live.daily_history("AAPL", 3)

    assert rows[-1]["date"] == "2025-11-26" and rows[-1]["open"] != 999.0
    assert live.session_open("AAPL") != 999.0


def test_a_duplicate_daily_bar_is_read_once(fake):
    fake.extra_daily["AAPL"] = [raw_bar(datetime(2025, 11, 25, tzinfo=MARKET_TZ), 1.5)]  # a second 11-25 bar
    live = view(fake, "2025-11-26T10:06-05:00")

    rows = live.daily_history("AAPL", 5)
    days = [r["date"] for r in rows]

    assert len(days) == len(set(days)) and days[-2] == "2025-11-25"
    assert rows[-2]["close"] != 1.5 and live.last_close("AAPL") == rows[-2]["close"]


def test_a_drill_asks_for_history_as_of_its_pinned_date_and_the_wall_clock_does_not(fake):
    view(fake, "2025-11-26T10:06-05:00", pinned=True).daily_history("MSFT", 3)
    view(fake, "2025-11-26T10:06-05:00", pinned=False).daily_history("MSFT", 3)

    pinned, wall = [c["query"] for c in fake.requests_to("GET", "/v2/stocks/bars")]
    assert pinned["asof"] == "2025-11-26"
    assert "asof" not in wall
