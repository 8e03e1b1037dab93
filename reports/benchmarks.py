"""Benchmarks from prices alone, on the report's dates: no run, no fees, no slippage.

Both are bought at the open of the window's first day (when a 10:00 session would trade) with fractional shares
and held, so they start from the same base point as the models and are marked at the same closes:
- QQQ buy-and-hold: everything in QQQ;
- equal-weight universe: the same dollar amount in every universe symbol except QQQ (as the equal-weight baseline
  picks its members), not rebalanced, so weights drift with prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from reports.equity import Curve, Marker
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
    index, equity, exposure = [base_day], [initial], [0.0]
    for day in days:
        invested = sum(q * marker.close(s, day, who=who) for s, q in shares.items())
        index.append(day)
        equity.append(cash + invested)
        exposure.append(invested / (cash + invested) if cash + invested else 0.0)
    return Curve(pd.Series(equity, index=index, dtype=float), pd.Series(exposure, index=index, dtype=float))


def qqq_buy_and_hold(base_day: date, days: list[date], initial: float, marker: Marker, notes: Notes) -> Benchmark | None:
    price = marker.open(QQQ, days[0])
    if price is None:
        notes.add(f"no QQQ benchmark: the price file has no QQQ bar on {days[0]}")
        return None
    who = "benchmark-qqq-buy-and-hold"
    curve = hold({QQQ: initial / price}, 0.0, base_day, days, initial, marker, who)
    return Benchmark(who, "QQQ buy-and-hold", f"all in QQQ at the open of {days[0]}, held", curve)


def equal_weight_universe(universe: list[str], base_day: date, days: list[date], initial: float, marker: Marker,
                          notes: Notes) -> Benchmark | None:
    opens = {s: marker.open(s, days[0]) for s in universe if s != QQQ}
    members = {s: p for s, p in opens.items() if p}
    missing = sorted(set(opens) - set(members))
    if missing:
        notes.add(f"equal-weight benchmark leaves out {len(missing)} symbol(s) with no bar on {days[0]}: "
                  f"{', '.join(missing[:8])}")
    if not members:
        notes.add(f"no equal-weight benchmark: no universe symbol has a bar on {days[0]}")
        return None
    each = initial / len(members)
    who = "benchmark-equal-weight-universe"
    curve = hold({s: each / p for s, p in members.items()}, 0.0, base_day, days, initial, marker, who)
    return Benchmark(who, "Equal-weight universe",
                     f"1/{len(members)} in each universe stock (QQQ excluded) at the open of {days[0]}, not rebalanced",
                     curve)
