"""The built-in baselines are real strategies acting through the MCP tools, checked against the data directly."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

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
    series = market.data.daily[symbol]
    return series.bars[series.index_of_day(day)].open


def test_buy_and_hold_buys_qqq_once_with_almost_all_cash_and_holds(write_config, market, tmp_path):
    records = run_baseline(write_config, market, tmp_path, {
        "signature": "bh", "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
        "limits": {"max_position_weight": 1.0}})

    bought = trades(records)
    assert [(t["date"], t["this_action"]["action"], t["this_action"]["symbol"]) for t in bought] == [("2025-10-01", "buy", "QQQ")]
    amount, price = bought[0]["this_action"]["amount"], bought[0]["price"]
    assert amount * price <= 10_000 < (amount + 1) * price  # as many whole shares as the cash allows
    assert bought[0]["price"] > open_price(market, "QQQ", START)  # slippage: buys fill above the open
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
