"""A ledger only moves forward, by instant: a session cannot write before the ledger's latest record."""

from __future__ import annotations

import json

import pytest

from agent_tools.errors import ToolInputError
from tests.replay_helpers import desk_at, ledger_path, ledger_records


def test_a_10_00_session_cannot_run_after_a_15_00_session_of_the_same_day(default_config, market, tmp_path):
    afternoon = desk_at(default_config, market, tmp_path, at="2025-10-02T15:00-04:00")
    afternoon.trade("buy", "AAPL", 2)

    with pytest.raises(ToolInputError, match=r"already has a record at 2025-10-02T15:00:00-04:00, after this "
                                             r"session's instant 2025-10-02T10:00:00-04:00"):
        desk_at(default_config, market, tmp_path, at="2025-10-02T10:00-04:00")


def test_a_later_session_of_the_same_day_may_follow(default_config, market, tmp_path):
    desk_at(default_config, market, tmp_path, at="2025-10-02T10:00-04:00").trade("buy", "AAPL", 2)

    later = desk_at(default_config, market, tmp_path, at="2025-10-02T15:00-04:00")

    assert later.trade("sell", "AAPL", 1)["holding_after"] == 1


def test_an_order_is_refused_when_another_writer_moved_the_ledger_past_the_session(default_config, market, tmp_path):
    morning = desk_at(default_config, market, tmp_path, at="2025-10-02T10:00-04:00")
    desk_at(default_config, market, tmp_path, at="2025-10-02T15:00-04:00").trade("buy", "AAPL", 2)
    before = ledger_path(tmp_path).read_bytes()

    with pytest.raises(ToolInputError, match="after this session's instant"):
        morning.trade("buy", "MSFT", 1)
    assert morning.finish() is None
    assert ledger_path(tmp_path).read_bytes() == before


def test_records_without_a_time_are_compared_by_date(default_config, market, tmp_path):
    desk_at(default_config, market, tmp_path, at="2025-10-03T10:00-04:00").trade("buy", "AAPL", 1)
    path = ledger_path(tmp_path)
    records = ledger_records(path)
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "time"}) + "\n"
                            for r in records))

    with pytest.raises(ToolInputError, match="already has records for 2025-10-03"):
        desk_at(default_config, market, tmp_path, at="2025-10-02T15:00-04:00")
