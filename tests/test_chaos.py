"""The chaos drill (scripts/chaos.py), short: a replay and a live session SIGKILLed at random points under provider
and broker faults end with exactly the trades of an uninterrupted run, and its audit is real: it finds a planted
duplicate trade, a lost trade and a leaked key."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

spec = importlib.util.spec_from_file_location("chaos", PROJECT_DIR / "scripts" / "chaos.py")
chaos = importlib.util.module_from_spec(spec)
sys.modules["chaos"] = chaos  # dataclasses look their module up there
spec.loader.exec_module(chaos)

pytestmark = pytest.mark.slow
LEDGER = Path("chaos/replay/llm-no-ids/position/position.jsonl")


@pytest.fixture(scope="module")
def drill(tmp_path_factory) -> tuple[int, Path]:
    work = tmp_path_factory.mktemp("chaos") / "work"
    code = chaos.main(["--kills", "3", "--seed", "7", "--start", "2025-10-01", "--end", "2025-10-03",
                       "--live-days", "1", "--work", str(work)])
    return code, work


@pytest.fixture
def copy_of(drill, tmp_path: Path) -> Path:
    target = tmp_path / "planted"
    shutil.copytree(drill[1], target)
    return target


def audit_line(work: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = chaos.main(["--audit", str(work)])
    return code, capsys.readouterr().out


def test_a_killed_and_faulted_run_ends_with_the_reference_trades_and_no_leak(drill):
    code, work = drill
    figures = json.loads((work / "figures.json").read_text())
    assert figures["findings"] == [] and code == 0
    assert figures["kills"] >= 2  # a kill lands only if the process is still working when its moment comes
    assert figures["sessions"] == figures["reference_sessions"] == 3 * 5 + 3  # 3 days x 5 models, 3 live models
    assert figures["provider_faults"] > 0 and figures["broker_faults"] > 0
    killed = [p for p in (work / "chaos" / "process-output").glob("*.err")]
    assert len(killed) >= 2 + figures["kills"]  # every kill was followed by a rerun of the same command


def test_the_audit_finds_a_planted_duplicate_trade(copy_of: Path, capsys):
    ledger = copy_of / LEDGER
    trade = next(line for line in ledger.read_text().splitlines() if '"buy"' in line)
    with ledger.open("a") as f:
        f.write(trade + "\n")
    code, line = audit_line(copy_of, capsys)
    assert code == 1 and "duplicate trades 1," in line and "FAILED" in line


def test_the_audit_finds_a_lost_trade(copy_of: Path, capsys):
    ledger = copy_of / LEDGER
    lines = ledger.read_text().splitlines()
    lost = next(i for i, line in enumerate(lines) if '"buy"' in line)
    ledger.write_text("\n".join(lines[:lost] + lines[lost + 1:]) + "\n")
    code, line = audit_line(copy_of, capsys)
    assert code == 1 and "missing trades 1," in line


def test_the_audit_finds_a_leaked_key_in_any_output(copy_of: Path, capsys):
    assert audit_line(copy_of, capsys)[0] == 0
    key = chaos.planted_secrets(7)[chaos.LLM_KEY_ENV]
    with (copy_of / "chaos" / "process-output" / "001-replay.err").open("a") as f:
        f.write(f"debug: {key}\n")
    code, line = audit_line(copy_of, capsys)
    assert code == 1 and "secret hits 1," in line


def test_the_audit_finds_a_trade_no_log_line_shows(copy_of: Path, capsys):
    trade = next(json.loads(line) for line in (copy_of / LEDGER).read_text().splitlines() if '"buy"' in line)
    (copy_of / "chaos/replay/llm-no-ids/log" / trade["date"] / "log.jsonl").write_text("")
    code, line = audit_line(copy_of, capsys)
    assert code == 1 and "unlogged trades 0," not in line


def test_the_audit_finds_a_session_that_left_an_attempts_tokens_out(copy_of: Path, capsys):
    path = copy_of / "chaos/replay/llm-no-ids/sessions.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[-1].update(prompt_tokens=0, completion_tokens=0)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, line = audit_line(copy_of, capsys)
    assert code == 1 and "undercounted sessions 1," in line
