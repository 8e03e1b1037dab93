"""get_portfolio: average cost with fees, unrealized P&L, weights and the account at the start of the session."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.replay_helpers import desk_at


def test_average_cost_includes_fees_and_survives_a_partial_sell(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_position_weight=1.0)
    first = desk.trade("buy", "AAPL", 10)
    second = desk.trade("buy", "AAPL", 5)
    desk.trade("sell", "AAPL", 6)

    row = desk.get_portfolio()["holdings"]["AAPL"]

    bought = Decimal(str(first["price"])) * 10 + Decimal(str(first["fee"])) + Decimal(str(second["price"])) * 5 + \
        Decimal(str(second["fee"]))
    average = bought / 15  # a sell leaves the average cost of what is still held unchanged
    assert row["quantity"] == 9
    assert row["avg_cost"] == float(average.quantize(Decimal("0.0001")))
    assert row["unrealized_pnl"] == pytest.approx(row["market_value"] - float(average) * 9, abs=0.01)


def test_weights_and_total_value_add_up(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_position_weight=1.0)
    desk.trade("buy", "AAPL", 10)
    desk.trade("buy", "MSFT", 4)

    portfolio = desk.get_portfolio()

    holdings = portfolio["holdings"]
    assert portfolio["total_value"] == pytest.approx(portfolio["cash"] + sum(h["market_value"] for h in holdings.values()))
    assert sum(h["weight"] for h in holdings.values()) + portfolio["cash_weight"] == pytest.approx(1.0, abs=1e-3)


def test_start_of_session_is_the_account_before_todays_trades(default_config, market, tmp_path):
    yesterday = desk_at(default_config, market, tmp_path, "2025-10-01T10:00-04:00", max_position_weight=1.0)
    yesterday.trade("buy", "NVDA", 3)
    today = desk_at(default_config, market, tmp_path, "2025-10-02T10:00-04:00", max_position_weight=1.0)
    today.trade("buy", "AAPL", 2)

    start = today.get_portfolio()["start_of_session"]

    assert start["holdings"] == {"NVDA": 3}
    assert start["cash"] == float(yesterday.ledger.state.cash)  # its ledger was not refreshed after today
