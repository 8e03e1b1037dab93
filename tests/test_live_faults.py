"""Broker faults with the `alpaca` broker, through the real alpaca-py against the fake Alpaca server: whatever goes
wrong, the order is looked up by its client_order_id before anything is reported, an order found under our id is
ours only if it is the one we sent, and the session's time limit bounds an order without abandoning it."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from agent_tools.alpaca_http import Backoff
from agent_tools.brokers.alpaca import AlpacaBroker, trading_client
from agent_tools.brokers.base import BrokerError
from agent_tools.brokers.order_journal import OrderJournal
from agent_tools.market_calendar import parse_instant
from arena.live import run_live
from tests.fakes.fake_alpaca import (
    OPEN_INSTANT,
    buy,
    ledger,
    live_config,
    scripted_model,
    sessions,
    tool_results,
)
from tests.test_live_orders import order

SESSION = "scripted-a@2025-11-26T10:00-05:00"
COID = f"{SESSION}#s0_0"


def run(config: Path, out: Path, now: str = OPEN_INSTANT) -> int:
    return run_live(str(config), str(out), parse_instant(now), False, None)


def buys(out: Path) -> list[dict]:
    return [r for r in ledger(out) if (r.get("this_action") or {}).get("action") == "buy"]


def broker_for(fake, tmp_path: Path, http_timeout: float = 5, order_timeout: float = 1) -> AlpacaBroker:
    client = trading_client(fake.key, fake.secret, paper=True, url=fake.url, http_timeout=http_timeout)
    return AlpacaBroker(client, order_timeout=order_timeout, poll_interval=0.01, retry=Backoff(base=0.01),
                        journal=OrderJournal(tmp_path / "journal.jsonl"))


# -- a duplicate client_order_id is ours only if it is the same order -------------------------------------------------
def test_an_order_of_someone_else_under_our_id_is_an_error_never_our_fill(alpaca, tmp_path: Path):
    alpaca.add_order(COID, "MSFT", 3, side="sell")  # someone else's filled order under the id we are about to use
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    assert buys(out) == [] and len(alpaca.orders) == 1
    [result] = tool_results(out, "buy")
    assert result["is_error"]
    assert "is taken at Alpaca by another order (sell 3 MSFT, filled), not the buy 5 AAPL sent now" in result["result"]
    assert "nothing was filled" in result["result"] and "already been sent" not in result["result"]


def test_a_resend_that_meets_someone_elses_order_is_not_followed_as_ours(alpaca, tmp_path: Path):
    broker = broker_for(alpaca, tmp_path)
    coid = "sig@2025-11-26T10:00-05:00#c1"
    alpaca.fault("error", "POST", "/v2/orders", status=503)  # the first send fails before the order is created
    first, second = alpaca.hold("/v2/orders", "POST"), alpaca.hold("/v2/orders", "POST")
    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: _execute(broker, coid, errors))
    worker.start()
    try:
        assert first.reached.wait(10)
        first.released.set()
        assert second.reached.wait(10)  # the resend is on its way; meanwhile another order takes the id
        alpaca.add_order(coid, "NVDA", 7)
    finally:
        second.released.set()
        worker.join(20)
    [error] = errors
    assert isinstance(error, BrokerError) and "taken at Alpaca by another order (buy 7 NVDA, filled)" in str(error)
    assert len(alpaca.requests_to("POST", "/v2/orders")) == 2 and alpaca.positions == {"NVDA": Decimal("7")}
    [sent] = broker.journal.orders()
    assert sent.final_status == "not_ours"


def _execute(broker: AlpacaBroker, coid: str, errors: list[BaseException]) -> None:
    try:
        broker.execute(order(qty="2"), coid)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        errors.append(exc)


# -- the model is told what really happened -----------------------------------------------------------------------------
def test_a_5xx_after_the_order_was_created_is_followed_and_booked(alpaca, tmp_path: Path):
    alpaca.fault("error_after", "POST", "/v2/orders", status=500)  # Alpaca creates the order, then answers 500
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    assert len(alpaca.orders) == 1 and alpaca.positions == {"AAPL": Decimal("5")}
    [record] = buys(out)
    assert record["this_action"]["amount"] == 5 and record["client_order_id"] == COID
    told = json.loads(tool_results(out, "buy")[0]["result"])
    assert told["status"] == "filled" and told["filled"] == 5



def test_a_duplicate_answer_for_the_order_just_created_is_followed_and_booked(alpaca, tmp_path: Path):
    # Alpaca creates the order, then the answer says its id is taken (alpaca-py's own retry of a 504, a proxy's
    # replay): the order under our id is the one just sent, so it is followed and booked, not called an old one
    alpaca.fault("error_after", "POST", "/v2/orders", status=422, message="client_order_id must be unique")
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    assert len(alpaca.orders) == 1 and alpaca.positions == {"AAPL": Decimal("5")}
    [record] = buys(out)
    assert record["this_action"]["amount"] == 5 and record["client_order_id"] == COID
    told = json.loads(tool_results(out, "buy")[0]["result"])
    assert told["status"] == "filled" and told["filled"] == 5
    assert [(r.get("this_action") or {}).get("action") for r in ledger(out)][1:] == ["buy"]  # no reconcile record

@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", '{"id": "not an order"}'], ids=["html", "wrong-json"])
def test_an_answer_alpaca_py_cannot_parse_is_looked_up_not_reported_as_invalid_arguments(alpaca, tmp_path: Path, body):
    alpaca.fault("garble", "POST", "/v2/orders", body=body)
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    assert len(alpaca.orders) == 1 and len(alpaca.requests_to("POST", "/v2/orders")) == 1
    [record] = buys(out)
    assert record["this_action"]["amount"] == 5
    [result] = tool_results(out, "buy")
    assert not result["is_error"] and "invalid arguments" not in result["result"]


def test_polls_slower_than_the_timeout_look_the_order_up_before_reporting(alpaca, tmp_path: Path):
    # every poll of the order answers too late (it filled at the first one); the look-up by client_order_id answers
    alpaca.fault("slow", "GET", "/v2/orders/", times=100, delay=1.0)
    alpaca.fault("slow", "DELETE", "/v2/orders/", times=100, delay=1.0)
    out = tmp_path / "out"
    config = live_config(tmp_path / "c.json", alpaca, live={"order_timeout_seconds": 0.3, "http_timeout_seconds": 0.2})
    assert run(config, out) == 0
    assert alpaca.orders[next(iter(alpaca.orders))]["status"] == "filled"
    [record] = buys(out)
    assert record["this_action"]["amount"] == 5 and record["positions"]["AAPL"] == 5
    told = json.loads(tool_results(out, "buy")[0]["result"])
    assert told["status"] == "filled" and "nothing filled" not in json.dumps(told)
    assert [c["query"]["client_order_id"] for c in alpaca.requests_to("GET", "/v2/orders:by_client_order_id")] == [COID]


def test_an_order_never_confirmed_is_reported_unknown_and_booked_at_the_next_session(alpaca, tmp_path: Path):
    broker = broker_for(alpaca, tmp_path, http_timeout=0.2, order_timeout=0.2)
    alpaca.fault("slow", "GET", "/v2/orders", times=100, delay=1.0)  # polls and look-ups alike
    alpaca.fault("slow", "DELETE", "/v2/orders/", times=100, delay=1.0)
    fill = broker.execute(order(qty="2"), "sig@2025-11-26T10:00-05:00#c1")
    assert fill.status == "unknown" and fill.quantity == 0 and not fill.confirmed
    assert "do not send it again" in fill.message
    [sent] = broker.journal.orders()
    assert sent.final_status is None  # left open in the journal: the next session start follows it
    alpaca.faults.clear()
    later = broker.follow_up(sent)
    assert later is not None and (later.status, later.quantity) == ("filled", Decimal("2"))


def test_a_send_never_answered_is_unknown_and_stays_open_in_the_journal(alpaca, tmp_path: Path):
    broker = broker_for(alpaca, tmp_path, http_timeout=0.2)
    alpaca.fault("slow", "POST", "/v2/orders", times=10, delay=1.0)  # the order is created; no answer in time
    alpaca.fault("slow", "GET", "/v2/orders", times=10, delay=1.0)  # nor to the look-ups
    fill = broker.execute(order(qty="3"), "sig@2025-11-26T10:00-05:00#c2")
    assert fill.status == "unknown" and "it may have arrived" in fill.message
    assert len(alpaca.orders) == 1  # the resends were de-duplicated by client_order_id
    [sent] = broker.journal.orders()
    assert sent.final_status is None
    alpaca.faults.clear()
    later = broker.follow_up(sent)
    assert later is not None and (later.status, later.quantity) == ("filled", Decimal("3"))


# -- the session's time limit bounds an order ---------------------------------------------------------------------------
def test_an_order_in_flight_at_the_session_deadline_is_canceled_and_followed_to_a_final_state(alpaca, tmp_path: Path):
    alpaca.behave("AAPL", "partial", fill_qty=2)  # 2 of 5 fill, the rest would wait for the 20 s order timeout
    model = scripted_model("scripted-a", [[buy("AAPL", 5)]], session={"timeout_seconds": 1.0})
    out = tmp_path / "out"
    config = live_config(tmp_path / "c.json", alpaca, models=[model], live={"order_timeout_seconds": 20})
    started = time.monotonic()
    assert run(config, out) == 0
    assert time.monotonic() - started < 8  # bounded by the 1 s session limit, not the 20 s order timeout
    [order_at_alpaca] = alpaca.orders.values()
    assert order_at_alpaca["status"] == "canceled" and order_at_alpaca["filled_qty"] == "2"
    [record] = buys(out)
    assert record["this_action"]["amount"] == 2 and record["requested"] == 5
    told = json.loads(tool_results(out, "buy")[0]["result"])
    assert told["filled"] == 2 and "canceled at the session's time limit" in told["note"]
    assert len(sessions(out)) == 1


def test_the_fake_alpaca_runs_standalone_and_is_scripted_over_http(tmp_path: Path):
    """Drills and scripts start it as a process: `python -m tests.fakes.fake_alpaca` prints its URL, takes faults
    and account changes over HTTP, and stops on SIGTERM."""
    import subprocess
    import urllib.request

    from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

    child = subprocess.Popen([PYTHON, "-m", "tests.fakes.fake_alpaca", "--lifetime", "60"], cwd=PROJECT_DIR,
                             env=subprocess_env(), stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip().removeprefix("FAKE_ALPACA_URL=")
        assert url.startswith("http://127.0.0.1:")

        def post(name: str, body: dict) -> dict:
            request = urllib.request.Request(f"{url}/_fake/{name}", json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())

        post("deposit", {"amount": "500"})
        post("fault", {"kind": "error_after", "method": "POST", "path": "/v2/orders"})
        client = trading_client("fake-key-id-1234", "fake-secret-5678", paper=True, url=url, http_timeout=5)
        broker = AlpacaBroker(client, order_timeout=1, poll_interval=0.01, retry=Backoff(base=0.01))
        fill = broker.execute(order(qty="2"), "sig@2025-11-26T10:00-05:00#c9")
        assert (fill.status, fill.quantity) == ("filled", Decimal("2"))
        with urllib.request.urlopen(f"{url}/_fake/state", timeout=10) as answer:
            state = json.loads(answer.read())
        assert state["positions"] == {"AAPL": "2"} and len(state["orders"]) == 1
        assert Decimal(state["cash"]) == Decimal("10500") - 2 * Decimal(state["orders"][0]["filled_avg_price"])
    finally:
        child.terminate()
        assert child.wait(10) == 0
