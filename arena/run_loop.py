"""The replay run: every enabled model, every trading day in range, one bounded session each, models concurrently.

A rerun resumes. A session with a line in `sessions.jsonl` is done and skipped; a session cut off by a crash has no
line and runs again from the ledger as it stands (the model sees what it already holds; the harness repeats no
trade). A failed or interrupted session runs again on rerun unless a later session has written the ledger since,
so the ledger never goes back in time.

One model's trouble stays its own: an error inside a session is that session's recorded failure, and a model whose
sessions fail `run.max_consecutive_failures` times in a row stops (the others go on) until a rerun resumes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout
from mcp import Client

from agent_tools.brokers.base import Broker
from agent_tools.chronology import chronology_violation
from agent_tools.clean_text import one_line
from agent_tools.context import SessionContext
from agent_tools.ledger import LedgerError, PositionLedger, read_ledger
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.point_in_time import MarketView, PriceView
from agent_tools.server import build_tool_server
from arena.budget import Budget, StreamSpend
from arena.cassettes import Tape, source_folder
from arena.config import ArenaConfig, ConfigError, ModelSettings, secret_env_names
from arena.desk_factory import Market, build_desk, session_context
from arena.leaderboard import value_at_close
from arena.models.base import ModelBackend
from arena.models.baselines import build_baseline
from arena.models.scripted import ScriptedModel
from arena.repeats import repeat_dir, repeat_dirs, repeat_number
from arena.replay_plan import ReplayPlanner, check_intraday
from arena.session_log import Redactor, append_session_record, latest_by_session, read_session_records
from arena.triggers import Trigger
from base_agent import RESUMABLE, Session, SessionResult, cost_of


def build_backend(config: ArenaConfig, model: ModelSettings, market: Market, *, seed: int | None = None,
                  tape: Tape | None = None, offline: bool = False) -> ModelBackend:
    """A model's back end. LLMs get the stream's `seed` (unless `send_seed` is off) and its `tape` (cassettes);
    `offline` (strict replay) builds an LLM back end that cannot reach the network."""
    if model.kind == "baseline":
        assert model.strategy is not None
        return build_baseline(model.strategy, model.signature, config.membership,
                              config.limits_for(model).fractional, model.params, market.calendar)
    if model.kind == "scripted":
        return ScriptedModel(model.signature, model.params.get("plan"), float(model.params.get("latency", 0.0)),
                             int(model.params.get("tokens_per_step", 0)))
    assert model.model and model.base_url and model.api_key_env
    from arena.models.openai_chat import OpenAIChatModel  # the openai SDK only for runs with an LLM (~50 MB)

    return OpenAIChatModel(
        label=model.signature, model=model.model, base_url=model.base_url, api_key_env=model.api_key_env,
        timeout=model.timeout, max_retries=model.max_retries, temperature=model.temperature,
        parallel_tool_calls=model.parallel_tool_calls, extra_body=model.extra_body,
        backoff_base=float(model.params.get("backoff_base", 0.5)),
        seed=seed if model.send_seed else None, tape=tape, offline=offline,
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
                            note: str | None = None, clock: Callable[[], datetime] | None = None,
                            trigger: Trigger | None = None) -> SessionOutcome:
    """Build the desk and its MCP server for one trigger, connect in-process, run the session.

    `clock` (live): the real time, for market hours per order and the model's "now" next to its trigger.
    `trigger`: what fired the session (default: the scheduled time); an event's reason goes into the prompt.
    """
    trigger = trigger or Trigger(instant)
    ctx = session_context(config, model, instant, out_dir, mode=mode, dry_run=dry_run,  # type: ignore[arg-type]
                          trigger=trigger.kind)
    if trigger.is_event or len(config.run.times) > 1:
        note = "\n".join(n for n in (trigger.prompt_line(), note) if n)
    view = view or MarketView(market.data, instant, market.calendar)
    desk = build_desk(config, ctx, market, view=view, broker=broker, ledger=ledger, redact=redact,
                      clock=clock)
    # The session's time limit also bounds what a broker may spend on one order (an order still open then is
    # canceled and followed to a final state).
    desk.orders.deadline = time.monotonic() + config.bounds_for(model).timeout_seconds
    server = build_tool_server(desk)
    async with Client(server) as client:
        session = Session(ctx=ctx, backend=backend, client=client, bounds=config.bounds_for(model), view=view,
                          ledger=desk.ledger, price=model.price, redact=redact,
                          execution_note=getattr(broker, "execution_note", None) or execution_note(config),
                          note=note, audit=desk.trail.record)
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


def pending_days(model_dir: Path, signature: str, days: list[date], instant_for: Callable[[date], datetime],
                 may_write: Callable[[datetime], bool] = lambda _instant: True) -> list[date]:
    """Days still to run: no session line yet, or a failed or interrupted session that can run again without
    writing the ledger back in time (`may_write(trigger)`: the ledger's chronology rule allows it).

    So after a model stopped on a run of failures, a rerun resumes from the first failed day; a failed day followed
    by a day that wrote the ledger stays failed.
    """
    latest = latest_by_session(read_session_records(model_dir))
    todo = []
    for day in days:
        instant = instant_for(day)
        record = latest.get(f"{signature}@{instant.isoformat(timespec='minutes')}")
        if record is None or (record.get("status") in RESUMABLE and may_write(instant)):
            todo.append(day)
    return todo


def model_tape(model: ModelSettings, model_dir: Path, redact: Redactor, **options: Any) -> Tape:
    """The cassettes of one LLM's folder, pricing each call at the model's `price` (options: see Tape)."""
    return Tape(model_dir, redact=redact,
                price=lambda u: cost_of(u.prompt_tokens, u.completion_tokens, u.cached_tokens, model.price), **options)


@dataclass(frozen=True)
class Replay:
    """`run --replay-from DIR`: answer model calls from DIR's cassettes; `on_miss` "stop" (strict) or "call"."""

    source: Path
    on_miss: Literal["stop", "call"] = "stop"

    @property
    def strict(self) -> bool:
        return self.on_miss == "stop"


@dataclass(frozen=True)
class Stream:
    """One model over the run's days in one run folder: `<out>/<signature>`, or `<out>/repeat-<k>/<signature>`."""

    model: ModelSettings
    run_dir: Path
    repeat: int | None = None

    @property
    def signature(self) -> str:
        return self.model.signature

    @property
    def label(self) -> str:
        return self.signature if self.repeat is None else f"{self.signature} [repeat-{self.repeat}]"

    @property
    def repeat_model(self) -> ModelSettings:
        """The model as this repeat runs it: the random baseline draws with `params.seed + k - 1` (repeat 1 is the
        single run), so its repeats are different random traders; every other setting is the model's own."""
        if self.repeat is None or self.model.strategy != "random":
            return self.model
        params = {**self.model.params, "seed": int(self.model.params.get("seed", 0)) + self.repeat - 1}
        return self.model.model_copy(update={"params": params})

    def seed(self, base: int | None) -> int | None:
        """The seed sent to the provider: `run.seed` for one run; repeat k sends `run.seed + k - 1` (k when unset)."""
        if self.repeat is None:
            return base
        return (base + self.repeat - 1) if base is not None else self.repeat


def streams_for(models: list[ModelSettings], out_dir: Path, repeats: int | None = None) -> list[Stream]:
    """Every model once in `out_dir`, or (`--repeats N`) N times, in `out_dir/repeat-1` .. `repeat-N`."""
    if not repeats:
        return [Stream(m, Path(out_dir)) for m in models]
    return [Stream(m, repeat_dir(out_dir, k), k) for k in range(1, repeats + 1) for m in models]


@dataclass
class ModelProgress:
    signature: str
    total: int
    done: int = 0
    day: str = ""
    trades: int = 0
    equity: float = 0.0  # marked at the close of `day`, as the leaderboard marks it
    failures: int = 0
    skipped: int = 0
    last_error: str | None = None
    stopped: str | None = None  # why this model's stream stopped early (circuit breaker, cap, replay miss, ledger)
    results: list[SessionResult] = field(default_factory=list)
    label: str = ""  # the signature, with `[repeat-k]` under --repeats
    run_dir: Path | None = None
    replayed: int = 0  # model calls answered from cassettes
    called: int = 0  # model calls sent to the provider
    spent: float = 0.0  # dollars spent by this stream, earlier runs included

    def __post_init__(self) -> None:
        self.label = self.label or self.signature

    @property
    def last(self) -> SessionResult | None:
        return self.results[-1] if self.results else None


def check_output_folder(out_dir: Path) -> None:
    """The output folder (or, if it does not exist yet, the folder it would be made in) can be written: a one-line
    error before anything runs, and nothing is created to find out."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is read-only for this user"
    if problem:
        raise ConfigError(f"cannot write the output folder {out_dir}: {problem}; choose another with --out")


def check_replay_source(replay: Replay, models: list[ModelSettings], repeats: int | None, out_dir: Path) -> None:
    """A replay source that cannot answer is a one-line error before anything runs: no such folder, the output
    folder itself, repeats without --repeats, and (strict) an LLM stream without recorded cassettes."""
    source = replay.source
    if not source.is_dir():
        raise ConfigError(f"--replay-from {source}: no such folder; give a run folder recorded by `run`")
    if source.resolve() == Path(out_dir).resolve():
        raise ConfigError(f"--replay-from {source} is the output folder; replay into another --out")
    recorded = [repeat_number(d) for d in repeat_dirs(source)]
    if recorded and not repeats:
        raise ConfigError(f"--replay-from {source} holds repeats (repeat-{recorded[0]}..repeat-{recorded[-1]}); "
                          f"add --repeats {len(recorded)}")
    if not replay.strict:
        return
    for stream in streams_for([m for m in models if m.kind == "openai"], out_dir, repeats):
        folder = source_folder(source, stream.signature, stream.repeat)
        if not folder.is_dir():
            raise ConfigError(f"--replay-from {source}: no cassettes for {stream.label} (expected {folder}); "
                              "replay only the models it recorded (--models), or add --on-miss call to record them")


def check_ledgers(out_dir: Path, models: list[ModelSettings], repeats: int | None = None) -> None:
    """Every existing ledger of the chosen streams loads (a torn or corrupt one is named, never silently skipped)."""
    for stream in streams_for(models, out_dir, repeats):
        path = stream.run_dir / stream.signature / "position" / "position.jsonl"
        if path.exists():
            read_ledger(path)


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


def fresh_start(out_dir: Path, models: list[ModelSettings]) -> Path | None:
    """--fresh under the run locks of every model folder in `out_dir` (its repeats' too): a running replay is never moved away from
    under itself (the move is refused, nothing is moved)."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return None
    locks: list[FileLock] = []
    try:
        for run_dir in [out_dir, *repeat_dirs(out_dir)]:
            signatures = {m.signature for m in models} if run_dir == out_dir else set()
            signatures |= {d.name for d in run_dir.iterdir() if (d / "locks" / "run.lock").exists()}
            locks += hold_run_locks(run_dir, sorted(signatures), action="--fresh moved nothing")
        return move_aside(out_dir)
    finally:
        for lock in locks:
            lock.release()


async def run_replay(config: ArenaConfig, market: Market, models: list[ModelSettings], out_dir: Path, start: date,
                     end: date, parallel: int, on_progress: Callable[[ModelProgress], None] | None = None,
                     backends: dict[str, ModelBackend] | None = None, *, repeats: int | None = None,
                     replay: Replay | None = None, budget: Budget | None = None, workers: int = 1,
                     executor: Literal["local", "ray"] = "local", ray_address: str | None = None) -> list[ModelProgress]:
    """Run every stream (a model, or each of its `repeats`) over the days; `replay` answers from cassettes.

    `workers` > 1 spreads the streams over that many processes, `executor="ray"` makes them Ray tasks
    (arena.executors); the outputs are the same as in one process."""
    from arena import executors

    days = trading_days(config, market, start, end)
    check_intraday(config, market, days)
    out_dir.mkdir(parents=True, exist_ok=True)
    streams = streams_for(models, out_dir, repeats)
    budget = budget or Budget(config, out_dir)
    locks: list[FileLock] = []
    try:
        for run_dir in dict.fromkeys(s.run_dir for s in streams):
            locks += hold_run_locks(run_dir, [s.signature for s in streams if s.run_dir == run_dir])
        groups = executors.stream_groups(config, streams)
        bins = executors.spread(groups, workers)
        if executor == "ray":
            results = await asyncio.to_thread(executors.run_on_ray, config, groups, days, parallel, replay, out_dir,
                                              ray_address, on_progress)
        elif len(bins) > 1 and not backends:
            results = await asyncio.to_thread(executors.run_in_processes, config, market, bins, days, parallel,
                                              replay, out_dir, on_progress)
        else:
            return await _run_replay(config, market, streams, days, parallel, on_progress, backends, replay, budget)
        budget.reread()  # what the workers spent, from the folders they wrote
        order = {s.label: n for n, s in enumerate(streams)}
        return sorted(results, key=lambda p: order[p.label])
    finally:
        for lock in locks:
            lock.release()


def hold_run_locks(out_dir: Path, signatures: list[str], action: str = "") -> list[FileLock]:
    """One replay per model folder at a time: a second `run` on the same output would run every session twice."""
    held: list[FileLock] = []
    for signature in signatures:
        path = out_dir / signature / "locks" / "run.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            for other in held:
                other.release()
            raise ConfigError(f"another `run` is replaying {signature} in {out_dir} now{f'; {action}' if action else ''}; "
                              "wait for it to finish (rerun to resume) or use another --out") from None
        held.append(lock)
    return held


def marked_equity(ledger: PositionLedger, market: Market, day: date, previous: float) -> float:
    """The account marked at the day's close, as the leaderboard marks it; the last figure if the ledger broke."""
    try:
        return float(value_at_close(ledger.refresh(), market.data, day))
    except (LedgerError, OSError):
        return previous


def failed_result(ctx: SessionContext, backend: ModelBackend, error: str) -> SessionResult:
    """The record of a session that failed before or around its loop (the desk could not be built, a disk error)."""
    return SessionResult(session_id=ctx.session_id, signature=ctx.signature, date=ctx.day.isoformat(),
                         trigger_time=ctx.instant.isoformat(), mode=ctx.mode, model=backend.label,
                         baseline=backend.is_baseline, status="failed", error=error, trigger=ctx.trigger)


async def _run_replay(config: ArenaConfig, market: Market, streams: list[Stream], days: list[date], parallel: int,
                      on_progress: Callable[[ModelProgress], None] | None, backends: dict[str, ModelBackend] | None,
                      replay: Replay | None, budget: Budget) -> list[ModelProgress]:
    for run_dir in dict.fromkeys(s.run_dir for s in streams):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run_config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2),
                                                 encoding="utf-8")
    redact = Redactor.from_env(secret_env_names(config))
    stop = asyncio.Event()
    semaphore = asyncio.Semaphore(parallel)
    breaker = config.run.max_consecutive_failures

    async def one_session(stream: Stream, backend: ModelBackend, ledger: PositionLedger,
                          trigger: Trigger) -> SessionResult:
        """One session; whatever goes wrong in it (OS, ledger, a bug) is this session's failure, never the run's."""
        model, out_dir = stream.model, stream.run_dir
        try:
            outcome = await run_model_session(config, model, backend, trigger.instant, out_dir, market, ledger,
                                              redact=redact, trigger=trigger)
            return outcome.result
        except Exception as exc:
            ctx = session_context(config, model, trigger.instant, out_dir, trigger=trigger.kind)
            result = failed_result(ctx, backend, one_line(redact(f"{type(exc).__name__}: {exc}")))
            try:
                append_session_record(ctx.model_dir, result.to_record(), redact)
            except OSError as write_error:
                result.error = one_line(f"{result.error}; its sessions.jsonl line could not be written either "
                                        f"({write_error.strerror or write_error})")
            return result

    def stream_backend(stream: Stream, spend: StreamSpend) -> tuple[ModelBackend, Tape | None]:
        """The stream's back end; an LLM records every call on its tape (and answers from `replay` first)."""
        injected = (backends or {}).get(stream.signature)
        if injected is not None or stream.model.kind != "openai":
            return injected or build_backend(config, stream.repeat_model, market), None
        model = stream.model
        tape = model_tape(model, stream.run_dir / model.signature, redact, sample=stream.repeat or 0,
                          source=source_folder(replay.source, model.signature, stream.repeat) if replay else None,
                          strict=replay.strict if replay else True, on_spend=budget.on_spend(spend))
        backend = build_backend(config, model, market, seed=stream.seed(config.run.seed), tape=tape,
                                offline=bool(replay and replay.strict))
        return backend, tape

    async def one_stream(stream: Stream) -> ModelProgress:
        """The stream's triggers day by day, in time order (`ReplayPlanner`); a finished session is skipped, a
        failed or interrupted one runs again while the ledger allows it (see `is_done`)."""
        model, out_dir = stream.model, stream.run_dir
        model_dir = out_dir / model.signature
        latest = latest_by_session(read_session_records(model_dir))
        planner = ReplayPlanner(config, model, market, out_dir, latest)
        progress = ModelProgress(model.signature, total=sum(len(planner.scheduled(day)) for day in days),
                                 label=stream.label, run_dir=out_dir)
        spend = budget.stream(out_dir, model.signature, stream.label)
        progress.spent = spend.spent
        try:
            ledger = PositionLedger.for_signature(out_dir, model.signature, tuple(config.universe))
        except (LedgerError, OSError) as exc:
            progress.stopped = one_line(f"its ledger cannot be used: {exc}")
            if on_progress:
                on_progress(progress)
            return progress

        def may_write(instant: datetime) -> bool:
            return chronology_violation(ledger.state, session_context(config, model, instant, out_dir)) is None

        def is_done(trigger: Trigger) -> bool:
            record = latest.get(f"{model.signature}@{trigger.instant.isoformat(timespec='minutes')}")
            return record is not None and not (record.get("status") in RESUMABLE and may_write(trigger.instant))

        several = len(config.run.times) > 1 or bool(config.run.events)
        backend: ModelBackend | None = None
        tape: Tape | None = None
        streak: list[Trigger] = []
        try:
            for day in days:
                if stop.is_set() or progress.stopped:
                    break
                for trigger in planner.day(day, ledger):
                    if trigger.is_event:
                        progress.total += 1
                    if is_done(trigger):
                        progress.done += 1
                        progress.skipped += 1
                        continue
                    if stop.is_set():
                        break
                    over = (budget.before_session(spend, _when(trigger.instant, several))
                            if model.kind == "openai" else None)
                    if over:
                        progress.stopped = over
                        if on_progress:
                            on_progress(progress)
                        break
                    if backend is None:
                        await semaphore.acquire()
                        backend, tape = stream_backend(stream, spend)
                    progress.day = day.isoformat()
                    try:
                        result = await one_session(stream, backend, ledger, trigger)
                    finally:
                        budget.after_session(spend)
                    progress.results.append(result)
                    progress.done += 1
                    progress.trades += result.trades
                    progress.equity = marked_equity(ledger, market, day, progress.equity)
                    progress.spent = spend.spent
                    if tape is not None:
                        progress.replayed, progress.called = tape.replayed, tape.called
                    if result.status == "failed":
                        progress.failures += 1
                        progress.last_error = result.error
                        streak.append(trigger)
                        if config.run.on_session_failure == "stop":
                            stop.set()
                    else:
                        streak = []
                    if tape is not None and tape.missed:
                        progress.stopped = f"stopped: {tape.missed}"
                    elif breaker and len(streak) >= breaker:
                        first, last = (_when(t.instant, several) for t in (streak[0], streak[-1]))
                        progress.stopped = (
                            f"stopped after {len(streak)} consecutive failed sessions ({first}..{last}); "
                            f"last error: {result.error}; fix the cause and rerun to resume from {first}")
                    if on_progress:
                        on_progress(progress)
                    if progress.stopped:
                        break
        finally:
            if backend is not None:
                await backend.aclose()
                semaphore.release()
        if on_progress and not progress.results and not progress.stopped:
            on_progress(progress)  # nothing ran (every session done already): say so once
        return progress

    return list(await asyncio.gather(*(one_stream(s) for s in streams)))


def _when(instant: datetime, with_time: bool) -> str:
    """A trigger as people read it: the date, and the time when a day may have several."""
    local = instant.astimezone(MARKET_TZ)
    return f"{local:%Y-%m-%d %H:%M}" if with_time else local.date().isoformat()
