"""The replay run: every enabled model, every trading day in range, one bounded session each, models concurrently.

A rerun resumes. A session with a line in `sessions.jsonl` is done and skipped; a session cut off by a crash has no
line and runs again from the ledger as it stands (the model sees what it already holds; the harness repeats no
trade). A failed session is retried on rerun only while it is the model's latest, so the ledger never goes back in
time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from filelock import FileLock, Timeout
from mcp import Client

from agent_tools.brokers.base import Broker
from agent_tools.ledger import PositionLedger
from agent_tools.market_calendar import at_market_time
from agent_tools.point_in_time import MarketView, PriceView
from agent_tools.server import build_tool_server
from arena.config import ArenaConfig, ConfigError, ModelSettings
from arena.desk_factory import Market, build_desk, session_context
from arena.models.base import ModelBackend
from arena.models.baselines import build_baseline
from arena.models.openai_chat import OpenAIChatModel
from arena.models.scripted import ScriptedModel
from arena.session_log import Redactor, latest_by_session, read_session_records
from base_agent import Session, SessionResult


def secret_env_names(config: ArenaConfig) -> list[str]:
    names = [m.api_key_env for m in config.models if m.api_key_env]
    names += [config.live.api_key_env, config.live.secret_key_env, config.news.api_key_env]
    return names


def build_backend(config: ArenaConfig, model: ModelSettings, market: Market) -> ModelBackend:
    if model.kind == "baseline":
        assert model.strategy is not None
        return build_baseline(model.strategy, model.signature, config.membership,
                              config.limits_for(model).fractional, model.params, market.calendar)
    if model.kind == "scripted":
        return ScriptedModel(model.signature, model.params.get("plan"), float(model.params.get("latency", 0.0)),
                             int(model.params.get("tokens_per_step", 0)))
    assert model.model and model.base_url and model.api_key_env
    return OpenAIChatModel(
        label=model.signature, model=model.model, base_url=model.base_url, api_key_env=model.api_key_env,
        timeout=model.timeout, max_retries=model.max_retries, temperature=model.temperature,
        parallel_tool_calls=model.parallel_tool_calls, extra_body=model.extra_body,
        backoff_base=float(model.params.get("backoff_base", 0.5)),
    )


def execution_note(config: ArenaConfig) -> str:
    from agent_tools.fills import build_fee_model, build_fill_model

    ex = config.execution
    fee = build_fee_model(ex.fee_model, ex.per_share, ex.fee_minimum, ex.fee_bps)
    return f"{build_fill_model(ex.slippage_bps).describe()}; commission {fee.describe()}"


@dataclass
class SessionOutcome:
    result: SessionResult
    equity: Decimal


async def run_model_session(config: ArenaConfig, model: ModelSettings, backend: ModelBackend, instant: datetime,
                            out_dir: Path, market: Market, ledger: PositionLedger | None = None, *,
                            view: PriceView | None = None, broker: Broker | None = None, mode: str = "replay",
                            dry_run: bool = False, redact: Redactor | None = None,
                            note: str | None = None) -> SessionOutcome:
    """Build the desk and its MCP server for one trigger, connect in-process, run the session."""
    ctx = session_context(config, model, instant, out_dir, mode=mode, dry_run=dry_run)  # type: ignore[arg-type]
    view = view or MarketView(market.data, instant, market.calendar)
    desk = build_desk(config, ctx, market, view=view, broker=broker, ledger=ledger)
    server = build_tool_server(desk)
    async with Client(server) as client:
        session = Session(ctx=ctx, backend=backend, client=client, bounds=config.bounds_for(model), view=view,
                          ledger=desk.ledger, price=model.price, redact=redact,
                          execution_note=getattr(broker, "execution_note", None) or execution_note(config),
                          note=note)
        result = await session.run()
    return SessionOutcome(result, desk.equity())


def trading_days(config: ArenaConfig, market: Market, start: date, end: date) -> list[date]:
    """Calendar sessions in range, checked against the bundled data (a range outside the data is an error)."""
    first, last = market.data.first_day, market.data.last_day
    if start < first or end > last:
        raise ConfigError(
            f"date range {start}..{end} is outside the bundled data ({first}..{last}); "
            "choose dates inside it with --start/--end or run.start/run.end"
        )
    days = market.calendar.trading_days(start, end)
    if not days:
        raise ConfigError(f"no NYSE sessions between {start} and {end}; widen the range")
    return days


def pending_days(model_dir: Path, signature: str, days: list[date], instant_for: Callable[[date], datetime]) -> list[date]:
    """Days still to run: no session line yet, or a failed session that is still the model's latest."""
    records = read_session_records(model_dir)
    latest = latest_by_session(records)
    last_date = max((r.get("date", "") for r in records), default="")
    todo = []
    for day in days:
        session_id = f"{signature}@{instant_for(day).isoformat(timespec='minutes')}"
        record = latest.get(session_id)
        if record is None or (record.get("status") == "failed" and record.get("date", "") >= last_date):
            todo.append(day)
    return todo


@dataclass
class ModelProgress:
    signature: str
    total: int
    done: int = 0
    day: str = ""
    trades: int = 0
    equity: float = 0.0
    failures: int = 0
    skipped: int = 0
    last_error: str | None = None
    results: list[SessionResult] = field(default_factory=list)


def move_aside(out_dir: Path) -> Path | None:
    """--fresh: keep old output under a timestamped name instead of deleting it."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return None
    target = out_dir.with_name(f"{out_dir.name}.old-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = target.with_name(f"{target.name}-{n}")
        n += 1
    shutil.move(str(out_dir), str(target))
    return target


async def run_replay(config: ArenaConfig, market: Market, models: list[ModelSettings], out_dir: Path, start: date,
                     end: date, parallel: int, on_progress: Callable[[ModelProgress], None] | None = None,
                     backends: dict[str, ModelBackend] | None = None) -> list[ModelProgress]:
    days = trading_days(config, market, start, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    locks = hold_run_locks(out_dir, models)
    try:
        return await _run_replay(config, market, models, out_dir, days, parallel, on_progress, backends)
    finally:
        for lock in locks:
            lock.release()


def hold_run_locks(out_dir: Path, models: list[ModelSettings]) -> list[FileLock]:
    """One replay per model folder at a time: a second `run` on the same output would run every session twice."""
    held: list[FileLock] = []
    for model in models:
        path = out_dir / model.signature / "locks" / "run.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            for other in held:
                other.release()
            raise ConfigError(f"another `run` is replaying {model.signature} in {out_dir} now; wait for it to finish "
                              "(rerun to resume) or use another --out") from None
        held.append(lock)
    return held


async def _run_replay(config: ArenaConfig, market: Market, models: list[ModelSettings], out_dir: Path,
                      days: list[date], parallel: int, on_progress: Callable[[ModelProgress], None] | None,
                      backends: dict[str, ModelBackend] | None) -> list[ModelProgress]:
    (out_dir / "run_config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2), encoding="utf-8")
    redact = Redactor.from_env(secret_env_names(config))
    stop = asyncio.Event()
    semaphore = asyncio.Semaphore(parallel)

    def instant_for(day: date) -> datetime:
        return at_market_time(day, config.run.decision_time)

    async def one_model(model: ModelSettings) -> ModelProgress:
        model_dir = out_dir / model.signature
        todo = pending_days(model_dir, model.signature, days, instant_for)
        progress = ModelProgress(model.signature, total=len(days), done=len(days) - len(todo), skipped=len(days) - len(todo))
        if not todo:
            if on_progress:
                on_progress(progress)
            return progress
        async with semaphore:
            backend = (backends or {}).get(model.signature) or build_backend(config, model, market)
            ledger = PositionLedger.for_signature(out_dir, model.signature, tuple(config.universe))
            try:
                for day in todo:
                    if stop.is_set():
                        break
                    progress.day = day.isoformat()
                    outcome = await run_model_session(config, model, backend, instant_for(day), out_dir, market, ledger,
                                                      redact=redact)
                    result = outcome.result
                    progress.results.append(result)
                    progress.done += 1
                    progress.trades += result.trades
                    progress.equity = float(outcome.equity)
                    if result.status == "failed":
                        progress.failures += 1
                        progress.last_error = result.error
                        if config.run.on_session_failure == "stop":
                            stop.set()
                    if on_progress:
                        on_progress(progress)
            finally:
                await backend.aclose()
        return progress

    return list(await asyncio.gather(*(one_model(m) for m in models)))

