"""Live sessions after something went wrong, through the real alpaca-py against the fake Alpaca server: a killed
run's open order is followed and booked before the model is asked anything, a re-sent order id returns its
recorded fill (the `paper` broker too), glitches are retried, a failed trigger can be retried on purpose, money
moved into the account is a cash flow and not a return, no order goes out after the close, and the model is told
both its trigger and the clock."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from agent_tools.ledger import PositionLedger
from agent_tools.market_calendar import parse_instant
from arena.live import run_live
from main import cli
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.fakes.fake_alpaca import (
    OPEN_INSTANT,
    SMALL_UNIVERSE,
    alpaca_env,
    buy,
    ledger,
    live_config,
    log_events,
    scripted_model,
    sessions,
    tool_results,
)

SESSION = "scripted-a@2025-11-26T10:00-05:00"
PORTFOLIO = {"name": "get_portfolio", "arguments": {}}


def run(config: Path, out: Path, now: str = OPEN_INSTANT, **options) -> int:
    return run_live(str(config), str(out), parse_instant(now), False, None, **options)


def actions(out: Path, signature: str = "scripted-a") -> list[str]:
    return [(r.get("this_action") or {}).get("action", "open") for r in ledger(out, signature)]


def forget_session_line(out: Path, signature: str = "scripted-a") -> None:
    """What a kill after the fill and before the session's line leaves: the ledger has the fill, no session line."""
    (out / signature / "sessions.jsonl").unlink()


# -- exactly once after a crash ---------------------------------------------------------------------------------------
def test_the_paper_broker_returns_the_recorded_fill_for_a_resent_order(alpaca, tmp_path: Path):
    config, out = live_config(tmp_path / "c.json", alpaca, broker="paper"), tmp_path / "out"
    assert run(config, out) == 0
    forget_session_line(out)
    assert run(config, out) == 0  # the same session again, re-sending the same order ids
    assert actions(out) == ["open", "buy"]
    [again] = tool_results(out, "buy")[1:]
    told = json.loads(again["result"])
    assert not again["is_error"] and told["filled"] == 5 and told["ledger_id"] == 1
    assert "already filled before a restart" in told["note"] and "nothing was sent again" in told["note"]


def test_a_resent_id_for_a_different_order_is_refused(alpaca, tmp_path: Path):
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca, broker="paper"), out) == 0
    forget_session_line(out)
    assert run(live_config(tmp_path / "c.json", alpaca, [[buy("MSFT", 2)]], broker="paper"), out) == 0
    assert actions(out) == ["open", "buy"]
    [again] = tool_results(out, "buy")[1:]
    assert again["is_error"] and "already used in this session for buy 5 AAPL" in again["result"]


def kill_while_the_order_is_open(config: Path, out: Path, fake) -> None:
    """Run `main.py live` in a child process and SIGKILL it while its order is open at Alpaca (being polled)."""
    command = [PYTHON, "main.py", "live", "--config", str(config), "--out", str(out), "--now", OPEN_INSTANT]
    child = subprocess.Popen(command, cwd=PROJECT_DIR, env=subprocess_env(**alpaca_env(fake)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(c["method"] == "GET" and c["path"].startswith("/v2/orders/") for c in fake.calls):
            assert child.poll() is None, "the run ended before its order was open"
            assert time.monotonic() < deadline, "the order was never polled"
            time.sleep(0.02)
    finally:
        child.kill()
        child.wait(10)


def test_an_open_order_left_by_a_killed_run_is_booked_with_its_real_fill_before_the_model_is_asked(alpaca, tmp_path):
    alpaca.behave("AAPL", "open")  # the order stays open while the first run polls it
    config = live_config(tmp_path / "c.json", alpaca, live={"order_timeout_seconds": 30})
    out = tmp_path / "out"
    kill_while_the_order_is_open(config, out, alpaca)
    assert actions(out) == ["open"] and sessions(out) == []
    [left] = alpaca.orders.values()
    assert left["status"] == "new"

    alpaca.behave("AAPL", "fill")  # it fills when next looked at
    assert run(config, out) == 0
    assert len(alpaca.requests_to("POST", "/v2/orders")) == 1 and left["status"] == "filled"
    records = ledger(out)
    assert actions(out) == ["open", "buy"]
    assert records[1]["recovered"] is True and records[1]["client_order_id"] == f"{SESSION}#s0_0"
    assert records[1]["price"] == float(alpaca.price("AAPL")) and records[1]["positions"]["AAPL"] == 5
    assert records[1]["positions"]["CASH"] == float(alpaca.cash)
    events = log_events(out)  # the killed attempt's events first, then the rerun's
    kinds = [e["type"] for e in events]
    recovered, rerun = kinds.index("recovered_orders"), len(kinds) - 1 - kinds[::-1].index("session_start")
    assert recovered < rerun < kinds.index("user", rerun)  # booked before the model is asked anything
    opening = events[kinds.index("user", rerun)]["content"]
    assert "Orders sent by an earlier, interrupted run were followed at the broker" in opening
    assert "buy 5 AAPL" in opening and "filled at $" in opening
    told = json.loads(tool_results(out, "buy")[0]["result"])  # the model re-sent it: the recorded fill, not a new one
    assert told["filled"] == 5 and "already filled before a restart" in told["note"]
    assert len(sessions(out)) == 1 and sessions(out)[0]["status"] == "finished" and sessions(out)[0]["trades"] == 1


def test_an_open_order_left_by_a_crash_that_never_fills_is_canceled_at_the_order_timeout(alpaca, tmp_path, capsys):
    out = tmp_path / "out"
    PositionLedger.for_signature(out, "scripted-a", tuple(SMALL_UNIVERSE)).append_record(
        {"date": "2025-11-25", "positions": {"CASH": 10000.0}, "time": "2025-11-25T10:00:00-05:00",
         "session_id": "scripted-a@2025-11-25T10:00-05:00"})
    journal = out / "scripted-a" / "orders" / "journal.jsonl"
    yesterday = "scripted-a@2025-11-25T10:00-05:00#s0_0"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"event": "sent", "client_order_id": yesterday, "broker_order_id": yesterday,
                                   "session_id": yesterday.split("#")[0], "side": "buy", "symbol": "NVDA",
                                   "quantity": "4", "time": "2025-11-25T15:00:01+00:00"}) + "\n")
    alpaca.behave("NVDA", "open")
    alpaca.add_order(yesterday, "NVDA", 4, status="new")
    config = live_config(tmp_path / "c.json", alpaca, plan=[[PORTFOLIO]], live={"order_timeout_seconds": 0.2})
    assert run(config, out) == 0
    assert alpaca.order_by_client_id(yesterday)["status"] == "canceled"
    assert "order left by an earlier run: buy 4 NVDA" in capsys.readouterr().out
    assert actions(out) == ["open", "no_trade"] and alpaca.positions == {}
    assert json.loads(journal.read_text().splitlines()[-1])["status"] == "canceled"


# -- one glitch does not lose the day ---------------------------------------------------------------------------------
def test_transient_account_errors_are_retried_inside_the_session(alpaca, tmp_path: Path):
    alpaca.fault("error", "GET", "/v2/account", times=2, status=503)
    alpaca.fault("error", "GET", "/v2/positions", times=1, status=429)
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca, live={"retry_backoff_seconds": 0.01}), out) == 0
    assert actions(out) == ["open", "buy"] and sessions(out)[0]["status"] == "finished"


def test_a_failed_trigger_is_retried_on_purpose_with_retry_failed(alpaca, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("DEAD_KEY", "sk-dead")
    dead = {"signature": "scripted-a", "kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
            "api_key_env": "DEAD_KEY", "max_retries": 0, "timeout": 2}
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "dead.json", alpaca, models=[dead]), out) == 1
    assert [s["status"] for s in sessions(out)] == ["failed"]
    fixed = live_config(tmp_path / "c.json", alpaca)  # the endpoint is fixed (here: another back end)
    assert run(fixed, out) == 0
    assert "this trigger's session already ran" in capsys.readouterr().out and len(sessions(out)) == 1
    result = CliRunner().invoke(cli, ["live", "--config", str(fixed), "--out", str(out), "--now", OPEN_INSTANT,
                                      "--retry-failed"])
    assert result.exit_code == 0, result.output
    assert f"scripted-a: retrying the failed session {SESSION}" in result.output
    assert [s["status"] for s in sessions(out)] == ["failed", "finished"] and actions(out)[-1] == "buy"



def test_a_session_interrupted_by_ctrl_c_is_resumed_by_the_next_invocation(alpaca, tmp_path: Path):
    slow = scripted_model("scripted-a", [], params={"plan": [[buy("AAPL", 1)]], "latency": 60})
    out = tmp_path / "out"
    command = [PYTHON, "main.py", "live", "--config", str(live_config(tmp_path / "slow.json", alpaca, models=[slow],
               broker="paper")), "--out", str(out), "--now", OPEN_INSTANT]
    proc = subprocess.Popen(command, cwd=PROJECT_DIR, env=subprocess_env(**alpaca_env(alpaca)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log = out / "scripted-a" / "log" / "2025-11-26" / "log.jsonl"
        deadline = time.monotonic() + 60
        while not (log.exists() and "session_start" in log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)  # a file written by another process: nothing to await but its content
        proc.send_signal(signal.SIGINT)  # Ctrl-C while the model is thinking
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and [s["status"] for s in sessions(out)] == ["interrupted"]
    config = live_config(tmp_path / "c.json", alpaca, plan=[[buy("AAPL", 1)]], broker="paper")
    assert run(config, out) == 0  # no --retry-failed needed: an interrupted session is resumed like a crash
    assert [s["status"] for s in sessions(out)] == ["interrupted", "finished"]
    assert actions(out) == ["open", "buy"]
    assert run(config, out) == 0 and len(sessions(out)) == 2  # a finished one never reruns

# -- deposits are not returns -----------------------------------------------------------------------------------------
def test_a_deposit_is_a_cash_flow_in_the_ledger_and_not_a_return_in_the_report(alpaca, tmp_path: Path):
    config = live_config(tmp_path / "c.json", alpaca, plan=[[PORTFOLIO]])
    out = tmp_path / "out"
    assert run(config, out, "2025-11-25T10:00-05:00") == 0
    alpaca.reset("100000")  # the paper account reset to $100k
    assert run(config, out, "2025-11-26T10:00-05:00") == 0
    assert run(config, out, "2025-11-28T10:00-05:00") == 0
    deposit = next(r for r in ledger(out) if r.get("this_action", {}).get("action") == "deposit")
    assert deposit["this_action"]["amount"] == 90000.0 and deposit["cash_flow"] == 90000.0
    assert deposit["positions"]["CASH"] == 100000.0

    result = CliRunner().invoke(cli, ["report", "--config", str(config), "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    row = next(r for r in json.loads(result.stdout) if r["signature"] == "scripted-a")
    assert row["final_value"] == 100000.0 and row["cash_flows"] == 90000.0
    assert row["cumulative_return"] == 0.0 and row["max_drawdown"] == 0.0  # not +900%


def test_a_baseline_sizes_its_orders_from_the_reconciled_account(alpaca, tmp_path: Path):
    baseline = {"signature": "baseline-qqq", "kind": "baseline", "strategy": "buy_and_hold",
                "limits": {"max_position_weight": None, "max_order_value": None}}
    config, out = live_config(tmp_path / "c.json", alpaca, models=[baseline]), tmp_path / "out"
    PositionLedger.for_signature(out, "baseline-qqq", tuple(SMALL_UNIVERSE)).append_record(
        {"date": "2025-11-25", "positions": {"CASH": 10000.0}, "time": "2025-11-25T10:00:00-05:00",
         "session_id": "baseline-qqq@2025-11-25T10:00-05:00"})
    alpaca.deposit("90000")
    assert run(config, out) == 0
    [order] = alpaca.orders.values()
    value = Decimal(order["qty"]) * alpaca.price("QQQ")
    assert Decimal("97000") < value <= Decimal("99000")  # 99% of the $100,000 the account holds, not of $10,000


def test_a_withdrawal_is_not_a_drawdown(alpaca, tmp_path: Path):
    out = tmp_path / "out"
    PositionLedger.for_signature(out, "scripted-a", tuple(SMALL_UNIVERSE)).append_record(
        {"date": "2025-11-25", "positions": {"CASH": 10000.0}, "time": "2025-11-25T10:00:00-05:00",
         "session_id": "scripted-a@2025-11-25T10:00-05:00"})
    alpaca.deposit("-6000")
    config = live_config(tmp_path / "c.json", alpaca, plan=[[buy("AAPL", 1)]], models=[
        scripted_model("scripted-a", [[buy("AAPL", 1)]], limits={"max_drawdown": 0.2})])
    assert run(config, out) == 0
    assert actions(out) == ["open", "withdrawal", "buy"]


# -- the clock --------------------------------------------------------------------------------------------------------
def test_no_order_goes_out_after_the_close_even_in_a_session_that_began_before_it(alpaca, tmp_path: Path):
    model = scripted_model("scripted-a", [[buy("AAPL", 1)]], params={"plan": [[buy("AAPL", 1)]], "latency": 1.0})
    config, out = live_config(tmp_path / "c.json", alpaca, models=[model]), tmp_path / "out"
    assert run(config, out, "2025-11-26T15:59:59.400-05:00") == 0  # the buy comes a second later, after 16:00
    assert alpaca.requests_to("POST", "/v2/orders") == []
    [result] = tool_results(out, "buy")
    assert result["is_error"] and "market_open" in result["result"]


def test_a_late_session_tells_the_model_its_trigger_and_the_clock(alpaca, tmp_path: Path, capsys):
    config, out = live_config(tmp_path / "c.json", alpaca, plan=[[PORTFOLIO]]), tmp_path / "out"
    assert run(config, out, "2025-11-26T15:30-05:00") == 0
    opening = next(e for e in log_events(out) if e["type"] == "user")["content"]
    assert opening.startswith("Now: Wednesday 2025-11-26 15:30 EST (live session). This session belongs to the "
                              "10:00 EST trigger of 2025-11-26 but runs 5 h 30 min after it")
    portfolio = json.loads(tool_results(out, "get_portfolio")[0]["result"])
    assert portfolio["time"].startswith("2025-11-26T15:30")
    assert "warning: this run started at 15:30 EST, 5 h 30 min after its 10:00 EST trigger" in capsys.readouterr().err
