"""The live PriceView over Alpaca market data (real alpaca-py, fake server): completed daily bars only plus today's
open, quotes from the latest minute bar no newer than the clock, batched requests, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient

from agent_tools.alpaca_http import Backoff, configure_client
from agent_tools.live_view import LiveView
from agent_tools.market_calendar import MARKET_TZ, parse_instant
from agent_tools.point_in_time import ViewError
from tests.fakes.fake_alpaca import SMALL_UNIVERSE, FakeAlpaca, alpaca_env


@pytest.fixture
def fake(monkeypatch):
    with FakeAlpaca(latest_bar_time=datetime(2025, 11, 26, 15, 4, tzinfo=UTC)) as server:  # 10:04 EST
        for name, value in alpaca_env(server).items():
            monkeypatch.setenv(name, value)
        yield server


def view(fake: FakeAlpaca, clock: str, pinned: bool = False, secret: str | None = None, attempts: int = 3,
         http_timeout: float = 5.0) -> LiveView:
    client = StockHistoricalDataClient(fake.key, secret or fake.secret, url_override=fake.url)
    configure_client(client, http_timeout)
    moment = parse_instant(clock)
    return LiveView(client, tuple(SMALL_UNIVERSE), "iex", pinned=moment if pinned else None,
                    clock=lambda: moment.astimezone(UTC), retry=Backoff(attempts=attempts, base=0.01))


def test_the_wall_clock_quotes_the_latest_bar_from_one_batched_request(fake):
    live = view(fake, "2025-11-26T10:06-05:00")
    assert live.instant == parse_instant("2025-11-26T10:06-05:00") and live.instant.tzinfo == MARKET_TZ
    for symbol in SMALL_UNIVERSE:
        quote = live.quote(symbol)
        assert quote.price == float(fake.price(symbol))
        assert quote.basis == "close of the 10:04 one-minute bar (iex)"
    assert len(fake.requests_to("GET", "/v2/stocks/bars/latest")) == 1
    assert fake.requests_to("GET", "/v2/stocks/bars") == []


def test_a_pinned_clock_never_sees_a_later_bar(fake):
    live = view(fake, "2025-11-26T10:02-05:00", pinned=True)  # the latest bar (10:04) is after the clock
    quote = live.quote("AAPL")
    assert quote.basis == "close of the 10:01 one-minute bar (iex)" and quote.as_of == parse_instant("2025-11-26T10:02-05:00")
    [minute] = fake.requests_to("GET", "/v2/stocks/bars")
    assert minute["query"]["timeframe"] == "1Min" and minute["query"]["end"].startswith("2025-11-26T15:01:00")


def test_daily_history_has_completed_sessions_and_only_the_open_of_today(fake):
    live = view(fake, "2025-11-26T10:06-05:00")
    rows = live.daily_history("aapl", 3)
    assert [r["date"] for r in rows] == ["2025-11-21", "2025-11-24", "2025-11-25", "2025-11-26"]
    assert rows[-1] == {"date": "2025-11-26", "open": rows[-1]["open"], "partial": "open only"}
    assert all({"high", "low", "close", "volume"} <= set(r) for r in rows[:-1])
    assert live.last_close("AAPL") == rows[-2]["close"]
    with pytest.raises(ViewError, match="in the future"):
        live.daily_history("AAPL", 3, end_day=parse_instant("2025-11-27T10:00").date())
    with pytest.raises(ViewError, match="unknown symbol 'TSLA'"):
        live.quote("TSLA")
    assert len(fake.requests_to("GET", "/v2/stocks/bars")) == 1  # one daily request for the whole universe


def test_before_the_open_the_quote_is_the_last_close(fake):
    live = view(fake, "2025-11-26T08:00-05:00", pinned=True)
    quote = live.quote("MSFT")
    assert quote.basis == "close of 2025-11-25" and fake.requests_to("GET", "/v2/stocks/bars/latest") == []


def test_a_refused_key_is_one_line_naming_the_variable_not_the_key(fake):
    live = view(fake, "2025-11-26T10:06-05:00", secret="wrong-secret-value")
    with pytest.raises(ViewError) as caught:
        live.quote("AAPL")
    message = str(caught.value)
    assert message.startswith("Alpaca market data: latest bars failed (HTTP 401: request is not authorized); "
                              "check the key in APCA_API_KEY_ID")
    assert "wrong-secret-value" not in message and fake.key not in message and "\n" not in message


def test_a_hung_request_times_out_instead_of_hanging_the_session(fake):
    live = view(fake, "2025-11-26T10:06-05:00", attempts=1, http_timeout=0.2)
    gate = fake.hold("/v2/stocks/bars/latest")
    try:
        with pytest.raises(ViewError, match=r"latest bars failed \(ReadTimeout \(no answer in time\)\)"):
            live.quote("AAPL")
    finally:
        gate.released.set()


def test_a_hung_request_is_retried_and_the_quote_arrives(fake):
    live = view(fake, "2025-11-26T10:06-05:00", http_timeout=0.2)
    gate = fake.hold("/v2/stocks/bars/latest")  # only the first request hangs
    try:
        assert live.quote("AAPL").price == float(fake.price("AAPL"))
    finally:
        gate.released.set()
    assert len(fake.requests_to("GET", "/v2/stocks/bars/latest")) == 2


@pytest.mark.parametrize("fault", [{"kind": "error", "status": 503}, {"kind": "error", "status": 429},
                                   {"kind": "garble"}], ids=["503", "429", "unreadable"])
def test_transient_market_data_errors_are_retried_with_backoff(fake, fault):
    fake.fault(method="GET", path="/v2/stocks/bars", times=2, **fault)  # daily and latest bars alike
    live = view(fake, "2025-11-26T10:06-05:00")
    assert live.quote("AAPL").price == float(fake.price("AAPL"))
    assert len(live.daily_history("AAPL", 3)) == 4  # three closes and today's open
    assert fake.faults[0].times == 0


def test_a_failure_that_outlasts_the_retries_is_one_line(fake):
    fake.fault("error", "GET", "/v2/stocks/bars/latest", times=3, status=503)
    live = view(fake, "2025-11-26T10:06-05:00")
    with pytest.raises(ViewError) as caught:
        live.quote("AAPL")
    assert str(caught.value) == "Alpaca market data: latest bars failed (HTTP 503: service unavailable)"
    assert len(fake.requests_to("GET", "/v2/stocks/bars/latest")) == 3
