"""What a tearsheet shows beyond the leaderboard's metrics (pyfolio and quantstats are the reference): alpha, beta and
information ratio against QQQ, the worst drawdown periods, rolling Sharpe, and holdings over time.

- beta = cov(r, q) / var(q) of daily returns r (model) and q (QQQ buy-and-hold), sample (ddof=1);
- alpha = (1 + mean((r - rf) - beta * (q - rf))) ** periods_per_year - 1 (annualized, as pyfolio/empyrical);
- information ratio = mean(r - q) / std(r - q, ddof=1) * sqrt(periods_per_year);
- a drawdown period runs from a peak of closing equity to the next new high (or the window's end, "not recovered");
- rolling Sharpe over `rolling_window(n)` sessions, annualized like Sharpe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from reports.runs import ModelRun


@dataclass(frozen=True)
class Relative:
    alpha: float | None
    beta: float | None
    information_ratio: float | None


def relative_to(returns: np.ndarray, benchmark: np.ndarray, per_period_rf: float, periods_per_year: int) -> Relative:
    r, q = np.asarray(returns, dtype=float), np.asarray(benchmark, dtype=float)
    if len(r) < 3 or len(r) != len(q):
        return Relative(None, None, None)
    var_q = float(np.var(q, ddof=1))
    beta = float(np.cov(r, q, ddof=1)[0, 1] / var_q) if var_q > 1e-18 else None
    daily_alpha = float(np.mean((r - per_period_rf) - beta * (q - per_period_rf))) if beta is not None else None
    alpha = (1 + daily_alpha) ** periods_per_year - 1 if daily_alpha is not None else None
    active = r - q
    te = float(np.std(active, ddof=1))
    ir = float(np.mean(active)) / te * math.sqrt(periods_per_year) if te > 1e-12 else None
    return Relative(alpha, beta, ir)


@dataclass(frozen=True)
class DrawdownPeriod:
    depth: float
    peak: date
    trough: date
    recovery: date | None
    sessions: int  # peak to recovery (or to the window's end)


def worst_drawdowns(equity: pd.Series, top: int = 5) -> list[DrawdownPeriod]:
    """The `top` deepest peak-to-trough falls that do not overlap, deepest first."""
    values = np.asarray(equity, dtype=float)
    index = list(equity.index)
    periods: list[DrawdownPeriod] = []
    peak_i = 0
    i = 1
    while i < len(values):
        if values[i] >= values[peak_i]:
            peak_i = i
            i += 1
            continue
        start = peak_i
        j = i
        while j < len(values) and values[j] < values[start]:
            j += 1
        segment = values[start:j]
        trough_i = start + int(np.argmin(segment))
        depth = float(values[trough_i] / values[start] - 1.0) if values[start] > 0 else 0.0
        recovered = index[j] if j < len(values) else None
        periods.append(DrawdownPeriod(depth, index[start], index[trough_i], recovered, (j if j < len(values) else len(values) - 1) - start))
        peak_i = j if j < len(values) else start
        i = j + 1
    periods.sort(key=lambda p: p.depth)
    return periods[:top]


def rolling_window(sessions: int) -> int:
    """Sessions per rolling Sharpe point: 63 (a quarter) on long windows, else half the window, at least 5."""
    return 63 if sessions >= 189 else max(5, sessions // 2)


def rolling_sharpe(equity: pd.Series, window: int, per_period_rf: float, periods_per_year: int) -> pd.Series:
    returns = equity.pct_change().iloc[1:] - per_period_rf
    mean = returns.rolling(window).mean()
    sd = returns.rolling(window).std(ddof=1)
    return (mean / sd.where(sd > 1e-12) * math.sqrt(periods_per_year)).dropna()


def holdings_over_time(run: ModelRun, days: list[date], closes) -> pd.DataFrame:
    """Market value of each holding at each close (days x symbols), from the ledger's positions; `closes(s, d)`."""
    ledger_days = run.ledger.days
    rows = []
    i = 0
    assert run.ledger.base is not None
    holdings = run.ledger.base.holdings
    for day in days:
        while i < len(ledger_days) and ledger_days[i].day <= day:
            holdings = ledger_days[i].holdings
            i += 1
        rows.append({s: q * closes(s, day) for s, q in holdings.items()})
    return pd.DataFrame(rows, index=days).fillna(0.0)
