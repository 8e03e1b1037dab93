"""How sure the leaderboard is: intervals and p-values on every row, significance across models, the random null,
training-cutoff awareness and a terminal table that fits 100 columns. Built on AI-Trader's six runs and the three
baselines, with few bootstrap resamples to stay fast."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from arena.config import load_config
from reports import ReportError
from reports.build import build_report
from reports.text import table_text
from reports.uncertainty import compare, entry_stats
from tests.report_support import AI_TRADER_RUNS, real_run

AI_TRADER = ["MiniMax-M2", "claude-3.7-sonnet", "deepseek-chat-v3.1", "gemini-2.5-flash", "gpt-5", "qwen3-max"]
BASELINES = ["baseline-buy-and-hold-qqq", "baseline-equal-weight", "baseline-momentum"]


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory: pytest.TempPathFactory):
    """The default config with 300 resamples and 40 random traders (the default is 1000 and 100)."""
    from tests.conftest import default_config_dict

    raw = default_config_dict()
    raw["report"] = {"bootstrap_reps": 300, "random_traders": 40}
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return load_config(path)


@pytest.fixture(scope="module")
def report(fast_config):
    return build_report(fast_config, real_run(), [AI_TRADER_RUNS], None, None)


def test_every_row_has_intervals_that_hold_its_estimate_and_a_p_value(report) -> None:
    rows = {r["signature"]: r for r in report.rows()}
    assert sorted(s for s, r in rows.items() if not r["benchmark"]) == sorted(AI_TRADER + BASELINES)
    for signature, row in rows.items():
        low, high = row["cumulative_return_ci"]
        assert low < row["cumulative_return"] < high, signature
        s_low, s_high = row["sharpe_ci"]
        assert s_low < row["sharpe"] < s_high, signature
        if signature == "benchmark-qqq-buy-and-hold":
            assert row["p_value_vs_benchmark"] is None
        else:
            assert 0 < row["p_value_vs_benchmark"] <= 1, signature
    for signature in AI_TRADER:
        assert rows[signature]["sessions_failed"] is None and rows[signature]["fees_recorded"] is False
    for signature in BASELINES:
        assert rows[signature]["sessions_failed"] == 0 and rows[signature]["fees_recorded"] is True


def test_the_baseline_that_holds_qqq_is_not_significantly_different_from_qqq(report) -> None:
    rows = {r["signature"]: r for r in report.rows()}
    assert rows["baseline-buy-and-hold-qqq"]["p_value_vs_benchmark"] > 0.05
    assert rows["baseline-buy-and-hold-qqq"]["beta"] == pytest.approx(1.0, abs=0.05)


def test_the_ranking_says_which_differences_are_significant(report) -> None:
    text = " ".join(report.significance)
    assert "Model confidence set (90%)" in text and "SPA test over all 9 models" in text
    comparison = report.comparison
    in_set = [e for e in report.models if e.in_confidence_set]
    assert report.models[0].in_confidence_set and len(in_set) == len(comparison.confidence_set)
    rows = {r["label"]: r for r in report.rows()}
    first, second = report.models[0].label, report.models[1].label
    assert rows[first]["probability_beats"][second] == pytest.approx(1 - rows[second]["probability_beats"][first],
                                                                     abs=0.01)
    beats = comparison.beats
    assert beats is not None and np.allclose(beats + beats.T + np.eye(len(beats)) * 0, 1 - np.eye(len(beats)), atol=0.01)


def test_intervals_are_the_same_every_time_and_do_not_move_when_models_are_added(fast_config) -> None:
    alone = build_report(fast_config, real_run(), [], None, None)
    again = build_report(fast_config, real_run(), [], None, None)
    together = build_report(fast_config, real_run(), [AI_TRADER_RUNS], None, None)
    pick = {e.label: e.stats.cumulative_ci for e in together.entries}
    for first, second in zip(alone.entries, again.entries, strict=True):
        assert first.stats == second.stats
        assert first.stats.cumulative_ci == pick[first.label]


def test_paired_test_finds_a_steady_edge_and_not_noise() -> None:
    rng = np.random.default_rng(7)
    qqq = rng.normal(0.001, 0.01, 40)
    edge = entry_stats("edge", qqq + 0.004 + rng.normal(0, 0.002, 40), qqq, reps=400, seed=1, per_period_rf=0.0,
                       periods_per_year=252)
    noise = entry_stats("noise", qqq + rng.normal(0, 0.002, 40), qqq, reps=400, seed=1, per_period_rf=0.0,
                        periods_per_year=252)
    assert edge.p_value is not None and edge.p_value < 0.01
    assert noise.p_value is not None and noise.p_value > 0.05


def test_model_confidence_set_drops_a_model_that_loses_every_day() -> None:
    rng = np.random.default_rng(3)
    good = rng.normal(0.002, 0.01, (30, 2))
    bad = rng.normal(-0.01, 0.002, (30, 1))
    result = compare(["a", "b", "loser"], np.hstack([good, bad]), None, reps=300, seed=1)
    assert result.excluded == ["loser"] and set(result.confidence_set) == {"a", "b"}
    assert result.probability("a", "loser") == 1.0


def test_each_model_is_placed_among_random_traders(report) -> None:
    for entry in report.models:
        assert entry.null is not None and len(entry.null.returns) == 40
        assert 0 <= entry.null.percentile <= 1
    spread = [e.null.returns for e in report.models if e.null is not None]
    assert all(np.std(r) > 0 for r in spread)  # random traders differ from each other
    rows = {r["signature"]: r for r in report.rows()}
    assert all(rows[s]["random_percentile"] is not None for s in AI_TRADER + BASELINES)


def test_knowledge_cutoff_splits_the_window_and_marks_the_ranking(write_config, capsys) -> None:
    config = load_config(write_config(report={"bootstrap_reps": 100, "random_traders": 0,
                                              "knowledge_cutoffs": {"gpt-5": "2025-10-15"}}))
    built = build_report(config, real_run(), [AI_TRADER_RUNS], None, None)
    gpt5 = next(r for r in built.rows() if r["signature"] == "gpt-5")
    assert (gpt5["knowledge_cutoff"], gpt5["pre_cutoff_days"], gpt5["post_cutoff_days"]) == ("2025-10-15", 11, 11)
    assert gpt5["may_remember"] is True
    total = (1 + gpt5["pre_cutoff_return"]) * (1 + gpt5["post_cutoff_return"]) - 1
    assert total == pytest.approx(gpt5["cumulative_return"], abs=1e-7)
    text = table_text(built)
    assert "Before and after each model's training cutoff" in text and "may remember this period" in text
    assert next(r for r in built.rows() if r["signature"] == "qwen3-max")["knowledge_cutoff"] is None


def test_post_cutoff_ranks_only_on_days_after_every_cutoff(write_config) -> None:
    config = load_config(write_config(report={"bootstrap_reps": 100, "random_traders": 0,
                                              "knowledge_cutoffs": {"gpt-5": "2025-10-15", "qwen3-max": "2025-10-08"}}))
    built = build_report(config, real_run(), [AI_TRADER_RUNS], None, None, post_cutoff=True)
    assert (built.start, built.end, built.trading_days) == (date(2025, 10, 16), date(2025, 10, 30), 11)
    assert all(not r["may_remember"] for r in built.rows() if r["knowledge_cutoff"])
    assert any("after the latest training cutoff 2025-10-15" in n for n in built.notes)


def test_post_cutoff_without_any_cutoff_says_how_to_set_one(fast_config) -> None:
    with pytest.raises(ReportError, match="models\\[\\].knowledge_cutoff"):
        build_report(fast_config, real_run(), [], None, None, post_cutoff=True)


def test_models_knowledge_cutoff_is_a_date_in_the_config(write_config) -> None:
    from tests.conftest import default_config_dict

    models = default_config_dict()["models"]
    models[0]["knowledge_cutoff"] = "2025-10-10"
    config = load_config(write_config(models=models, report={"bootstrap_reps": 100, "random_traders": 0}))
    assert config.models[0].knowledge_cutoff == date(2025, 10, 10)
    row = next(r for r in build_report(config, real_run(), [], None, None).rows()
               if r["signature"] == models[0]["signature"])
    assert (row["pre_cutoff_days"], row["post_cutoff_days"]) == (8, 14)


def test_terminal_table_fits_100_columns_with_every_name_distinguishable(report) -> None:
    text = table_text(report)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    roomy = table_text(report, width=200).splitlines()  # laid out with room to spare: nothing is cut at 100
    table_lines = roomy[: next(i for i, line in enumerate(roomy) if line.startswith("Model confidence set"))]
    assert max(len(line.rstrip()) for line in table_lines) <= 100
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("Model confidence set"))]
    names = [line[3:26].strip().rstrip("‡†") for line in table if line[:3].strip().isdigit()]
    assert len(names) == 9 and len(set(names)) == 9
    assert "buy-and-hold-qqq" in names and "deepseek-chat-v3.1" in names
    assert all("…" not in n or len(n) <= 22 for n in names)


def test_wide_table_shows_every_column(report) -> None:
    text = table_text(report, wide=True)
    for column in ("Sharpe 95% CI", "Sortino", "Calmar", "alpha", "beta", "IR", "tokens in/out", "win rate"):
        assert column in text
    assert "baseline-buy-and-hold-qqq " in text and "-q…" not in text
    assert "not recorded" in text  # AI-Trader's fees


def test_csv_writes_intervals_as_json_pairs(report) -> None:
    from reports.text import render_csv

    first = render_csv(report).splitlines()[1]
    assert '"[' in first


def test_report_command_takes_post_cutoff_and_wide() -> None:
    from click.testing import CliRunner

    from main import cli

    runner = CliRunner()
    done = runner.invoke(cli, ["report", "--out", str(real_run()), "--post-cutoff"])
    assert done.exit_code == 2 and "error: --post-cutoff needs a training cutoff" in done.output
    wide = runner.invoke(cli, ["report", "--out", str(real_run()), "--wide"])
    assert wide.exit_code == 0 and "Sharpe 95% CI" in wide.output


def test_cost_card_appears_only_when_a_run_paid_for_tokens(report) -> None:
    from reports.html import cards

    assert "LLM cost" not in cards(report)
    paying = next(e for e in report.models if e.has_sessions)
    saved = [dict(s) for s in paying.sessions]
    try:
        for session in paying.sessions:
            session["cost"] = 0.25
        assert "LLM cost" in cards(report) and f"${0.25 * len(saved):,.2f}" in cards(report)
    finally:
        paying.sessions[:] = saved


def test_a_short_window_never_headlines_an_annualized_figure(report) -> None:
    from reports.html import cards, leaderboard

    assert report.short and "Sharpe" not in cards(report) and "Ann" not in cards(report)
    first_row = leaderboard(report).split("</tr>")[1]
    assert 'class="n annual"' in first_row and "<small>95% " in first_row


def test_identical_runs_are_one_model_to_the_confidence_set(recwarn) -> None:
    rng = np.random.default_rng(5)
    same = rng.normal(0.001, 0.01, (25, 1))
    result = compare(["a", "a-again", "worse"], np.hstack([same, same, same - 0.02]), same[:, 0], reps=200, seed=1)
    assert result.confidence_set == ["a", "a-again"] and result.excluded == ["worse"]
    assert result.spa_pvalue is not None and not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
