"""The report command on a real replay run: every format, AI-Trader side by side, windows and conventions."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from matplotlib.image import imread

from agent_tools.market_data import load_market_data
from arena.config import DEFAULT_CONFIG, ArenaConfig, load_config
from arena.leaderboard import standings
from reports.build import ROW_KEYS, build_report
from reports.cli import run_report
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.report_support import AI_TRADER_RUNS, real_run

BASELINES = ["baseline-buy-and-hold-qqq", "baseline-equal-weight", "baseline-momentum"]
BENCHMARKS = ["benchmark-equal-weight-universe", "benchmark-qqq-buy-and-hold"]
AI_TRADER = ["MiniMax-M2", "claude-3.7-sonnet", "deepseek-chat-v3.1", "gemini-2.5-flash", "gpt-5", "qwen3-max"]


@pytest.fixture(scope="module")
def run_dir() -> Path:
    return real_run()


def report_text(capsys, config: ArenaConfig, run_dir: Path, fmt: str, runs: list[Path] | None = None,
                start: date | None = None, end: date | None = None) -> str:
    run_report(config, run_dir, runs or [], start, end, fmt, None)
    return capsys.readouterr().out


def test_table_lists_every_model_benchmark_and_the_conventions(capsys, default_config, run_dir: Path) -> None:
    out = report_text(capsys, default_config, run_dir, "table")
    for name in ["buy-and-hold-qqq", *BASELINES[1:], "QQQ buy-and-hold", "Equal-weight universe"]:
        assert name in out  # the 100-column table drops a long baseline name's `baseline-` (its kind says it)
    assert "252 trading sessions a year; risk-free rate 0.00% a year" in out
    assert "Win rate = share of sells with positive realized P&L" in out


def test_json_has_one_object_per_model_and_benchmark_with_stable_keys(capsys, default_config, run_dir: Path) -> None:
    rows = json.loads(report_text(capsys, default_config, run_dir, "json"))
    assert sorted(r["signature"] for r in rows) == sorted(BASELINES + BENCHMARKS)
    for row in rows:
        assert tuple(row) == ROW_KEYS
        assert row["benchmark"] is (row["signature"] in BENCHMARKS)
        assert row["baseline"] is (row["signature"] in BASELINES)
        assert (row["periods_per_year"], row["risk_free_rate"]) == (252, 0.0)
        assert (row["start"], row["end"], row["trading_days"]) == ("2025-10-01", "2025-10-30", 22)
        for key in ("final_value", "cumulative_return", "annualized_return", "volatility", "sharpe", "sortino",
                    "max_drawdown"):
            assert isinstance(row[key], float), key
    ranks = sorted(r["rank"] for r in rows if not r["benchmark"])
    assert ranks == [1, 2, 3]
    models = [r for r in rows if not r["benchmark"]]
    assert all(isinstance(r[k], int) for r in models for k in ("trades", "prompt_tokens", "completion_tokens"))
    assert all(isinstance(r["fees"], float) and isinstance(r["cost"], float) for r in models)


def test_json_is_the_same_twice(capsys, default_config, run_dir: Path) -> None:
    assert report_text(capsys, default_config, run_dir, "json") == report_text(capsys, default_config, run_dir, "json")


def test_final_value_agrees_with_the_run_leaderboard(capsys, default_config, run_dir: Path) -> None:
    """The run's own end-of-run leaderboard (separate code) marks the last position at the last close too."""
    rows = {r["signature"]: r for r in json.loads(report_text(capsys, default_config, run_dir, "json"))}
    data = load_market_data(default_config.path(default_config.data.daily_prices), None,
                            tuple(default_config.universe))
    for standing in standings(run_dir, BASELINES, data, date(2025, 10, 30), set(BASELINES)):
        assert rows[standing.signature]["final_value"] == pytest.approx(standing.final_value, abs=1e-3)


def test_csv_has_the_json_keys_as_columns(capsys, default_config, run_dir: Path) -> None:
    table = list(csv.DictReader(io.StringIO(report_text(capsys, default_config, run_dir, "csv"))))
    assert tuple(table[0]) == ROW_KEYS and len(table) == 5
    assert {r["periods_per_year"] for r in table} == {"252"}


def test_ai_trader_runs_share_the_leaderboard_window_prices_and_conventions(capsys, default_config,
                                                                            run_dir: Path) -> None:
    rows = json.loads(report_text(capsys, default_config, run_dir, "json", [AI_TRADER_RUNS]))
    assert sorted(r["signature"] for r in rows) == sorted(BASELINES + BENCHMARKS + AI_TRADER)
    theirs = [r for r in rows if r["source"] == "ai-trader"]
    assert len(theirs) == 6 and {r["start"] for r in theirs} == {"2025-10-01"}
    assert all(r["trades"] > 0 and r["fees"] == 0.0 and r["sessions"] is None for r in theirs)
    assert all(r["baseline"] is False and r["benchmark"] is False for r in theirs)
    assert sorted(r["rank"] for r in rows if r["rank"]) == list(range(1, 10))


def test_start_and_end_restrict_every_row(capsys, default_config, run_dir: Path) -> None:
    rows = json.loads(report_text(capsys, default_config, run_dir, "json", None, date(2025, 10, 6), date(2025, 10, 17)))
    assert {(r["start"], r["end"], r["trading_days"]) for r in rows} == {("2025-10-06", "2025-10-17", 10)}
    bh = next(r for r in rows if r["signature"] == "baseline-buy-and-hold-qqq")
    assert bh["trades"] == 0 and bh["sessions"] == 10  # its only trade was on 10-01


def test_conventions_come_from_the_config(capsys, write_config, run_dir: Path) -> None:
    config = load_config(write_config(report={"periods_per_year": 250, "risk_free_rate": 0.03}))
    rows = json.loads(report_text(capsys, config, run_dir, "json"))
    assert {(r["periods_per_year"], r["risk_free_rate"]) for r in rows} == {(250, 0.03)}
    assert "250 trading sessions a year; risk-free rate 3.00% a year" in report_text(capsys, config, run_dir, "table")


@pytest.fixture(scope="module")
def html_page(default_config, run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("html") / "report.html"
    run_report(default_config, run_dir, [AI_TRADER_RUNS], None, None, "html", path)
    return path.read_text(encoding="utf-8")


def test_html_is_self_contained_with_charts_reasons_and_sessions(html_page: str) -> None:
    page = html_page
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 6 + len(BASELINES + AI_TRADER)  # null, equity, drawdown, rolling Sharpe, exposure,
    for encoded in images:  # return distribution, and one holdings chart per model
        assert imread(io.BytesIO(base64.b64decode(encoded)), format="png").shape[1] > 600
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page and "@import" not in page
    for name in BASELINES + AI_TRADER:
        assert f'id="model-{name.lower().replace(".", "-")}"' in page
    assert "momentum: target 20.00% of equity" in page  # the reason given at the time
    assert "Sessions (22)" in page and "252 trading sessions a year" in page


def test_main_py_report_prints_parseable_json_without_importing_what_only_charts_need(run_dir: Path) -> None:
    done = subprocess.run([PYTHON, "-X", "importtime", "main.py", "report", "--config", str(DEFAULT_CONFIG), "--out",
                           str(run_dir), "--format", "json"], cwd=PROJECT_DIR, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 5
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "arch.bootstrap" in imported  # the intervals are arch's
    assert not {m for m in imported if m.split(".")[0] in ("matplotlib", "statsmodels")}  # charts, arch's GARCH


def test_build_report_leaves_the_run_folder_untouched(default_config, run_dir: Path) -> None:
    before = sorted((p, p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file())
    build_report(default_config, run_dir, [AI_TRADER_RUNS], None, None)
    assert sorted((p, p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file()) == before


def test_html_reads_like_a_tearsheet(html_page: str) -> None:
    page = html_page
    board = page[page.index('id="leaderboard"'):page.index('id="significance"')]
    first_table = board[: board.index("</table>")]
    assert first_table.count(">no fees</span>") == len(AI_TRADER)  # every fee-less ledger marked on its row
    assert first_table.count('class="n annual"') == len(BASELINES + AI_TRADER) + 2  # Sharpe greyed: 22 sessions
    assert "<small>95% " in first_table
    for heading in ("Which differences are real", "A null to beat: random traders", "Rolling Sharpe",
                    "Risk, annualized, and relative to QQQ", "Alpha vs QQQ", "Information ratio"):
        assert heading in page
    assert page.count("<th class='n'>Worst drawdowns</th>") == len(BASELINES + AI_TRADER)
    assert "LLM cost" not in page  # no run paid for tokens: no cost card
