"""One convention in every report window: models and benchmarks both start from the close before its first session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arena.config import load_config
from reports.build import build_report
from tests.report_support import record, tiny_config, write_ledger


@pytest.fixture
def config(tmp_path: Path, write_config):
    return load_config(tiny_config(tmp_path, write_config))


def test_a_sub_window_starts_models_and_benchmarks_at_the_same_close(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "idle", [record("2025-10-01", 10000, session="i1")] + [
        record(day, 10000, "no_trade", session=day) for day in ("2025-10-02", "2025-10-08")])

    report = build_report(config, tmp_path / "run", [], date(2025, 10, 7), None)

    curves = {e.signature: e.curve.equity for e in report.entries}
    assert report.base_day == date(2025, 10, 6)
    assert all(list(c.index) == [date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 8)] for c in curves.values())
    # QQQ: 10,000 at the 10-06 close of 103 (not the 10-07 open of 103 by coincidence: the same here)
    assert list(curves["benchmark-qqq-buy-and-hold"]) == pytest.approx([10000, 10000 * 104 / 103, 10000 * 102 / 103])
    # BBB has no bar on 10-06: bought at its last close (22, from 10-02), not at the 10-07 open of 21
    assert list(curves["benchmark-equal-weight-universe"]) == pytest.approx(
        [10000, 5000 * 12 / 10 + 5000 * 21 / 22, 5000 * 12 / 10 + 5000 * 24 / 22])
    assert any("measured from the close of 2025-10-06, the session before the window's first (2025-10-07)" in n
               for n in report.notes)
