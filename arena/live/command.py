"""The `live` command: one live session per enabled model for this trigger (cron: weekdays 10:00 New York time).

Order of work, each step before the next can do harm:
1. The market-day guard, on the clock alone (New York time whatever the machine's zone; DST by zoneinfo): on a
   weekend, an NYSE holiday, before the open or after the (early) close, exit 0 with one line, before the config's
   keys are read or anything is contacted. A run more than 30 minutes from its trigger says so in a warning line
   (a cron entry in the machine's zone rather than New York's); with `--cron` (the installed entries, one per
   UTC offset New York can have) a fire about an hour off the trigger is the other offset's entry and does nothing.
2. Config, models and keys: a missing key is a one-line error before anything runs.
3. Per model, concurrently: a file lock per model and trigger (a second invocation running at the same moment
   says so and does nothing), then the `sessions.jsonl` line for this trigger (a double fire or a rerun after a
   finished session says so and does nothing; `--retry-failed` runs a failed one again), then orders an
   interrupted run left (followed to a final state and booked with their real fills), then reconciliation with
   the broker (the broker wins; money moved in or out is a cash flow, not performance), then the session. A crash
   leaves no session line, so a rerun continues the same session id from the broker's state.

The trigger is the session day's decision time (`run.decision_time`, 10:00 New York; clamped into the session, so
a 13:00 early close still has one). Every run on that day, whatever its clock, belongs to that trigger; the session
id `<signature>@<trigger>` is what makes it exactly once. The clock (`--now` or the wall clock) only decides
whether the market is open and what "now" is for prices.

`--dry-run`: sessions run against live prices on a scratch copy of each ledger (`<out>/dry-run/<signature>`),
with simulated fills (the paper broker's fill and fee models); nothing is sent to the broker, the real ledger and
its `sessions.jsonl` are untouched, so a dry run never uses up a trigger. Alpaca accounts are still read, to
reconcile the scratch copy.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import click
from filelock import FileLock, Timeout

from agent_tools.brokers.alpaca import AlpacaBroker
from agent_tools.brokers.base import Broker, BrokerError
from agent_tools.brokers.simulated import SimulatedBroker
from agent_tools.context import SessionContext
from agent_tools.ledger import PositionLedger
from agent_tools.market_calendar import MarketCalendar, require_aware
from agent_tools.market_data import MarketData
from agent_tools.news import NotAfterClock
from agent_tools.point_in_time import PriceView, ViewError
from agent_tools.price_archive import archive_daily_bars
from agent_tools.trading_desk import TradingDesk
from arena.config import ArenaConfig, ConfigError, ModelSettings, check_api_keys, load_config
from arena.desk_factory import Market, build_desk, build_news, session_context
from arena.live import guard
from arena.live.accounts import ModelPlan, alpaca_broker, check_separate_accounts, live_view, plan_for
from arena.live.reconcile import describe_record, reconcile, reconcile_note
from arena.live.recovery import recover_orders
from arena.live.trigger import scheduled_for, trigger_at
from arena.run_loop import build_backend, model_tape, run_model_session, secret_env_names
from arena.session_log import Redactor, SessionLog, latest_by_session, read_session_records
from arena.triggers import Trigger
from base_agent import RESUMABLE

DRY_RUN_DIR = "dry-run"
LOCK_DIR = "locks"


def log_event(ctx: SessionContext, redact: Redactor, kind: str, **fields: object) -> None:
    log = SessionLog(ctx.log_dir / "log.jsonl", redact)
    try:
        log.event(kind, session_id=ctx.session_id, **fields)
    finally:
        log.close()


# -- the command -------------------------------------------------------------------------------------------------
@dataclass
class LiveRun:
    """What every model's job shares: config, trigger, clock, folders, market and the redactor."""

    config: ArenaConfig
    trigger: datetime
    clock: datetime  # when this invocation started (pinned by --now, or the wall clock)
    pinned: bool
    out_dir: Path
    base_dir: Path
    dry_run: bool
    market: Market
    redact: Redactor
    now: Callable[[], datetime]  # the clock as it moves on (a pinned clock moves on from its pin)
    retry_failed: bool = False
    first_trigger: datetime | None = None  # the day's first scheduled trigger (baselines act only then)
    event: Trigger | None = None  # set when an event (not the schedule) fired this run (the daemon's watcher)

    @property
    def fired(self) -> Trigger:
        return self.event or Trigger(self.trigger)

    def say(self, line: str, err: bool = False) -> None:
        click.echo(self.redact(line), err=err)

    def stamp(self) -> str:
        return self.now().isoformat()


def moving_clock(now: datetime | None) -> Callable[[], datetime]:
    """The wall clock, or a clock pinned by --now that moves on from its pin as real time passes (so an order
    sent a minute into a session pinned at 15:59:30 is checked against 16:00:30)."""
    if now is None:
        return guard.wall_clock
    pinned = require_aware(now, "--now")
    started = time.monotonic()
    return lambda: pinned + timedelta(seconds=time.monotonic() - started)


def run_live(config_path: str | None, out: str | None, now: datetime | None, dry_run: bool,
             models: list[str] | None, *, retry_failed: bool = False, cron: bool = False,
             event: Trigger | None = None) -> int:
    """The cron job. Returns the exit code: 0 when every model ran or had nothing to do, 1 if one failed.

    `event` (the daemon's watcher): run an event session at its instant instead of the scheduled trigger."""
    calendar = MarketCalendar()  # the guard's calendar answers from disk, without pandas
    moving = moving_clock(now)
    clock = moving()
    verdict = guard.gate(clock, config_path, cron, calendar)
    if event is not None:  # an event is not a scheduled fire: only whether the market is open matters
        reason = guard.closed_reason(clock, calendar)
        verdict = guard.Gate(reason is None, f"{reason}; no event session" if reason else "")
    if not verdict.go:
        click.echo(verdict.line)
        return 0
    if verdict.line:
        click.echo(verdict.line, err=True)

    config = load_config(config_path)
    chosen = config.enabled_models(models)
    if not chosen:
        raise ConfigError("no enabled models: set \"enabled\": true on a model or pass --models")
    plans = [plan_for(config, m) for m in chosen]
    check_api_keys(config, chosen)
    check_separate_accounts(plans)

    session = calendar.session_on(clock.date())
    assert session is not None  # the guard passed
    trigger = event.instant if event is not None else trigger_at(session, config.run.times, clock)
    out_dir = Path(out).resolve() if out else config.path(config.live.out_dir)
    base_dir = out_dir / DRY_RUN_DIR if dry_run else out_dir
    base_dir.mkdir(parents=True, exist_ok=True)
    (base_dir / "run_config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2), encoding="utf-8")
    secrets = [v for p in plans for v in (p.key, p.secret)]
    redact = Redactor(secrets + Redactor.from_env(secret_env_names(config)).secrets)
    news = NotAfterClock(build_news(config), (lambda: clock) if now is not None else guard.wall_clock)
    market = Market(data=cast(MarketData, None), calendar=calendar, news=news)  # live reads no bundled prices
    run = LiveRun(config, trigger, clock, now is not None, out_dir, base_dir, dry_run, market, redact, moving,
                  retry_failed, first_trigger=scheduled_for(session, config.run.times)[0], event=event)

    brokers = sorted({p.settings.broker for p in plans})
    run.say(f"live session {trigger:%Y-%m-%d %H:%M %Z} (clock {clock:%H:%M:%S %Z}{', pinned by --now' if run.pinned else ''}); "
            f"broker {', '.join(brokers)}; {len(plans)} model(s): {', '.join(p.signature for p in plans)}")
    if dry_run:
        run.say(f"dry run: fills are simulated on scratch ledgers in {base_dir}; nothing is sent to a broker, "
                "the real ledgers are untouched")
    results = asyncio.run(_run_models(run, plans))
    return 0 if all(results) else 1


async def _run_models(run: LiveRun, plans: list[ModelPlan]) -> list[bool]:
    """Models run concurrently, at most `run.parallel` sessions at once."""
    slots = asyncio.Semaphore(run.config.run.parallel)
    return list(await asyncio.gather(*(_run_model(run, plan, slots) for plan in plans)))


async def _run_model(run: LiveRun, plan: ModelPlan, slots: asyncio.Semaphore) -> bool:
    """Exactly once: the lock, then the session line, then the session. True when nothing went wrong."""
    sig = plan.signature
    if not run.config.acts_every_trigger(plan.model) and run.trigger != run.first_trigger:
        run.say(f"{sig}: acts once a day, at the {run.first_trigger:%H:%M %Z} trigger (set \"every_trigger\": true "
                "to act at every one); nothing to do")
        return True
    ctx = session_context(run.config, plan.model, run.trigger, run.base_dir, mode="live", dry_run=run.dry_run,
                          trigger=run.fired.kind)
    lock_path = ctx.model_dir / LOCK_DIR / f"live-{run.trigger:%Y-%m-%dT%H%M}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        run.say(f"{sig}: another invocation is running this trigger's session ({ctx.session_id}) now; nothing to do")
        return True
    try:
        if run.dry_run:
            _prepare_scratch(run, ctx)
        else:
            done = latest_by_session(read_session_records(ctx.model_dir)).get(ctx.session_id)
            status = done.get("status") if done is not None else None
            if status in RESUMABLE and status != "failed":  # cut off (Ctrl-C): resumed like a crash
                run.say(f"{sig}: resuming the {status} session {ctx.session_id}")
            elif status == "failed" and run.retry_failed:
                run.say(f"{sig}: retrying the failed session {ctx.session_id} (--retry-failed; it failed with: "
                        f"{done.get('error') or 'no reason recorded'})")
            elif done is not None:
                hint = "; to run it again, use live --retry-failed" if done.get("status") == "failed" else ""
                run.say(f"{sig}: this trigger's session already ran ({ctx.session_id}: {done.get('status')}, "
                        f"{done.get('trades', 0)} trade(s)); nothing to do{hint}")
                return True
        async with slots:
            return await _session(run, plan, ctx)
    except Exception as exc:  # one model's failure is reported and never stops the others
        run.say(f"{sig}: error: {exc if isinstance(exc, ValueError | BrokerError) else f'{type(exc).__name__}: {exc}'}",
                err=True)
        return False
    finally:
        lock.release()


def _prepare_scratch(run: LiveRun, ctx: SessionContext) -> None:
    """A dry run starts from a copy of the real ledger; its earlier scratch outputs are thrown away."""
    for name in ("position", "log"):
        shutil.rmtree(ctx.model_dir / name, ignore_errors=True)
    (ctx.model_dir / "sessions.jsonl").unlink(missing_ok=True)
    real = run.out_dir / ctx.signature / "position" / "position.jsonl"
    if real.exists():
        scratch = ctx.model_dir / "position" / "position.jsonl"
        scratch.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(real) + ".lock", timeout=60):
            shutil.copyfile(real, scratch)


def prices_from(view: PriceView) -> Callable[[str], Decimal | None]:
    """The view's current price of a symbol, or None when it has none (to value a reconciliation difference)."""
    def price_of(symbol: str) -> Decimal | None:
        try:
            return Decimal(str(view.quote(symbol).price))
        except ViewError:
            return None
    return price_of


async def _settle_with_broker(run: LiveRun, plan: ModelPlan, ctx: SessionContext, alpaca: AlpacaBroker,
                              ledger: PositionLedger, view: PriceView, at: str) -> list[str]:
    """Book orders an earlier run left (real fills), then reconcile (the broker wins). Returns notes for the model."""
    sig, notes = plan.signature, []
    if not run.dry_run:
        recovery = await asyncio.to_thread(recover_orders, alpaca, ledger, ctx, run.stamp)
        for line in recovery.lines:
            run.say(f"{sig}: order left by an earlier run: {line}")
        if recovery.lines:
            log_event(ctx, run.redact, "recovered_orders", at=at, orders=recovery.lines,
                      ledger_ids=[r["id"] for r in recovery.booked])
        if recovery.note and at == "session_start":
            notes.append(recovery.note)
    account = await asyncio.to_thread(alpaca.account)
    kind, record = await asyncio.to_thread(reconcile, ledger, account, ctx, prices_from(view))
    if kind == "opened":
        run.say(f"{sig}: new ledger opened from the Alpaca account (cash ${account.cash:,.2f}, "
                f"{len(account.holdings)} position(s))")
    elif record is not None:
        what = "reconciled with the broker (the broker wins)" if at == "session_start" else "reconciled after the session"
        run.say(f"{sig}: {what}: {describe_record(record)}")
        log_event(ctx, run.redact, "reconcile", at=at, ledger_id=record["id"], difference=record["reconcile"],
                  cash_flow=record.get("cash_flow"))
        if at == "session_start":
            notes.append(reconcile_note(record))
    return notes


async def _session(run: LiveRun, plan: ModelPlan, ctx: SessionContext) -> bool:
    config, sig = run.config, plan.signature
    view = live_view(config, plan, run.market.calendar, run.clock if run.pinned else None)
    alpaca = alpaca_broker(plan, ctx.model_dir, warn=not run.dry_run) if plan.settings.broker == "alpaca" else None
    ledger = PositionLedger.for_signature(run.base_dir, sig, tuple(config.universe))
    prior = ledger.state.session(ctx.session_id).records
    if prior:
        run.say(f"{sig}: continuing session {ctx.session_id}, interrupted earlier ({prior} ledger record(s) already written)")

    notes: list[str] = []
    if alpaca is not None:
        notes = await _settle_with_broker(run, plan, ctx, alpaca, ledger, view, "session_start")
    await asyncio.to_thread(view.prefetch, ["QQQ", *sorted(ledger.state.holdings)])

    broker: Broker = alpaca if alpaca is not None and not run.dry_run else SimulatedBroker()
    tape = model_tape(plan.model, ctx.model_dir, run.redact) if plan.model.kind == "openai" else None
    backend = build_backend(config, plan.model, run.market, seed=config.run.seed, tape=tape)  # calls recorded
    try:
        outcome = await run_model_session(config, plan.model, backend, run.trigger, run.base_dir, run.market, ledger,
                                          view=view, broker=broker, mode="live", dry_run=run.dry_run,
                                          redact=run.redact, note="\n".join(notes) or None, clock=run.now,
                                          trigger=run.fired)
    finally:
        await backend.aclose()
    result = outcome.result
    if not run.dry_run:
        await asyncio.to_thread(archive_daily_bars, run.base_dir, view.loaded_daily_bars())

    if alpaca is not None and not run.dry_run:  # anything that settled late (a cancel that lost a race) is caught now
        await _settle_with_broker(run, plan, ctx, alpaca, ledger, view, "session_end")

    line = (f"{sig}: {result.status}, {result.trades} trade(s), {result.rejections} rejected, "
            f"equity ${outcome.equity:,.2f} ({result.session_id})")
    if result.error:
        line += f": {result.error}"
    run.say(line, err=result.status == "failed")
    return result.status != "failed"


def live_desk(config: ArenaConfig, model: ModelSettings, out_dir: Path, market: Market) -> TradingDesk:
    """`serve-tools --live`: a desk bound to now, with live prices and the configured broker (reconciled first).

    Messages go to stderr: stdout carries the MCP protocol.
    """
    plan = plan_for(config, model)
    now = guard.wall_clock().replace(second=0, microsecond=0)
    ctx = session_context(config, model, now, Path(out_dir), mode="live")
    view = live_view(config, plan, market.calendar, None)
    alpaca = alpaca_broker(plan, ctx.model_dir) if plan.settings.broker == "alpaca" else None
    ledger = PositionLedger.for_signature(Path(out_dir), model.signature, tuple(config.universe))
    if alpaca is not None:
        stamp = lambda: guard.wall_clock().isoformat()  # noqa: E731
        for line in recover_orders(alpaca, ledger, ctx, stamp).lines:
            print(f"{model.signature}: order left by an earlier run: {line}", file=sys.stderr)
        kind, record = reconcile(ledger, alpaca.account(), ctx, prices_from(view))
        if record is not None and kind != "opened":
            print(f"{model.signature}: reconciled with the broker: {describe_record(record)}", file=sys.stderr)
    return build_desk(config, ctx, market, view=view, broker=alpaca or SimulatedBroker(), ledger=ledger,
                      clock=guard.wall_clock)
