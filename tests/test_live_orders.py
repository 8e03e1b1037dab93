"""Order lifecycle with the `alpaca` broker, through the real alpaca-py against the fake Alpaca server: filled,
partially filled then canceled at the timeout, rejected, refused, and a network error on submit followed by a
resend that does not duplicate. The ledger is written only from confirmed fills; the model is told what happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent_tools.brokers.alpaca import ALPACA_ID_MAX, AlpacaBroker, alpaca_client_order_id, trading_client
from agent_tools.brokers.base import BrokerError
from agent_tools.limits import Limits
from agent_tools.market_calendar import parse_instant
from agent_tools.risk.base import OrderContext
from arena.live import run_live
from tests.fakes.fake_alpaca import (
    OPEN_INSTANT,
    ledger,
    live_config,
    sessions,
    tool_results,
)

SESSION = "scripted-a@2025-11-26T10:00-05:00"


def run(config: Path, out: Path, now: str = OPEN_INSTANT) -> int:
    return run_live(str(config), str(out), parse_instant(now), False, None)


def buys(out: Path) -> list[dict]:
    return [r for r in ledger(out) if (r.get("this_action") or {}).get("action") == "buy"]


def test_an_order_filled(alpaca, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    [order] = alpaca.orders.values()
    assert order["client_order_id"] == f"{SESSION}#s0_0"
    assert (order["symbol"], order["qty"], order["side"], order["type"], order["time_in_force"]) == ("AAPL", "5", "buy", "market", "day")
    [record] = buys(out)
    price = float(alpaca.price("AAPL"))
    assert record["this_action"] == {"action": "buy", "symbol": "AAPL", "amount": 5}
    assert record["price"] == price and record["fee"] == 0.0 and record["order_id"] == order["id"]
    assert record["positions"]["CASH"] == 10000 - 5 * price == float(alpaca.cash)
    [result] = tool_results(out, "buy")
    told = json.loads(result["result"])
    assert not result["is_error"] and told["status"] == "filled" and told["filled"] == 5 and told["price"] == price
    assert sessions(out)[0]["status"] == "finished" and sessions(out)[0]["trades"] == 1
    assert "scripted-a: finished, 1 trade(s)" in capsys.readouterr().out


def test_partially_filled_then_canceled_at_the_timeout(alpaca, tmp_path: Path):
    alpaca.behave("AAPL", "partial", fill_qty=3)
    out = tmp_path / "out"
    config = live_config(tmp_path / "c.json", alpaca, live={"order_timeout_seconds": 0.2, "poll_interval_seconds": 0.01})
    assert run(config, out) == 0
    [order] = alpaca.orders.values()
    assert order["status"] == "canceled" and order["filled_qty"] == "3"
    assert len(alpaca.requests_to("DELETE", f"/v2/orders/{order['id']}")) == 1
    [record] = buys(out)
    assert record["this_action"]["amount"] == 3  # the real filled quantity, not the 5 asked for
    assert record["positions"]["AAPL"] == 3 and record["positions"]["CASH"] == float(alpaca.cash)
    [result] = tool_results(out, "buy")
    told = json.loads(result["result"])
    assert told["requested"] == 5 and told["filled"] == 3 and told["status"] == "canceled"
    assert "only 3 of 5 filled (canceled)" in told["note"] and "0.2 s order timeout" in told["note"]


def test_an_order_rejected(alpaca, tmp_path: Path):
    alpaca.behave("AAPL", "reject")
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    [order] = alpaca.orders.values()
    assert order["status"] == "rejected"
    assert buys(out) == []
    [result] = tool_results(out, "buy")
    assert result["is_error"]
    assert "buy 5 AAPL: order rejected, nothing filled. Alpaca rejected the order" in result["result"]
    assert sessions(out)[0]["rejections"] == 1 and alpaca.positions == {}


def test_an_order_refused_on_submit(alpaca, tmp_path: Path):
    alpaca.behave("AAPL", "refuse")
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    assert alpaca.orders == {} and buys(out) == []
    [result] = tool_results(out, "buy")
    assert result["is_error"] and "Alpaca refused the order: HTTP 403: insufficient buying power" in result["result"]


def test_a_network_error_on_submit_is_looked_up_and_followed_without_duplicating(alpaca, tmp_path: Path):
    alpaca.drop_next_submit()  # Alpaca takes the order, the answer is lost
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    assert len(alpaca.requests_to("POST", "/v2/orders")) == 1  # found by its client_order_id: no resend needed
    assert len(alpaca.orders) == 1
    lookups = alpaca.requests_to("GET", "/v2/orders:by_client_order_id")
    assert [c["query"]["client_order_id"] for c in lookups] == [f"{SESSION}#s0_0"]
    [record] = buys(out)
    assert record["this_action"]["amount"] == 5 and alpaca.positions == {"AAPL": Decimal("5")}
    assert json.loads(tool_results(out, "buy")[0]["result"])["status"] == "filled"


def order(symbol: str = "AAPL", qty: str = "5", fractional: bool = False, market_open: bool = True) -> OrderContext:
    ctx = OrderContext(side="buy", symbol=symbol, raw_amount=qty, limits=Limits(fractional=fractional),
                       instant=datetime.now(UTC), market_open=market_open, universe=frozenset({symbol}),
                       cash=Decimal("10000"), holdings={}, trades_this_session=0)
    ctx.quantity = Decimal(qty)
    return ctx


@pytest.mark.parametrize(("qty", "fractional", "message"), [
    ("-1", False, "quantity must be a positive number of shares, got Decimal('-1')"),
    ("0", False, "quantity must be a positive number of shares"),
    ("1.5", False, "quantity must be whole shares, got 1.5"),
    ("0.0000000001", True, "more than 9 decimals"),
])
def test_quantities_are_checked_before_anything_is_sent(alpaca, qty: str, fractional: bool, message: str):
    client = trading_client(alpaca.key, alpaca.secret, paper=True, url=alpaca.url, http_timeout=5)
    client._retry = 0
    broker = AlpacaBroker(client, order_timeout=1, poll_interval=0.01)
    with pytest.raises(BrokerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        broker.execute(order(qty=qty, fractional=fractional), "sig@2025-11-26T10:00-05:00#c1")
    with pytest.raises(BrokerError, match="market hours"):
        broker.execute(order(market_open=False), "sig@2025-11-26T10:00-05:00#c2")
    assert alpaca.calls == []


def test_a_fractional_order_fills_and_the_account_follows(alpaca):
    client = trading_client(alpaca.key, alpaca.secret, paper=True, url=alpaca.url, http_timeout=5)
    broker = AlpacaBroker(client, order_timeout=1, poll_interval=0.01)
    fill = broker.execute(order(qty="0.5", fractional=True), "sig@2025-11-26T10:00-05:00#c1")
    assert (fill.status, fill.quantity, fill.price, fill.fee) == ("filled", Decimal("0.5"), alpaca.price("AAPL"), 0)
    account = broker.account()
    assert account.holdings == {"AAPL": Decimal("0.5")} and account.cash == alpaca.cash


def test_long_client_order_ids_are_hashed_deterministically():
    long_id = "a-very-long-model-signature-for-tests@2025-11-26T10:00-05:00#call_9f8e7d6c5b4a39281706"
    hashed = alpaca_client_order_id(long_id)
    assert len(hashed) <= ALPACA_ID_MAX and hashed == alpaca_client_order_id(long_id)
    assert hashed.startswith("a-very-long-mod") and hashed != alpaca_client_order_id(long_id + "x")
    assert alpaca_client_order_id("short@2025-11-26T10:00-05:00#s0_0") == "short@2025-11-26T10:00-05:00#s0_0"


def test_every_answer_lost_the_order_is_found_by_its_client_order_id(alpaca):
    for _ in range(3):
        alpaca.drop_next_submit()
    client = trading_client(alpaca.key, alpaca.secret, paper=True, url=alpaca.url, http_timeout=5)
    broker = AlpacaBroker(client, order_timeout=1, poll_interval=0.01)
    fill = broker.execute(order(qty="2"), "sig@2025-11-26T10:00-05:00#c1")
    assert len(alpaca.requests_to("POST", "/v2/orders")) == 1 and len(alpaca.orders) == 1
    assert (fill.status, fill.quantity) == ("filled", Decimal("2"))


def test_when_alpaca_cannot_be_reached_nothing_is_placed_and_the_message_says_so(alpaca):
    client = trading_client(alpaca.key, alpaca.secret, paper=True, url=alpaca.url, http_timeout=5)
    broker = AlpacaBroker(client, order_timeout=1, poll_interval=0.01)
    alpaca.stop()  # connection refused from now on
    with pytest.raises(BrokerError) as caught:
        broker.execute(order(), "sig@2025-11-26T10:00-05:00#c1")
    assert str(caught.value) == ("could not reach Alpaca to send order sig@2025-11-26T10:00-05:00#c1 (ConnectionError "
                                 "(network)); it was not placed")
