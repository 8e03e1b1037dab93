"""A null to beat: where a model's return falls among random traders over the same days, from prices alone.

Each model is placed among `report.random_traders` random traders (the `random` baseline's policy,
`arena/models/random_trader.py`) with the model's own turnover and average exposure, the same initial equity, the
same days and the same costs (the config's slippage and commission; none for fee-less AI-Trader ledgers). They are
simulated in-process: they buy at the price a 10:00 session trades at, and are marked at the close. The
percentile is the share of random traders the model beat (ties count half).
"""

from __future__ import annotations

import _random
import bisect
import random
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from agent_tools.fills import FeeModel, FillModel
from arena.models.random_trader import PROCEEDS_BUFFER, RandomPolicy, quantity
from reports.equity import Marker

DEFAULT_HOLDINGS = 5


@dataclass(frozen=True)
class NullResult:
    returns: np.ndarray  # each random trader's cumulative return
    percentile: float  # share of random traders the model beat
    turnover: float  # per session, after the first
    exposure: float
    fees: bool

    @property
    def median(self) -> float:
        return float(np.median(self.returns))

    def describe(self, label: str) -> str:
        beaten = int(round(self.percentile * len(self.returns)))
        return (f"{label} beat {beaten} of {len(self.returns)} random traders (median {self.median:+.2%}; matched "
                f"turnover {self.turnover:.0%} of equity a session, exposure {self.exposure:.0%}"
                f"{'' if self.fees else ', no fees like its ledger'})")


class PriceGrid:
    """Opens and closes of the window's days for the universe; a missing open means the symbol cannot trade that day."""

    def __init__(self, universe: list[str], days: list[date], marker: Marker):
        self.universe = list(universe)
        self.days = days
        self.ordinals = [d.toordinal() for d in days]
        self.opens = [{s: marker.session_price(s, d) for s in self.universe} for d in days]  # the price a session trades at
        self.closes = [{s: _quiet_close(marker, s, d) for s in self.universe} for d in days]
        self.tradable = [[s for s in self.universe if opens.get(s)] for opens in self.opens]


def _quiet_close(marker: Marker, symbol: str, day: date) -> float:
    bars = marker.data.daily.get(symbol)
    if bars is None:
        return 0.0
    i = bisect.bisect_right(bars.days, day) - 1
    return bars.bars[i].close if i >= 0 else 0.0


@dataclass
class Costs:
    fill: FillModel
    fee: FeeModel | None

    def buy(self, price: float) -> float:
        return float(self.fill.fill_price("buy", Decimal(str(price))))

    def sell(self, price: float) -> float:
        return float(self.fill.fill_price("sell", Decimal(str(price))))

    def fee_of(self, qty: float, price: float) -> float:
        return float(self.fee.fee(Decimal(str(qty)), Decimal(str(price)))) if self.fee else 0.0


def simulate(policy: RandomPolicy, grid: PriceGrid, initial: float, costs: Costs, fractional: bool = False) -> float:
    """One random trader over the grid's days; its cumulative return at the last close."""
    cash = initial
    held: dict[str, float] = {}
    # One generator reseeded each session to the state `policy.plan` builds a new one in: the same draws. For an int
    # seed `random.Random.seed` only checks the type and calls the C seeding, so that is called directly.
    rng = random.Random()
    reseed = _random.Random.seed
    decide = policy.decide
    base = policy.day_seed(date.fromordinal(1)) - 1
    never_swaps = policy.swap_probability <= 0.0  # every draw >= 0: once invested, a session changes nothing
    for opens, closes, ordinal, tradable in zip(grid.opens, grid.closes, grid.ordinals, grid.tradable, strict=True):
        if held and never_swaps:
            continue
        reseed(rng, base + ordinal)
        buys, swaps = decide(rng, sorted(held), tradable)
        if buys:
            equity = cash + sum(q * closes[s] for s, q in held.items())
            each = equity * policy.exposure / len(buys)
            for symbol in buys:
                price = costs.buy(opens[symbol])
                qty = quantity(each, opens[symbol], fractional)  # sized at the quote, as the baseline does
                fee = costs.fee_of(qty, price)
                if qty > 0 and qty * price + fee <= cash:
                    cash -= qty * price + fee
                    held[symbol] = held.get(symbol, 0.0) + qty
        for old, new in swaps:
            if old not in held or not opens.get(old):
                continue
            if quantity(held[old] * opens[old] * PROCEEDS_BUFFER, opens[new], fractional) <= 0:
                continue  # as the baseline: a new symbol dearer than the old holding is not swapped in
            qty = held.pop(old)
            price = costs.sell(opens[old])
            cash += qty * price - costs.fee_of(qty, price)
            buy_price = costs.buy(opens[new])
            value = qty * opens[old] * PROCEEDS_BUFFER
            new_qty = quantity(min(value, cash), opens[new], fractional)
            fee = costs.fee_of(new_qty, buy_price)
            if new_qty > 0 and new_qty * buy_price + fee <= cash:
                cash -= new_qty * buy_price + fee
                held[new] = held.get(new, 0.0) + new_qty
    final = cash + sum(q * grid.closes[-1][s] for s, q in held.items())
    return final / initial - 1.0


def matched_policy(seed: int, turnover: float | None, exposure: float | None, days: int) -> RandomPolicy:
    """Per-session turnover and exposure of a model, as the random policy's parameters."""
    e = min(max(exposure or 0.0, 0.01), 1.0)
    total = max(turnover or 0.0, 0.0)
    per_session = max(total - e, 0.0) / max(days - 1, 1)
    return RandomPolicy(seed=seed, holdings=DEFAULT_HOLDINGS, turnover=min(per_session, 2.0), exposure=e)


def place_among_random(label: str, model_return: float | None, turnover: float | None, exposure: float | None,
                       grid: PriceGrid, initial: float, costs: Costs, count: int, seed: int) -> NullResult | None:
    """The model's cumulative return placed among `count` random traders matched to its turnover and exposure."""
    if model_return is None or count <= 0 or not grid.days:
        return None
    base = matched_policy(0, turnover, exposure, len(grid.days))
    label_seed = zlib.crc32(label.encode("utf-8"))
    returns = np.array([
        simulate(RandomPolicy(seed=(seed * 1_000_033 + label_seed) * 10_007 + i,
                              holdings=base.holdings, turnover=base.turnover, exposure=base.exposure),
                 grid, initial, costs)
        for i in range(count)
    ])
    beaten = float(np.sum(returns < model_return) + 0.5 * np.sum(returns == model_return)) / count
    return NullResult(returns, beaten, base.turnover, base.exposure, costs.fee is not None)
