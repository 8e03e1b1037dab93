"""When to start `main.py live`, written for the schedulers that will start it: cron and systemd timers.

Cron runs entries in the machine's own time zone; `CRON_TZ` is ignored by the cron most Debian and Ubuntu machines
run. So the cron entries are computed here, not delegated: for every weekday of the coming year, the machine-local
minute, hour and weekday at which the decision time falls in New York. A UTC machine gets two entries (14:00 in
summer, 15:00 in winter); a New York machine one. On any day only one of them is the trigger; `live --cron`
makes the other a one-line no-op. A systemd timer takes the zone itself (`OnCalendar=... America/New_York`), so
it needs one line and no such trick: that is the recommended path where systemd runs.

`python -m arena.live.schedule cron [--config PATH] [--tz ZONE]` prints the entries' time fields, one per line;
`python -m arena.live.schedule systemd [--config PATH]` prints the timer's OnCalendar values, one per decision time
(`run.decision_times`, or the one `run.decision_time`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time as time_module
from collections import defaultdict
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Kept free of the project's heavier imports (the installers run this module); the same zone as market_calendar's.
MARKET_TZ = ZoneInfo("America/New_York")
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "default_config.json"
DEFAULT_DECISION_TIME = time(10, 0)


def planned_decision_time(config_path: str | None) -> time:
    """`run.decision_time` read leniently (the guard must work even with a broken config): 10:00 on any problem."""
    return planned_decision_times(config_path)[0]


def planned_decision_times(config_path: str | None) -> list[time]:
    """`run.decision_times` (else the one `run.decision_time`), in order, read leniently: [10:00] on any problem."""
    try:
        run = json.loads(Path(config_path or DEFAULT_CONFIG).read_text(encoding="utf-8"))["run"]
        listed = run.get("decision_times")
        if listed:
            return sorted({time.fromisoformat(str(t)) for t in listed})
        return [time.fromisoformat(str(run.get("decision_time", "10:00")))]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [DEFAULT_DECISION_TIME]


def _local(moment: datetime, zone: tzinfo | None) -> datetime:
    """The moment on the machine's wall clock (the C library's local time, as cron sees it) or in `zone`."""
    if zone is not None:
        return moment.astimezone(zone)
    return datetime(*time_module.localtime(moment.timestamp())[:6])


def local_fire_times(decision_times: list[time], zone: tzinfo | None = None, start: date | None = None,
                     days: int = 400) -> list[tuple[int, int, list[int]]]:
    """(minute, hour, cron weekdays) in the machine's zone at which a decision time falls in New York on a weekday,
    over `days` days from `start` (a year and more covers both DST offsets)."""
    first = start or date.today()
    fires: dict[tuple[int, int], set[int]] = defaultdict(set)
    for n in range(days):
        day = first + timedelta(days=n)
        if day.weekday() >= 5:
            continue
        for decision in decision_times:
            local = _local(datetime.combine(day, decision, tzinfo=MARKET_TZ), zone)
            fires[(local.hour, local.minute)].add(local.isoweekday() % 7)
    return [(minute, hour, sorted(weekdays)) for (hour, minute), weekdays in sorted(fires.items())]


def weekday_field(weekdays: list[int]) -> str:
    """Cron's day-of-week field, runs as ranges: [1, 2, 3, 4, 5] -> "1-5", [0, 2, 3] -> "0,2-3"."""
    parts, run = [], [weekdays[0]]
    for day in weekdays[1:]:
        if day == run[-1] + 1:
            run.append(day)
        else:
            parts.append(run)
            run = [day]
    parts.append(run)
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in parts)


def cron_times(decision_times: list[time], zone: tzinfo | None = None, start: date | None = None) -> list[str]:
    """The time fields of the cron entries: "M H * * DOW", one per local hour a decision time can fall on."""
    return [f"{minute} {hour} * * {weekday_field(days)}"
            for minute, hour, days in local_fire_times(decision_times, zone, start)]


def systemd_calendar(decision_time: time) -> str:
    return f"Mon..Fri {decision_time:%H:%M} America/New_York"


def systemd_calendars(decision_times: list[time]) -> list[str]:
    """One OnCalendar value per decision time (a timer may carry several)."""
    return [systemd_calendar(t) for t in decision_times]


def _decision_times(config: str | None) -> list[time]:
    return planned_decision_times(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arena.live.schedule", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("cron", "systemd", "times"))
    parser.add_argument("--config", help="config whose run.decision_times to use (default: the default config)")
    parser.add_argument("--tz", help="compute cron times for this zone instead of the machine's (e.g. UTC)")
    args = parser.parse_args(argv)
    times = _decision_times(args.config)
    if args.kind == "times":  # for the installers' messages: "10:00" or "10:00 and 15:00"
        print(" and ".join(f"{t:%H:%M}" for t in times))
        return 0
    if args.kind == "systemd":
        for line in systemd_calendars(times):
            print(line)
        return 0
    try:
        zone = ZoneInfo(args.tz) if args.tz else None
    except (ZoneInfoNotFoundError, ValueError):
        print(f"schedule: unknown time zone {args.tz!r}; use an IANA name such as UTC or Europe/Berlin",
              file=sys.stderr)
        return 2
    for line in cron_times(times, zone):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
