"""One bounded agent session: prompt -> model -> MCP tool calls -> results as `tool` messages -> ... -> done.

The loop ends when the model answers without a tool call or with the finish signal, or at a bound: maximum steps,
wall-clock timeout, token budget or maximum trades. Every ending is clean and has a status saying which. A model
failure ends the session as `failed` with a one-line reason; trades already made stand (they are in the ledger).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from agent_tools.chronology import record_no_trade, session_records
from agent_tools.context import SessionContext
from agent_tools.ledger import TRADE_ACTIONS, PositionLedger
from agent_tools.point_in_time import PriceView
from arena.config import SessionBounds, TokenPrice
from arena.models.base import ModelBackend, ModelError, ModelTurn, ToolCall
from arena.prompt import opening_messages
from arena.session_log import Redactor, SessionLog, append_session_record, monotonic_ms

STATUSES = ("finished", "max_steps", "timeout", "token_budget", "max_trades", "failed")
TRADE_TOOLS = set(TRADE_ACTIONS)


@dataclass
class SessionResult:
    session_id: str
    signature: str
    date: str
    trigger_time: str
    mode: str
    model: str
    baseline: bool
    status: str = "failed"
    steps: int = 0
    tool_calls: int = 0
    trades: int = 0
    rejections: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    error: str | None = None

    def to_record(self) -> dict:
        return asdict(self)


def cost_of(prompt: int, completion: int, cached: int, price: TokenPrice) -> float:
    cached_price = price.cached_prompt_per_million if price.cached_prompt_per_million is not None else price.prompt_per_million
    return round(
        ((prompt - cached) * price.prompt_per_million + cached * cached_price + completion * price.completion_per_million) / 1e6,
        6,
    )


def openai_tools(tool_list: Any) -> list[dict]:
    """MCP tool definitions in the chat-completions `tools` shape (the input schema is JSON Schema already)."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema}}
        for t in tool_list.tools
    ]


def parse_arguments(raw: Any) -> tuple[dict | None, str | None]:
    """Tool-call arguments as a dict, or an error telling the model how to send them."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            return None, f"arguments are not valid JSON ({exc.msg} at position {exc.pos}); send a JSON object such as {{\"symbol\": \"AAPL\", \"amount\": 5}}"
        if isinstance(value, dict):
            return value, None
        return None, f"arguments must be a JSON object, got {type(value).__name__}"
    return None, f"arguments must be a JSON object, got {type(raw).__name__}"


def result_text(result: Any) -> tuple[str, bool]:
    """Compact text of a tool result for the model (structured JSON without indentation saves tokens)."""
    if getattr(result, "is_error", False):
        text = " ".join(getattr(c, "text", "") for c in result.content).strip()
        return f"ERROR: {text}", True
    if result.structured_content is not None:
        return json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False), False
    return " ".join(getattr(c, "text", "") for c in result.content).strip(), False


class Session:
    """Runs one session for one model against an MCP client whose server is bound to the same context."""

    def __init__(self, *, ctx: SessionContext, backend: ModelBackend, client: Any, bounds: SessionBounds,
                 view: PriceView, ledger: PositionLedger, price: TokenPrice, execution_note: str,
                 redact: Redactor | None = None, note: str | None = None):
        self.ctx = ctx
        self.note = note
        self.backend = backend
        self.client = client
        self.bounds = bounds
        self.view = view
        self.ledger = ledger
        self.price = price
        self.execution_note = execution_note
        self.redact = redact or Redactor()
        self.result = SessionResult(
            session_id=ctx.session_id, signature=ctx.signature, date=ctx.day.isoformat(),
            trigger_time=ctx.instant.isoformat(), mode=ctx.mode, model=backend.label, baseline=backend.is_baseline,
        )

    def _trade_limit_reached(self) -> bool:
        limit = self.ctx.limits.max_trades_per_session
        return limit is not None and self.result.trades >= limit

    async def run(self) -> SessionResult:
        started = time.perf_counter()
        deadline = started + self.bounds.timeout_seconds
        log = SessionLog(self.ctx.log_dir / "log.jsonl", self.redact)
        result = self.result
        result.trades = sum(1 for r in session_records(self.ledger, self.ctx.session_id)
                            if r["this_action"].get("action") in TRADE_ACTIONS)
        try:
            log.event("session_start", session_id=self.ctx.session_id, trigger_time=self.ctx.instant.isoformat(),
                      model=self.backend.label, prior_trades=result.trades)
            result.status = await self._loop(log, deadline)
        except ModelError as exc:
            result.status, result.error = "failed", self.redact(str(exc))
        except Exception as exc:  # a bug or a broken tool server: recorded, never a traceback on the console
            result.status, result.error = "failed", self.redact(f"{type(exc).__name__}: {exc}")
            log.event("error", error=result.error)
        finally:
            self.ledger.refresh()
            if result.status != "failed":
                record_no_trade(self.ledger, self.ctx)
            result.cost = cost_of(result.prompt_tokens, result.completion_tokens, result.cached_tokens, self.price)
            result.duration_s = round(time.perf_counter() - started, 4)
            log.event("session_end", **result.to_record())
            log.close()
            append_session_record(self.ctx.model_dir, result.to_record(), self.redact)
        return result

    def _resume_note(self) -> str | None:
        """After a crash the session runs again: tell the model what it already did, so it does not do it twice."""
        done = [r["this_action"] for r in session_records(self.ledger, self.ctx.session_id)
                if r["this_action"].get("action") in TRADE_ACTIONS]
        if not done:
            return None
        listed = ", ".join(f"{a['action']} {a['amount']} {a['symbol']}" for a in done)
        return f"This session was interrupted and is resuming; already done in it: {listed}. The holdings below include them."

    async def _loop(self, log: SessionLog, deadline: float) -> str:
        tools = openai_tools(await self.client.list_tools())
        messages = opening_messages(self.ctx, self.view, self.ledger.state, self.execution_note, self.bounds.history_days,
                                    "\n".join(n for n in (self.note, self._resume_note()) if n) or None)
        for message in messages:
            log.event(message["role"], content=message["content"])
        if self._trade_limit_reached():
            return "max_trades"
        result = self.result
        for _step in range(self.bounds.max_steps):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return "timeout"
            result.steps += 1
            t0 = time.perf_counter()
            try:
                turn: ModelTurn = await asyncio.wait_for(self.backend.complete(messages, tools), timeout=remaining)
            except TimeoutError:
                log.event("timeout", step=result.steps, waited_ms=monotonic_ms(t0))
                return "timeout"
            result.prompt_tokens += turn.usage.prompt_tokens
            result.completion_tokens += turn.usage.completion_tokens
            result.cached_tokens += turn.usage.cached_tokens
            log.event("assistant", step=result.steps, content=turn.content,
                      tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls],
                      usage=asdict(turn.usage), latency_ms=monotonic_ms(t0), retries=turn.retries)
            messages.append(turn.as_message())
            for call in turn.tool_calls:
                messages.append(await self._call_tool(call, log))
            if turn.finished:
                return "finished"
            if self._trade_limit_reached():
                return "max_trades"
            if result.prompt_tokens + result.completion_tokens >= self.bounds.max_tokens:
                return "token_budget"
            if time.perf_counter() >= deadline:
                return "timeout"
        return "max_steps"

    async def _call_tool(self, call: ToolCall, log: SessionLog) -> dict:
        result = self.result
        result.tool_calls += 1
        t0 = time.perf_counter()
        arguments, problem = parse_arguments(call.arguments)
        if problem is not None:
            text, is_error = f"ERROR: {call.name}: {problem}", True
        elif call.name in TRADE_TOOLS and self._trade_limit_reached():
            text, is_error = f"ERROR: {call.name}: trade limit reached for this session; finish now", True
        else:
            response = await self.client.call_tool(call.name, arguments, meta={"call_id": call.id})
            text, is_error = result_text(response)
            if call.name in TRADE_TOOLS:
                if is_error:
                    result.rejections += 1
                else:
                    result.trades += 1
        log.event("tool", step=result.steps, id=call.id, name=call.name, arguments=arguments if arguments is not None else call.arguments,
                  result=text, is_error=is_error, latency_ms=monotonic_ms(t0))
        return {"role": "tool", "tool_call_id": call.id, "content": text}
