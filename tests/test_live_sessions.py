"""Exactly once per trigger, reconciliation, crash continuation, dry runs, the paper broker and the key checks of
`main.py live`, through the real alpaca-py against the fake Alpaca server."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from agent_tools.ledger import PositionLedger
from agent_tools.live_view import LiveView
from agent_tools.market_calendar import parse_instant
from arena.config import load_config
from arena.desk_factory import load_market
from arena.live import live_desk, run_live
from main import cli
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.fakes.fake_alpaca import (
    OPEN_INSTANT,
    SMALL_UNIVERSE,
    alpaca_env,
    buy,
    iso,
    ledger,
    live_config,
    log_events,
    scripted_model,
    sessions,
    tool_results,
)

SESSION = "scripted-a@2025-11-26T10:00-05:00"
PORTFOLIO = {"name": "get_portfolio", "arguments": {}}


def run(config: Path, out: Path, now: str = OPEN_INSTANT, dry_run: bool = False) -> int:
    return run_live(str(config), str(out), parse_instant(now), dry_run, None)


def actions(out: Path, signature: str = "scripted-a") -> list[str]:
    return [(r.get("this_action") or {}).get("action", "open") for r in ledger(out, signature)]


def test_a_double_fire_runs_one_session(alpaca, tmp_path: Path, capsys):
    config, out = live_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    assert run(config, out) == 0
    assert run(config, out, now="2025-11-26T11:30-05:00") == 0  # a manual rerun later the same day: same trigger
    printed = capsys.readouterr().out
    assert f"scripted-a: this trigger's session already ran ({SESSION}: finished, 1 trade(s)); nothing to do" in printed
    assert len(alpaca.orders) == 1 and len(sessions(out)) == 1 and actions(out) == ["open", "buy"]


def test_two_fires_at_once_give_exactly_one_session(alpaca, tmp_path: Path):
    config, out = live_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    gate = alpaca.hold("/v2/account")  # the first session parks here, holding its lock
    command = [PYTHON, "main.py", "live", "--config", str(config), "--out", str(out), "--now", OPEN_INSTANT]
    env = subprocess_env(**alpaca_env(alpaca))
    procs = [subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        try:
            futures = {pool.submit(p.communicate, timeout=60): p for p in procs}
            assert gate.reached.wait(60), "no session reached the broker"
            done, _ = wait(futures, timeout=60, return_when=FIRST_COMPLETED)
            assert done, "neither invocation finished"
            loser_out, loser_err = next(iter(done)).result()
        finally:
            gate.released.set()
        results = [f.result() for f in futures]
    assert all(p.returncode == 0 for p in procs), results
    assert "another invocation is running this trigger's session" in loser_out, (loser_out, loser_err)
    assert sum("finished, 1 trade(s)" in o for o, _ in results) == 1
    assert len(alpaca.requests_to("POST", "/v2/orders")) == 1 and len(alpaca.orders) == 1
    assert len(sessions(out)) == 1 and actions(out) == ["open", "buy"]


def test_a_reconciliation_difference_follows_the_broker_and_tells_the_model(alpaca, tmp_path: Path, capsys):
    out = tmp_path / "out"
    # yesterday's ledger: $10,000 cash, nothing held; meanwhile the account bought 3 MSFT outside the arena
    PositionLedger.for_signature(out, "scripted-a", tuple(SMALL_UNIVERSE)).append_record(
        {"date": "2025-11-25", "positions": {"CASH": 10000.0}, "time": "2025-11-25T10:00:00-05:00",
         "session_id": "scripted-a@2025-11-25T10:00-05:00"})
    alpaca.set_position("MSFT", 3)
    alpaca.cash -= 3 * alpaca.price("MSFT")
    config = live_config(tmp_path / "c.json", alpaca, plan=[[PORTFOLIO]])
    assert run(config, out) == 0

    record = ledger(out)[1]
    assert record["this_action"] == {"action": "reconcile", "symbol": "", "amount": 0}
    assert record["positions"]["MSFT"] == 3 and record["positions"]["CASH"] == float(alpaca.cash)
    assert record["reconcile"] == {"cash": {"ledger": 10000.0, "broker": float(alpaca.cash)},
                                   "holdings": {"MSFT": {"ledger": 0, "broker": 3}}}
    assert record["session_id"] == SESSION
    printed = capsys.readouterr().out
    assert f"scripted-a: reconciled with the broker (the broker wins): MSFT 0 -> 3 shares, cash $10,000.00 -> ${alpaca.cash:,.2f}" in printed
    events = log_events(out)
    [logged] = [e for e in events if e["type"] == "reconcile"]
    assert logged["difference"] == record["reconcile"] and logged["at"] == "session_start"
    [opening] = [e for e in events if e["type"] == "user"]
    assert "Reconciliation with your broker account at session start" in opening["content"]
    assert "MSFT 0 -> 3 shares" in opening["content"] and "MSFT: 3 x" in opening["content"]
    portfolio = json.loads(tool_results(out, "get_portfolio")[0]["result"])
    assert portfolio["holdings"]["MSFT"]["quantity"] == 3 and portfolio["cash"] == float(alpaca.cash)
    assert actions(out) == ["open", "reconcile"]  # the reconcile record is the session's own: no no_trade line


def test_a_session_cut_off_by_a_crash_continues_from_the_broker_without_buying_twice(alpaca, tmp_path: Path, capsys):
    out = tmp_path / "out"
    # the crashed run opened the ledger and sent its buy; it died before writing the fill or its session line
    PositionLedger.for_signature(out, "scripted-a", tuple(SMALL_UNIVERSE)).append_record(
        {"date": "2025-11-26", "positions": {"CASH": 10000.0}, "time": "2025-11-26T10:00:00-05:00",
         "session_id": SESSION, "source": "broker account"})
    sent = alpaca.add_order(f"{SESSION}#s0_0", "AAPL", 1)
    sent["created_at"] = iso(datetime.now(UTC) - timedelta(minutes=10))  # by a process without an order journal
    assert run(live_config(tmp_path / "c.json", alpaca, plan=[[buy("AAPL", 1)]]), out) == 0  # the same plan again
    printed = capsys.readouterr().out
    assert f"scripted-a: continuing session {SESSION}, interrupted earlier" in printed
    assert len(alpaca.orders) == 1 and alpaca.positions == {"AAPL": Decimal("1")}
    assert actions(out) == ["open", "reconcile"] and ledger(out)[-1]["positions"]["AAPL"] == 1
    [result] = tool_results(out, "buy")
    assert result["is_error"] and "had already been sent before a restart" in result["result"]
    assert len(sessions(out)) == 1


def test_a_broker_failure_before_the_session_leaves_the_trigger_to_a_rerun(alpaca, tmp_path: Path, monkeypatch, capsys):
    config, out = live_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    monkeypatch.setenv("APCA_API_SECRET_KEY", "not-the-right-secret")
    assert run(config, out) == 1  # the cron job goes red
    assert capsys.readouterr().err.strip() == (
        "scripted-a: error: cannot read the Alpaca account (HTTP 401: request is not authorized); "
        "check the key in APCA_API_KEY_ID")
    assert alpaca.orders == {} and sessions(out) == [] and ledger(out) == []
    monkeypatch.setenv("APCA_API_SECRET_KEY", alpaca.secret)
    assert run(config, out) == 0
    assert actions(out) == ["open", "buy"] and len(sessions(out)) == 1


def test_a_dry_run_sends_nothing_and_uses_up_no_trigger(alpaca, tmp_path: Path, capsys):
    config, out = live_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    assert run(config, out, dry_run=True) == 0
    assert run(config, out, dry_run=True) == 0  # dry runs repeat freely
    assert alpaca.requests_to("POST", "/v2/orders") == [] and alpaca.positions == {}
    assert not (out / "scripted-a" / "position").exists() and sessions(out) == []
    scratch = out / "dry-run"
    assert actions(scratch) == ["open", "buy"] and len(sessions(scratch)) == 1
    assert "dry run: fills are simulated" in capsys.readouterr().out
    assert run(config, out) == 0  # the real session of this trigger still runs
    assert len(alpaca.orders) == 1 and actions(out) == ["open", "buy"]


def test_the_paper_broker_fills_at_live_prices_with_the_fee_and_slippage_models(alpaca, tmp_path: Path):
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca, broker="paper"), out) == 0
    assert alpaca.trading_calls == []  # our own ledger is the account: Alpaca only gives prices
    [_, bought] = ledger(out)
    price = alpaca.price("AAPL")
    assert bought["price"] == float((price * Decimal("1.0005")).quantize(Decimal("0.0001")))
    assert bought["fee"] == 0.35 and bought["positions"]["AAPL"] == 5


def test_missing_alpaca_keys_are_a_clear_error_before_anything_runs(alpaca, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    config, out = live_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    result = CliRunner().invoke(cli, ["live", "--config", str(config), "--out", str(out), "--now", OPEN_INSTANT])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: model 'scripted-a' needs Alpaca API keys for live sessions: set the environment variable(s) "
        "APCA_API_SECRET_KEY (key id and secret of an Alpaca paper account), or name other variables in "
        "live.api_key_env / live.secret_key_env")
    assert alpaca.calls == [] and not out.exists()


def test_models_run_concurrently_each_on_its_own_account(alpaca, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SECOND_KEY", alpaca.key)  # the same key twice would be one account for two models
    models = [scripted_model("scripted-a", [[buy("AAPL", 1)]]),
              scripted_model("scripted-b", [[buy("MSFT", 1)]], live={"api_key_env": "SECOND_KEY"})]
    config, out = live_config(tmp_path / "c.json", alpaca, models=models), tmp_path / "out"
    result = CliRunner().invoke(cli, ["live", "--config", str(config), "--out", str(out), "--now", OPEN_INSTANT])
    assert result.exit_code == 2 and "would trade the same Alpaca account" in result.output
    paper = live_config(tmp_path / "p.json", alpaca, models=models, broker="paper")
    assert run(paper, out) == 0
    assert actions(out, "scripted-a") == ["open", "buy"] and actions(out, "scripted-b") == ["open", "buy"]


def test_no_key_or_secret_is_ever_written(alpaca, tmp_path: Path, capsys):
    out = tmp_path / "out"
    alpaca.behave("AAPL", "refuse")
    assert run(live_config(tmp_path / "c.json", alpaca), out) == 0
    printed = capsys.readouterr()
    texts = [printed.out, printed.err] + [p.read_text() for p in out.rglob("*") if p.is_file()]
    assert not any(alpaca.key in t or alpaca.secret in t for t in texts)


def test_serve_tools_live_desk(alpaca, tmp_path: Path):
    config = load_config(live_config(tmp_path / "c.json", alpaca))
    desk = live_desk(config, config.models[0], tmp_path / "out", load_market(config))
    assert isinstance(desk.view, LiveView) and desk.broker.name == "alpaca" and desk.ctx.mode == "live"
    assert desk.get_price(["AAPL"])["prices"]["AAPL"]["price"] > 0
    assert ledger(tmp_path / "out")[0]["source"] == "broker account"


def test_a_live_money_account_needs_the_flag_and_is_announced(alpaca, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert run(live_config(tmp_path / "c.json", alpaca, live={"allow_live_account": True}), out) == 0
    assert ("WARNING: scripted-a: live.allow_live_account is true: orders go to a REAL-MONEY Alpaca account"
            in capsys.readouterr().err)
    assert len(alpaca.orders) == 1
