"""The same `report` covers live runs: live sessions archive the completed daily bars they fetched, and the report
values live ledgers with them (the bundled prices end before any live day)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from agent_tools.market_calendar import parse_instant
from agent_tools.price_archive import archive_path
from arena.live import run_live
from main import cli
from tests.fakes.fake_alpaca import SMALL_UNIVERSE, live_config


def test_a_live_session_archives_the_completed_daily_bars_it_saw(alpaca, tmp_path: Path):
    config, out = live_config(tmp_path / "c.json", alpaca, broker="paper"), tmp_path / "out"

    assert run_live(str(config), str(out), parse_instant("2025-11-26T10:00-05:00"), False, None) == 0

    with archive_path(out).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["symbol"] for r in rows} == set(SMALL_UNIVERSE)
    assert max(r["date"] for r in rows) == "2025-11-25"  # the day before the session: today's bar is not complete


def test_report_values_a_live_run_with_the_archived_prices(alpaca, tmp_path: Path):
    config, out = live_config(tmp_path / "c.json", alpaca, broker="paper"), tmp_path / "out"
    for now in ("2025-11-25T10:00-05:00", "2025-11-26T10:00-05:00", "2025-11-28T10:00-05:00"):
        assert run_live(str(config), str(out), parse_instant(now), False, None) == 0

    result = CliRunner().invoke(cli, ["report", "--config", str(config), "--out", str(out), "--format", "json"])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    model = next(r for r in rows if r["signature"] == "scripted-a")
    assert model["start"] == "2025-11-25" and model["end"] == "2025-11-26"
    assert model["trades"] == 1 and model["final_value"] > 0
    assert any(r["benchmark"] for r in rows)
