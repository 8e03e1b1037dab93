"""Work the report does in a second process (ledgers while prices load, the null while the bootstrap runs) gives
what the same work gives inline, errors included."""

from __future__ import annotations

import os

import pytest

from arena.config import load_config
from reports import ReportError
from reports.beside import INLINE_ENV, beside, can_fork
from reports.build import build_report
from tests.report_support import real_run


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def _refuse(folder: str) -> None:
    raise ReportError(f"{folder}: no such run folder")


def test_work_beside_runs_in_another_process_and_hands_back_its_result_or_its_error(monkeypatch):
    monkeypatch.setenv(INLINE_ENV, "0")  # whatever the machine's load
    if not can_fork():
        pytest.skip("one core, no fork or other threads here: the work runs inline")
    pid, doubled = beside(_pid_and, 21).result()
    assert doubled == 42 and pid != os.getpid()
    with pytest.raises(ReportError, match="no such run folder"):
        beside(_refuse, "/nowhere").result()
    monkeypatch.setenv(INLINE_ENV, "1")
    assert beside(_pid_and, 21).result() == (os.getpid(), 42)
    with pytest.raises(ReportError, match="no such run folder"):
        beside(_refuse, "/nowhere").result()


def test_the_report_is_the_same_built_with_a_second_process_or_without(write_config, monkeypatch):
    config = load_config(write_config(report={"bootstrap_reps": 100, "random_traders": 20}))
    monkeypatch.setenv(INLINE_ENV, "0")
    beside_rows = build_report(config, real_run(), [], None, None).rows()
    monkeypatch.setenv(INLINE_ENV, "1")
    inline = build_report(config, real_run(), [], None, None)
    assert inline.rows() == beside_rows
    assert all(e.null is not None for e in inline.models)


def test_claims_hand_out_each_item_once_from_either_end():
    from reports.beside import Claims

    claims = Claims(5)
    taken = [claims.take(), claims.take(from_back=True), claims.take(), claims.take(from_back=True), claims.take(),
             claims.take(), claims.take(from_back=True)]
    assert taken == [0, 4, 1, 3, 2, None, None]
