"""`main.py audit`: one line per look-ahead finding and exit 1, or a summary and exit 0; clean on the default config."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena.config import load_config
from arena.desk_factory import load_market
from arena.lookahead import audit
from arena.run_loop import run_replay
from main import cli
from tests.conftest import PROJECT_DIR
from tests.test_news_lint import LIVE_PAGE

BUNDLED_NEWS = PROJECT_DIR / "data" / "news" / "news_sample.jsonl"
DAILY_HEADER = "date,symbol,open,high,low,close,volume\n"


def run_cli(*args: str):
    return CliRunner().invoke(cli, ["audit", *args])


def test_the_default_config_audits_clean():
    result = run_cli()

    assert result.exit_code == 0, result.output
    assert result.output.startswith("audit clean: ") and "68 news items" in result.output
    assert len(result.output.splitlines()) == 1


def test_a_planted_live_updates_item_is_flagged_by_file_and_line(write_config, tmp_path):
    corpus = tmp_path / "news.jsonl"
    lines = BUNDLED_NEWS.read_text(encoding="utf-8").splitlines()
    lines.insert(41, json.dumps(LIVE_PAGE))
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli("--config", str(write_config(news={"source": "local", "path": str(corpus)})))

    assert result.exit_code == 1
    flagged = [line for line in result.output.splitlines() if ": live-page: " in line]
    assert flagged and flagged[0].startswith(f"{corpus}:42: live-page: 'Dow drops almost 900 points")


def tiny_prices(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "daily.csv"
    path.write_text(DAILY_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def daily_config(write_config, daily: Path, **run):
    return load_config(write_config(data={"daily_prices": str(daily), "hourly_prices": None}, universe=["AAA", "QQQ"],
                                    news={"source": "none"},
                                    run={"start": "2025-10-01", "end": "2025-10-03", **run}))


def test_gaps_split_sized_jumps_and_decision_times_without_intraday_bars_are_findings(write_config, tmp_path):
    daily = tiny_prices(tmp_path, [
        "2025-10-01,AAA,100,101,99,100,1", "2025-10-03,AAA,50,51,49,50,1",  # 10-02 missing; a 1:2 jump
        "2025-10-01,QQQ,600,601,599,600,1", "2025-10-02,QQQ,600,601,599,600,1", "2025-10-03,QQQ,600,601,599,600,1",
    ])

    findings = audit(daily_config(write_config, daily)).findings

    assert findings[0] == (f"{daily}: AAA has no daily bar on 2025-10-02, a session inside the data: fetch it "
                           "(main.py data fetch) or remove the symbol")
    assert "AAA opens 2025-10-03 at 50 after a close of 100 on 2025-10-01 (x0.50): a split-sized jump" in findings[1]
    assert findings[2].startswith("run.decision_time 10:00 on 2025-10-01..2025-10-03 (3 sessions): the data has no "
                                  "price between 09:30 and 10:00")
    assert "main.py data fetch --start 2025-10-01 --end 2025-10-03 --timeframe hour" in findings[2]
    assert len(findings) == 3
    assert audit(daily_config(write_config, daily, decision_time="09:30")).findings == findings[:2]


def test_a_price_file_the_loader_refuses_is_one_finding(write_config, tmp_path):
    daily = tiny_prices(tmp_path, ["2025-10-01,AAA,100,101,99,100,1", "2025-10-01,AAA,100,101,99,100,1",
                                   "2025-10-01,QQQ,600,601,599,600,1"])

    assert audit(daily_config(write_config, daily)).findings == [
        f"{daily} line 3: duplicate bar (symbol AAA, 2025-10-01); fix or remove that row"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """Two sessions of a model that buys, reads news, prices and history (a scripted plan)."""
    out = tmp_path_factory.mktemp("audited") / "run"
    raw = json.loads((PROJECT_DIR / "configs" / "default_config.json").read_text(encoding="utf-8"))
    raw["models"] = [{"signature": "planner", "kind": "scripted", "params": {"plan": [[
        {"name": "get_price", "arguments": {"symbols": ["AAPL", "QQQ"]}},
        {"name": "get_history", "arguments": {"symbol": "AAPL", "days": 3}},
        {"name": "search_news", "arguments": {"limit": 5}},
        {"name": "buy", "arguments": {"symbol": "AAPL", "amount": 2}}]]}}]
    config_path = out.parent / "config.json"
    config_path.write_text(json.dumps(raw), encoding="utf-8")
    config = load_config(config_path)
    asyncio.run(run_replay(config, load_market(config), config.enabled_models(), out, date(2025, 10, 9),
                           date(2025, 10, 10), parallel=1))
    return config, out


def copy_run(finished_run, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "run"
    shutil.copytree(finished_run[1], target)
    return target


def test_a_finished_run_audits_clean(finished_run):
    config, out = finished_run
    result = audit(config, out)

    assert result.findings == []
    assert result.checked["fills"] == 2 and result.checked["tool results"] >= 6


def test_a_fill_at_another_price_than_the_one_visible_is_flagged_by_ledger_line(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path)
    ledger = run / "planner" / "position" / "position.jsonl"
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    records[1]["price"] = 256.0  # as if filled at an earlier price
    ledger.write_text("".join(json.dumps(r) + "\n" for r in records))

    [finding] = audit(finished_run[0], run).findings

    assert finding.startswith(f"{ledger}:2: buy AAPL filled at 256.0 at 2025-10-09T10:00:00-04:00, but the price "
                              "visible then was")


def test_tool_results_with_values_from_after_the_instant_are_flagged_by_log_line(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path)
    log = run / "planner" / "log" / "2025-10-09" / "log.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    for event in events:
        if event["type"] != "tool":
            continue
        result = json.loads(event["result"])
        if event["name"] == "get_history":
            result["bars"][-1]["close"] = 1.0  # today's close, before the close
        if event["name"] == "search_news":
            result["items"].insert(0, {"title": "Dow drops almost 900 points", "published_at": "2025-10-10T16:00:00-04:00"})
        if event["name"] == "get_price":
            result["prices"]["QQQ"]["as_of"] = "2025-10-09T11:00:00-04:00"
        event["result"] = json.dumps(result)
    log.write_text("".join(json.dumps(e) + "\n" for e in events))

    findings = audit(finished_run[0], run).findings

    assert len(findings) == 3 and all(f.startswith(f"{log}:") for f in findings)
    assert any("get_price: QQQ price as of 2025-10-09T11:00:00-04:00, after the session's instant" in f for f in findings)
    assert any("get_history: AAPL 2025-10-09 shows ['close'] before that session closed" in f for f in findings)
    assert any("search_news: 'Dow drops almost 900 points' has published_at 2025-10-10T16:00:00-04:00" in f
               for f in findings)


def test_audit_of_a_missing_run_folder_is_a_one_line_error(tmp_path):
    result = run_cli("--out", str(tmp_path / "absent"))

    assert result.exit_code == 2 and result.output.strip().startswith("error: --out")


def test_a_run_says_which_days_trade_at_an_earlier_instant_than_the_decision_time(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--start", "2025-09-30", "--end", "2025-10-01", "--models",
                                      "baseline-buy-and-hold-qqq", "--out", str(tmp_path / "run")])

    assert result.exit_code == 0, result.output
    assert ("note: on 1 of 2 days (2025-09-30) the data has no price at 10:00: those sessions trade at, and read "
            "news up to, 09:30") in result.output
