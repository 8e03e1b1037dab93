"""Our metrics against an independent implementation (empyrical-reloaded, a test-only dependency) on a real run
plus AI-Trader's ledgers, with a non-zero risk-free rate and a non-default year length so conventions are exercised."""

from __future__ import annotations

import json

import pytest

from arena.config import load_config
from reports.build import build_report
from reports.metrics import daily_returns
from tests.conftest import default_config_dict
from tests.report_support import AI_TRADER_RUNS, real_run

ep = pytest.importorskip("empyrical", reason="empyrical-reloaded not installed: pip install -e '.[test]'")

PERIODS, RISK_FREE = 250, 0.03


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("empyrical")
    raw = default_config_dict()
    raw["report"] = {"periods_per_year": PERIODS, "risk_free_rate": RISK_FREE}
    path = folder / "config.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    config = load_config(path)
    assert (config.report.periods_per_year, config.report.risk_free_rate) == (PERIODS, RISK_FREE)
    return build_report(config, real_run(), [AI_TRADER_RUNS], None, None)


def test_every_entry_matches_empyrical(report) -> None:
    assert len(report.entries) == 11
    rf = RISK_FREE / PERIODS
    for entry in report.entries:
        returns = daily_returns(entry.curve.equity)
        perf = entry.perf
        label = entry.label
        assert perf.cumulative_return == pytest.approx(ep.cum_returns_final(returns), rel=1e-9), label
        assert perf.annualized_return == pytest.approx(ep.annual_return(returns, annualization=PERIODS), rel=1e-9)
        assert perf.volatility == pytest.approx(ep.annual_volatility(returns, annualization=PERIODS), rel=1e-9)
        assert perf.sharpe == pytest.approx(ep.sharpe_ratio(returns, risk_free=rf, annualization=PERIODS), rel=1e-9)
        assert perf.sortino == pytest.approx(
            ep.sortino_ratio(returns, required_return=rf, annualization=PERIODS), rel=1e-9), label
        assert perf.drawdown.depth == pytest.approx(ep.max_drawdown(returns), rel=1e-9), label
        assert perf.calmar == pytest.approx(ep.calmar_ratio(returns, annualization=PERIODS), rel=1e-9), label


def test_alpha_and_beta_against_qqq_match_empyrical(report) -> None:
    rf = RISK_FREE / PERIODS
    qqq = daily_returns(report.qqq.curve.equity)
    for entry in report.models:
        returns = daily_returns(entry.curve.equity)
        alpha, beta = ep.alpha_beta(returns, qqq, risk_free=rf, annualization=PERIODS)
        assert entry.relative.beta == pytest.approx(beta, rel=1e-9), entry.label
        assert entry.relative.alpha == pytest.approx(alpha, rel=1e-9), entry.label
