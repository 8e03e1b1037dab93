"""`serve-tools` answers the protocol before its market data is loaded: `list_tools` needs only the session context
and starts the build of the desk in a worker thread, each tool call waits for that desk, a failed build is one line
on stderr and in every tool call's answer, and the thread that answers the protocol imports no market data stack."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from agent_tools.market_calendar import parse_instant
from agent_tools.server import PendingDesk, build_tool_server
from arena.config import load_config
from arena.desk_factory import build_desk
from arena.serve import pending_desk, settings_for
from arena.session_context import session_context
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

pytestmark = pytest.mark.anyio

AT = "2025-10-02T10:00-04:00"
TOOLS = {"get_price", "get_history", "get_portfolio", "search_news", "buy", "sell", "set_exit"}
BAD_ROW = "2025-10-01,AAPL,200.00,201.00,0,200.50,1000"  # a non-positive low on line 2


def text(result) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture
def broken_config(write_config, tmp_path: Path) -> Path:
    """The default config with a daily price file whose line 2 is refused by the loader."""
    prices = tmp_path / "daily_prices.csv"
    prices.write_text(f"date,symbol,open,high,low,close,volume\n{BAD_ROW}\n", encoding="utf-8")
    return write_config(data={"daily_prices": str(prices)})


async def test_tools_are_listed_before_the_desk_exists_and_a_call_waits_for_it(default_config, market, tmp_path):
    ctx = session_context(default_config, settings_for(default_config, "early"), parse_instant(AT), tmp_path)
    gate, building = threading.Event(), threading.Event()

    def build():
        building.set()
        assert gate.wait(30), "the test never released the build"
        return build_desk(default_config, ctx, market)

    pending = PendingDesk(ctx, build)
    server = build_tool_server(pending)
    results = []
    try:
        async with Client(server) as client:
            assert not pending.started  # connected and initialized: nothing loaded yet
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            assert building.wait(30)  # listing the tools started the build
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(lambda: _call(client, results))
                await anyio.wait_all_tasks_blocked()  # the call is waiting for the desk
                assert results == [] and not (tmp_path / "early").exists()  # no desk, nothing written yet
                gate.set()
    finally:
        gate.set()
        pending.join()

    (price,) = results
    assert not price.is_error
    assert price.structured_content["prices"]["AAPL"]["basis"] == "open of the 10:00 hourly bar"
    assert (tmp_path / "early" / "position" / "position.jsonl").exists()


async def _call(client: Client, results: list) -> None:
    results.append(await client.call_tool("get_price", {"symbols": ["AAPL"]}))


async def test_a_failed_build_is_one_line_on_stderr_and_the_error_of_every_tool_call(broken_config, tmp_path,
                                                                                   capsys):
    config = load_config(broken_config)
    ctx = session_context(config, settings_for(config, "early"), parse_instant(AT), tmp_path)
    pending = pending_desk(config, ctx)
    server = build_tool_server(pending)
    async with Client(server) as client:
        price = await client.call_tool("get_price", {"symbols": ["AAPL"]})  # a first call starts the build too
        buy = await client.call_tool("buy", {"symbol": "AAPL", "amount": 1})
        listed = await client.list_tools()
    pending.join()

    assert {t.name for t in listed.tools} == TOOLS
    assert price.is_error and buy.is_error and text(price) == text(buy)
    assert "\n" not in text(price)
    assert f"{broken_config.parent / 'daily_prices.csv'} line 2: non-positive 'low'" in text(price)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {text(price)}"]
    assert not (tmp_path / "early").exists()


@pytest.mark.slow
async def test_serve_tools_over_stdio_with_a_broken_price_file_lists_its_tools_and_answers_one_line(broken_config,
                                                                                                   tmp_path):
    params = StdioServerParameters(
        command=PYTHON, args=["main.py", "serve-tools", "--signature", "early", "--at", AT, "--config",
                              str(broken_config), "--out", str(tmp_path / "out")],
        cwd=str(PROJECT_DIR), env=subprocess_env())
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=60) as client:
            listed = await client.list_tools()
            price = await client.call_tool("get_price", {"symbols": ["AAPL"]})
    stderr = (tmp_path / "stderr.txt").read_text()

    assert {t.name for t in listed.tools} == TOOLS
    assert price.is_error and "\n" not in text(price)
    assert "daily_prices.csv line 2: non-positive 'low' (symbol AAPL, 2025-10-01)" in text(price)
    assert [line for line in stderr.splitlines() if line.startswith("error: ")] == [f"error: {text(price)}"]
    assert "Traceback" not in stderr


@pytest.mark.slow
async def test_the_thread_that_answers_serve_tools_imports_no_pandas_numpy_openai_or_alpaca(tmp_path):
    log = tmp_path / "imports.json"
    params = StdioServerParameters(
        command=PYTHON, args=["tests/import_probe.py", str(log), "serve-tools", "--signature", "probe", "--at", AT,
                              "--out", str(tmp_path / "out")],
        cwd=str(PROJECT_DIR), env=subprocess_env())
    async with Client(params, read_timeout_seconds=60) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        price = await client.call_tool("get_price", {"symbols": ["AAPL"]})
    imported = {thread: {m.split(".")[0] for m in modules} for thread, modules in json.loads(log.read_text()).items()}

    assert not price.is_error
    assert {"mcp", "pydantic", "click"} <= imported["MainThread"]  # the probe sees the main thread's imports
    assert not imported["MainThread"] & {"pandas", "numpy", "pyarrow", "openai", "alpaca", "matplotlib"}
    loaded = json.loads(log.read_text())
    # the market data came in the worker thread (a CSV file needs no pandas: bars are parsed with the stdlib)
    assert "agent_tools.market_data" in loaded["desk-builder"]
    assert "agent_tools.market_data" not in loaded["MainThread"]
