"""Work the report does in a second process (ledgers while prices load, the null while the bootstrap runs) gives
what the same work gives inline, errors included.

The forking cases run in a fresh interpreter: the report forks only when no other thread is alive, and a test process
may still hold a thread of another test's HTTP server, which would make them run inline and prove nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap

import pytest

from reports.beside import INLINE_ENV
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.report_support import real_run


def _in_fresh_process(code: str, *args: str) -> None:
    done = subprocess.run([PYTHON, "-c", textwrap.dedent(code), *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120, env={**subprocess_env(), INLINE_ENV: "0"})
    if done.returncode == 3:
        pytest.skip("one core or no fork here: the work runs inline")
    assert done.returncode == 0, done.stderr


CAN_FORK = """
    import sys
    from reports.beside import can_fork
    if not can_fork():
        sys.exit(3)
"""


def test_work_beside_runs_in_another_process_and_hands_back_its_result_or_its_error():
    _in_fresh_process(CAN_FORK + """
    import os
    import pytest
    from reports import ReportError
    from reports.beside import INLINE_ENV, beside

    def pid_and(value):
        return os.getpid(), value * 2

    def refuse(folder):
        raise ReportError(f"{folder}: no such run folder")

    pid, doubled = beside(pid_and, 21).result()
    assert doubled == 42 and pid != os.getpid()
    with pytest.raises(ReportError, match="no such run folder"):
        beside(refuse, "/nowhere").result()
    os.environ[INLINE_ENV] = "1"
    assert beside(pid_and, 21).result() == (os.getpid(), 42)
    with pytest.raises(ReportError, match="no such run folder"):
        beside(refuse, "/nowhere").result()
    """)


def test_the_report_is_the_same_built_with_a_second_process_or_without(write_config):
    config = write_config(report={"bootstrap_reps": 100, "random_traders": 60})  # each model's null in 3 pieces
    _in_fresh_process(CAN_FORK + """
    import os
    from pathlib import Path
    from arena.config import load_config
    from reports.beside import INLINE_ENV
    from reports.build import build_report

    config, run = load_config(Path(sys.argv[1])), Path(sys.argv[2])
    beside_rows = build_report(config, run, [], None, None).rows()
    os.environ[INLINE_ENV] = "1"
    inline = build_report(config, run, [], None, None)
    assert inline.rows() == beside_rows
    assert all(e.null is not None for e in inline.models)
    """, str(config), str(real_run()))


def test_claims_hand_out_each_item_once_from_either_end():
    from reports.beside import Claims

    claims = Claims(5)
    taken = [claims.take(), claims.take(from_back=True), claims.take(), claims.take(from_back=True), claims.take(),
             claims.take(), claims.take(from_back=True)]
    assert taken == [0, 4, 1, 3, 2, None, None]


HEAVY = ("pandas", "numpy", "pydantic", "arch", "scipy")


def test_the_ledgers_start_loading_before_the_heavy_imports_and_give_the_same_report_forked_or_inline(write_config):
    config = write_config(report={"bootstrap_reps": 100, "random_traders": 20})
    _in_fresh_process(CAN_FORK + f"""
    import os
    from pathlib import Path
    from reports.runs import start_loading

    run = Path(sys.argv[2])
    loading = start_loading(run, [])
    assert loading.pending.forked
    assert not [m for m in sys.modules if m.split(".")[0] in {HEAVY!r}], "reading forked after a heavy import"
    from arena.config import load_config
    from reports.beside import INLINE_ENV
    from reports.build import build_report

    config = load_config(Path(sys.argv[1]))
    early = build_report(config, run, [], None, None, loading=loading)
    os.environ[INLINE_ENV] = "1"
    inline = build_report(config, run, [], None, None)
    assert early.rows() == inline.rows() and early.notes == inline.notes
    """, str(config), str(real_run()))


@pytest.mark.parametrize("inline", ["0", "1"])
def test_a_ledger_the_early_reader_cannot_read_is_one_line_on_stderr(tmp_path, inline):
    run = tmp_path / "run"
    shutil.copytree(real_run(), run)
    largest = max(run.glob("*/position/position.jsonl"), key=lambda p: p.stat().st_size)  # read beside, first
    lines = largest.read_text(encoding="utf-8").splitlines(keepends=True)
    largest.write_text("".join([*lines[:2], '{"id": 3, "date": bad\n', *lines[3:]]), encoding="utf-8")
    done = subprocess.run([PYTHON, "main.py", "report", "--out", str(run), "--format", "json"], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=120, env={**subprocess_env(), INLINE_ENV: inline})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: {largest} line 3: not valid JSON; fix or remove that line\n"


def test_a_bad_config_is_reported_before_a_missing_run_folder_the_early_reader_met(tmp_path):
    from click.testing import CliRunner

    from main import cli

    bad = tmp_path / "config.json"
    bad.write_text("{not json", encoding="utf-8")
    missing = tmp_path / "nowhere"
    done = CliRunner().invoke(cli, ["report", "--config", str(bad), "--out", str(missing)])
    assert done.exit_code == 2 and "not valid JSON" in done.output and "nowhere" not in done.output
    done = CliRunner().invoke(cli, ["report", "--out", str(missing)])
    assert done.exit_code == 2 and f"{missing}: no such run folder" in done.output


def test_a_bad_config_is_said_before_any_ledger_is_read_when_they_are_read_inline(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import reports.runs
    from main import cli

    read: list[object] = []
    monkeypatch.setattr(reports.runs, "load_model", lambda *task: read.append(task))
    monkeypatch.setenv(INLINE_ENV, "1")
    bad = tmp_path / "config.json"
    bad.write_text("{not json", encoding="utf-8")
    done = CliRunner().invoke(cli, ["report", "--config", str(bad), "--out", str(real_run())])
    assert done.exit_code == 2 and "not valid JSON" in done.output and read == []


def test_a_loaded_model_crosses_to_the_other_process_unchanged():
    import pickle

    from reports.notes import Notes
    from reports.runs import find_run_folders, load_model, model_tasks

    task = max(model_tasks(find_run_folders(real_run(), [], Notes())), key=lambda t: len(t[0].name))
    loaded = load_model(*task)
    assert loaded.ledger.fills, "a model with trades"
    again = pickle.loads(pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL))
    assert again.ledger.fills == loaded.ledger.fills and type(again.ledger.fills[0]) is type(loaded.ledger.fills[0])
    assert again.ledger.days == loaded.ledger.days and again.sessions == loaded.sessions


def test_claims_run_each_piece_once_and_hand_back_its_result_by_index():
    from reports.beside import Claims

    ran: list[int] = []
    pieces = [lambda k=k: ran.append(k) or k * 10 for k in range(6)]
    claims = Claims(len(pieces))
    first_two = {claims.take(): None, claims.take(from_back=True): None}
    assert claims.run(pieces, from_back=True) == {k: k * 10 for k in range(1, 5)}
    assert ran == [4, 3, 2, 1] and first_two == {0: None, 5: None} and claims.run(pieces) == {}


def test_the_statistics_are_the_same_whichever_process_computes_which_piece(write_config, monkeypatch):
    """Every piece of the statistics (null pieces, bootstraps, the comparison) computed in the opposite order and put
    in place gives the report built inline."""
    from arena.config import load_config
    from reports.build import StatisticsWork, build_report
    from reports.equity import Marker
    from reports.notes import Notes
    from reports.random_null import simulate_traders
    from reports.uncertainty import Comparison, EntryStats
    from tests.conftest import load_market

    monkeypatch.setenv(INLINE_ENV, "1")
    config = load_config(write_config(report={"bootstrap_reps": 60, "random_traders": 30}))
    report = build_report(config, real_run(), [], None, None, details=False)
    expected = report.rows()
    work = StatisticsWork(report, config, Marker(load_market(config).data, Notes(), config.run.decision_time))
    assert len(work.nulls.pieces) == 2 * len(report.models) and work.comparing == len(work.pieces) - 1
    for entry in report.entries:
        entry.stats, entry.null, entry.in_confidence_set = EntryStats(), None, None
    report.comparison = Comparison()
    work.attach({k: work.pieces[k]() for k in reversed(range(len(work.pieces)))})
    assert report.rows() == expected
    for entry in report.models:  # each model's traders in order, as one simulation of all 30 gives them
        in_one_go = simulate_traders(work.nulls.traders[id(entry)], work.nulls.grid(), entry.perf.initial_value,
                                     work.nulls.costs[id(entry)])
        assert entry.null is not None and entry.null.returns.tobytes() == in_one_go.tobytes()


def test_ctrl_c_while_work_runs_beside_is_the_callers_one_line_not_a_traceback_from_the_second_process(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(CAN_FORK + """
    import os, signal, time
    from reports.beside import beside

    def started_then_wait(started, go):
        os.write(started, b"x")
        return os.read(go, 1)  # until the caller says go (Ctrl-C arrives meanwhile)

    started, go = os.pipe(), os.pipe()
    pending = beside(started_then_wait, started[1], go[0])
    assert pending.forked and os.read(started[0], 1) == b"x"  # the second process is running its work
    try:
        os.killpg(0, signal.SIGINT)  # Ctrl-C: to every process of the group
        time.sleep(60)
    except KeyboardInterrupt:
        os.write(go[1], b"y")
        assert pending.result() == b"y"  # the second process was not interrupted: it finished its work quietly
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    """), encoding="utf-8")
    done = subprocess.run([PYTHON, str(script)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
                          env={**subprocess_env(), INLINE_ENV: "0"}, start_new_session=True)
    if done.returncode == 3:
        pytest.skip("one core or no fork here: the work runs inline")
    assert done.returncode == 130 and done.stderr == "interrupted\n"


def test_a_second_process_killed_during_the_statistics_is_one_line_on_stderr(tmp_path, write_config):
    """Killed (by the out-of-memory killer, say) in its first null piece: the pieces it had taken are lost, so the
    report stops with one line naming the way round it, not a traceback."""
    config = write_config(report={"bootstrap_reps": 60, "random_traders": 30})
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(CAN_FORK + """
    import os, signal
    import reports.build as build
    from main import cli

    parent, simulate = os.getpid(), build.simulate_traders

    def killed_beside(*args, **kwargs):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return simulate(*args, **kwargs)

    build.simulate_traders = killed_beside
    cli(["report", "--config", sys.argv[1], "--out", sys.argv[2], "--format", "json"])
    """), encoding="utf-8")
    done = subprocess.run([PYTHON, str(script), str(config), str(real_run())], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120, env={**subprocess_env(), INLINE_ENV: "0"})
    if done.returncode == 3:
        pytest.skip("one core or no fork here: the work runs inline")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: the report's second process died (exit code -9); rerun with {INLINE_ENV}=1\n"


def test_ctrl_c_while_waiting_for_the_second_processs_result_stops_it_and_exits_at_once(tmp_path):
    """The second process ignores Ctrl-C and goes on to send a result larger than a pipe holds: the caller, interrupted
    while it waits for that result, stops it rather than waiting for it to finish sending (it never would)."""
    script = tmp_path / "interrupted_waiting.py"
    script.write_text(textwrap.dedent(CAN_FORK + """
    import os, signal
    from reports.beside import beside

    def large_result_after(started, go):
        os.write(started, b"x")
        os.read(go, 1)
        return b"y" * 1_000_000

    started, go = os.pipe(), os.pipe()
    pending = beside(large_result_after, started[1], go[0])
    assert pending.forked and os.read(started[0], 1) == b"x"

    def ctrl_c_then_go(*_):
        os.killpg(0, signal.SIGINT)  # Ctrl-C: to every process of the group, while this one waits for the result
        os.write(go[1], b"y")

    signal.signal(signal.SIGALRM, ctrl_c_then_go)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        pending.result()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    """), encoding="utf-8")
    with subprocess.Popen([PYTHON, str(script)], cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**subprocess_env(), INLINE_ENV: "0"}, start_new_session=True) as done:
        try:
            _out, err = done.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(done.pid, signal.SIGKILL)
            done.communicate()
            pytest.fail("still waiting for the second process 30 s after Ctrl-C")
    if done.returncode == 3:
        pytest.skip("one core or no fork here: the work runs inline")
    assert done.returncode == 130 and err == "interrupted\n"
