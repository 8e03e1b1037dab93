"""The market-day guard: before anything else, is the market open at the clock's instant (New York time), and is
this invocation where its trigger is?

It runs on the clock alone, before the config's keys are read or anything is contacted, so a weekend, an NYSE
holiday, before the open or after an (early) close exits 0 with one line, whatever the config.

Cron entries do not rely on `CRON_TZ` (Debian's and Ubuntu's cron ignore it): `scripts/install_cron.sh` installs
the entry for each hour, in the machine's own zone, that 10:00 New York can fall on (two on a UTC machine, one per
DST offset), each with `live --cron`. The entry an hour off today's trigger is the other offset's and exits here
with one line. Any other run more than 30 minutes from its trigger goes on with a warning line: that is how an
entry written for the wrong zone shows up in `cron.log` instead of failing silently every day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from arena.live.schedule import planned_decision_time as planned_decision_time
from arena.live.schedule import planned_decision_times as planned_decision_times

LATE_WARNING = timedelta(minutes=30)
DST_SHIFT = timedelta(hours=1)


def wall_clock() -> datetime:
    """The real now in New York time (independent of the machine's zone)."""
    return datetime.now(MARKET_TZ)


def closed_reason(clock: datetime, calendar: MarketCalendar) -> str | None:
    """Why there is no live session at this instant (one line), or None when the market is open."""
    return calendar.closed_reason(clock)


@dataclass(frozen=True)
class Timing:
    skip: bool = False
    line: str = ""


def _span(delta: timedelta) -> str:
    minutes = round(abs(delta).total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def timing(clock: datetime, trigger: datetime, cron: bool) -> Timing:
    """Where this invocation is relative to its trigger: on time, the other DST offset's cron entry (skip), or off
    by more than 30 minutes (a one-line warning; the run goes on)."""
    offset = clock.astimezone(MARKET_TZ) - trigger
    if abs(offset) <= LATE_WARNING:
        return Timing()
    at, due = clock.astimezone(MARKET_TZ), trigger.astimezone(MARKET_TZ)
    if cron and abs(abs(offset) - DST_SHIFT) <= LATE_WARNING:
        return Timing(skip=True, line=(
            f"cron fire at {at:%H:%M %Z} is the entry for New York's other UTC offset; today's {due:%H:%M %Z} "
            "trigger has its own entry; nothing to do"))
    side = "after" if offset > timedelta(0) else "before"
    return Timing(line=(
        f"warning: this run started at {at:%H:%M %Z}, {_span(offset)} {side} its {due:%H:%M %Z} trigger; if cron "
        "started it, the entry is not in New York time (Debian and Ubuntu cron ignore CRON_TZ): reinstall it with "
        "scripts/install_cron.sh or use the systemd timer (scripts/install_systemd.sh)"))


@dataclass(frozen=True)
class Gate:
    """The guard's verdict: `go` on, or not (then `line` says why, on stdout); when going on, `line` is a warning."""

    go: bool
    line: str = ""


def gate(clock: datetime, config_path: str | None, cron: bool, calendar: MarketCalendar) -> Gate:
    """Is there a live session at this clock for this invocation? From the clock, the calendar and the config's
    decision time alone (read leniently): nothing heavy is imported, nothing is contacted."""
    day_session = calendar.session_on(clock.date())
    verdict = Timing()
    if day_session is not None:
        from arena.live.trigger import nearest, trigger_at

        times = planned_decision_times(config_path)
        # a cron fire is measured against the time it was meant for; any run warns against the trigger it runs
        verdict = timing(clock, nearest(day_session, times, clock), cron)
        if not verdict.skip:
            verdict = timing(clock, trigger_at(day_session, times, clock), cron=False)
        if verdict.skip:
            return Gate(False, verdict.line)
    reason = closed_reason(clock, calendar)
    if reason is not None:  # one line, with the warning when this was a fire at the wrong hour
        return Gate(False, f"{reason}; no live session" + (f"; {verdict.line}" if verdict.line else ""))
    return Gate(True, verdict.line)
