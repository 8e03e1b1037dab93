"""Several decision times a day in a replay: one session per model per trigger, in time order, exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from arena.config import ArenaConfig, ConfigError, load_config
from arena.desk_factory import load_market
from arena.run_loop import run_replay
from tests.conftest import default_config_dict

BUY_QQQ = [[{"name": "buy", "arguments": {"symbol": "QQQ", "amount": 1}}]]


def config_with(tmp_path: Path, run: dict, models: list[dict] | None = None, **sections) -> ArenaConfig:
    raw = default_config_dict()
    if "decision_times" in run:
        raw["run"].pop("decision_time")
    raw["run"] = {**raw["run"], **run}
    raw["models"] = models if models is not None else [
        {"signature": "twice", "kind": "scripted", "params": {"plan": BUY_QQQ}},
        {"signature": "baseline-buy-and-hold-qqq", "kind": "baseline", "strategy": "buy_and_hold",
         "limits": {"max_position_weight": 1.0}},
    ]
    raw.update(sections)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return load_config(path)


def sessions(out: Path, signature: str) -> list[dict]:
    path = out / signature / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ledger(out: Path, signature: str) -> list[dict]:
    return [json.loads(line) for line in (out / signature / "position" / "position.jsonl").read_text().splitlines()]


def replay(config: ArenaConfig, out: Path, start: date, end: date) -> None:
    market = load_market(config, start, end)
    asyncio.run(run_replay(config, market, config.enabled_models(), out, start, end, parallel=2))


@pytest.fixture(scope="module")
def two_times(tmp_path_factory) -> tuple[ArenaConfig, Path]:
    tmp = tmp_path_factory.mktemp("two-times")
    config = config_with(tmp, {"decision_times": ["10:00", "15:00"]})
    out = tmp / "out"
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    return config, out


def test_two_scheduled_times_run_one_session_each_in_time_order(two_times):
    _, out = two_times
    lines = sessions(out, "twice")
    assert [s["session_id"] for s in lines] == [
        "twice@2025-10-09T10:00-04:00", "twice@2025-10-09T15:00-04:00",
        "twice@2025-10-10T10:00-04:00", "twice@2025-10-10T15:00-04:00"]
    assert {s["trigger"] for s in lines} == {"scheduled"}
    assert all(s["status"] == "finished" and s["trades"] == 1 for s in lines)


def test_the_afternoon_session_fills_at_the_open_of_its_own_hourly_bar(two_times):
    _, out = two_times
    fills = [r for r in ledger(out, "twice") if (r.get("this_action") or {}).get("action") == "buy"]
    afternoon = [r for r in fills if r["time"] == "2025-10-10T15:00:00-04:00"]
    assert len(afternoon) == 1
    # the 15:00 hourly bar of QQQ on 2025-10-10 opens at 594.00; 5 bps slippage on a buy
    assert afternoon[0]["price"] == pytest.approx(594.00 * 1.0005, abs=0.01)


def test_a_baseline_acts_once_a_day_unless_configured_otherwise(two_times, tmp_path):
    _, out = two_times
    assert [s["trigger_time"] for s in sessions(out, "baseline-buy-and-hold-qqq")] == [
        "2025-10-09T10:00:00-04:00", "2025-10-10T10:00:00-04:00"]
    config = config_with(tmp_path, {"decision_times": ["10:00", "15:00"]}, models=[
        {"signature": "bh", "kind": "baseline", "strategy": "buy_and_hold", "every_trigger": True}])
    replay(config, tmp_path / "out", date(2025, 10, 9), date(2025, 10, 9))
    assert len(sessions(tmp_path / "out", "bh")) == 2


def test_a_rerun_repeats_no_finished_session_and_runs_only_the_missing_one(two_times, tmp_path):
    config, done = two_times
    out = tmp_path / "copy"
    import shutil

    shutil.copytree(done, out)
    path = out / "twice" / "sessions.jsonl"
    kept = path.read_text().splitlines()
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    assert path.read_text().splitlines() == kept  # nothing ran again
    # a crash during the last (15:00) session: its ledger fill is there, its session line is not
    path.write_text("\n".join(kept[:-1]) + "\n")
    before = ledger(out, "twice")
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    after = sessions(out, "twice")
    assert [s["session_id"] for s in after] == [s["session_id"] for s in sessions(done, "twice")]
    assert ledger(out, "twice") == before  # the re-sent order found its recorded fill: no second buy


@pytest.mark.parametrize(("run", "message"), [
    ({"decision_time": "11:00", "decision_times": ["10:00", "15:00"]}, "either decision_time"),
    ({"decision_times": ["10:00", "10:30"]}, "closer than min_interval_minutes"),
    ({"decision_times": ["10:00", "11:00", "12:00"], "max_sessions_per_day": 2}, "max_sessions_per_day is 2"),
    ({"decision_times": ["09:00", "15:00"]}, "decision_times 09:00 is outside market hours"),
])
def test_bad_decision_times_are_one_line_errors_on_load(tmp_path, run, message):
    with pytest.raises(ConfigError, match=message):
        config_with(tmp_path, run)


def test_several_times_on_days_without_intraday_bars_are_refused_with_the_data_to_fetch(tmp_path):
    config = config_with(tmp_path, {"decision_times": ["10:00", "15:00"]})
    with pytest.raises(ConfigError, match=r"no(ne)? on 2 of 2 days .*data fetch --start 2025-09-29 --end 2025-09-30 "
                                          r"--timeframe hour"):
        replay(config, tmp_path / "out", date(2025, 9, 29), date(2025, 9, 30))
    assert not (tmp_path / "out").exists()


def test_the_report_counts_sessions_trades_and_cost_per_trigger_type(two_times):
    from reports.build import build_report

    config, out = two_times
    config = config.model_copy(update={"report": config.report.model_copy(
        update={"random_traders": 0, "bootstrap_reps": 50})})
    rows = {r["signature"]: r for r in build_report(config, out, [], None, None).rows()}
    assert rows["twice"]["by_trigger"] == {"scheduled": {"sessions": 4, "trades": 4, "cost": 0.0, "tokens": 0}}
    assert rows["twice"]["exit_trades"] == 0
    assert rows["baseline-buy-and-hold-qqq"]["by_trigger"]["scheduled"]["sessions"] == 2
