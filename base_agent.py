"""One bounded agent session: prompt -> model -> MCP tool calls -> results as `tool` messages -> ... -> done.

The loop ends when the model answers without a tool call or with the finish signal, or at a bound: maximum steps,
wall-clock timeout (checked before every model call and between the tool calls of one turn), token budget or
maximum trades. Every ending is clean and has a status saying which. A model failure, or an OS or ledger error,
ends the session as `failed` with a one-line reason; Ctrl-C ends it as `interrupted`. Trades already made stand
(they are in the ledger) and a rerun resumes the session.

A session may take several attempts (a crash, a failure, an interrupt, then a rerun). Each attempt's events are in
the same log; a new attempt adds up the tokens the earlier ones spent, and gives its tool calls ids that no earlier
attempt used, so two different orders of one session never share a broker order id.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from agent_tools.chronology import record_no_trade, session_records
from agent_tools.clean_text import clean_data, one_line
from agent_tools.context import SessionContext
from agent_tools.ledger import TRADE_ACTIONS, PositionLedger
from agent_tools.point_in_time import PriceView
from arena.config import SessionBounds, TokenPrice
from arena.models.base import ModelBackend, ModelError, ModelTurn, ToolCall, Usage
from arena.prompt import opening_messages
from arena.session_log import Redactor, SessionLog, append_session_record, earlier_attempts, monotonic_ms

STATUSES = ("finished", "max_steps", "timeout", "token_budget", "max_trades", "failed", "interrupted")
RESUMABLE = ("failed", "interrupted")  # a rerun may run these again (see run_loop.pending_days)
TRADE_TOOLS = set(TRADE_ACTIONS)
SAFE_CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # what every provider accepts back in the conversation


@dataclass
class SessionResult:
    session_id: str
    signature: str
    date: str
    trigger_time: str
    mode: str
    model: str
    baseline: bool
    trigger: str = "scheduled"
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
    attempts: int = 1
    usage_flags: list[str] = field(default_factory=list)
    # what was asked of the provider and what it says served the session (repeats compare these)
    temperature: float | None = None
    seed: int | None = None
    served_models: list[str] = field(default_factory=list)  # `response.model` of each call, distinct, in order
    system_fingerprints: list[str] = field(default_factory=list)

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
    """Tool-call arguments as a clean dict (JSON escapes can hide lone surrogates), or an error telling the model
    how to send them."""
    if isinstance(raw, dict):
        return clean_data(raw), None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            return None, f"arguments are not valid JSON ({exc.msg} at position {exc.pos}); send a JSON object such as {{\"symbol\": \"AAPL\", \"amount\": 5}}"
        if isinstance(value, dict):
            return clean_data(value), None
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
                 redact: Redactor | None = None, note: str | None = None,
                 audit: Callable[[dict], Any] | None = None):
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
        self.audit = audit or (lambda _event: None)
        self.used_ids: set[str] = set()
        self.result = SessionResult(
            session_id=ctx.session_id, signature=ctx.signature, date=ctx.day.isoformat(),
            trigger_time=ctx.instant.isoformat(), mode=ctx.mode, model=backend.label, baseline=backend.is_baseline,
            temperature=getattr(backend, "temperature", None), seed=getattr(backend, "seed", None),
            trigger=ctx.trigger,
        )

    def _trade_limit_reached(self) -> bool:
        limit = self.ctx.limits.max_trades_per_session
        return limit is not None and self.result.trades >= limit

    async def run(self) -> SessionResult:
        started = time.perf_counter()
        deadline = started + self.bounds.timeout_seconds
        result = self.result
        log: SessionLog | None = None
        try:
            result.trades = self.ledger.state.session(self.ctx.session_id).trades
            self._take_over_earlier_attempts()
            begin = getattr(self.backend, "begin_session", None)  # the tape files this session's calls by day
            if begin is not None:
                begin(self.ctx.session_id, self.ctx.day.isoformat())
            log = SessionLog(self.ctx.log_dir / "log.jsonl", self.redact)
            log.event("session_start", session_id=self.ctx.session_id, trigger_time=self.ctx.instant.isoformat(),
                      trigger=self.ctx.trigger,
                      model=self.backend.label, prior_trades=result.trades, attempt=result.attempts)
            result.status = await self._loop(log, deadline)
        except ModelError as exc:
            result.status, result.error = "failed", self._one_line(str(exc))
        except asyncio.CancelledError:  # Ctrl-C (or the run being stopped): recorded, then passed on
            result.status, result.error = "interrupted", "interrupted (Ctrl-C or the run was stopped); rerun to resume"
            raise
        except Exception as exc:  # a bug, an OS or ledger error, a broken tool server: recorded, never a traceback
            result.status, result.error = "failed", self._one_line(f"{type(exc).__name__}: {exc}")
        finally:
            self._close(log, started)
        return result

    def _one_line(self, text: str) -> str:
        return one_line(self.redact(text))

    def _take_over_earlier_attempts(self) -> None:
        """Earlier attempts of this session (crashed, failed, interrupted): their tokens count, their ids are used."""
        attempts = earlier_attempts(self.ctx.log_dir / "log.jsonl", self.ctx.session_id)
        self.result.attempts = len(attempts) + 1
        keep_ids = getattr(self.backend, "call_ids_name_orders", False)
        for events in attempts:
            for event in events:
                if event.get("type") != "assistant":
                    continue
                self._count(Usage.from_log(event.get("usage")), event.get("step"))
                if not keep_ids:
                    self.used_ids.update(str(c.get("id")) for c in event.get("tool_calls") or [] if isinstance(c, dict))

    def _count(self, reported: Usage, step: Any) -> None:
        counted, flags = reported.counted()
        result = self.result
        result.prompt_tokens += counted.prompt_tokens
        result.completion_tokens += counted.completion_tokens
        result.cached_tokens += counted.cached_tokens
        result.usage_flags += [f"step {step}: {flag}" for flag in flags]

    def _served(self, turn: ModelTurn) -> None:
        """The model id and fingerprint the provider says answered, each distinct value once, in order."""
        if turn.served_model and turn.served_model not in self.result.served_models:
            self.result.served_models.append(turn.served_model)
        if turn.system_fingerprint and turn.system_fingerprint not in self.result.system_fingerprints:
            self.result.system_fingerprints.append(turn.system_fingerprint)

    def _close(self, log: SessionLog | None, started: float) -> None:
        """Write the session's end: no_trade when it ended normally, its log line and its sessions.jsonl line."""
        result = self.result
        try:
            self.ledger.refresh()
            if result.status not in RESUMABLE:
                record_no_trade(self.ledger, self.ctx)
        except Exception as exc:  # the ledger became unusable (a disk error, another program): this session failed
            result.status, result.error = "failed", self._one_line(f"{type(exc).__name__}: {exc}")
        result.cost = cost_of(result.prompt_tokens, result.completion_tokens, result.cached_tokens, self.price)
        result.duration_s = round(time.perf_counter() - started, 4)
        if log is not None:
            try:
                if result.error:
                    log.event("error", error=result.error)
                log.event("session_end", **result.to_record())
            except OSError:
                pass  # the log is forensics; the sessions.jsonl line below is what counts
            finally:
                log.close()
        append_session_record(self.ctx.model_dir, result.to_record(), self.redact)

    def _resume_note(self) -> str | None:
        """After a crash the session runs again: tell the model what it already did, so it does not do it twice."""
        done = session_records(self.ledger, self.ctx.session_id)
        if not done:
            return None
        listed = ", ".join(f"{a['action']} {a['amount']} {a['symbol']}" for a in done)
        return f"This session was interrupted and is resuming; already done in it: {listed}. The holdings below include them."

    def _unique_ids(self, calls: list[ToolCall], step: int) -> list[ToolCall]:
        """Every call gets an id no other call of this session used: the provider's when it is present, safe and
        new; else `call_<attempt>_<step>_<n>`. The provider's own id is kept in `provider_id` for the log."""
        out = []
        for n, call in enumerate(calls):
            given = call.id
            if given and SAFE_CALL_ID.fullmatch(given) and given not in self.used_ids:
                unique = given
            else:
                unique, k = f"call_{self.result.attempts}_{step}_{n}", 0
                while unique in self.used_ids:
                    k += 1
                    unique = f"call_{self.result.attempts}_{step}_{n}_{k}"
            self.used_ids.add(unique)
            out.append(replace(call, id=unique, provider_id=given or None))
        return out

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
                timed_out = getattr(self.backend, "timed_out", None)  # cassettes record the cut-off call
                if timed_out is not None:
                    timed_out()
                log.event("timeout", step=result.steps, waited_ms=monotonic_ms(t0))
                return "timeout"
            turn = replace(turn, tool_calls=self._unique_ids(turn.tool_calls, result.steps))
            self._count(turn.usage, result.steps)
            self._served(turn)
            log.event("assistant", step=result.steps, content=turn.content,
                      tool_calls=[{"id": c.id, "provider_id": c.provider_id, "name": c.name, "arguments": c.arguments}
                                  for c in turn.tool_calls],
                      usage=asdict(turn.usage), latency_ms=monotonic_ms(t0), retries=turn.retries)
            messages.append(turn.as_message())
            for n, call in enumerate(turn.tool_calls):
                if time.perf_counter() >= deadline:  # 5,000 calls in one turn must not run past the limit
                    log.event("timeout", step=result.steps, calls_not_run=len(turn.tool_calls) - n)
                    return "timeout"
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

    def _refuse(self, call: ToolCall, arguments: dict | None, rule: str, message: str) -> None:
        """A trade call refused before it reached the desk still goes into audit.jsonl, like every refusal."""
        args = arguments or {}
        amount = args.get("amount")
        self.audit({"type": "rejection", "side": call.name, "symbol": args.get("symbol"),
                    "amount": amount if isinstance(amount, int | float | str) or amount is None else repr(amount),
                    "rule": rule, "message": message, "call_id": call.id})

    async def _call_tool(self, call: ToolCall, log: SessionLog) -> dict:
        result = self.result
        result.tool_calls += 1
        t0 = time.perf_counter()
        arguments, problem = parse_arguments(call.arguments)
        is_trade = call.name in TRADE_TOOLS
        if problem is not None:
            text, is_error = f"ERROR: {call.name}: {problem}", True
            if is_trade:
                self._refuse(call, None, "invalid_arguments", problem)
        elif is_trade and self._trade_limit_reached():
            text, is_error = f"ERROR: {call.name}: trade limit reached for this session; finish now", True
            self._refuse(call, arguments, "max_trades_per_session", "trade limit reached for this session")
        else:
            response = await self.client.call_tool(call.name, arguments, meta={"call_id": call.id})
            text, is_error = result_text(response)
        if is_trade:
            if is_error:
                result.rejections += 1
            else:  # counted from the ledger: a re-sent order answered with its recorded fill is not a new trade
                result.trades = self.ledger.refresh().session(self.ctx.session_id).trades
        log.event("tool", step=result.steps, id=call.id, provider_id=call.provider_id, name=call.name,
                  arguments=arguments if arguments is not None else call.arguments,
                  result=text, is_error=is_error, latency_ms=monotonic_ms(t0))
        return {"role": "tool", "tool_call_id": call.id, "content": text}
