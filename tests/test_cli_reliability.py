"""What a new user and a careless operator hit: one-line errors before anything is created, --fresh under the run
lock, one model's trouble never stopping the others, Ctrl-C, piped output, the console script, any signature for
`serve-tools`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from filelock import FileLock
from mcp import Client

from arena.config import load_config
from arena.run_loop import run_replay
from main import cli
from tests.conftest import PROJECT_DIR, PYTHON, default_config_dict, subprocess_env
from tests.fakes.fake_openai import assistant, tool_call
from tests.test_config import assert_one_line_error
from tests.test_sessions_openai import SECRET, finish, llm

BUY_AND_HOLD = "baseline-buy-and-hold-qqq"
ONE_DAY = ["--start", "2025-10-01", "--end", "2025-10-01"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def sessions(out: Path, signature: str) -> list[dict]:
    path = out / signature / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def with_model(write_config, signature: str, **fields):
    raw = default_config_dict()
    for model in raw["models"]:
        if model["signature"] == signature:
            model.update(fields)
    return write_config(models=raw["models"])


# -- 5. --fresh and the run lock; one model's trouble stays its own --------------------------------------------------
def test_fresh_never_moves_a_folder_from_under_a_running_run(tmp_path):
    out = tmp_path / "out"
    lock_path = out / "baseline-momentum" / "locks" / "run.lock"
    lock_path.parent.mkdir(parents=True)
    (out / "run_config.json").write_text("{}")
    with FileLock(str(lock_path), timeout=0):  # another process is replaying baseline-momentum into this folder
        result = invoke("run", "--out", str(out), "--models", BUY_AND_HOLD, *ONE_DAY, "--fresh")

    assert_one_line_error(result, "another `run` is replaying baseline-momentum", "--fresh moved nothing")
    assert (out / "run_config.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out.old-")]


def test_an_os_or_ledger_error_in_one_session_is_its_failure_and_no_other_stream_stops(
        write_config, market, tmp_path):
    config = load_config(write_config())
    models = [m for m in config.models if m.signature in (BUY_AND_HOLD, "baseline-momentum")]
    out = tmp_path / "out"
    blocked = out / BUY_AND_HOLD / "log" / "2025-10-02"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the day's log folder should be")  # the OS refuses that session's log

    progress = {p.signature: p for p in asyncio.run(
        run_replay(config, market, models, out, date(2025, 10, 1), date(2025, 10, 3), parallel=2))}

    statuses = {s["date"]: (s["status"], s["error"]) for s in sessions(out, BUY_AND_HOLD)}
    assert statuses["2025-10-01"][0] == statuses["2025-10-03"][0] == "finished"
    status, error = statuses["2025-10-02"]
    assert status == "failed" and "2025-10-02" in error and "\n" not in error
    assert [s["status"] for s in sessions(out, "baseline-momentum")] == ["finished"] * 3
    assert progress[BUY_AND_HOLD].failures == 1


def test_a_session_the_ledger_refuses_is_a_recorded_failure_not_a_crash(write_config, market, tmp_path):
    config = load_config(write_config())
    models = [m for m in config.models if m.signature in (BUY_AND_HOLD, "baseline-momentum")]
    out = tmp_path / "out"
    asyncio.run(run_replay(config, market, models[:1], out, date(2025, 10, 3), date(2025, 10, 3), parallel=1))

    asyncio.run(run_replay(config, market, models, out, date(2025, 10, 1), date(2025, 10, 3), parallel=2))

    earlier = [s for s in sessions(out, BUY_AND_HOLD) if s["date"] < "2025-10-03"]
    assert [s["status"] for s in earlier] == ["failed", "failed"]
    assert "already has a record at 2025-10-03" in earlier[0]["error"]
    assert len(sessions(out, "baseline-momentum")) == 3


# -- 10. Ctrl-C ---------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_records_the_session_as_interrupted_and_a_rerun_resumes_it(fake, write_config, market, tmp_path,
                                                                         monkeypatch):
    fake.script("trader", [assistant(None, [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 1})]),
                           {"delay": 3.0, **finish()}])
    path = write_config(models=[llm("trader", fake.base_url)])
    out = tmp_path / "out"
    args = [PYTHON, "main.py", "run", "--config", str(path), "--out", str(out), "--start", "2025-10-01",
            "--end", "2025-10-02"]
    proc = subprocess.Popen(args, cwd=PROJECT_DIR, env=subprocess_env(FAKE_LLM_KEY=SECRET),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.wait_for_requests("trader", 2), "the buy is done, the second model call is in flight"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    first = sessions(out, "trader")
    assert [(s["date"], s["status"]) for s in first] == [("2025-10-01", "interrupted")]

    fake.script("trader", [finish()], repeat_last=True)
    monkeypatch.setenv("FAKE_LLM_KEY", SECRET)
    config = load_config(path)
    asyncio.run(run_replay(config, market, config.enabled_models(), out, date(2025, 10, 1), date(2025, 10, 2), 1))

    assert "resuming; already done in it: buy 1 AAPL" in fake.requests_for("trader")[2]["messages"][1]["content"]
    assert [(s["date"], s["status"]) for s in sessions(out, "trader")] == [
        ("2025-10-01", "interrupted"), ("2025-10-01", "finished"), ("2025-10-02", "finished")]
    ledger = [json.loads(line) for line in (out / "trader" / "position" / "position.jsonl").read_text().splitlines()]
    assert [r["this_action"]["action"] for r in ledger if "this_action" in r] == ["buy", "no_trade"]


# -- 18. serve-tools with any signature --------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_serve_tools_takes_any_signature_with_the_configs_default_limits_and_cash(default_config, tmp_path):
    from agent_tools.market_calendar import parse_instant
    from arena.serve import tool_server

    server = tool_server(default_config, "my-model", parse_instant("2025-10-02T10:00-04:00"), tmp_path)
    async with Client(server) as client:
        portfolio = (await client.call_tool("get_portfolio", {})).structured_content
        bought = await client.call_tool("buy", {"symbol": "AAPL", "amount": 1})

    assert portfolio["cash"] == default_config.run.initial_cash
    assert not bought.is_error
    assert (tmp_path / "my-model" / "position" / "position.jsonl").exists()


def test_serve_tools_refuses_a_signature_that_cannot_name_a_folder(tmp_path):
    result = invoke("serve-tools", "--signature", "../escape", "--at", "2025-10-02T10:00", "--out", str(tmp_path))
    assert_one_line_error(result, "signature '../escape'")


# -- 19. copy-paste correct commands -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_console_script_runs_from_a_fresh_shell_and_the_command_it_prints_works_there(tmp_path):
    script = Path(sys.executable).parent / "tradearena"
    assert script.exists(), "pip install -e . installs the `tradearena` console script"
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no virtualenv active, another working folder
    out = tmp_path / "out"

    ran = subprocess.run([str(script), "run", "--models", BUY_AND_HOLD, *ONE_DAY, "--out", str(out)], cwd=tmp_path,
                         env=fresh, capture_output=True, text=True, timeout=120)

    assert ran.returncode == 0, ran.stderr
    hint = re.search(r"Full report: (.+?) \(add", ran.stdout)
    assert hint, ran.stdout
    report = subprocess.run(["bash", "-c", hint.group(1)], cwd=tmp_path, env=fresh, capture_output=True, text=True,
                            timeout=120)
    assert report.returncode == 0, report.stderr
    assert "Leaderboard 2025-10-01..2025-10-01" in report.stdout


def test_no_readme_or_cli_text_tells_a_fresh_shell_to_run_python_main_py():
    bare = re.compile(r"(?<![/\w])python3? main\.py")
    texts = {"README.md": (PROJECT_DIR / "README.md").read_text()}
    for folder in ("arena", "reports", "agent_tools"):
        for path in (PROJECT_DIR / folder).rglob("*.py"):
            texts[str(path.relative_to(PROJECT_DIR))] = path.read_text()
    texts["main.py"] = (PROJECT_DIR / "main.py").read_text()
    offenders = [name for name, text in texts.items() if bare.search(text)]
    assert offenders == []


# -- 20. piped output -------------------------------------------------------------------------------------------------
def test_without_a_terminal_each_finished_session_prints_one_plain_line(tmp_path):
    result = invoke("run", "--models", BUY_AND_HOLD, "--start", "2025-10-01", "--end", "2025-10-03",
                    "--out", str(tmp_path / "out"))

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("2025-10-0")]
    assert [line.split()[0] for line in lines] == ["2025-10-01", "2025-10-02", "2025-10-03"]
    assert all(f"{BUY_AND_HOLD}: finished" in line and "at the close" in line for line in lines)
    assert "\x1b[" not in result.output


# -- 21. bad input: one line, exit 2, nothing created -----------------------------------------------------------------
@pytest.mark.parametrize(("fields", "fragment"), [
    ({"params": {"symbl": "QQQ"}}, "params: unknown key 'symbl'"),
    ({"params": {"symbol": "QQQ", "min_trade_value": -1}}, "min_trade_value"),
    ({"session": {"max_step": 5}}, "session: unknown key 'max_step'"),
    ({"session": {"timeout_seconds": -1}}, "timeout_seconds"),
    ({"limits": {"max_position_wieght": 0.5}}, "limits: unknown key 'max_position_wieght'"),
    ({"limits": {"max_drawdown": 7}}, "max_drawdown"),
], ids=["params-typo", "params-value", "session-typo", "session-value", "limits-typo", "limits-value"])
def test_a_bad_per_model_setting_is_one_line_and_creates_nothing(write_config, tmp_path, fields, fragment):
    path = with_model(write_config, BUY_AND_HOLD, **fields)
    out = tmp_path / "out"

    assert_one_line_error(invoke("run", "--config", str(path), "--out", str(out), *ONE_DAY), BUY_AND_HOLD, fragment)
    assert not out.exists()


def test_a_bad_baseline_param_value_is_refused(write_config, tmp_path):
    path = with_model(write_config, "baseline-equal-weight", params={"rebalance": "yearly"})
    assert_one_line_error(invoke("run", "--config", str(path), "--out", str(tmp_path / "o")), "rebalance", "yearly")


@pytest.mark.parametrize("clock", ["08:00", "16:30"])
def test_a_decision_time_outside_market_hours_is_refused(write_config, tmp_path, clock):
    path = write_config(run={"decision_time": clock})
    out = tmp_path / "out"
    assert_one_line_error(invoke("run", "--config", str(path), "--out", str(out)), "decision_time", "market hours")
    assert not out.exists()


def test_live_now_without_a_time_is_refused(tmp_path):
    out = tmp_path / "live"
    assert_one_line_error(invoke("live", "--now", "2025-10-02", "--out", str(out)), "--now", "time")
    assert not out.exists()


def test_an_output_folder_that_cannot_be_written_is_refused_before_anything_runs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert_one_line_error(invoke("run", "--models", BUY_AND_HOLD, *ONE_DAY, "--out", str(blocker / "out")),
                          "cannot write", str(blocker))


def test_a_read_only_output_folder_is_refused_before_anything_runs(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anyway; let the OS answer as for a read-only mount instead
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and Path(p) != folder)
    try:
        result = invoke("run", "--models", BUY_AND_HOLD, *ONE_DAY, "--out", str(folder / "out"))
    finally:
        folder.chmod(0o755)
    assert_one_line_error(result, "cannot write", str(folder), "read-only")
    assert not (folder / "out").exists()


def test_run_on_a_folder_whose_ledger_is_broken_says_so(tmp_path):
    out = tmp_path / "out"
    assert invoke("run", "--models", f"{BUY_AND_HOLD},baseline-momentum", *ONE_DAY, "--out", str(out)).exit_code == 0
    ledger = out / "baseline-momentum" / "position" / "position.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))

    result = invoke("run", "--models", f"{BUY_AND_HOLD},baseline-momentum", *ONE_DAY, "--out", str(out))

    assert_one_line_error(result, str(ledger), "line 2", "not valid JSON")
