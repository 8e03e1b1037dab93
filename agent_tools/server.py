"""The MCP tool server (official `mcp` SDK, 2.x `MCPServer`) over one TradingDesk.

The session context is bound when the server is built: no tool argument moves the clock or switches the account.
Served in-process (`mcp.Client(server)`, the default) or over stdio by `tradearena serve-tools`, which builds its
server over a `PendingDesk` so it answers the protocol while the market data loads.

This module imports no market data (pandas): the desk's modules come with the desk.
"""


import functools
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import BeforeValidator, Field, ValidationError

from agent_tools.clean_text import clean_data, one_line
from agent_tools.context import SessionContext
from agent_tools.errors import ToolInputError
from agent_tools.tool_bounds import MAX_HISTORY_DAYS, MAX_PRICE_SYMBOLS

if TYPE_CHECKING:
    from agent_tools.trading_desk import TradingDesk

TRADE_TOOLS = ("buy", "sell")


class PendingDesk:
    """A desk built in a worker thread while the server already answers `initialize` and `list_tools`.

    Its context is known at once (the tools' descriptions come from it); the desk exists only once `build` has
    returned, so no tool ever sees it half-built. The server starts the build once it has listed its tools (or at the
    first tool call): loading sooner would only compete with the protocol answers for the interpreter lock, not
    finish sooner. Every tool call waits for the desk; if building failed, every call gets the build's error as one
    line.
    """

    def __init__(self, ctx: SessionContext, build: "Callable[[], TradingDesk]"):
        self.ctx = ctx
        self._build = build
        self._future: Future[TradingDesk] = Future()
        self._thread = threading.Thread(target=self._run, name="desk-builder")
        self._start_lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def start(self) -> None:
        """Start the build (once; later calls do nothing)."""
        with self._start_lock:
            if not self.started:
                self._thread.start()

    def join(self) -> None:
        """Wait for a started build to end (a ledger's first record is never cut off by the process exiting)."""
        if self.started:
            self._thread.join()

    def _run(self) -> None:
        try:
            desk = self._build()
        except BaseException as exc:  # handed to every tool call as its error
            self._future.set_exception(exc)
        else:
            self._future.set_result(desk)

    async def wait(self) -> "TradingDesk":
        self.start()
        if not self._future.done():
            await anyio.to_thread.run_sync(self._future.exception)  # waits, off the event loop
        failure = self._future.exception()
        if failure is not None:
            raise ToolError(one_line(str(failure)) or type(failure).__name__)
        return self._future.result()


class ToolServer(MCPServer):
    """MCPServer whose argument-validation errors are one clear line: tool, field, problem, value received.

    A buy or sell refused for its arguments (a schema error) is a refused trade call like any other: it goes into
    the desk's audit trail.
    """

    def __init__(self, *args: Any, desk: "TradingDesk | None" = None, pending: PendingDesk | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.desk = desk
        self.pending = pending

    async def list_tools(self) -> Any:
        tools = await super().list_tools()
        if self.pending is not None:
            self.pending.start()  # the client has what it needs to begin: now load the data
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        if self.desk is None and self.pending is not None:
            self.desk = await self.pending.wait()
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                problems = []
                for err in cause.errors():
                    field = ".".join(str(p) for p in err["loc"]) or "arguments"
                    got = "" if err["type"] == "missing" else f" (got {err.get('input')!r})"
                    problems.append(f"{field}: {err['msg']}{got}")
                message = f"{name}: invalid arguments: {'; '.join(problems)}"
                if name in TRADE_TOOLS and self.desk is not None:
                    self._audit_invalid(name, arguments, message)
                raise ToolError(message) from cause
            raise

    def _audit_invalid(self, name: str, arguments: dict[str, Any], message: str) -> None:
        args = clean_data(arguments) if isinstance(arguments, dict) else {}
        amount = args.get("amount")
        assert self.desk is not None
        self.desk.trail.record({"type": "rejection", "side": name, "symbol": args.get("symbol"),
                                "amount": amount if isinstance(amount, int | float | str) or amount is None else repr(amount),
                                "rule": "invalid_arguments", "message": message})


def _business_errors(fn: Callable[..., dict]) -> Callable[..., dict]:
    """Desk refusals become ToolError, so the client sees the message (other exceptions would be hidden).

    Arguments are cleaned here, where any MCP client's text enters (a lone surrogate in a reason, say).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> dict:
        try:
            return fn(*clean_data(args), **{k: clean_data(v) for k, v in kwargs.items()})
        except ToolInputError as exc:
            raise ToolError(str(exc)) from None

    return wrapper


def _call_id(ctx: Context | None) -> str | None:
    """The client's id for this tool call (request meta), used to make broker order ids deterministic."""
    try:
        meta = ctx.request_context.meta if ctx is not None else None
    except ValueError:
        return None
    if meta is None:
        return None
    value = meta.get("call_id") if isinstance(meta, dict) else getattr(meta, "call_id", None)
    if value is None and hasattr(meta, "model_extra"):
        value = (meta.model_extra or {}).get("call_id")
    return str(value) if value else None


def build_tool_server(desk: "TradingDesk | PendingDesk") -> ToolServer:
    """The tools over a built desk (a replay session), or over a `PendingDesk` (`serve-tools`): tool calls wait for
    it (`ToolServer.call_tool`), so the tools below always run on the built desk."""
    pending = desk if isinstance(desk, PendingDesk) else None
    ctx = desk.ctx

    def the_desk() -> "TradingDesk":
        assert server.desk is not None  # set before any tool runs
        return server.desk
    unit = "shares (fractions allowed, up to 4 decimals)" if ctx.limits.fractional else "whole shares"
    tools: list[Tool] = []

    def tool(description: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`@server.tool(description=...)`, with the schema work cached per process (see `_tool_for`)."""
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            tools.append(_tool_for(fn, description))
            return fn
        return register

    @tool(description=(
        "Price of one or several symbols now: the price orders fill at (before slippage). Each price says when it "
        "was set (as_of) and what it is (e.g. the open of the 10:00 hourly bar); news is cut at that same time."
    ))
    @_business_errors
    def get_price(
        symbols: Annotated[list[str], Field(min_length=1, max_length=MAX_PRICE_SYMBOLS,
                                            description="Tickers, e.g. [\"AAPL\", \"NVDA\"]")],
    ) -> dict[str, Any]:
        return the_desk().get_price(symbols)

    @tool(description=(
        "Daily bars (date, open, high, low, close, volume) up to now for one symbol, oldest first. Today's bar shows "
        "only its open until the close. end_date may not be later than today."
    ))
    @_business_errors
    def get_history(
        symbol: Annotated[str, Field(description="Ticker, e.g. AAPL")],
        days: Annotated[int, Field(ge=1, le=MAX_HISTORY_DAYS, description="How many completed sessions")] = 20,
        end_date: Annotated[str | None, Field(description="Last date YYYY-MM-DD (default: today)")] = None,
    ) -> dict[str, Any]:
        return the_desk().get_history(symbol, days, end_date)

    @tool(description=(
        "Your account now: cash, holdings with price, market value, weight, average cost and unrealized P&L, "
        "total value, trades made and left this session."
    ))
    @_business_errors
    def get_portfolio() -> dict[str, Any]:
        return the_desk().get_portfolio()

    @tool(description=(
        "Search news known by the time of the current prices (news_up_to), newest first. Keywords must all match "
        "the title or summary; ticker restricts to items about that symbol."
    ))
    @_business_errors
    def search_news(
        query: Annotated[str, Field(description="Keywords, e.g. 'nvidia earnings'; empty for the latest news")] = "",
        ticker: Annotated[str | None, Field(description="Only news about this ticker")] = None,
        limit: Annotated[int, Field(ge=1, le=20, description="Most items to return")] = 5,
    ) -> dict[str, Any]:
        return the_desk().search_news(query, ticker, limit)

    amount_doc = f"How many {unit} to trade, a positive number"
    reason_doc = "One sentence on why (kept in the trade log)"

    @tool(description=f"Buy {unit} of a symbol at the current price plus slippage and fees. Checked by risk limits.")
    @_business_errors
    def buy(
        symbol: Annotated[str, Field(description="Ticker to buy, e.g. AAPL")],
        amount: Annotated[Amount, Field(description=amount_doc)],
        reason: Annotated[str | None, Field(description=reason_doc)] = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        return the_desk().trade("buy", symbol, _as_number(amount), reason, _call_id(ctx))

    @tool(description=f"Sell {unit} of a symbol you hold at the current price minus slippage and fees.")
    @_business_errors
    def sell(
        symbol: Annotated[str, Field(description="Ticker to sell, e.g. AAPL")],
        amount: Annotated[Amount, Field(description=amount_doc)],
        reason: Annotated[str | None, Field(description=reason_doc)] = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        return the_desk().trade("sell", symbol, _as_number(amount), reason, _call_id(ctx))

    @tool(description=(
        "Set or change exit rules for a position you hold; they sell it without asking you, on every price bar: "
        "stop_loss and take_profit are fractions of your average cost (0.08 = sell 8% below it), trailing_stop a "
        "fraction below the highest price since you bought. Omit a rule to keep it; 0 switches it off."
    ))
    @_business_errors
    def set_exit(
        symbol: Annotated[str, Field(description="Ticker you hold, e.g. AAPL")],
        stop_loss: Annotated[float | None, Field(ge=0, lt=1, description="e.g. 0.08; 0: off")] = None,
        take_profit: Annotated[float | None, Field(ge=0, le=100, description="e.g. 0.2; 0: off")] = None,
        trailing_stop: Annotated[float | None, Field(ge=0, lt=1, description="e.g. 0.05; 0: off")] = None,
    ) -> dict[str, Any]:
        return the_desk().set_exit(symbol, stop_loss, take_profit, trailing_stop)

    server = ToolServer(
        "tradearena",
        instructions=(
            f"Trading tools for account '{ctx.signature}' at {ctx.instant:%Y-%m-%d %H:%M %Z} ({ctx.mode}). "
            "Prices and news are what was known at that instant; orders fill at the current price plus slippage and fees."
        ),
        log_level="WARNING",
        tools=tools,
        desk=None if pending is not None else desk,
        pending=pending,
    )
    return server


_TOOL_CACHE: dict[tuple[str, str, str], Tool] = {}


def _tool_for(fn: Callable[..., Any], description: str) -> Tool:
    """`Tool.from_function(fn, description=...)` with its argument model and JSON schemas built once per process.

    A server is built per session (its tools close over that session's desk) but the tools' signatures do not change,
    and building their pydantic models was about half of a session's harness time. The key holds the whole signature
    (annotations, defaults, return type), so any other signature gets its own entry; the copy only swaps in `fn`.
    """
    key = (fn.__qualname__, description, str(inspect.signature(fn)))
    template = _TOOL_CACHE.get(key)
    if template is None:
        template = _TOOL_CACHE[key] = Tool.from_function(fn, description=description)
    return template.model_copy(update={"fn": fn})


def _not_bool(value: Any) -> Any:
    """JSON true/false is not a quantity (pydantic would quietly read true as 1 share)."""
    if isinstance(value, bool):
        raise ValueError("amount must be a number of shares, not true/false")
    return value


Amount = Annotated[float, BeforeValidator(_not_bool)]


def _as_number(amount: float) -> int | float:
    """Whole floats back to ints so the ledger writes `10`, not `10.0`."""
    return int(amount) if isinstance(amount, float) and amount.is_integer() and abs(amount) < 1e15 else amount
