"""A point-in-time universe: a symbol is neither shown nor tradable before it joins; after it leaves it can only
be sold."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from agent_tools.errors import ToolInputError, TradeRejected
from agent_tools.universe import Member, Universe
from arena.config import ConfigError, load_config
from arena.desk_factory import Market
from tests.replay_helpers import desk_at


def test_the_bundled_list_dates_its_2025_changes(default_config):
    members = {m.symbol: m for m in default_config.membership.members}

    assert (str(members["TRI"].start), str(members["SHOP"].start)) == ("2025-07-28", "2025-05-19")
    assert {s for s, m in members.items() if m.end} == {"BIIB", "CDW", "GFS", "LULU", "ON", "TTD"}
    assert "TRI" not in default_config.membership.on(date(2025, 7, 25))


def test_a_symbol_is_neither_shown_nor_tradable_before_it_joins(default_config, market, tmp_path):
    before = desk_at(default_config, market, tmp_path / "a", at="2025-07-25T10:00-04:00")

    with pytest.raises(ToolInputError, match="TRI is not in the universe on 2025-07-25: it is a member from 2025-07-28"):
        before.get_price(["TRI"])
    with pytest.raises(ToolInputError, match="TRI is not in the universe"):
        before.get_history("TRI", 5)
    with pytest.raises(TradeRejected, match="tradable_symbol"):
        before.trade("buy", "TRI", 1)
    assert "TRI" not in before.view.universe and "AAPL" in before.view.universe

    joined = desk_at(default_config, market, tmp_path / "b", at="2025-07-28T10:00-04:00")
    assert joined.trade("buy", "TRI", 1)["filled"] == 1


def test_a_symbol_that_left_is_no_longer_listed_or_buyable_but_a_holding_can_be_sold(default_config, market, tmp_path):
    holder = desk_at(default_config, market, tmp_path, at="2025-10-01T10:00-04:00")
    holder.trade("buy", "AAPL", 3)
    members = Universe(tuple(Member(s, end=date(2025, 10, 1)) if s == "AAPL" else Member(s)
                             for s in market.data.universe))
    left = Market(replace(market.data, members=members), market.calendar, market.news)

    after = desk_at(default_config, left, tmp_path, at="2025-10-02T10:00-04:00")

    assert "AAPL" not in after.view.universe
    with pytest.raises(TradeRejected, match="AAPL has left the tradable universe: you may sell it, not buy more"):
        after.trade("buy", "AAPL", 1)
    assert after.trade("sell", "AAPL", 3)["holding_after"] == 0
    assert after.get_portfolio()["total_value"] > 0


def test_membership_dates_are_checked_on_load(write_config):
    with pytest.raises(ConfigError, match=r"universe\[0\]: TRI: 'to' 2025-01-01 is before 'from' 2025-07-28"):
        load_config(write_config(universe=[{"symbol": "TRI", "from": "2025-07-28", "to": "2025-01-01"}, "QQQ"]))
    with pytest.raises(ConfigError, match=r"universe\[0\]: from: Input should be a valid date"):
        load_config(write_config(universe=[{"symbol": "TRI", "from": "someday"}, "QQQ"]))
