"""Metrics against values computed by hand on small series: one behaviour per test."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from reports.equity import Trade
from reports.metrics import (
    Conventions,
    annualized_return,
    annualized_volatility,
    average_exposure,
    calmar_ratio,
    cumulative_return,
    daily_returns,
    max_drawdown,
    performance,
    sharpe_ratio,
    sortino_ratio,
    turnover,
    win_rate,
)

DAYS = [date(2025, 10, d) for d in (1, 2, 3, 6, 7, 8)]


def curve(*values: float) -> pd.Series:
    return pd.Series(values, index=DAYS[: len(values)], dtype=float)


def trade(i: int, side: str, qty: float, price: float, fee: float = 0.0, symbol: str = "AAA") -> Trade:
    return Trade(ledger_id=i, day=DAYS[0], time=None, side=side, symbol=symbol, quantity=qty, price=price, fee=fee,
                 session_id=None)


def test_daily_returns_are_simple_returns_from_the_base_point() -> None:
    assert daily_returns(curve(100, 110, 99)) == pytest.approx([0.10, -0.10])


def test_cumulative_return_is_final_over_base() -> None:
    assert cumulative_return(curve(100, 110, 99)) == pytest.approx(-0.01)


def test_annualized_return_compounds_over_the_number_of_returns() -> None:
    # 2 returns of +10% with 4 periods a year: 1.21 ** (4 / 2) - 1
    assert annualized_return(curve(100, 110, 121), 4) == pytest.approx(1.21**2 - 1)


def test_volatility_is_sample_std_times_sqrt_periods() -> None:
    # returns +10%, -10%: mean 0, sample variance (0.01 + 0.01) / 1 = 0.02
    assert annualized_volatility(np.array([0.1, -0.1]), 4) == pytest.approx(math.sqrt(0.02) * 2)


def test_sharpe_subtracts_the_per_period_risk_free_rate() -> None:
    # rf 4% a year over 4 periods = 1% a period; excess 1%, -1%, 3%: mean 1%, sample std 2%; * sqrt(4)
    conventions = Conventions(periods_per_year=4, risk_free_rate=0.04)
    assert sharpe_ratio(np.array([0.02, 0.0, 0.04]), conventions) == pytest.approx(1.0)


def test_sortino_divides_by_downside_deviation_over_all_periods() -> None:
    # same excess returns: downside deviation sqrt((0 + 0.0001 + 0) / 3)
    conventions = Conventions(periods_per_year=4, risk_free_rate=0.04)
    expected = 0.01 / math.sqrt(0.0001 / 3) * 2
    assert sortino_ratio(np.array([0.02, 0.0, 0.04]), conventions) == pytest.approx(expected)


def test_max_drawdown_finds_the_deepest_fall_with_its_peak_and_trough_dates() -> None:
    dd = max_drawdown(curve(100, 120, 90, 130, 117))
    assert dd.depth == pytest.approx(90 / 120 - 1)
    assert (dd.peak, dd.trough) == (DAYS[1], DAYS[2])


def test_max_drawdown_of_a_rising_curve_is_zero_without_dates() -> None:
    dd = max_drawdown(curve(100, 101, 102))
    assert (dd.depth, dd.peak, dd.trough) == (0.0, None, None)


def test_calmar_is_annual_return_over_absolute_drawdown() -> None:
    assert calmar_ratio(0.30, -0.10) == pytest.approx(3.0)
    assert calmar_ratio(0.30, 0.0) is None


def test_flat_curve_has_no_sharpe_or_sortino_rather_than_infinity() -> None:
    perf = performance(curve(1000, 1000, 1000, 1000), Conventions())
    assert perf.cumulative_return == 0.0
    assert perf.volatility == 0.0
    assert (perf.sharpe, perf.sortino, perf.calmar) == (None, None, None)


def test_curve_without_losses_has_no_sortino() -> None:
    assert sortino_ratio(np.array([0.01, 0.02]), Conventions()) is None


def test_win_rate_counts_sells_with_positive_pnl_against_average_cost_net_of_fees() -> None:
    # buy 10 @ 10 (fee 1): average cost 10.10 a share
    # sell 5 @ 12 (fee 1): 5 * 1.90 - 1 = +8.5 (win); sell 5 @ 10 (fee 1): 5 * -0.10 - 1 = -1.5 (loss)
    trades = [trade(1, "buy", 10, 10, 1), trade(2, "sell", 5, 12, 1), trade(3, "sell", 5, 10, 1)]
    result = win_rate(trades)
    assert (result.rate, result.closed, result.wins) == (0.5, 2, 1)


def test_win_rate_counts_a_sell_that_only_fees_turned_into_a_loss_as_a_loss() -> None:
    # gross +0.20 on 1 share, fee 0.35
    assert win_rate([trade(1, "buy", 1, 10.0), trade(2, "sell", 1, 10.2, 0.35)]).rate == 0.0


def test_win_rate_uses_earlier_buys_for_cost_but_counts_only_sells_in_the_window() -> None:
    trades = [trade(1, "buy", 10, 10), trade(2, "sell", 5, 11), trade(3, "sell", 5, 9)]
    result = win_rate(trades, counted={3})
    assert (result.rate, result.closed) == (0.0, 1)


def test_win_rate_without_sells_is_undefined() -> None:
    result = win_rate([trade(1, "buy", 10, 10)])
    assert (result.rate, result.closed) == (None, 0)


def test_turnover_is_traded_value_over_average_equity() -> None:
    trades = [trade(1, "buy", 10, 100), trade(2, "sell", 5, 100)]
    assert turnover(trades, curve(1000, 1000, 1000)) == pytest.approx(1.5)


def test_average_exposure_skips_the_base_point() -> None:
    assert average_exposure(curve(0.0, 0.5, 1.0)) == pytest.approx(0.75)
