"""The JSONL position ledger: reads AI-Trader's files, refuses torn or out-of-order lines, and is safe to share."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from agent_tools.ledger import (
    CASH,
    LedgerCorrupted,
    LedgerError,
    PositionLedger,
    read_ledger,
    repair_torn_tail,
)
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

AI_TRADER_LEDGERS = sorted((PROJECT_DIR / "data" / "interop" / "ai_trader_2025-10").glob("*/position/position.jsonl"))


def record(day: str = "2025-10-01", cash: float = 1000.0, **holdings: float) -> dict:
    return {"date": day, "positions": {**holdings, CASH: cash}}


def new_ledger(tmp_path: Path, records: int = 2) -> PositionLedger:
    ledger = PositionLedger(tmp_path / "position.jsonl", universe=("AAA",))
    for n in range(records):
        ledger.append_record(record(cash=1000.0 - n))
    return ledger


# -- AI-Trader interop ---------------------------------------------------------------------------------------------
def test_bundled_ai_trader_ledgers_are_present():
    assert len(AI_TRADER_LEDGERS) == 6


@pytest.mark.parametrize("path", AI_TRADER_LEDGERS, ids=lambda p: p.parent.parent.name)
def test_ai_trader_ledger_loads_to_its_last_line(path, default_config):
    lines = path.read_text(encoding="utf-8").splitlines()
    first, last = json.loads(lines[0]), json.loads(lines[-1])

    ledger = read_ledger(path)

    assert "this_action" not in first
    listed = {s: q for s, q in first["positions"].items() if s != CASH}
    assert set(listed) == set(default_config.universe) - {"QQQ"}  # the Nasdaq-100 stocks; QQQ is our benchmark
    assert set(listed.values()) == {0}
    assert ledger.state.records == len(lines)
    assert ledger.state.last_id == last["id"]
    assert ledger.state.cash == Decimal(str(last["positions"][CASH]))
    assert ledger.state.holdings == {s: Decimal(str(q)) for s, q in last["positions"].items() if s != CASH and q}
    assert ledger.state.holdings  # the last position really holds stocks, so the comparison above means something


def test_missing_ledger_is_named(tmp_path):
    with pytest.raises(LedgerError, match="no position ledger here"):
        read_ledger(tmp_path / "position.jsonl")


# -- writing ---------------------------------------------------------------------------------------------------------
def test_appended_records_get_ids_from_0_and_one_line_each(tmp_path):
    ledger = new_ledger(tmp_path, records=3)

    lines = ledger.path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line)["id"] for line in lines[:-1]] == [0, 1, 2]
    assert list(json.loads(lines[0])) == ["date", "id", "positions"]


def test_positions_snapshot_lists_every_universe_symbol_with_zeros_then_cash(tmp_path):
    ledger = PositionLedger(tmp_path / "position.jsonl", universe=("AAA", "BBB"))

    snapshot = ledger.positions_snapshot(Decimal("12.50"), {"BBB": Decimal("3"), "ZZZ": Decimal("0.5")})

    assert list(snapshot.items()) == [("AAA", 0), ("BBB", 3), ("ZZZ", 0.5), (CASH, 12.5)]


def test_ids_that_do_not_increase_are_refused_with_the_line(tmp_path):
    path = tmp_path / "position.jsonl"
    path.write_text("".join(json.dumps({"id": i, **record()}) + "\n" for i in (0, 1, 1)), encoding="utf-8")

    with pytest.raises(LedgerCorrupted, match=rf"{path} line 3: id 1 does not increase"):
        read_ledger(path)


def test_invalid_json_line_is_refused_with_the_line(tmp_path):
    ledger = new_ledger(tmp_path)
    with ledger.path.open("ab") as handle:
        handle.write(b'{"date": "2025-10-01", "id": 2, "positions": \n')

    with pytest.raises(LedgerCorrupted, match=rf"{ledger.path} line 3: not valid JSON"):
        read_ledger(ledger.path)


# -- torn lines ------------------------------------------------------------------------------------------------------
TORN = b'{"date": "2025-10-02", "id": 2, "positions": {"AAA": 1'


def test_torn_last_line_is_reported_with_its_line_number(tmp_path):
    ledger = new_ledger(tmp_path)
    with ledger.path.open("ab") as handle:
        handle.write(TORN)

    with pytest.raises(LedgerCorrupted, match=rf"{ledger.path} line 3: torn last line") as info:
        PositionLedger(ledger.path)
    assert "repair-ledger" in str(info.value)


def test_torn_line_seen_by_an_open_ledger_merges_nothing_and_blocks_appends(tmp_path):
    ledger = new_ledger(tmp_path)
    with ledger.path.open("ab") as handle:
        handle.write(json.dumps({"id": 2, **record(cash=5.0)}).encode() + b"\n" + TORN)
    before = ledger.path.read_bytes()

    with pytest.raises(LedgerCorrupted, match="line 4: torn last line"):
        ledger.refresh()
    assert (ledger.state.last_id, ledger.state.cash, ledger.state.records) == (1, Decimal("999.0"), 2)
    with pytest.raises(LedgerCorrupted):
        ledger.append_record(record())
    assert ledger.path.read_bytes() == before


def test_bad_line_after_good_new_lines_merges_none_of_them(tmp_path):
    ledger = new_ledger(tmp_path)
    with ledger.path.open("ab") as handle:
        handle.write(json.dumps({"id": 2, **record(cash=5.0)}).encode() + b"\n" + b"{half a record\n")

    for _ in range(2):  # and the same clear message again, not a confusing one about repeated ids
        with pytest.raises(LedgerCorrupted, match="line 4: not valid JSON"):
            ledger.refresh()
    assert (ledger.state.last_id, ledger.state.cash, ledger.state.records) == (1, Decimal("999.0"), 2)


def test_repair_moves_the_torn_line_aside_and_the_ledger_loads(tmp_path):
    ledger = new_ledger(tmp_path)
    complete = ledger.path.read_bytes()
    with ledger.path.open("ab") as handle:
        handle.write(TORN)

    message = repair_torn_tail(ledger.path)

    assert "moved a torn line" in message
    assert ledger.path.read_bytes() == complete
    assert Path(str(ledger.path) + ".torn").read_bytes() == TORN + b"\n"
    assert PositionLedger(ledger.path).state.last_id == 1


def test_repair_of_a_sound_ledger_changes_nothing(tmp_path):
    ledger = new_ledger(tmp_path)
    before = ledger.path.read_bytes()

    assert "nothing changed" in repair_torn_tail(ledger.path)
    assert ledger.path.read_bytes() == before
    assert not Path(str(ledger.path) + ".torn").exists()


@pytest.mark.slow
def test_repair_ledger_command_repairs_the_file(tmp_path):
    ledger = new_ledger(tmp_path)
    complete = ledger.path.read_bytes()
    with ledger.path.open("ab") as handle:
        handle.write(TORN)

    done = subprocess.run([PYTHON, "main.py", "repair-ledger", str(ledger.path)], cwd=PROJECT_DIR, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "moved a torn line" in done.stdout
    assert ledger.path.read_bytes() == complete


# -- two processes ---------------------------------------------------------------------------------------------------
APPENDS_PER_WRITER = 100


def _append_many(path: str, writer: str, start: multiprocessing.synchronize.Barrier | None = None) -> None:
    """Child process: wait for the other writer, then append through PositionLedger, each time adding 1 to CASH."""
    ledger = PositionLedger(Path(path), universe=("AAA",))
    if start is not None:
        start.wait(timeout=60)
    for n in range(APPENDS_PER_WRITER):
        ledger.append(lambda state, n=n: {"date": "2025-10-01", "positions": {CASH: float(state.cash + 1)},
                                          "writer": writer, "n": n})


@pytest.mark.slow
def test_two_processes_appending_at_once_write_whole_lines_with_contiguous_ids(tmp_path):
    ledger = PositionLedger(tmp_path / "position.jsonl", universe=("AAA",))
    ledger.append_record(record(cash=0.0))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    writers = [spawn.Process(target=_append_many, args=(str(ledger.path), name, start)) for name in ("a", "b")]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
    assert [p.exitcode for p in writers] == [0, 0]

    data = ledger.path.read_bytes()
    assert data.endswith(b"\n")
    lines = [json.loads(line) for line in data.split(b"\n")[:-1]]  # every line is valid JSON on its own
    total = 1 + 2 * APPENDS_PER_WRITER
    assert [r["id"] for r in lines] == list(range(total))
    for writer in ("a", "b"):
        assert [r["n"] for r in lines if r.get("writer") == writer] == list(range(APPENDS_PER_WRITER))
    assert lines[-1]["positions"][CASH] == 2 * APPENDS_PER_WRITER  # no read-modify-write was lost


@pytest.mark.slow
def test_open_ledger_picks_up_the_other_process_lines_before_appending(tmp_path):
    ledger = PositionLedger(tmp_path / "position.jsonl", universe=("AAA",))
    ledger.append_record(record(cash=0.0))
    other = multiprocessing.get_context("spawn").Process(target=_append_many, args=(str(ledger.path), "other"))
    other.start()
    other.join(timeout=120)
    assert other.exitcode == 0
    assert ledger.state.last_id == 0  # not yet synced

    written = ledger.append(lambda state: {"date": "2025-10-02", "positions": {CASH: float(state.cash + 1)}})

    assert written["id"] == APPENDS_PER_WRITER + 1
    assert ledger.state.cash == APPENDS_PER_WRITER + 1
    assert ledger.state.records == APPENDS_PER_WRITER + 2
