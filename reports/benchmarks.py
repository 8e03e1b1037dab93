"""Benchmarks from prices alone, on the report's dates: no run, no fees, no slippage.

Both are bought at the close before the window's first session (the base point every model's curve starts from,
too) with fractional shares and held, so models and benchmarks are measured over the same span, close to close:
- QQQ buy-and-hold: everything in QQQ;
- equal-weight universe: the same dollar amount in every universe symbol except QQQ (as the equal-weight baseline
  picks its members), not rebalanced, so weights drift with prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from reports.equity import Curve, Marker, added, valued
from reports.notes import Notes

QQQ = "QQQ"


@dataclass(frozen=True)
class Benchmark:
    signature: str
    title: str
    description: str
    curve: Curve


def hold(shares: dict[str, float], cash: float, base_day: date, days: list[date], initial: float,
         marker: Marker, who: str) -> Curve:
    # every close at once (Marker.invested); a day with a symbol lacking its bar is marked one symbol at a time, in
    # day order, so that its note is said as before
    total, exact = marker.invested([shares] * len(days), days)
    values, shares_invested = valued(cash, total)
    equity, exposure = [initial, *values], [0.0, *shares_invested]
    for r in np.flatnonzero(~exact).tolist():
        invested = added(q * marker.close(s, days[r], who=who) for s, q in shares.items())
        equity[r + 1] = cash + invested
        exposure[r + 1] = invested / (cash + invested) if cash + invested else 0.0
    index = [base_day, *days]
    return Curve(pd.Series(equity, index=index, dtype=float), pd.Series(exposure, index=index, dtype=float))


def _base_close(marker: Marker, symbol: str, base_day: date) -> float | None:
    """The symbol's close on the base day (the last one before it when it has no bar that day), or None."""
    return marker.close_on_or_before(symbol, base_day)


def qqq_buy_and_hold(base_day: date, days: list[date], initial: float, marker: Marker, notes: Notes) -> Benchmark | None:
    price = _base_close(marker, QQQ, base_day)
    if price is None:
        notes.add(f"no QQQ benchmark: the price file has no QQQ close by {base_day}")
        return None
    who = "benchmark-qqq-buy-and-hold"
    curve = hold({QQQ: initial / price}, 0.0, base_day, days, initial, marker, who)
    return Benchmark(who, "QQQ buy-and-hold", f"all in QQQ at the close of {base_day}, held", curve)


def equal_weight_universe(universe: list[str], base_day: date, days: list[date], initial: float, marker: Marker,
                          notes: Notes) -> Benchmark | None:
    """`universe`: the members on the window's first day (a symbol that joins later is not bought with hindsight)."""
    closes = {s: _base_close(marker, s, base_day) for s in universe if s != QQQ}
    members = {s: p for s, p in closes.items() if p}
    missing = sorted(set(closes) - set(members))
    if missing:
        notes.add(f"equal-weight benchmark leaves out {len(missing)} symbol(s) with no close by {base_day}: "
                  f"{', '.join(missing[:8])}")
    if not members:
        notes.add(f"no equal-weight benchmark: no universe symbol has a close by {base_day}")
        return None
    each = initial / len(members)
    who = "benchmark-equal-weight-universe"
    curve = hold({s: each / p for s, p in members.items()}, 0.0, base_day, days, initial, marker, who)
    return Benchmark(who, "Equal-weight universe",
                     f"1/{len(members)} in each universe stock (QQQ excluded) at the close of {base_day}, not "
                     "rebalanced", curve)
