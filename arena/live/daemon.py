"""`main.py live --daemon`: one long-running scheduler that fires the scheduled triggers at New York time (DST by
zoneinfo, whatever the machine's zone), polls event triggers in between while the market is open, survives a
provider or broker outage, and stops cleanly on SIGTERM or Ctrl-C.

Every trigger it fires goes through the same `run_live` as a cron-fired invocation: the per-trigger lock and the
`sessions.jsonl` line make a session exactly once whoever starts it (a daemon restarted after a kill, a cron entry
left installed next to it). A trigger that is due when the daemon (re)starts runs then, late, unless it already
ran. A session that failed (an outage) is tried again at the next polls, at most `RETRIES` times.

The clock is injected (`Clock`): the wall clock in production, a fake one in tests, so a test drives a whole day
without waiting for it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import click

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from arena.live import guard
from arena.live.trigger import scheduled_for
from arena.triggers import Trigger

RETRIES = 3


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, moment: datetime, stop: asyncio.Event) -> None: ...


class WallClock:
    """Real time; a sleep ends early when `stop` is set (SIGTERM)."""

    def now(self) -> datetime:
        return guard.wall_clock()

    async def sleep_until(self, moment: datetime, stop: asyncio.Event) -> None:
        seconds = (moment - self.now()).total_seconds()
        if seconds > 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except TimeoutError:
                pass


Runner = Callable[..., int]  # run_live's signature: (config, out, now, dry_run, models, retry_failed=, event=)


@dataclass
class Scheduler:
    config_path: str | None
    out: str | None
    models: list[str] | None
    clock: Clock
    runner: Runner
    poll: timedelta = timedelta(minutes=5)
    pinned: bool = False  # pass the clock's time to each run (a drill or a test; production runs use real time)
    say: Callable[[str], None] = click.echo
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    calendar: MarketCalendar = field(default_factory=MarketCalendar)
    attempts: dict[tuple, int] = field(default_factory=dict)  # triggers tried today, and how often
    done: set[tuple] = field(default_factory=set)
    watcher: EventPoller | None = None
    exits: ExitPoller | None = None
    day: date | None = None

    def times(self) -> list:
        return guard.planned_decision_times(self.config_path)

    async def run(self) -> None:
        self.say(f"live daemon started at {self.clock.now():%Y-%m-%d %H:%M %Z}: scheduled times "
                 f"{', '.join(f'{t:%H:%M}' for t in self.times())} New York; SIGTERM stops it")
        while not self.stop.is_set():
            now = self.clock.now()
            await self.tick(now)
            if self.stop.is_set():
                break
            await self.clock.sleep_until(self.next_wake(self.clock.now()), self.stop)
        self.say("live daemon stopped")

    async def tick(self, now: datetime) -> None:
        """Fire every scheduled trigger due today that has not run (late after a restart), then poll events."""
        session = self.calendar.session_on(now.astimezone(MARKET_TZ).date())
        if session is None or not session.open <= now < session.close:
            return
        if session.day != self.day:
            self.day, self.done, self.attempts = session.day, set(), {}
        for instant in scheduled_for(session, self.times()):
            if instant <= now and (instant, None) not in self.done:
                await self._fire((instant, None), now, None, self.models)
        if self.exits is not None:
            try:
                for fill in await asyncio.to_thread(self.exits.poll, now):
                    self.say(f"live daemon: exit rule sold {fill.get('filled')} {fill.get('symbol')} at "
                             f"${fill.get('price')}")
            except Exception as exc:  # a broker outage: the next poll checks again
                self.say(f"live daemon: exit rules not checked: {type(exc).__name__}: {exc}")
        if self.watcher is not None:
            for event, signature in await asyncio.to_thread(self.watcher.poll, now):
                if (event.instant, signature) not in self.done:
                    await self._fire((event.instant, signature), now, event, [signature])

    async def _fire(self, key: tuple, now: datetime, event: Trigger | None, models: list[str] | None) -> None:
        tries = self.attempts.get(key, 0)
        if tries >= RETRIES:
            return
        self.attempts[key] = tries + 1
        instant = key[0]
        try:
            code = await asyncio.to_thread(self.runner, self.config_path, self.out, now if self.pinned else None,
                                           False, models, retry_failed=tries > 0, event=event)
        except Exception as exc:  # an outage or a bad config: said, and the daemon goes on
            self.say(f"live daemon: the {instant:%H:%M} trigger failed: {type(exc).__name__}: {exc}")
            code = 1
        if code == 0:
            self.done.add(key)
        elif self.attempts[key] >= RETRIES:
            self.say(f"live daemon: the {instant:%H:%M} trigger failed {RETRIES} times; "
                     "`main.py live --retry-failed` runs it again")

    def next_wake(self, now: datetime) -> datetime:
        """The next scheduled instant, or the next poll while the market is open, or the next session's open."""
        local = now.astimezone(MARKET_TZ)
        day = local.date()
        candidates: list[datetime] = []
        for offset in range(0, 10):
            session = self.calendar.session_on(day + timedelta(days=offset))
            if session is None:
                continue
            upcoming = [t for t in scheduled_for(session, self.times()) if t > now]
            if session.open <= now < session.close:
                candidates.append(min(now + self.poll, session.close))
            if upcoming:
                candidates.append(upcoming[0])
            if session.open > now:
                candidates.append(session.open)
            if candidates:
                break
        return min(candidates) if candidates else now + timedelta(hours=12)


class EventPoller(Protocol):
    def poll(self, now: datetime) -> list[tuple[Trigger, str]]: ...


class ExitPoller(Protocol):
    def poll(self, now: datetime) -> list[dict]: ...


def run_daemon(config_path: str | None, out: str | None, models: list[str] | None, now: datetime | None) -> int:
    """The console command: the wall clock (or one moving on from `--now`), SIGTERM and Ctrl-C stop it."""
    from arena.config import load_config
    from arena.live.command import moving_clock, run_live
    from arena.live.watch import LiveEvents, LiveExits

    config = load_config(config_path)
    moving = moving_clock(now)

    class Moving(WallClock):
        def now(self) -> datetime:
            return moving()

    scheduler = Scheduler(config_path, out, models, Moving(), run_live, pinned=now is not None,
                          poll=timedelta(seconds=config.live.watch_interval_seconds))
    if config.run.events:
        scheduler.watcher = LiveEvents(config, config_path, out, models, pinned=now is not None)
    scheduler.exits = LiveExits(config, out, models, pinned=now is not None)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, scheduler.stop.set)
        await scheduler.run()

    asyncio.run(main())
    return 0

