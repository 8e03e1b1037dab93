"""The same tools served over stdio by `python main.py serve-tools`: one server process for the whole module."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from arena.config import DEFAULT_CONFIG
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.replay_helpers import ledger_records

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SIGNATURE = "baseline-momentum"
AT = "2025-10-02T10:00-04:00"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stdio-run")


@pytest.fixture(scope="module")
def ledger(out_dir) -> Path:
    return out_dir / SIGNATURE / "position" / "position.jsonl"


@pytest.fixture(scope="module")
async def client(anyio_backend, out_dir):
    params = StdioServerParameters(
        command=PYTHON,
        args=["main.py", "serve-tools", "--signature", SIGNATURE, "--at", AT, "--config", str(DEFAULT_CONFIG),
              "--out", str(out_dir)],
        cwd=str(PROJECT_DIR),
        env=subprocess_env(),
    )
    async with Client(params, read_timeout_seconds=60) as session:
        yield session


def text(result) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def test_server_lists_the_six_tools_with_schemas(client):
    tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}

    assert set(tools) == {"get_price", "get_history", "get_portfolio", "search_news", "buy", "sell", "set_exit"}
    assert set(tools["buy"]["required"]) == {"symbol", "amount"}
    assert tools["buy"]["properties"]["amount"]["type"] == "number"


async def test_the_first_tool_call_finds_the_ledger_started_with_the_initialization_record(client, ledger):
    await client.call_tool("get_portfolio", {})  # answered by the desk, so the desk has been built

    first = ledger_records(ledger)[0]
    assert (first["id"], first["date"], first["positions"]["CASH"]) == (0, "2025-10-02", 10000.0)
    assert "this_action" not in first


MALFORMED_BUYS = [
    ({"symbol": "AAPL", "amount": "abc"}, "amount: Input should be a valid number"),
    ({"symbol": "AAPL", "amount": -5}, "positive whole number of shares, got -5"),
    ({"symbol": "AAPL", "amount": 2.5}, "fractional trading is off"),
    ({"symbol": "AAPL", "amount": 1e12}, "you can afford at most"),
    ({"symbol": "AAPL"}, "amount: Field required"),
    ({"symbol": "ZZZZ", "amount": 1}, "unknown symbol 'ZZZZ'"),
]


@pytest.mark.parametrize(("arguments", "expected"), MALFORMED_BUYS, ids=[repr(a) for a, _ in MALFORMED_BUYS])
async def test_malformed_buy_is_an_error_and_writes_nothing(client, ledger, arguments, expected):
    before = ledger.read_bytes()

    result = await client.call_tool("buy", arguments)

    assert result.is_error
    assert expected in text(result)
    assert ledger.read_bytes() == before


async def test_history_end_date_after_the_session_is_refused(client):
    result = await client.call_tool("get_history", {"symbol": "AAPL", "end_date": "2025-10-03"})

    assert result.is_error
    assert "in the future" in text(result)


async def test_extra_arguments_cannot_move_the_clock(client):
    result = await client.call_tool("get_price", {"symbols": ["AAPL"], "at": "2025-10-20T10:00-04:00"})

    assert result.structured_content["time"] == "2025-10-02T10:00:00-04:00"
    assert result.structured_content["prices"]["AAPL"]["basis"] == "open of the 10:00 hourly bar"


async def test_valid_buy_appears_in_the_ledger(client, ledger):
    before = len(ledger_records(ledger))

    result = await client.call_tool("buy", {"symbol": "AAPL", "amount": 2})

    assert not result.is_error
    records = ledger_records(ledger)
    assert len(records) == before + 1
    assert records[-1]["id"] == result.structured_content["ledger_id"]
    assert records[-1]["this_action"] == {"action": "buy", "symbol": "AAPL", "amount": 2}
