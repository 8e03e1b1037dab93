"""Scheduling `main.py live`: cron entries that fire on Debian and Ubuntu without CRON_TZ (written in the machine's
zone, one per hour 10:00 New York can fall on, the other one a no-op), and a systemd timer in New York time. The
installers print by default, install once with --install, and say what they installed (fake `crontab` and
`systemctl` on PATH keep the state)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from agent_tools.market_calendar import MARKET_TZ, at_market_time
from arena.live import guard
from arena.live.schedule import cron_times, local_fire_times, weekday_field
from main import cli
from tests.conftest import PROJECT_DIR
from tests.fakes.fake_alpaca import live_config

SCRIPT = PROJECT_DIR / "scripts" / "install_cron.sh"
SYSTEMD_SCRIPT = PROJECT_DIR / "scripts" / "install_systemd.sh"
PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
FAKE_CRONTAB = """#!/bin/sh
# crontab -l prints the table (or fails like cron when there is none); crontab - replaces it from stdin
if [ "$1" = "-l" ]; then [ -f "$CRONTAB_FILE" ] || { echo "no crontab for $USER" >&2; exit 1; }; cat "$CRONTAB_FILE"
elif [ "$1" = "-" ]; then cat > "$CRONTAB_FILE"; else exit 9; fi
"""
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> "$SYSTEMCTL_LOG"
"""


def fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(script)
    (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.fixture
def cron(tmp_path: Path):
    bin_dir = fake_bin(tmp_path, "crontab", FAKE_CRONTAB)
    table = tmp_path / "crontab.txt"

    def run(*args: str, tz: str = "UTC") -> subprocess.CompletedProcess:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CRONTAB_FILE": str(table), "TZ": tz}
        return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)

    return run, table


def entries(text: str) -> list[str]:
    return [line for line in text.splitlines() if "main.py live" in line]


# -- which hours ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Tokyo", "Asia/Kolkata", "America/Los_Angeles",
                                  "America/New_York"])
def test_on_every_weekday_of_a_year_exactly_one_entry_is_the_trigger(zone: str):
    """The cron entries, read in the machine's zone as Debian's cron reads them, across both DST changes."""
    tz = ZoneInfo(zone)
    fires = local_fire_times([time(10, 0)], tz, start=date(2025, 1, 1), days=366)
    assert len(fires) == (1 if zone in ("America/New_York", "America/Los_Angeles") else 2)  # US zones share NY's DST
    day = date(2025, 1, 1)
    while day < date(2026, 1, 1):
        if day.weekday() < 5:
            trigger = at_market_time(day, time(10, 0))
            starts = []
            for minute, hour, weekdays in fires:
                for shift in (-1, 0, 1):
                    local_day = day + timedelta(days=shift)
                    at = datetime.combine(local_day, time(hour, minute), tzinfo=tz).astimezone(MARKET_TZ)
                    if local_day.isoweekday() % 7 in weekdays and at.date() == day:
                        starts.append(guard.timing(at, trigger, cron=True))
            ran = [t for t in starts if not t.skip]
            assert len(ran) == 1 and ran[0].line == "", (zone, day, starts)
        day += timedelta(days=1)


def test_cron_fields():
    assert cron_times([time(10, 0)], ZoneInfo("UTC"), date(2025, 1, 1)) == ["0 14 * * 1-5", "0 15 * * 1-5"]
    assert cron_times([time(10, 0)], ZoneInfo("Asia/Tokyo"), date(2025, 1, 1)) == ["0 0 * * 2-6", "0 23 * * 1-5"]
    assert weekday_field([0, 2, 3, 5]) == "0,2-3,5"


# -- the cron installer ---------------------------------------------------------------------------------------------
def test_prints_one_entry_per_possible_hour_without_cron_tz_and_touches_nothing(cron, tmp_path: Path):
    run, table = cron
    out = tmp_path / "live out"
    done = run("--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "CRON_TZ" not in done.stdout
    command = (f"cd {PROJECT_DIR} && {PYTHON} main.py live --cron --out '{tmp_path}/live out' "
               f">> '{tmp_path}/live out'/cron.log 2>&1")
    assert entries(done.stdout) == [f"0 14 * * 1-5 {command}", f"0 15 * * 1-5 {command}"]
    assert "2 cron entries, at 14:00 and 15:00 UTC on weekdays" in done.stderr
    assert not table.exists() and not out.exists()
    new_york = run("--out", str(out), tz="America/New_York")
    assert entries(new_york.stdout) == [f"0 10 * * 1-5 {command}"]
    assert "1 cron entry, at 10:00 America/New_York on weekdays" in new_york.stderr


def test_install_adds_the_entries_once_keeps_other_lines_and_says_what_it_installed(cron, tmp_path: Path):
    run, table = cron
    table.write_text("MAILTO=me@example.com\n30 2 * * * /usr/bin/backup\n")
    out = tmp_path / "runs"
    first = run("--install", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("installed 2 cron entries, at 14:00 and 15:00 UTC on weekdays")
    second = run("--install", "--out", str(out))
    assert second.stdout.startswith("already installed; crontab unchanged: 2 cron entries")
    text = table.read_text()
    assert text.startswith("MAILTO=me@example.com\n30 2 * * * /usr/bin/backup\n")
    assert len(entries(text)) == 2 and "CRON_TZ" not in text
    assert out.is_dir()  # the log folder exists before cron first appends to it
    moved = run("--install", "--out", str(tmp_path / "elsewhere"), "--models", "a,b")
    assert moved.returncode == 0, moved.stderr
    text = table.read_text()
    assert len(entries(text)) == 2 and all("--models a,b --out" in e for e in entries(text))
    assert "/usr/bin/backup" in text


def test_install_into_an_empty_crontab_and_bad_options(cron, tmp_path: Path):
    run, table = cron
    assert run("--install", "--out", str(tmp_path / "o")).returncode == 0
    assert table.read_text().splitlines()[0] == "# >>> tradearena live (scripts/install_cron.sh) >>>"
    bad = run("--frobnicate")
    assert bad.returncode == 2 and bad.stderr.strip() == "install_cron.sh: unknown option '--frobnicate' (see --help)"
    missing = run("--config", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "not found" in missing.stderr


# -- the systemd timer ----------------------------------------------------------------------------------------------
def test_the_systemd_timer_is_in_new_york_time_and_installs_once(tmp_path: Path):
    bin_dir = fake_bin(tmp_path, "systemctl", FAKE_SYSTEMCTL)
    log = tmp_path / "systemctl.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "SYSTEMCTL_LOG": str(log), "TZ": "UTC"}
    out = tmp_path / "live out"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SYSTEMD_SCRIPT), *args, "--out", str(out)], env=env, capture_output=True,
                              text=True, timeout=60)

    printed = run()
    assert printed.returncode == 0, printed.stderr
    assert "OnCalendar=Mon..Fri 10:00 America/New_York" in printed.stdout and not (tmp_path / "cfg").exists()
    for _ in range(2):
        done = run("--install")
        assert done.returncode == 0, done.stderr
    units = tmp_path / "cfg" / "systemd" / "user"
    assert sorted(p.name for p in units.iterdir()) == ["tradearena-live.service", "tradearena-live.timer"]
    assert done.stdout.startswith(f"installed a systemd user timer: {units}/tradearena-live.timer "
                                  "(OnCalendar=Mon..Fri 10:00 America/New_York)")
    service = (units / "tradearena-live.service").read_text()
    assert f'ExecStart={PYTHON} main.py live --out "{out}"' in service
    assert log.read_text().splitlines() == ["--user daemon-reload", "--user enable --now tradearena-live.timer"] * 2
    if shutil.which("systemd-analyze"):
        checked = subprocess.run(["systemd-analyze", "verify", str(units / "tradearena-live.service"),
                                  str(units / "tradearena-live.timer")], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


# -- what `live` does when cron starts it ---------------------------------------------------------------------------
def live(config: Path, now: str, *extra: str):
    return CliRunner().invoke(cli, ["live", "--config", str(config), "--out", str(config.parent / "out"),
                                    "--now", now, *extra])


@pytest.mark.parametrize("now", ["2025-11-26T09:00-05:00", "2025-07-16T11:00-04:00"], ids=["winter", "summer"])
def test_the_other_offsets_entry_does_nothing_in_one_line(alpaca, tmp_path: Path, now: str):
    config = live_config(tmp_path / "c.json", alpaca)
    result = live(config, now, "--cron")
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith("cron fire at ") and line.endswith("is the entry for New York's other UTC offset; "
                                                              f"today's 10:00 {'EST' if 'winter' in line or '-05' in now else 'EDT'} "
                                                              "trigger has its own entry; nothing to do")
    assert alpaca.calls == []


def test_a_cron_entry_in_the_wrong_zone_warns_in_its_line(alpaca, tmp_path: Path):
    """`0 10 * * 1-5` on a UTC machine whose cron ignores CRON_TZ fires at 05:00 New York: said, not silent."""
    config = live_config(tmp_path / "c.json", alpaca)
    result = live(config, "2025-11-26T05:00-05:00")
    assert result.exit_code == 0
    [line] = result.output.splitlines()
    assert line.startswith("market closed: 2025-11-26 05:00 EST is before the open at 09:30 EST; no live session; "
                           "warning: this run started at 05:00 EST, 5 h 00 min before its 10:00 EST trigger")
    assert "Debian and Ubuntu cron ignore CRON_TZ" in line and alpaca.calls == []
