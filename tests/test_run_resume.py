"""`main.py run` as a user runs it: a replay killed with SIGKILL mid-way and rerun ends with exactly the ledger of an
uninterrupted run; no session is repeated, no trade duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

SIGNATURES = ["baseline-buy-and-hold-qqq", "baseline-equal-weight", "baseline-momentum"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "main.py", *args], cwd=PROJECT_DIR, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)


def ledger_lines(out: Path, signature: str) -> list[str]:
    path = out / signature / "position" / "position.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def children(pid: int) -> list[int]:
    """The processes `pid` has forked (its replay workers, forked from any of its threads), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue  # a thread that ended meanwhile
    return found


def wait_until_gone(pids: list[int], limit: float = 30) -> list[int]:
    """The pids still running after waiting up to `limit` seconds for them to end (a zombie counts as ended)."""
    deadline = time.monotonic() + limit
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and "(Z)" not in _state(p)]
        time.sleep(0.01)
    return alive


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "(Z)"


def wait_for_lines(out: Path, signature: str, count: int, proc: subprocess.Popen, limit: float = 60) -> None:
    """Wait until the child has written `count` ledger lines (polling the file the child is writing)."""
    deadline = time.monotonic() + limit
    while len(ledger_lines(out, signature)) < count:
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline, "the run wrote too few ledger lines"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("uninterrupted")
    return out, run_cli("run", "--out", str(out))


def test_the_default_run_works_offline_and_ends_with_a_leaderboard(uninterrupted):
    out, done = uninterrupted
    assert done.returncode == 0, done.stderr
    assert "Leaderboard" in done.stdout
    for signature in SIGNATURES:
        assert f"{signature} (baseline)" in done.stdout
        assert len((out / signature / "sessions.jsonl").read_text().splitlines()) == 22


def test_a_run_killed_mid_replay_and_rerun_ends_with_the_uninterrupted_ledger(uninterrupted, tmp_path):
    reference, done = uninterrupted
    assert done.returncode == 0, done.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([PYTHON, "main.py", "run", "--out", str(out)], cwd=PROJECT_DIR, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(out, "baseline-equal-weight", 30, proc)  # inside the first session's ~100 buys
        workers = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert workers, "the default run forks one worker per core"
    assert wait_until_gone(workers) == [], "worker processes outlived the killed run (they would write on)"
    partial = {s: len(ledger_lines(out, s)) for s in SIGNATURES}
    assert partial["baseline-equal-weight"] < len(ledger_lines(reference, "baseline-equal-weight"))

    rerun = run_cli("run", "--out", str(out))

    assert rerun.returncode == 0, rerun.stderr
    for signature in SIGNATURES:
        assert ledger_lines(out, signature) == ledger_lines(reference, signature), signature
        sessions = [json.loads(line) for line in (out / signature / "sessions.jsonl").read_text().splitlines()]
        ids = [s["session_id"] for s in sessions]
        assert len(ids) == len(set(ids)) == 22, signature
        assert all(s["status"] == "finished" for s in sessions)


def test_a_second_run_repeats_nothing(uninterrupted):
    out, _ = uninterrupted
    before = {s: ledger_lines(out, s) for s in SIGNATURES}

    again = run_cli("run", "--out", str(out))

    assert again.returncode == 0, again.stderr
    assert "(66 already done, skipped)" in again.stdout
    assert {s: ledger_lines(out, s) for s in SIGNATURES} == before


def test_fresh_moves_old_output_aside_instead_of_deleting_it(tmp_path):
    out = tmp_path / "out"
    first = run_cli("run", "--out", str(out), "--start", "2025-10-01", "--end", "2025-10-02")
    assert first.returncode == 0, first.stderr

    second = run_cli("run", "--out", str(out), "--start", "2025-10-01", "--end", "2025-10-02", "--fresh")

    assert second.returncode == 0, second.stderr
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("out.old-")]
    assert len(moved) == 1
    assert ledger_lines(moved[0], "baseline-momentum") == ledger_lines(out, "baseline-momentum")


def test_a_torn_sessions_line_does_not_swallow_the_rerun_sessions_line(tmp_path):
    """A crash mid-write of a sessions.jsonl line leaves a torn tail; the rerun's line must not be glued onto it,
    or that session runs again on every rerun (and, once later days exist, the ledger refuses it)."""
    out = tmp_path / "torn"
    args = ("run", "--out", str(out), "--models", "baseline-buy-and-hold-qqq", "--start", "2025-10-01")
    assert run_cli(*args, "--end", "2025-10-02").returncode == 0
    sessions = out / "baseline-buy-and-hold-qqq" / "sessions.jsonl"
    lines = sessions.read_text().splitlines(keepends=True)
    sessions.write_text("".join(lines[:-1]) + lines[-1][:40])  # 2025-10-02's line cut off by a crash

    assert run_cli(*args, "--end", "2025-10-03").returncode == 0
    again = run_cli(*args, "--end", "2025-10-03")
    assert again.returncode == 0, again.stderr
    assert "Ran 0 sessions (3 already done" in again.stdout


def test_fresh_with_a_bad_date_range_moves_nothing_aside(tmp_path):
    out = tmp_path / "out"
    first = run_cli("run", "--out", str(out), "--models", "baseline-buy-and-hold-qqq", "--start", "2025-10-01",
                    "--end", "2025-10-01")
    assert first.returncode == 0, first.stderr

    bad = run_cli("run", "--out", str(out), "--start", "2025-05-01", "--end", "2025-10-01", "--fresh")

    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: date range 2025-05-01..2025-10-01 is outside the bundled data")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out.old-")]
    assert ledger_lines(out, "baseline-buy-and-hold-qqq")


def test_a_second_run_on_the_same_output_at_the_same_time_runs_nothing(tmp_path):
    """Two `run`s on one output folder would each run every session (an LLM would trade twice); the second refuses."""
    from filelock import FileLock

    out = tmp_path / "busy"
    lock_path = out / "baseline-buy-and-hold-qqq" / "locks" / "run.lock"
    lock_path.parent.mkdir(parents=True)
    with FileLock(str(lock_path), timeout=0):  # a replay of this model is running in another process
        second = run_cli("run", "--out", str(out), "--models", "baseline-buy-and-hold-qqq", "--start", "2025-10-01",
                         "--end", "2025-10-02")
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1].startswith("error: another `run` is replaying baseline-buy-and-hold-qqq")
    assert not ledger_lines(out, "baseline-buy-and-hold-qqq")
