"""Fill prices and commissions, and cash that reconciles to the cent from the ledger's own records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent_tools.fills import (
    BpsFee,
    NoFee,
    PerShareFee,
    SlippageFill,
    build_fee_model,
    build_fill_model,
    cents,
)
from agent_tools.ledger import CASH
from tests.replay_helpers import desk_at, ledger_records


def test_buy_fills_bps_above_the_reference():
    assert SlippageFill(Decimal("5")).fill_price("buy", Decimal("100")) == Decimal("100.0500")


def test_sell_fills_bps_below_the_reference():
    assert SlippageFill(Decimal("10")).fill_price("sell", Decimal("100")) == Decimal("99.9000")


def test_fill_price_is_rounded_to_a_hundredth_of_a_cent():
    # 123.4567 * 1.0005 = 123.51842835
    assert SlippageFill(Decimal("5")).fill_price("buy", Decimal("123.4567")) == Decimal("123.5184")


def test_fill_price_rounds_half_up():
    assert SlippageFill(Decimal("0")).fill_price("buy", Decimal("10.00005")) == Decimal("10.0001")
    assert SlippageFill(Decimal("0")).fill_price("sell", Decimal("10.00005")) == Decimal("10.0001")


def test_zero_slippage_fills_at_the_reference():
    assert build_fill_model(0).fill_price("sell", Decimal("256.575")) == Decimal("256.5750")


def test_per_share_fee_charges_the_minimum_on_small_orders():
    assert PerShareFee(Decimal("0.005"), Decimal("1.00")).fee(Decimal("10"), Decimal("50")) == Decimal("1.00")


def test_per_share_fee_charges_per_share_above_the_minimum():
    assert PerShareFee(Decimal("0.005"), Decimal("1.00")).fee(Decimal("1000"), Decimal("50")) == Decimal("5.00")


def test_per_share_fee_rounds_to_the_cent_half_up():
    # 333 * 0.005 = 1.665
    assert PerShareFee(Decimal("0.005"), Decimal("1.00")).fee(Decimal("333"), Decimal("50")) == Decimal("1.67")


def test_bps_fee_is_a_share_of_the_notional_rounded_to_the_cent():
    # 5 bps of 20 * 500.00 = 10,000 is 5.00; 1 bp of 10 * 123.45 = 1234.5 is 0.12345
    assert BpsFee(Decimal("5")).fee(Decimal("20"), Decimal("500")) == Decimal("5.00")
    assert BpsFee(Decimal("1")).fee(Decimal("10"), Decimal("123.45")) == Decimal("0.12")


def test_bps_fee_has_a_minimum():
    assert BpsFee(Decimal("1"), Decimal("0.50")).fee(Decimal("1"), Decimal("100")) == Decimal("0.50")


@pytest.mark.parametrize("model", [PerShareFee(), BpsFee(minimum=Decimal("1")), NoFee()])
def test_no_shares_cost_no_fee(model):
    assert model.fee(Decimal("0"), Decimal("100")) == Decimal("0")


def test_fee_model_is_chosen_by_name():
    assert build_fee_model("per_share", per_share=0.01, minimum=2) == PerShareFee(Decimal("0.01"), Decimal("2"))
    assert build_fee_model("bps", bps=3, minimum=0) == BpsFee(Decimal("3"), Decimal("0"))
    assert build_fee_model("none") == NoFee()
    with pytest.raises(ValueError, match="unknown fee model 'flat'"):
        build_fee_model("flat")


# The trades below include notionals that end in exactly half a cent (2 AMAT at 225.1125 = 450.2250,
# 5 BIIB at 154.0770 = 770.3850, 3 DASH at 270.1350 = 810.4050): rounding must not depend on the direction.
DAY_ONE = [("buy", "AMAT", 2), ("buy", "BIIB", 5), ("buy", "AAPL", 3), ("buy", "GFS", 7), ("sell", "AMAT", 1),
           ("buy", "NVDA", 80)]
DAY_TWO = [("buy", "DASH", 3), ("sell", "GFS", 7), ("sell", "BIIB", 2), ("buy", "AAPL", 1)]


def test_cash_reconciles_to_the_cent_with_the_ledgers_trades(default_config, market, tmp_path):
    initial = Decimal("25000.00")
    trades = []
    for at, orders in (("2025-10-02T10:00-04:00", DAY_ONE), ("2025-10-03T10:00-04:00", DAY_TWO)):
        desk = desk_at(default_config, market, tmp_path, at, initial_cash=initial, max_position_weight=None)
        for side, symbol, amount in orders:
            trades.append(desk.trade(side, symbol, amount))
    records = ledger_records(desk.ledger.path)
    fills = [r for r in records if (r.get("this_action") or {}).get("action") in ("buy", "sell")]
    assert len(fills) == len(DAY_ONE) + len(DAY_TWO)

    expected = initial
    for r in fills:
        notional = cents(Decimal(str(r["this_action"]["amount"])) * Decimal(str(r["price"])))
        fee = Decimal(str(r["fee"]))
        expected += -notional - fee if r["this_action"]["action"] == "buy" else notional - fee

    assert Decimal(str(records[-1]["positions"][CASH])) == expected
    assert desk.ledger.state.cash == expected
    assert Decimal(str(trades[-1]["cash_after"])) == expected


def test_each_fill_is_priced_by_the_fill_and_fee_models(default_config, market, tmp_path):
    desk = desk_at(default_config, market, tmp_path, max_position_weight=None)
    quote = Decimal(str(desk.view.quote("NVDA").price))

    result = desk.trade("buy", "NVDA", 40)

    price = SlippageFill(Decimal("5")).fill_price("buy", quote)
    assert Decimal(str(result["price"])) == price
    assert Decimal(str(result["fee"])) == PerShareFee(Decimal("0.005"), Decimal("0.35")).fee(Decimal("40"), price)
    assert Decimal(str(result["cash_after"])) == Decimal("10000") - cents(40 * price) - Decimal(str(result["fee"]))
