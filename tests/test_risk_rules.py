"""Every risk rule through the trading desk: it refuses what it should, says exactly what would be allowed,
writes nothing to the ledger and leaves the refusal in the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent_tools.ledger import CASH
from tests.replay_helpers import desk_at, expect_rejection, ledger_records

# At 2025-10-02 10:00 AAPL's open is 256.575; with the default 5 bps slippage a buy fills at 256.7033.
# Default fees: $0.005 a share, minimum $0.35 an order.
AAPL_BUY = Decimal("256.7033")


# -- positive amount -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("amount", [0, -5, "abc", "3", True, None, float("nan"), float("inf"), [1]])
def test_amount_that_is_not_a_positive_number_is_refused(default_config, market, tmp_path, amount):
    desk = desk_at(default_config, market, tmp_path)

    message = expect_rejection(desk, "buy", "AAPL", amount, "positive_amount")

    assert "amount must be a positive whole number of shares" in message


def test_fraction_is_refused_when_fractional_trading_is_off_with_a_whole_number_hint(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path)

    message = expect_rejection(desk, "buy", "AAPL", 2.5, "positive_amount")

    assert "fractional trading is off" in message
    assert message.endswith("got 2.5; try 2")


def test_fraction_with_at_most_four_decimals_fills_when_fractional_trading_is_on(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, fractional=True)

    result = desk.trade("buy", "AAPL", 0.1234)

    assert result["filled"] == 0.1234
    assert ledger_records(desk.ledger.path)[-1]["positions"]["AAPL"] == 0.1234


def test_fraction_with_five_decimals_is_refused_when_fractional_trading_is_on(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, fractional=True)

    message = expect_rejection(desk, "buy", "AAPL", 1.23456, "positive_amount")

    assert "at most 4 decimals" in message


@pytest.mark.parametrize("fractional", [False, True])
def test_absurdly_large_amount_is_refused_plainly(default_config, market, tmp_path, fractional):
    desk = desk_at(default_config, market, tmp_path, fractional=fractional)

    message = expect_rejection(desk, "buy", "AAPL", 1e30, "positive_amount")

    assert "too large" in message


# -- tradable symbol -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("symbol", ["ZZZZ", "", "COIN"])
def test_symbol_outside_the_universe_is_refused(default_config, market, tmp_path, symbol):
    desk = desk_at(default_config, market, tmp_path)

    message = expect_rejection(desk, "buy", symbol, 1, "tradable_symbol")

    assert f"unknown symbol {symbol!r}" in message


def test_symbol_is_normalised_before_it_reaches_the_ledger(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path)

    desk.trade("buy", " aapl ", 1)

    assert ledger_records(desk.ledger.path)[-1]["this_action"] == {"action": "buy", "symbol": "AAPL", "amount": 1}


# -- market open -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("at", ["2025-10-04T10:00-04:00", "2025-11-27T10:00-05:00", "2025-10-02T09:15-04:00"],
                         ids=["saturday", "thanksgiving", "before-the-open"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_orders_are_refused_while_the_market_is_closed(default_config, market, tmp_path, at, side):
    desk = desk_at(default_config, market, tmp_path, at)

    message = expect_rejection(desk, side, "AAPL", 1, "market_open")

    assert "the market is closed" in message


# -- sufficient cash -------------------------------------------------------------------------------------------------
def test_buy_beyond_cash_including_fees_is_refused_with_the_largest_affordable_amount(default_config, market, tmp_path):
    # AAPL fills at 256.1530 (the 10:00 price 256.025 plus 5 bps). 4 shares: 1024.61 + 0.35 fee = 1024.96 > 1024.95,
    # although the shares alone (1024.61) would fit
    desk = desk_at(default_config, market, tmp_path, initial_cash="1024.95", max_position_weight=None)

    message = expect_rejection(desk, "buy", "AAPL", 4, "sufficient_cash")

    assert message.endswith("you can afford at most 3")
    assert desk.trade("buy", "AAPL", 3)["filled"] == 3  # and the hint itself is accepted


def test_affordable_hint_is_exact_for_fractional_quantities(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, initial_cash="100.00", max_position_weight=None, fractional=True)
    # most q with q * 256.1530 + 0.35 <= 100: q = 0.389 (99.9935); 0.3891 costs 100.0191
    message = expect_rejection(desk, "buy", "AAPL", 1, "sufficient_cash")

    assert message.endswith("you can afford at most 0.389")
    expect_rejection(desk, "buy", "AAPL", 0.3891, "sufficient_cash")
    assert desk.trade("buy", "AAPL", 0.389)["cash_after"] >= 0


# -- no oversell -----------------------------------------------------------------------------------------------------
def test_selling_more_than_held_is_refused(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path)
    desk.trade("buy", "AAPL", 2)

    message = expect_rejection(desk, "sell", "AAPL", 3, "no_oversell")

    assert "cannot sell 3 AAPL: you hold 2" in message
    assert desk.trade("sell", "AAPL", 2)["holding_after"] == 0


def test_selling_a_symbol_not_held_is_refused(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path)

    message = expect_rejection(desk, "sell", "NVDA", 1, "no_oversell")

    assert "you hold 0" in message


# -- max position weight ---------------------------------------------------------------------------------------------
def test_buy_above_the_position_weight_limit_is_refused_with_the_exact_room_left(default_config, market, tmp_path):
    # 25% of (10,000 - 0.35 fee) / 256.7033 = 9.74 shares
    desk = desk_at(default_config, market, tmp_path, max_position_weight=0.25)

    message = expect_rejection(desk, "buy", "AAPL", 10, "max_position_weight")

    assert "above the 25% limit" in message
    assert message.endswith("you can buy at most 9 more")
    assert desk.trade("buy", "AAPL", 9)["filled"] == 9
    assert expect_rejection(desk, "buy", "AAPL", 1, "max_position_weight").endswith("at most 0 more")


def test_position_weight_counts_the_fee_that_lowers_equity(default_config, market, tmp_path):
    # 9 shares = 2305.377 is 24.9998% of 9221.60, but 25.0007% of the 9221.25 left after the 0.35 fee
    desk = desk_at(default_config, market, tmp_path, initial_cash="9221.60", max_position_weight=0.25)

    assert expect_rejection(desk, "buy", "AAPL", 9, "max_position_weight").endswith("you can buy at most 8 more")


def test_position_weight_limit_does_not_stop_sells(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_position_weight=None)
    desk.trade("buy", "AAPL", 20)
    capped = desk_at(default_config, market, tmp_path, max_position_weight=0.1)

    assert capped.trade("sell", "AAPL", 1)["holding_after"] == 19


# -- max order value -------------------------------------------------------------------------------------------------
def test_order_above_the_value_limit_is_refused_with_the_exact_largest_amount(default_config, market, tmp_path):
    # 3 * 256.1530 = 768.459 fits under 768.46 by a tenth of a cent; 4 shares do not
    desk = desk_at(default_config, market, tmp_path, max_order_value=768.46, max_position_weight=None)

    message = expect_rejection(desk, "buy", "AAPL", 4, "max_order_value")

    assert "exceeds the $768.46 limit per order" in message
    assert message.endswith("at most 3 AAPL")
    assert desk.trade("buy", "AAPL", 3)["filled"] == 3


def test_order_exactly_at_the_value_limit_is_accepted(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_order_value=768.459, max_position_weight=None)

    assert desk.trade("buy", "AAPL", 3)["filled"] == 3


def test_order_value_limit_applies_to_sells_too(default_config, market, tmp_path):
    desk_at(default_config, market, tmp_path, max_position_weight=None).trade("buy", "AAPL", 5)
    desk = desk_at(default_config, market, tmp_path, max_order_value=600, max_position_weight=None)

    assert expect_rejection(desk, "sell", "AAPL", 5, "max_order_value").endswith("at most 2 AAPL")


# -- max trades per session ------------------------------------------------------------------------------------------
def test_fills_beyond_the_session_limit_are_refused(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_trades_per_session=2)
    desk.trade("buy", "AAPL", 1)
    desk.trade("buy", "AAPL", 1)

    message = expect_rejection(desk, "buy", "AAPL", 1, "max_trades_per_session")

    assert "trade limit reached: 2 trades per session" in message


def test_session_trade_count_survives_a_restart_of_the_desk(default_config, market, tmp_path):
    first = desk_at(default_config, market, tmp_path, max_trades_per_session=2)
    first.trade("buy", "AAPL", 1)
    first.trade("buy", "AAPL", 1)

    again = desk_at(default_config, market, tmp_path, max_trades_per_session=2)

    expect_rejection(again, "buy", "AAPL", 1, "max_trades_per_session")


def test_trade_limit_starts_afresh_in_the_next_session(default_config, market, tmp_path):
    first = desk_at(default_config, market, tmp_path, max_trades_per_session=1)
    first.trade("buy", "AAPL", 1)

    next_day = desk_at(default_config, market, tmp_path, "2025-10-03T10:00-04:00", max_trades_per_session=1)

    assert next_day.trade("buy", "AAPL", 1)["holding_after"] == 2


def test_rejections_do_not_count_as_trades(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_trades_per_session=1)
    expect_rejection(desk, "buy", "AAPL", -1, "positive_amount")

    assert desk.trade("buy", "AAPL", 1)["filled"] == 1


# -- drawdown halt ---------------------------------------------------------------------------------------------------
# APP closed 2025-10-01 far above where it opened on 2025-10-14, so a ledger loaded with APP on Oct 1 has a
# past peak (Oct 1 cash + APP at Oct 1's close) well above its equity at Oct 14 10:00.
FALLEN_DAY = "2025-10-14T10:00-04:00"


@pytest.fixture
def app_bought_on_oct_1(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, "2025-10-01T10:00-04:00", max_position_weight=None)
    quantity = int(9000 / desk.view.quote("APP").price)
    desk.trade("buy", "APP", quantity)
    return desk.ledger.state.cash, quantity


def test_past_peak_equity_is_valued_at_that_days_close(default_config, market, tmp_path, app_bought_on_oct_1):
    cash, quantity = app_bought_on_oct_1
    close_oct_1 = next(b.close for b in market.data.daily["APP"].bars if b.day.isoformat() == "2025-10-01")

    desk = desk_at(default_config, market, tmp_path, FALLEN_DAY, max_drawdown=0.05, max_position_weight=None)

    assert desk.peak_equity == cash + quantity * Decimal(str(close_oct_1))
    assert desk.equity() < desk.peak_equity * Decimal("0.9")


def test_buys_are_refused_beyond_the_drawdown_limit(default_config, market, tmp_path, app_bought_on_oct_1):
    desk = desk_at(default_config, market, tmp_path, FALLEN_DAY, max_drawdown=0.05, max_position_weight=None)

    message = expect_rejection(desk, "buy", "AAPL", 1, "drawdown_halt")

    assert "below its peak" in message
    assert "only sells are accepted" in message


def test_sells_are_accepted_beyond_the_drawdown_limit(default_config, market, tmp_path, app_bought_on_oct_1):
    _cash, quantity = app_bought_on_oct_1
    desk = desk_at(default_config, market, tmp_path, FALLEN_DAY, max_drawdown=0.05, max_position_weight=None)

    assert desk.trade("sell", "APP", 1)["holding_after"] == quantity - 1


def test_buys_are_accepted_within_the_drawdown_limit(default_config, market, tmp_path, app_bought_on_oct_1):
    desk = desk_at(default_config, market, tmp_path, FALLEN_DAY, max_drawdown=0.5, max_position_weight=None)

    assert desk.trade("buy", "AAPL", 1)["filled"] == 1


# -- what a rejection leaves behind ----------------------------------------------------------------------------------
def test_rejection_is_written_to_the_audit_file_not_the_ledger(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path)
    ledger_before = ledger_records(desk.ledger.path)

    expect_rejection(desk, "buy", "ZZZZ", 1, "tradable_symbol")

    assert ledger_records(desk.ledger.path) == ledger_before
    assert [r["id"] for r in ledger_before] == [0] and CASH in ledger_before[0]["positions"]
    assert '"rule": "tradable_symbol"' in desk.audit_path.read_text(encoding="utf-8")


def test_a_sell_whose_fee_exceeds_cash_plus_proceeds_is_refused_so_cash_never_goes_negative(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, initial_cash="100.00", max_position_weight=None, fractional=True)
    assert desk.trade("buy", "AAPL", 0.389)["cash_after"] == 0.01
    # 0.0001 AAPL brings $0.03, the minimum fee is $0.35: cash would end at -$0.31 (margin)
    message = expect_rejection(desk, "sell", "AAPL", 0.0001, "sufficient_cash")

    assert "no margin" in message
    assert desk.trade("sell", "AAPL", 0.389)["cash_after"] > 0
