"""Several decision times a day, live: `live --now` at each time runs that trigger's session once, cron entries and
the systemd timer cover every time (without CRON_TZ), and baselines act once a day."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, parse_instant
from arena.live import guard, run_live
from arena.live.schedule import cron_times, local_fire_times
from arena.live.trigger import nearest, trigger_at
from tests.conftest import PROJECT_DIR
from tests.fakes.fake_alpaca import buy, live_config, scripted_model, sessions
from tests.test_live_cron import FAKE_CRONTAB, FAKE_SYSTEMCTL, SYSTEMD_SCRIPT, entries, fake_bin

TIMES = [time(10, 0), time(15, 0)]


def two_times_config(path: Path, alpaca, **extra) -> Path:
    config = live_config(path, alpaca, models=[
        scripted_model("scripted-a", [[buy("AAPL", 1)]]),
        {"signature": "bh", "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
         "limits": {"max_position_weight": 1.0}, "live": {"broker": "paper"}},
    ], **extra)
    raw = json.loads(config.read_text())
    raw["run"].pop("decision_time")
    raw["run"]["decision_times"] = ["10:00", "15:00"]
    config.write_text(json.dumps(raw))
    return config


def test_live_at_each_of_two_times_runs_that_triggers_session_once(alpaca, tmp_path: Path, capsys):
    config, out = two_times_config(tmp_path / "c.json", alpaca), tmp_path / "out"
    for now in ("2025-11-26T10:00-05:00", "2025-11-26T10:40-05:00", "2025-11-26T15:00-05:00",
                "2025-11-26T15:30-05:00"):
        assert run_live(str(config), str(out), parse_instant(now), False, None) == 0
    printed = capsys.readouterr().out
    assert [s["session_id"] for s in sessions(out)] == ["scripted-a@2025-11-26T10:00-05:00",
                                                         "scripted-a@2025-11-26T15:00-05:00"]
    assert [s["trigger"] for s in sessions(out)] == ["scheduled", "scheduled"]
    assert printed.count("this trigger's session already ran") == 2 * 1 + 1  # 10:40 (both models), 15:30 (scripted)
    assert [s["session_id"] for s in sessions(out, "bh")] == ["bh@2025-11-26T10:00-05:00"]
    assert "bh: acts once a day, at the 10:00 EST trigger" in printed
    assert len(alpaca.orders) == 2  # AAPL at 10:00 and at 15:00 (the baseline trades on the paper broker)


def test_a_run_belongs_to_the_latest_time_due_and_cron_skips_the_other_offsets_entries():
    session = MarketCalendar().session_on(date(2025, 11, 26))
    at = lambda hhmm: datetime.combine(session.day, time.fromisoformat(hhmm), tzinfo=MARKET_TZ)  # noqa: E731
    assert trigger_at(session, TIMES, at("09:45")) == at("10:00")
    assert trigger_at(session, TIMES, at("12:30")) == at("10:00")
    assert trigger_at(session, TIMES, at("14:45")) == at("15:00")
    # winter on a UTC machine: the 19:00 UTC entry (15:00 New York in summer) fires at 14:00 and does nothing
    assert guard.timing(at("14:00"), nearest(session, TIMES, at("14:00")), cron=True).skip
    assert not guard.timing(at("15:00"), nearest(session, TIMES, at("15:00")), cron=True).skip


def test_on_every_weekday_of_a_year_each_time_has_exactly_one_entry_that_runs():
    tz = ZoneInfo("UTC")
    fires = local_fire_times(TIMES, tz, start=date(2025, 1, 1), days=366)
    assert cron_times(TIMES, tz, date(2025, 1, 1)) == ["0 14 * * 1-5", "0 15 * * 1-5", "0 19 * * 1-5",
                                                        "0 20 * * 1-5"]
    calendar = MarketCalendar()
    day = date(2025, 1, 1)
    while day < date(2026, 1, 1):
        session = calendar.session_on(day)
        if session is not None and session.close.hour == 16:
            ran = []
            for minute, hour, weekdays in fires:
                moment = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(MARKET_TZ)
                if day.isoweekday() % 7 not in weekdays or calendar.closed_reason(moment) is not None:
                    continue
                if not guard.timing(moment, nearest(session, TIMES, moment), cron=True).skip:
                    ran.append(trigger_at(session, TIMES, moment))
            assert sorted(ran) == [datetime.combine(day, t, tzinfo=MARKET_TZ) for t in TIMES], day
        day += timedelta(days=1)


def test_cron_and_systemd_installers_cover_every_time(alpaca, tmp_path: Path):
    config = two_times_config(tmp_path / "c.json", alpaca)
    bin_dir = fake_bin(tmp_path, "crontab", FAKE_CRONTAB)
    fake_bin(tmp_path, "systemctl", FAKE_SYSTEMCTL)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CRONTAB_FILE": str(tmp_path / "tab"),
           "TZ": "UTC", "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "SYSTEMCTL_LOG": str(tmp_path / "log")}
    cron = subprocess.run(["bash", str(PROJECT_DIR / "scripts" / "install_cron.sh"), "--config", str(config),
                           "--out", str(tmp_path / "o"), "--install"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert cron.returncode == 0, cron.stderr
    text = (tmp_path / "tab").read_text()
    assert [e.split(" cd ")[0] for e in entries(text)] == ["0 14 * * 1-5", "0 15 * * 1-5", "0 19 * * 1-5",
                                                           "0 20 * * 1-5"]
    assert "CRON_TZ" not in text and "10:00 and 15:00 America/New_York" in text
    again = subprocess.run(["bash", str(PROJECT_DIR / "scripts" / "install_cron.sh"), "--config", str(config),
                            "--out", str(tmp_path / "o"), "--install"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert again.stdout.startswith("already installed") and (tmp_path / "tab").read_text() == text
    timer = subprocess.run(["bash", str(SYSTEMD_SCRIPT), "--config", str(config), "--out", str(tmp_path / "o")],
                           env=env, capture_output=True, text=True, timeout=60)
    assert timer.returncode == 0, timer.stderr
    assert ("OnCalendar=Mon..Fri 10:00 America/New_York\nOnCalendar=Mon..Fri 15:00 America/New_York\n"
            in timer.stdout)
