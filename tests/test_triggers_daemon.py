"""`live --daemon`: a fake clock drives a whole day (no waiting); the daemon fires each decision time once through
`run_live` against the fake Alpaca, a restart after a kill runs no trigger twice, an outage is retried, an event
found by the watcher runs one event session, and SIGTERM stops the real process cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from agent_tools.market_calendar import parse_instant
from arena.live.command import run_live
from arena.live.daemon import Scheduler
from arena.triggers import Trigger
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.fakes.fake_alpaca import alpaca_env, sessions
from tests.test_triggers_live import two_times_config


class FakeClock:
    """Time moves only when the daemon sleeps; the daemon is stopped once the clock passes `until`."""

    def __init__(self, start: str, until: str):
        self.at, self.until = parse_instant(start), parse_instant(until)
        self.wakes: list[datetime] = []

    def now(self) -> datetime:
        return self.at

    async def sleep_until(self, moment: datetime, stop: asyncio.Event) -> None:
        self.wakes.append(moment)
        if moment > self.until:
            stop.set()
            return
        self.at = max(self.at, moment)


def daemon(config: Path, out: Path, clock: FakeClock, runner=run_live, **extra) -> Scheduler:
    lines: list[str] = []
    scheduler = Scheduler(str(config), str(out), None, clock, runner, poll=timedelta(minutes=30), pinned=True,
                          say=lines.append, **extra)
    scheduler.lines = lines  # type: ignore[attr-defined]
    return scheduler


def test_the_daemon_fires_each_time_once_and_a_restart_runs_nothing_twice(alpaca, tmp_path: Path):
    config, out = two_times_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    first = daemon(config, out, FakeClock("2025-11-26T08:00-05:00", "2025-11-26T12:00-05:00"))
    asyncio.run(first.run())
    assert [s["session_id"] for s in sessions(out)] == ["scripted-a@2025-11-26T10:00-05:00"]
    assert parse_instant("2025-11-26T10:00-05:00") in first.clock.wakes  # it woke at the trigger, not a poll later
    # killed at 12:00 and restarted at 12:10: the 10:00 trigger is due but done; 15:00 runs when it comes
    second = daemon(config, out, FakeClock("2025-11-26T12:10-05:00", "2025-11-26T17:00-05:00"))
    asyncio.run(second.run())
    assert [s["session_id"] for s in sessions(out)] == ["scripted-a@2025-11-26T10:00-05:00",
                                                         "scripted-a@2025-11-26T15:00-05:00"]
    assert len(alpaca.orders) == 2 and second.lines[-1] == "live daemon stopped"


def test_a_trigger_that_fails_in_an_outage_is_tried_again_at_the_next_poll(tmp_path: Path):
    calls: list[tuple] = []

    def flaky(config, out, now, dry_run, models, *, retry_failed=False, event=None):
        calls.append((now, retry_failed))
        if len(calls) == 1:
            raise ConnectionError("broker unreachable")
        return 0

    clock = FakeClock("2025-11-26T09:59-05:00", "2025-11-26T11:00-05:00")
    scheduler = daemon(tmp_path / "none.json", tmp_path / "out", clock, runner=flaky)
    asyncio.run(scheduler.run())
    assert [(c[0].strftime("%H:%M"), c[1]) for c in calls] == [("10:00", False), ("10:30", True)]
    assert any("trigger failed: ConnectionError: broker unreachable" in line for line in scheduler.lines)


def test_an_event_found_between_scheduled_times_runs_one_event_session(alpaca, tmp_path: Path):
    config, out = two_times_config(tmp_path / "c.json", alpaca), tmp_path / "out"

    class OneEvent:
        def poll(self, now: datetime) -> list[tuple[Trigger, str]]:
            at = parse_instant("2025-11-26T12:00-05:00")
            return [(Trigger(at, "event:price_move:AAPL", "AAPL moved +2.1% from the open"), "scripted-a")] \
                if now == at else []

    scheduler = daemon(config, out, FakeClock("2025-11-26T09:00-05:00", "2025-11-26T13:00-05:00"),
                       watcher=OneEvent())
    asyncio.run(scheduler.run())
    lines = sessions(out)
    assert [(s["session_id"], s["trigger"]) for s in lines] == [
        ("scripted-a@2025-11-26T10:00-05:00", "scheduled"),
        ("scripted-a@2025-11-26T12:00-05:00", "event:price_move:AAPL")]
    assert [s["session_id"] for s in sessions(out, "bh")] == ["bh@2025-11-26T10:00-05:00"]


def test_sigterm_stops_the_daemon_process_cleanly(alpaca, tmp_path: Path):
    config, out = two_times_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    proc = subprocess.Popen([PYTHON, "main.py", "live", "--daemon", "--config", str(config), "--out", str(out),
                             "--now", "2025-11-29T12:00-05:00"], cwd=PROJECT_DIR,
                            env=subprocess_env(**alpaca_env(alpaca)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()  # blocks until the daemon has started (an event, not a sleep)
        assert first.startswith("live daemon started at 2025-11-29 12:00 EST: scheduled times 10:00, 15:00")
        os.kill(proc.pid, signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert rest.strip() == "live daemon stopped" and not sessions(out)


def test_a_stop_loss_sells_through_the_fake_alpaca_without_the_model(alpaca, tmp_path: Path):
    from arena.config import load_config
    from arena.live.watch import LiveExits
    from tests.fakes.fake_alpaca import ledger

    config = two_times_config(tmp_path / "c.json", alpaca)
    raw = json.loads(config.read_text())
    raw["exits"] = {"stop_loss": 0.02}
    config.write_text(json.dumps(raw))
    out = tmp_path / "out"
    clock = FakeClock("2025-11-26T09:59-05:00", "2025-11-26T11:00-05:00")
    scheduler = daemon(config, out, clock, exits=LiveExits(load_config(config), str(out), None, pinned=True))
    bought = alpaca.price("AAPL")

    class Drop:  # AAPL falls 5% after the 10:00 session has bought it
        def poll(self, now: datetime) -> list:
            if now >= parse_instant("2025-11-26T10:30-05:00"):
                alpaca.prices["AAPL"] = bought * Decimal("0.95")
            return []

    scheduler.watcher = Drop()
    asyncio.run(scheduler.run())
    exits = [r for r in ledger(out) if r.get("trigger")]
    assert [(r["this_action"]["action"], r["this_action"]["symbol"], r["trigger"]) for r in exits] == [
        ("sell", "AAPL", "stop_loss")]
    assert exits[0]["client_order_id"] == "scripted-a@2025-11-26T11:00-05:00#exit:AAPL"
    assert alpaca.order_by_client_id(exits[0]["client_order_id"])["side"] == "sell"
    assert [s["trigger"] for s in sessions(out) if s.get("kind") == "exit"] == ["stop_loss"]
    assert any("exit rule sold 1 AAPL" in line for line in scheduler.lines)


def test_the_live_trailing_peak_of_a_position_no_longer_held_is_forgotten(write_config, tmp_path: Path):
    """A sale then a cheaper re-buy must not be judged against the old position's peak."""
    from arena.config import load_config
    from arena.live.watch import LiveExits

    exits = LiveExits(load_config(write_config()), str(tmp_path / "out"), None)
    exits.peaks = {("m", "AAPL"): Decimal("300"), ("m", "MSFT"): Decimal("500"), ("other", "AAPL"): Decimal("290")}
    exits.forget_sold("m", {"MSFT": Decimal("3")})
    assert exits.peaks == {("m", "MSFT"): Decimal("500"), ("other", "AAPL"): Decimal("290")}
