"""Where streams run does not change what they write: one process, worker processes (`--workers`) and Ray tasks
(`--executor ray`, an optional extra) give the same ledgers byte for byte, and each resumes as a local run does."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path

import pytest

from arena.config import ConfigError, load_config
from arena.executors import run_on_ray, spread, stream_groups
from arena.run_loop import run_replay, streams_for

START, END = date(2025, 10, 1), date(2025, 10, 7)
MODELS = [
    {"signature": "bh", "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
     "limits": {"max_position_weight": 1.0}},
    {"signature": "ew", "kind": "baseline", "strategy": "equal_weight"},
    {"signature": "mom", "kind": "baseline", "strategy": "momentum"},
]


def ledgers(out: Path) -> dict[str, bytes]:
    return {p.parent.parent.name: p.read_bytes() for p in sorted(out.glob("*/position/position.jsonl"))}


def replay(config, market, out: Path, end: date = END, **options) -> list:
    return asyncio.run(run_replay(config, market, config.enabled_models(), out, START, end, parallel=2, **options))


def test_worker_processes_write_the_same_ledgers_as_one_process(write_config, market, tmp_path):
    config = load_config(write_config(models=MODELS))
    one = replay(config, market, tmp_path / "one", workers=1)
    two = replay(config, market, tmp_path / "two", workers=2)

    assert set(ledgers(tmp_path / "one")) == {"bh", "ew", "mom"}
    assert ledgers(tmp_path / "two") == ledgers(tmp_path / "one")
    assert [(p.label, p.done, p.trades, len(p.results)) for p in two] == [(p.label, p.done, p.trades, len(p.results)) for p in one]
    assert all(p.trades for p in two)  # they traded, so equal ledgers mean something


def test_workers_resume_a_run_where_it_stopped(write_config, market, tmp_path):
    config = load_config(write_config(models=MODELS))
    replay(config, market, tmp_path / "whole", workers=1)
    replay(config, market, tmp_path / "resumed", end=date(2025, 10, 3), workers=1)
    again = replay(config, market, tmp_path / "resumed", workers=2)

    assert ledgers(tmp_path / "resumed") == ledgers(tmp_path / "whole")
    assert {p.skipped for p in again} == {3}  # Oct 1-3 were not run again


def test_streams_that_share_a_spending_cap_stay_in_one_worker(write_config):
    paid = {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "NO_KEY"}
    config = load_config(write_config(models=[*MODELS, {**paid, "signature": "a"}, {**paid, "signature": "b"}]))
    streams = streams_for(config.enabled_models(), Path("out"), repeats=2)

    by_model = stream_groups(config, streams)
    assert [[s.label for s in g] for g in by_model[:2]] == [["a [repeat-1]", "a [repeat-2]"], ["b [repeat-1]", "b [repeat-2]"]]
    assert all(len(g) == 1 for g in by_model[2:])  # free streams go one by one

    capped = load_config(write_config(models=[*MODELS, {**paid, "signature": "a"}, {**paid, "signature": "b"}],
                                      run={"max_cost_usd": 5.0}))
    assert len(stream_groups(capped, streams)[0]) == 4  # the run's cap is shared by every paid stream
    bins = spread(stream_groups(capped, streams), 2)
    assert sorted(len(b) for b in bins) == [5, 5] and sum(len(b) for b in bins) == len(streams)


def test_ray_missing_is_a_one_line_error_naming_the_extra(write_config, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    config = load_config(write_config(models=MODELS))
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        run_on_ray(config, [], [START], 1, None, tmp_path, None, None)


@pytest.mark.slow
def test_ray_tasks_write_the_same_ledgers_and_resume(write_config, market, tmp_path):
    ray = pytest.importorskip("ray")
    config = load_config(write_config(models=MODELS))
    replay(config, market, tmp_path / "local", workers=1)
    replay(config, market, tmp_path / "ray", end=date(2025, 10, 2), workers=1)  # a run cut short, resumed on Ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        resumed = replay(config, market, tmp_path / "ray", executor="ray")
    finally:
        ray.shutdown()

    assert ledgers(tmp_path / "ray") == ledgers(tmp_path / "local")
    assert {p.skipped for p in resumed} == {2} and all(p.stopped is None for p in resumed)
