"""The report's random null, simulated in bulk, equals the plain day-by-day simulation with the Decimal money rules."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from agent_tools.fills import build_fee_model, build_fill_model
from arena.models.random_trader import PROCEEDS_BUFFER, RandomPolicy, quantity
from reports.equity import Marker
from reports.notes import Notes
from reports.random_null import (
    Costs,
    PriceGrid,
    fee_function,
    fill_prices,
    matched_traders,
    place_among_random,
    placed,
    simulate_traders,
)


def reference_return(policy: RandomPolicy, grid: PriceGrid, initial: float, costs: Costs, fractional: bool) -> float:
    """The null as first written: every session decided with `plan`, every price and fee through Decimal."""
    cash, held = initial, {}
    for d, day in enumerate(grid.days):
        opens = {s: grid.opens[d, j] for j, s in enumerate(grid.universe) if np.isfinite(grid.opens[d, j])}
        closes = {s: grid.closes[d, j] for j, s in enumerate(grid.universe)}
        buys, swaps = policy.plan(day, sorted(held), [s for s in grid.universe if opens.get(s)])
        if buys:
            each = (cash + sum(q * closes[s] for s, q in held.items())) * policy.exposure / len(buys)
            for symbol in buys:
                price = float(costs.fill.fill_price("buy", Decimal(str(opens[symbol]))))
                qty = quantity(each, opens[symbol], fractional)
                fee = float(costs.fee.fee(Decimal(str(qty)), Decimal(str(price)))) if costs.fee else 0.0
                if qty > 0 and qty * price + fee <= cash:
                    cash -= qty * price + fee
                    held[symbol] = held.get(symbol, 0.0) + qty
        for old, new in swaps:
            if old not in held or not opens.get(old):
                continue
            if quantity(held[old] * opens[old] * PROCEEDS_BUFFER, opens[new], fractional) <= 0:
                continue
            qty = held.pop(old)
            price = float(costs.fill.fill_price("sell", Decimal(str(opens[old]))))
            cash += qty * price - (float(costs.fee.fee(Decimal(str(qty)), Decimal(str(price)))) if costs.fee else 0.0)
            buy_price = float(costs.fill.fill_price("buy", Decimal(str(opens[new]))))
            new_qty = quantity(min(qty * opens[old] * PROCEEDS_BUFFER, cash), opens[new], fractional)
            fee = float(costs.fee.fee(Decimal(str(new_qty)), Decimal(str(buy_price)))) if costs.fee else 0.0
            if new_qty > 0 and new_qty * buy_price + fee <= cash:
                cash -= new_qty * buy_price + fee
                held[new] = held.get(new, 0.0) + new_qty
    return (cash + sum(q * grid.closes[-1, grid.universe.index(s)] for s, q in held.items())) / initial - 1.0


@pytest.fixture(scope="module")
def grid(market) -> PriceGrid:
    return PriceGrid(list(market.data.universe), market.data.trading_days()[-60:], Marker(market.data, Notes()))


@pytest.mark.parametrize(("turnover", "exposure", "fractional", "fee"), [
    (0.4, 0.99, False, ("per_share", 0.005, 0.35, 1.0)),
    (1.5, 0.5, True, ("per_share", 0.005, 1.0, 1.0)),
    (0.02, 0.01, False, ("bps", 0.005, 0.0, 2.5)),
    (0.9, 0.99, False, None),
    (0.0, 0.99, False, ("per_share", 0.005, 0.35, 1.0)),
])
def test_the_bulk_null_equals_the_day_by_day_simulation(grid, turnover, exposure, fractional, fee):
    costs = Costs(build_fill_model(7.5), build_fee_model(*fee[:1], *fee[1:3], fee[3]) if fee else None)
    policies = [RandomPolicy(seed=1000 + i, holdings=5, turnover=turnover, exposure=exposure) for i in range(6)]
    trace: list = []
    bulk = simulate_traders(policies, grid, 100_000.0, costs, fractional, trace=trace)
    assert bulk.tolist() == [reference_return(p, grid, 100_000.0, costs, fractional) for p in policies]
    if turnover >= 0.4:
        assert all(any(side == "sell" for _d, side, *_ in fills) for fills in trace)  # the traders did swap


def test_bulk_fill_prices_and_per_share_fees_follow_the_decimal_money_rules_exactly():
    rng = np.random.default_rng(5)
    opens = np.concatenate([np.round(rng.uniform(1, 3000, 3000), 2), np.arange(10, 5000) / 100,  # ties: cents
                            rng.uniform(1, 500, 2000), [np.nan]])[None, :]
    for bps in (0.0, 5.0, 7.5):
        fill = build_fill_model(bps)
        for side in ("buy", "sell"):
            fast = fill_prices(fill, side, opens)[0]
            slow = [float(fill.fill_price(side, Decimal(str(p)))) if np.isfinite(p) else None for p in opens[0]]
            assert [None if np.isnan(f) else f for f in fast] == slow
    for per_share, minimum in ((0.005, 0.35), (0.0035, 1.0), (0.01, 0.0)):
        fee = build_fee_model("per_share", per_share, minimum)
        fast = fee_function(fee)
        for qty in [*map(float, range(0, 3000, 7)), 12.3457, 0.0001, 99.5]:
            assert fast(qty, 42.0) == float(fee.fee(Decimal(str(qty)), Decimal("42.0")))


def test_the_null_is_seeded_by_the_report_seed_and_the_models_label(grid):
    costs = Costs(build_fill_model(5.0), build_fee_model("per_share", 0.005, 0.35))

    def place(label: str, seed: int):
        return place_among_random(label, 0.01, 3.0, 0.9, grid, 100_000.0, costs, 30, seed)

    first = place("m", 2025)
    assert first is not None and np.std(first.returns) > 0
    assert first.returns.tolist() == place("m", 2025).returns.tolist()
    assert first.returns.tolist() != place("m", 2026).returns.tolist()
    assert first.returns.tolist() != place("other", 2025).returns.tolist()
    assert first.percentile == np.mean(first.returns < 0.01)


def test_a_random_trader_left_with_nothing_to_hold_buys_again(grid):
    """A session with nothing held buys (the baseline's first-session rule), on whichever day that happens."""
    costs = Costs(build_fill_model(0.0), None)
    policies = [RandomPolicy(seed=seed, holdings=3, turnover=0.0, exposure=1.0) for seed in range(12)]
    poor = 150.0  # $50 a pick: most symbols cost more, so many first sessions buy nothing
    trace: list = []
    bulk = simulate_traders(policies, grid, poor, costs, trace=trace)
    assert bulk.tolist() == [reference_return(p, grid, poor, costs, False) for p in policies]
    assert any(fills and fills[0][0] > 0 for fills in trace)  # a trader whose first buy came on a later day


def test_a_null_assembled_from_pieces_simulated_in_any_order_is_the_null_in_one_go(grid):
    """The report hands pieces of a model's traders to either of two processes: the result depends on the traders
    alone, not on which piece ran first or beside which."""
    costs = Costs(build_fill_model(5.0), build_fee_model("per_share", 0.005, 0.35))
    whole = place_among_random("m", 0.01, 3.0, 0.9, grid, 100_000.0, costs, 60, 2025)
    traders = matched_traders("m", 3.0, 0.9, len(grid.days), 60, 2025)
    pieces = {first: simulate_traders(traders[first:first + 7], grid, 100_000.0, costs)
              for first in reversed(range(0, 60, 7))}
    assembled = placed(0.01, np.concatenate([pieces[first] for first in sorted(pieces)]), traders, True)
    assert whole is not None and assembled.returns.tobytes() == whole.returns.tobytes()
    assert (assembled.percentile, assembled.turnover, assembled.exposure) == (whole.percentile, whole.turnover,
                                                                               whole.exposure)
