"""The six MCP tools over the in-process transport: schemas, refusals of malformed calls, a fixed clock."""

from __future__ import annotations

import pytest
from mcp import Client

from agent_tools.server import build_tool_server
from tests.replay_helpers import desk_at, ledger_records

TOOLS = {"get_price", "get_history", "get_portfolio", "search_news", "buy", "sell", "set_exit"}


@pytest.fixture
def desk(default_config, market, tmp_path):
    return desk_at(default_config, market, tmp_path, max_position_weight=None)


@pytest.fixture
async def client(desk):
    async with Client(build_tool_server(desk)) as session:
        yield session


def text(result) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.anyio
async def test_the_six_tools_are_listed_with_their_schemas(client):
    tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}

    assert set(tools) == TOOLS
    assert set(tools["buy"]["required"]) == {"symbol", "amount"}
    assert tools["buy"]["properties"]["amount"]["type"] == "number"
    assert set(tools["sell"]["required"]) == {"symbol", "amount"}
    assert tools["get_price"]["properties"]["symbols"]["maxItems"] == 30
    assert tools["get_history"]["properties"]["days"]["maximum"] == 60
    assert tools["search_news"]["properties"]["limit"]["maximum"] == 20
    assert "ctx" not in tools["buy"]["properties"]


MALFORMED_BUYS = [
    ({"symbol": "AAPL", "amount": "abc"}, "amount: Input should be a valid number"),
    ({"symbol": "AAPL", "amount": -5}, "amount must be a positive whole number of shares, got -5"),
    ({"symbol": "AAPL", "amount": 2.5}, "fractional trading is off"),
    ({"symbol": "AAPL", "amount": 1e12}, "you can afford at most 39"),
    ({"symbol": "AAPL", "amount": 1e30}, "too large"),
    ({"symbol": "AAPL", "amount": True}, "not true/false"),
    ({"symbol": "AAPL"}, "amount: Field required"),
    ({"amount": 1}, "symbol: Field required"),
    ({"symbol": "ZZZZ", "amount": 1}, "unknown symbol 'ZZZZ'"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("arguments", "expected"), MALFORMED_BUYS, ids=[repr(a) for a, _ in MALFORMED_BUYS])
async def test_malformed_buy_is_an_error_with_a_clear_message_and_writes_nothing(client, desk, arguments, expected):
    before = desk.ledger.path.read_bytes()

    result = await client.call_tool("buy", arguments)

    assert result.is_error
    assert expected in text(result)
    assert desk.ledger.path.read_bytes() == before
    assert [r["id"] for r in ledger_records(desk.ledger.path)] == [0]  # only the initialization record


@pytest.mark.anyio
async def test_valid_buy_is_filled_and_appears_in_the_ledger(client, desk):
    result = await client.call_tool("buy", {"symbol": "AAPL", "amount": 3, "reason": "test"})

    assert not result.is_error
    fill = result.structured_content
    last = ledger_records(desk.ledger.path)[-1]
    assert (last["id"], fill["ledger_id"]) == (1, 1)
    assert last["this_action"] == {"action": "buy", "symbol": "AAPL", "amount": 3}
    assert (last["price"], last["fee"], last["reason"]) == (fill["price"], fill["fee"], "test")
    assert last["positions"]["AAPL"] == 3


@pytest.mark.anyio
async def test_amount_given_as_a_numeric_string_is_read_as_the_number(client, desk):
    result = await client.call_tool("buy", {"symbol": "AAPL", "amount": "2"})

    assert not result.is_error
    assert ledger_records(desk.ledger.path)[-1]["this_action"]["amount"] == 2


@pytest.mark.anyio
async def test_sell_of_more_than_held_is_an_error(client, desk):
    result = await client.call_tool("sell", {"symbol": "AAPL", "amount": 1})

    assert result.is_error
    assert "you hold 0" in text(result)


@pytest.mark.anyio
async def test_portfolio_shows_a_fill(client):
    await client.call_tool("buy", {"symbol": "AAPL", "amount": 3})

    portfolio = (await client.call_tool("get_portfolio", {})).structured_content

    assert portfolio["holdings"]["AAPL"]["quantity"] == 3
    assert portfolio["trades_this_session"] == 1


@pytest.mark.anyio
async def test_history_end_date_after_the_session_is_refused(client):
    result = await client.call_tool("get_history", {"symbol": "AAPL", "end_date": "2025-10-03"})

    assert result.is_error
    assert "end_date 2025-10-03 is in the future" in text(result)


@pytest.mark.anyio
async def test_extra_arguments_cannot_move_the_clock(client, desk):
    result = await client.call_tool("get_price", {"symbols": ["AAPL"], "at": "2025-10-20T10:00-04:00",
                                                  "time": "2025-10-20T10:00-04:00", "instant": "2025-10-20"})

    assert not result.is_error
    assert result.structured_content["time"] == "2025-10-02T10:00:00-04:00"
    assert result.structured_content["prices"]["AAPL"]["price"] == desk.view.quote("AAPL").price
    assert result.structured_content["prices"]["AAPL"]["basis"] == "open of the 10:00 hourly bar"


@pytest.mark.anyio
async def test_history_through_the_tool_ends_with_todays_open_only(client):
    bars = (await client.call_tool("get_history", {"symbol": "AAPL", "days": 2})).structured_content["bars"]

    assert [b["date"] for b in bars] == ["2025-09-30", "2025-10-01", "2025-10-02"]
    assert set(bars[-1]) == {"date", "open", "partial"}


@pytest.mark.anyio
async def test_news_tool_returns_nothing_published_after_the_session(client):
    result = await client.call_tool("search_news", {"limit": 20})

    items = result.structured_content["items"]
    assert len(items) == 20
    assert max(i["published_at"] for i in items) == "2025-10-02T08:00:09-04:00"


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [0, 21])
async def test_news_limit_outside_1_to_20_is_an_error(client, limit):
    result = await client.call_tool("search_news", {"limit": limit})

    assert result.is_error
    assert "limit" in text(result)


@pytest.mark.anyio
async def test_unknown_tool_is_an_error(client):
    result = await client.call_tool("set_time", {"at": "2025-10-20T10:00-04:00"})

    assert result.is_error
