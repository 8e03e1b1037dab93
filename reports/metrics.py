"""Performance and activity metrics, each a small function on an equity curve or a trade list.

Conventions (stated in every output, configurable under `report` in the config):
- returns are simple daily returns of equity marked at the close, time-weighted: a day's deposit or withdrawal is
  taken out of that day's return (reports.equity); the first one runs from the base point;
- annualized return = (final / base) ** (periods_per_year / n) - 1 over the n daily returns (geometric);
- volatility = sample standard deviation (ddof=1) of daily returns * sqrt(periods_per_year);
- the per-period risk-free rate is risk_free_rate / periods_per_year;
- Sharpe = mean(excess) / std(excess, ddof=1) * sqrt(periods_per_year);
- Sortino = mean(excess) / sqrt(mean(min(excess, 0) ** 2)) * sqrt(periods_per_year) (downside deviation over all
  periods, the Sortino-Price target semideviation with target = risk-free);
- maximum drawdown = the worst fall from a running peak of equity (a negative fraction), with peak and trough dates;
- Calmar = annualized return / |maximum drawdown|;
- win rate = share of sells whose realized P&L (net of both sides' fees, against the average cost of the shares
  sold) is positive; partial sells count one each;
- turnover = traded value (buys + sells) / average equity over the window;
- average exposure = mean over the window's closes of (holdings value / equity).
Undefined values (a flat curve's Sharpe, no drawdown's Calmar, no sells' win rate) are None, never inf or NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from reports.equity import Trade

WIN_RATE_DEFINITION = ("share of sells with positive realized P&L (net of fees, against the average cost of the "
                       "shares sold)")
TURNOVER_DEFINITION = "traded value (buys + sells) / average equity"
EPSILON = 1e-12


@dataclass(frozen=True)
class Conventions:
    periods_per_year: int = 252
    risk_free_rate: float = 0.0

    @property
    def per_period_risk_free(self) -> float:
        return self.risk_free_rate / self.periods_per_year

    def describe(self) -> str:
        return (f"{self.periods_per_year} trading sessions a year; risk-free rate {self.risk_free_rate:.2%} a year "
                f"(divided by {self.periods_per_year} per session) for Sharpe and Sortino; "
                "time-weighted returns from equity marked at each close (money deposited or withdrawn is not a "
                "return); volatility is the sample standard deviation")


def daily_returns(equity: pd.Series) -> np.ndarray:
    values = np.asarray(equity, dtype=float)
    if len(values) < 2:
        return np.array([], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return values[1:] / values[:-1] - 1.0


def finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def cumulative_return(equity: pd.Series) -> float | None:
    base, final = float(equity.iloc[0]), float(equity.iloc[-1])
    return finite(final / base - 1.0) if base else None


def annualized_return(equity: pd.Series, periods_per_year: int) -> float | None:
    n = len(equity) - 1
    base, final = float(equity.iloc[0]), float(equity.iloc[-1])
    if n < 1 or base <= 0 or final < 0:
        return None
    return finite((final / base) ** (periods_per_year / n) - 1.0)


def annualized_volatility(returns: np.ndarray, periods_per_year: int) -> float | None:
    if len(returns) < 2:
        return None
    return finite(float(np.std(returns, ddof=1)) * math.sqrt(periods_per_year))


def sharpe_ratio(returns: np.ndarray, conventions: Conventions) -> float | None:
    if len(returns) < 2:
        return None
    excess = returns - conventions.per_period_risk_free
    sd = float(np.std(excess, ddof=1))
    if sd < EPSILON:
        return None
    return finite(float(np.mean(excess)) / sd * math.sqrt(conventions.periods_per_year))


def sortino_ratio(returns: np.ndarray, conventions: Conventions) -> float | None:
    if len(returns) < 1:
        return None
    excess = returns - conventions.per_period_risk_free
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside < EPSILON:
        return None
    return finite(float(np.mean(excess)) / downside * math.sqrt(conventions.periods_per_year))


@dataclass(frozen=True)
class Drawdown:
    depth: float
    peak: date | None
    trough: date | None


def max_drawdown(equity: pd.Series) -> Drawdown:
    """The deepest fall from a running peak; its peak is the last high before the trough."""
    values = np.asarray(equity, dtype=float)
    if len(values) == 0:
        return Drawdown(0.0, None, None)
    running = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(running > 0, values / running - 1.0, 0.0)
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return Drawdown(0.0, None, None)
    peak = int(np.argmax(values[: trough + 1]))
    return Drawdown(float(dd[trough]), equity.index[peak], equity.index[trough])


def drawdown_series(equity: pd.Series) -> pd.Series:
    running = equity.cummax()
    return (equity / running - 1.0).where(running > 0, 0.0)


def calmar_ratio(annual: float | None, drawdown: float) -> float | None:
    if annual is None or abs(drawdown) < EPSILON:
        return None
    return finite(annual / abs(drawdown))


@dataclass(frozen=True)
class WinRate:
    rate: float | None
    closed: int
    wins: int


def win_rate(trades: Iterable[Trade], counted: set[int] | None = None) -> WinRate:
    """Average-cost bookkeeping over every trade; only sells whose ledger id is in `counted` (all when None) count.

    Buy fees raise the average cost; a sell's own fee lowers its P&L. A sell of shares with no known cost (a ledger
    that started with holdings) is not counted.
    """
    shares: dict[str, float] = {}
    cost: dict[str, float] = {}
    wins = closed = 0
    for t in trades:
        if t.price is None:
            continue
        held, basis = shares.get(t.symbol, 0.0), cost.get(t.symbol, 0.0)
        if t.side == "buy":
            shares[t.symbol] = held + t.quantity
            cost[t.symbol] = basis + t.quantity * t.price + t.fee
            continue
        if held <= EPSILON:
            continue
        sold = min(t.quantity, held)
        average = basis / held
        pnl = sold * (t.price - average) - t.fee
        shares[t.symbol] = held - sold
        cost[t.symbol] = basis - sold * average
        if counted is None or t.ledger_id in counted:
            closed += 1
            wins += pnl > 0
    return WinRate(wins / closed if closed else None, closed, wins)


def turnover(trades: Iterable[Trade], equity: pd.Series) -> float | None:
    average = float(np.mean(np.asarray(equity, dtype=float))) if len(equity) else 0.0
    if average <= 0:
        return None
    return sum(t.notional for t in trades) / average


def average_exposure(exposure: pd.Series) -> float | None:
    """Mean invested share over the window's closes (the base point is the state before the window)."""
    values = np.asarray(exposure, dtype=float)[1:]
    return float(np.mean(values)) if len(values) else None


@dataclass(frozen=True)
class Performance:
    initial_value: float
    final_value: float
    cumulative_return: float | None
    annualized_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    drawdown: Drawdown
    calmar: float | None


def performance(equity: pd.Series, conventions: Conventions) -> Performance:
    """Every return-based metric of one curve (base point first) under one set of conventions."""
    returns = daily_returns(equity)
    annual = annualized_return(equity, conventions.periods_per_year)
    drawdown = max_drawdown(equity)
    return Performance(
        initial_value=float(equity.iloc[0]),
        final_value=float(equity.iloc[-1]),
        cumulative_return=cumulative_return(equity),
        annualized_return=annual,
        volatility=annualized_volatility(returns, conventions.periods_per_year),
        sharpe=sharpe_ratio(returns, conventions),
        sortino=sortino_ratio(returns, conventions),
        drawdown=drawdown,
        calmar=calmar_ratio(annual, drawdown.depth),
    )
