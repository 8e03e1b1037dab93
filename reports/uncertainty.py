"""How sure the leaderboard is: bootstrap intervals, a paired test against QQQ, pairwise odds and a confidence set.

Daily returns are serially dependent and few, so every resampling is arch's stationary block bootstrap (Politis and
Romano), with the mean block length from arch's `optimal_block_length` (Politis-White, Patton-Politis-White)
clamped to 1..n/3. All resampling is seeded from `report.seed` and the entry's label, so the same runs give the
same report, and adding a model never moves another model's interval.

- 95% intervals: percentiles (2.5, 97.5) of the statistic (cumulative return, Sharpe) over resampled daily returns.
- Paired test against QQQ buy-and-hold: the mean of daily excess returns (model - QQQ, same days) is tested against 0
  with a recentred stationary bootstrap (two-sided p-value).
- Pairwise: days are resampled jointly for every model (keeping their correlation); P(A beats B) is the share of
  resamples in which A's cumulative return is higher.
- Several models: arch's model confidence set (Hansen, Lunde and Nason) on daily losses (= -returns) at 90%: the
  models in it cannot be told apart from the best; those outside are significantly worse. And arch's SPA test (Hansen)
  of "no model beats QQQ" over all models at once, which accounts for having tried many.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _arch_package_on_demand() -> None:
    """Let `arch.bootstrap` load without running `arch/__init__.py` first, which imports arch's volatility models
    (statsmodels, matplotlib: 0.3 s and 40 MB a report never uses). The package module is registered unexecuted, and
    runs its `__init__` the first time anything asks it for a name (PEP 562 `__getattr__`), so `arch.arch_model` or
    `arch.__version__` still work for any later caller. Nothing changes when arch was imported already."""
    if "arch" in sys.modules:
        return
    spec = importlib.util.find_spec("arch")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)

    def initialise(name: str):
        del package.__dict__["__getattr__"]
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = initialise  # type: ignore[method-assign]
    sys.modules["arch"] = package


def arch_bootstrap():
    """arch's bootstrap module, imported on first use (0.6 s with scipy.stats): `report` asks for it while a second
    process reads the ledgers (reports/build.py), and formats or tests that compute no interval never pay for it."""
    _arch_package_on_demand()
    import arch.bootstrap

    return arch.bootstrap

CONFIDENCE = 0.95
MCS_SIZE = 0.10
MIN_DAYS = 5  # fewer daily returns than this: no interval (a bootstrap of 3 numbers says nothing)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def as_list(self, digits: int = 8) -> list[float]:
        return [round(self.low, digits), round(self.high, digits)]


@dataclass
class EntryStats:
    """The uncertainty of one leaderboard line."""

    cumulative_ci: Interval | None = None
    sharpe_ci: Interval | None = None
    annualized_ci: Interval | None = None
    p_value: float | None = None  # paired test of daily excess returns against QQQ buy-and-hold
    block: int | None = None


@dataclass
class Comparison:
    """What can be said about the models together."""

    labels: list[str] = field(default_factory=list)
    beats: np.ndarray | None = None  # beats[i, j] = P(model i's cumulative return > model j's)
    confidence_set: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    mcs_pvalues: dict[str, float] = field(default_factory=dict)
    spa_pvalue: float | None = None
    reps: int = 0
    block: int | None = None

    def probability(self, a: str, b: str) -> float | None:
        if self.beats is None or a not in self.labels or b not in self.labels:
            return None
        return float(self.beats[self.labels.index(a), self.labels.index(b)])


def seed_for(base: int, *labels: str) -> np.random.Generator:
    """A generator seeded by the report seed and the labels involved: stable across runs and across added models."""
    return np.random.default_rng([base, *(zlib.crc32(label.encode("utf-8")) for label in labels)])


def block_length(returns: np.ndarray) -> int:
    """Mean block length for the stationary bootstrap: Politis-White's estimate, clamped to 1..n/3."""
    n = len(returns)
    if n < 2 * MIN_DAYS or float(np.std(returns)) == 0.0:
        return 1
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = float(arch_bootstrap().optimal_block_length(np.asarray(returns, dtype=float))["stationary"].iloc[0])
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return 1
    if not math.isfinite(estimate):
        return 1
    return int(min(max(1, round(estimate)), max(1, n // 3)))


def _interval(samples: np.ndarray) -> Interval | None:
    samples = samples[np.isfinite(samples)]
    if len(samples) < 10:
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(low), float(high))


def resampled_indices(n: int, block: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """reps x n day indices drawn by arch's stationary bootstrap, filled row by row (no list of rows beside it)."""
    bootstrap = arch_bootstrap().StationaryBootstrap(block, np.zeros(n), seed=rng)
    index = np.empty((reps, n), dtype=np.int32 if n < 2**31 else np.int64)
    for row in index:
        row[:] = bootstrap.update_indices()
    return index


ROWS = 128  # resamples whose statistics are computed together: bounded memory on long windows, the same numbers


def _row_chunks(index: np.ndarray):
    for start in range(0, len(index), ROWS):
        yield index[start:start + ROWS]


def entry_stats(label: str, returns: np.ndarray, qqq: np.ndarray | None, *, reps: int, seed: int,
                per_period_rf: float, periods_per_year: int) -> EntryStats:
    """Intervals for one curve's daily returns, and its paired test against QQQ's returns on the same days."""
    returns = np.asarray(returns, dtype=float)
    n = len(returns)
    if n < MIN_DAYS or not np.all(np.isfinite(returns)):
        return EntryStats()
    block = block_length(returns)
    index = resampled_indices(n, block, reps, seed_for(seed, label))
    totals, sharpes = np.empty(len(index)), np.empty(len(index))
    done = 0
    for rows in _row_chunks(index):
        samples = returns[rows]  # rows x n
        totals[done:done + len(rows)] = np.prod(1.0 + samples, axis=1) - 1.0
        excess = samples - per_period_rf
        sd = np.std(excess, axis=1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sharpes[done:done + len(rows)] = np.where(sd > 1e-12, np.mean(excess, axis=1) / sd
                                                      * math.sqrt(periods_per_year), np.nan)
        done += len(rows)
    cum = _interval(totals)
    annual = None
    if cum is not None and cum.low > -1:
        annual = Interval((1 + cum.low) ** (periods_per_year / n) - 1, (1 + cum.high) ** (periods_per_year / n) - 1)
    stats = EntryStats(cumulative_ci=cum, sharpe_ci=_interval(sharpes), annualized_ci=annual, block=block)
    if qqq is not None and len(qqq) == n:
        stats.p_value = paired_p_value(returns - np.asarray(qqq, dtype=float), index=index)
    return stats


def paired_p_value(excess: np.ndarray, *, index: np.ndarray) -> float | None:
    """Two-sided p-value of mean(excess) = 0 by a recentred stationary bootstrap (robust to serial dependence);
    `index` holds the resampled day indices (reps x n)."""
    excess = np.asarray(excess, dtype=float)
    if len(excess) < MIN_DAYS or float(np.std(excess)) < 1e-15:
        return None
    observed = float(np.mean(excess))
    centred = excess - observed
    means = np.concatenate([np.mean(centred[rows], axis=1) for rows in _row_chunks(index)])
    return float((np.sum(np.abs(means) >= abs(observed)) + 1) / (len(means) + 1))


def compare(labels: Sequence[str], returns: np.ndarray, qqq: np.ndarray | None, *, reps: int, seed: int) -> Comparison:
    """Pairwise odds, the model confidence set and the SPA test for models whose daily returns share their days.

    `returns` is days x models in the order of `labels`.
    """
    labels = list(labels)
    result = Comparison(labels=labels, reps=reps)
    returns = np.asarray(returns, dtype=float)
    if len(labels) < 2 or returns.shape[0] < MIN_DAYS or not np.all(np.isfinite(returns)):
        return result
    block = int(np.median([block_length(returns[:, i]) for i in range(len(labels))]))
    result.block = block
    index = resampled_indices(returns.shape[0], block, reps, seed_for(seed, "pairwise", *labels))
    totals = np.concatenate([np.prod(1.0 + returns[rows], axis=1) - 1.0 for rows in _row_chunks(index)])  # reps x models
    result.beats = (totals[:, :, None] > totals[:, None, :]).mean(axis=0)

    losses = pd.DataFrame(-returns, columns=labels)
    # Models with identical daily returns cannot be told apart: the set is computed on one of each, then shared.
    twin_of: dict[str, str] = {}
    for i, label in enumerate(labels):
        twin_of[label] = next((labels[j] for j in range(i) if np.array_equal(returns[:, j], returns[:, i])), label)
    distinct = [c for c in labels if twin_of[c] == c]
    with np.errstate(divide="ignore", invalid="ignore"):
        if len(distinct) >= 2:
            mcs = arch_bootstrap().MCS(losses[distinct], MCS_SIZE, reps=reps, block_size=block, seed=seed_for(seed, "mcs", *labels))
            mcs.compute()
            included = set(mcs.included)
            result.confidence_set = [c for c in labels if twin_of[c] in included]
            result.excluded = [c for c in labels if twin_of[c] not in included]
            result.mcs_pvalues = {c: float(mcs.pvalues["Pvalue"].get(twin_of[c], float("nan"))) for c in labels}
        else:
            result.confidence_set = list(labels)
        if qqq is not None and len(qqq) == returns.shape[0]:
            spa = arch_bootstrap().SPA(-np.asarray(qqq, dtype=float), -returns[:, [labels.index(c) for c in distinct]],
                      block_size=block, reps=reps, seed=seed_for(seed, "spa", *labels))
            spa.compute()
            value = float(spa.pvalues["consistent"])
            result.spa_pvalue = value if math.isfinite(value) else None
    return result


def significance_lines(comparison: Comparison, best: str | None) -> list[str]:
    """Plain sentences for every output: which differences the data can and cannot tell apart."""
    lines: list[str] = []
    if comparison.beats is None:
        return lines
    level = int(round((1 - MCS_SIZE) * 100))
    in_set = comparison.confidence_set
    if comparison.excluded:
        lines.append(f"Model confidence set ({level}%): {', '.join(in_set)} cannot be told apart from the best; "
                     f"{', '.join(comparison.excluded)} {'is' if len(comparison.excluded) == 1 else 'are'} "
                     "significantly worse.")
    else:
        lines.append(f"Model confidence set ({level}%): all {len(in_set)} models are in it: on these days no "
                     "model is significantly worse than the best; the ranking is not significant.")
    if comparison.spa_pvalue is not None:
        verdict = "some model beats" if comparison.spa_pvalue < 0.05 else "no model significantly beats"
        lines.append(f"SPA test over all {len(comparison.labels)} models against QQQ buy-and-hold: p = "
                     f"{comparison.spa_pvalue:.2f}; {verdict} QQQ once the number of models tried is accounted for.")
    if best and best in comparison.labels and len(comparison.labels) > 1:
        odds = [(comparison.probability(best, other) or 0.0, other) for other in comparison.labels if other != best]
        weakest = min(odds)
        lines.append(f"{best} (ranked first) beats each other model in at least {weakest[0]:.0%} of "
                     f"{comparison.reps} resampled histories (closest: {weakest[1]}).")
    return lines
