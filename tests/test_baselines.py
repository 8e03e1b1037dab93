"""The built-in baselines are real strategies acting through the MCP tools, checked against the data directly."""

from __future__ import annotations

import asyncio
import json
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from agent_tools.market_calendar import at_market_time
from arena.config import load_config
from arena.run_loop import run_replay

START, END = date(2025, 10, 1), date(2025, 10, 10)


def run_baseline(write_config, market, tmp_path: Path, model: dict, start: date = START, end: date = END) -> list[dict]:
    config = load_config(write_config(models=[model]))
    out = tmp_path / "out"
    asyncio.run(run_replay(config, market, config.enabled_models(), out, start, end, parallel=1))
    path = out / model["signature"] / "position" / "position.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def trades(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("this_action", {}).get("action") in ("buy", "sell")]


def open_price(market, symbol: str, day: date) -> float:
    """The price a 10:00 session trades at: the open of the hourly bar starting at 10:00."""
    series = market.data.hourly[symbol]
    return next(b.open for b in series.bars if b.start == at_market_time(day, time(10)))


def test_buy_and_hold_buys_qqq_once_with_almost_all_cash_and_holds(write_config, market, tmp_path):
    records = run_baseline(write_config, market, tmp_path, {
        "signature": "bh", "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
        "limits": {"max_position_weight": 1.0}})

    bought = trades(records)
    assert [(t["date"], t["this_action"]["action"], t["this_action"]["symbol"]) for t in bought] == [("2025-10-01", "buy", "QQQ")]
    amount, price = bought[0]["this_action"]["amount"], bought[0]["price"]
    assert amount * price <= 10_000 < (amount + 1) * price  # as many whole shares as the cash allows
    assert bought[0]["price"] > open_price(market, "QQQ", START)  # slippage: buys fill above the 10:00 price
    assert {r["this_action"]["action"] for r in records[2:]} == {"no_trade"}


def test_equal_weight_holds_every_member_at_the_same_weight(write_config, market, tmp_path):
    records = run_baseline(write_config, market, tmp_path, {
        "signature": "ew", "kind": "baseline", "strategy": "equal_weight", "limits": {"fractional": True}},
        end=START)

    positions = records[-1]["positions"]
    members = [s for s in market.data.universe if s != "QQQ"]
    values = {s: positions[s] * open_price(market, s, START) for s in members}
    assert all(positions[s] > 0 for s in members) and positions["QQQ"] == 0
    assert max(values.values()) / min(values.values()) < 1.01
    assert 0.005 * 10_000 < positions["CASH"] < 0.02 * 10_000  # the 1% cash buffer, less fees


def test_momentum_holds_the_top_five_by_twenty_session_return(write_config, market, tmp_path):
    records = run_baseline(write_config, market, tmp_path, {
        "signature": "mom", "kind": "baseline", "strategy": "momentum", "params": {"lookback_days": 20, "top_n": 5}},
        end=START)

    def past_return(symbol: str) -> float:
        series = market.data.daily[symbol]
        i = series.index_of_day(START)
        closes = [b.close for b in series.bars[i - 21:i]]  # 21 completed sessions before the 1st, none of the 1st
        return closes[-1] / closes[0] - 1

    expected = sorted((s for s in market.data.universe if s != "QQQ"), key=past_return, reverse=True)[:5]
    held = {s for s, q in records[-1]["positions"].items() if s != "CASH" and q}
    assert held == set(expected)


def test_momentum_trades_only_on_the_first_session_of_a_week(write_config, market, tmp_path):
    records = run_baseline(write_config, market, tmp_path, {
        "signature": "mom", "kind": "baseline", "strategy": "momentum"})

    trade_days = sorted({t["date"] for t in trades(records)})
    assert set(trade_days) <= {"2025-10-01", "2025-10-06"}
    assert "2025-10-01" in trade_days


def test_baseline_order_ids_name_the_order_so_a_rerun_never_reuses_one_for_another(write_config, market, tmp_path):
    run_baseline(write_config, market, tmp_path, {
        "signature": "mom", "kind": "baseline", "strategy": "momentum"}, end=START)

    log = tmp_path / "out" / "mom" / "log" / START.isoformat() / "log.jsonl"
    orders = [e for e in map(json.loads, log.read_text().splitlines()) if e["type"] == "tool" and e["name"] == "buy"]
    assert orders and all(e["id"] == f"b2_buy_{e['arguments']['symbol']}" for e in orders)


RANDOM = {"signature": "rnd", "kind": "baseline", "strategy": "random",
          "params": {"seed": 11, "holdings": 5, "turnover": 0.4}}


def test_random_trader_is_seeded_trades_whole_shares_in_the_universe_and_swaps_at_its_turnover(write_config, market,
                                                                                              tmp_path):
    records = run_baseline(write_config, market, tmp_path / "a", RANDOM)
    again = run_baseline(write_config, market, tmp_path / "b", RANDOM)
    other = run_baseline(write_config, market, tmp_path / "c", {**RANDOM, "params": {**RANDOM["params"], "seed": 12}})

    actions = [(r["date"], r["this_action"]) for r in trades(records)]
    assert actions == [(r["date"], r["this_action"]) for r in trades(again)]  # the same seed, the same trader
    assert actions != [(r["date"], r["this_action"]) for r in trades(other)]
    first_day = [a for d, a in actions if d == "2025-10-01"]
    assert len(first_day) == 5 and {a["action"] for a in first_day} == {"buy"}
    assert all(isinstance(a["amount"], int) and a["symbol"] in market.data.universe for _d, a in actions)
    later_sells = [a for d, a in actions if d > "2025-10-01" and a["action"] == "sell"]
    assert 3 <= len(later_sells) <= 25  # 5 holdings x 7 sessions x p=0.2: about 7 swaps
    assert sum(1 for v in records[-1]["positions"].values() if v) == 6  # five holdings and cash


def test_the_report_null_replays_the_random_baseline_from_prices_alone(write_config, market, tmp_path):
    """A random trader of the report's null makes the baseline's trades (through the MCP tools) fill for fill."""
    from arena.models.random_trader import RandomPolicy
    from reports.equity import Marker
    from reports.notes import Notes
    from reports.random_null import Costs, PriceGrid, simulate_traders

    records = run_baseline(write_config, market, tmp_path, RANDOM)
    config = load_config(write_config(models=[RANDOM]))
    days = market.calendar.trading_days(START, END)
    grid = PriceGrid(list(config.universe), days, Marker(market.data, Notes()))
    from agent_tools.fills import build_fee_model, build_fill_model

    ex = config.execution
    costs = Costs(build_fill_model(ex.slippage_bps), build_fee_model(ex.fee_model, ex.per_share, ex.fee_minimum))
    trace: list = []
    simulated = simulate_traders([RandomPolicy(seed=11, holdings=5, turnover=0.4)], grid, 10_000.0, costs,
                                 trace=trace)[0]
    ledger = [(r["date"], r["this_action"]["action"], r["this_action"]["symbol"], float(r["this_action"]["amount"]),
               r["price"], r["fee"]) for r in trades(records)]
    assert [(days[d].isoformat(), side, s, q, price, fee) for d, side, s, q, price, fee in trace[0]] == ledger
    assert any(side == "sell" for _d, side, *_ in ledger)  # swaps, not only the first session's buys
    last = records[-1]["positions"]
    final = last["CASH"] + sum(q * market.data.daily[s].bars[market.data.daily[s].index_of_day(END)].close
                               for s, q in last.items() if s != "CASH" and q)
    assert simulated == pytest.approx(final / 10_000 - 1, abs=1e-5)  # the ledger keeps cash in Decimal cents


def test_the_null_computes_in_bulk_the_draws_the_baseline_makes_one_at_a_time():
    """`session_keys`/`uniforms` (numpy, every trader and day at once) equal `session_key`/`uniform` exactly."""
    import numpy as np

    from arena.models.random_trader import (
        M64,
        PICK_LANE,
        SWAP_LANE,
        RandomPolicy,
        session_key,
        session_keys,
        uniform,
        uniforms,
    )

    seeds = [0, 11, 2**63 + 5, (2025 * 1_000_033 + 4_000_000_000) * 10_007 + 99]
    ordinals = np.arange(date(2020, 1, 2).toordinal(), date(2020, 1, 2).toordinal() + 30)
    keys = session_keys(np.array([s & M64 for s in seeds], dtype=np.uint64), ordinals)
    swaps, picks = uniforms(keys, SWAP_LANE, 5), uniforms(keys, PICK_LANE, 3)
    for i, seed in enumerate(seeds):
        for d, ordinal in enumerate(ordinals.tolist()):
            key = session_key(seed, ordinal)
            assert int(keys[i, d]) == key == RandomPolicy(seed=seed).draws(date.fromordinal(ordinal)).key
            assert swaps[i, d].tolist() == [uniform(key, SWAP_LANE, k) for k in range(5)]
            assert picks[i, d].tolist() == [uniform(key, PICK_LANE, j) for j in range(3)]
    assert 0.0 <= swaps.min() and swaps.max() < 1.0 and abs(float(swaps.mean()) - 0.5) < 0.05


def test_swap_events_found_on_the_raw_words_are_the_draws_below_the_swap_probability():
    """`words_below` (the null's event test, no floats made) agrees with `uniforms(...) < p` on every word, including
    words on either side of each probability's bound."""
    import math

    import numpy as np

    from arena.models.random_trader import SWAP_LANE, as_uniforms, session_keys, uniform_words, words_below

    words = uniform_words(session_keys(np.arange(3, dtype=np.uint64), np.arange(730_000, 730_400)), SWAP_LANE, 5)
    for p in (0.0, 2.0**-53, 3 * 2.0**-53, 1e-9, 0.0019224, 0.1141453, 0.5, 1 - 2.0**-53, 1.0, 1.5, float("nan")):
        edges = np.array([0, 2**64 - 1], dtype=np.uint64)
        if 0 < p < 1:
            bound = math.ceil(p * 2.0**53) << 11
            edges = np.array([max(bound - 1, 0), bound, bound + 1, 0, 2**64 - 1], dtype=np.uint64)
        for sample in (words, edges):
            assert np.array_equal(words_below(sample, p), as_uniforms(sample) < p)


def test_a_random_traders_draws_depend_on_its_seed_and_the_day_only():
    from arena.models.random_trader import RandomPolicy

    universe = [f"S{i:03d}" for i in range(60)]
    policy = RandomPolicy(seed=7, holdings=5, turnover=1.5)
    day = date(2021, 3, 4)
    first = policy.plan(day, [], universe)
    assert first == policy.plan(day, [], universe) and len(set(first[0])) == 5 and first[1] == []
    assert first != policy.plan(day + timedelta(days=1), [], universe)
    assert first != RandomPolicy(seed=8, holdings=5, turnover=1.5).plan(day, [], universe)
    buys, swaps = policy.plan(day, first[0], universe)
    assert buys == [] and swaps and all(old in first[0] and new not in first[0] for old, new in swaps)


def test_the_null_skips_sessions_of_a_trader_that_never_swaps_without_changing_its_return(write_config, market):
    """Turnover 0 (a buy-and-hold model's match) takes the shortcut; a swap chance too small to draw does not."""
    from agent_tools.fills import build_fee_model, build_fill_model
    from arena.models.random_trader import RandomPolicy
    from reports.equity import Marker
    from reports.notes import Notes
    from reports.random_null import Costs, PriceGrid, simulate

    config = load_config(write_config(models=[RANDOM]))
    grid = PriceGrid(list(config.universe), market.calendar.trading_days(START, END), Marker(market.data, Notes()))
    ex = config.execution
    costs = Costs(build_fill_model(ex.slippage_bps), build_fee_model(ex.fee_model, ex.per_share, ex.fee_minimum))
    for seed in (3, 4, 5):
        still = simulate(RandomPolicy(seed=seed, turnover=0.0), grid, 10_000.0, costs)
        assert still != 0.0
        assert still == simulate(RandomPolicy(seed=seed, turnover=1e-15), grid, 10_000.0, costs)
