"""The market-day guard of `main.py live`: on a closed market it exits 0 with one line, before reading keys or
contacting anything, whatever the machine's time zone and across DST; the trigger is the day's decision time."""

from __future__ import annotations

import time as time_module
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner

import arena.live.guard
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from arena.live import trigger_for
from main import cli
from tests.fakes.fake_alpaca import FakeAlpaca, live_config


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def no_keys(monkeypatch):
    """Keys absent: a guard that read them would fail loudly instead of exiting 0."""
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tokyo(monkeypatch):
    """The machine's own zone far from New York; restored afterwards."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time_module.tzset()
    yield
    monkeypatch.undo()
    time_module.tzset()


def live(*args: str):
    return CliRunner().invoke(cli, ["live", *args])


@pytest.mark.parametrize(("now", "reason"), [
    ("2025-11-22T10:00-05:00", "market closed: 2025-11-22 10:00 EST is a Saturday; no live session"),
    ("2025-11-27T10:00-05:00", "market closed: 2025-11-27 is an NYSE holiday; no live session"),
    ("2025-11-28T13:30-05:00", "market closed: 2025-11-28 13:30 EST is after the early close at 13:00 EST; no live session"),
    ("2025-11-26T09:29-05:00", "market closed: 2025-11-26 09:29 EST is before the open at 09:30 EST; no live session"),
    ("2025-11-26T16:00-05:00", "market closed: 2025-11-26 16:00 EST is after the close at 16:00 EST; no live session"),
])
def test_closed_market_exits_0_with_one_line_and_contacts_nothing(fake, no_keys, tmp_path: Path, now: str, reason: str):
    config = live_config(tmp_path / "config.json", fake)
    result = live("--config", str(config), "--out", str(tmp_path / "out"), "--now", now)
    assert result.exit_code == 0, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith(reason)
    # more than 30 minutes from the 10:00 trigger on a market day: the same line says so (a cron entry at the wrong hour)
    assert ("; warning: this run started at" in line) == (reason.split(" is ")[-1].startswith(("after", "before")))
    assert fake.calls == []
    assert not (tmp_path / "out").exists()


def test_the_guard_works_with_the_default_config_and_no_keys(no_keys, tmp_path: Path):
    result = live("--now", "2025-11-27T10:00-05:00", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "market closed: 2025-11-27 is an NYSE holiday; no live session"


def test_the_guard_runs_before_the_config_is_read(no_keys, tmp_path: Path):
    """A holiday never turns the cron job red, even with a config that would fail."""
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = live("--config", str(broken), "--now", "2025-12-25T10:00-05:00")
    assert result.exit_code == 0
    assert "NYSE holiday" in result.output


def test_new_york_time_whatever_the_machine_zone_and_across_dst(fake, no_keys, tokyo, tmp_path: Path):
    config = live_config(tmp_path / "config.json", fake)
    # 20:30 UTC on the Monday after DST began is 16:30 EDT (closed); read as EST it would be 15:30 (open).
    result = live("--config", str(config), "--now", "2025-03-10T20:30:00Z")
    assert result.exit_code == 0
    assert result.output.startswith("market closed: 2025-03-10 16:30 EDT is after the close at 16:00 EDT; no live session")
    # 14:25 UTC on the Monday after DST ended is 09:25 EST (closed); read as EDT it would be 10:25 (open).
    result = live("--config", str(config), "--now", "2025-11-03T14:25:00Z")
    assert result.output.startswith("market closed: 2025-11-03 09:25 EST is before the open at 09:30 EST; no live session")
    # a naive --now is New York time, not the machine's (Tokyo) time
    result = live("--config", str(config), "--now", "2025-11-26T09:00")
    assert "09:00 EST is before the open" in result.output
    assert fake.calls == []


def test_the_wall_clock_is_new_york_time_whatever_the_machine_zone(fake, no_keys, tokyo, tmp_path: Path, monkeypatch):
    config = live_config(tmp_path / "config.json", fake)
    # Thanksgiving 15:00 UTC; on a Tokyo machine the local date is already the 28th (a half day, open at that hour)
    moment = datetime(2025, 11, 27, 15, 0, tzinfo=UTC)
    monkeypatch.setattr(arena.live.guard, "wall_clock", lambda: moment.astimezone(MARKET_TZ))
    result = live("--config", str(config))
    assert result.exit_code == 0
    assert result.output.strip() == "market closed: 2025-11-27 is an NYSE holiday; no live session"


def test_a_bad_now_is_one_line_error():
    result = live("--now", "tomorrow at ten")
    assert result.exit_code == 2
    assert result.output.strip() == "error: cannot parse time 'tomorrow at ten'; use ISO 8601, e.g. 2025-10-02T10:00-04:00"


def test_the_trigger_is_the_decision_time_of_the_session_day_across_dst():
    calendar = MarketCalendar()
    before = trigger_for(calendar.session_on(date(2025, 3, 7)), time(10, 0))
    after = trigger_for(calendar.session_on(date(2025, 3, 10)), time(10, 0))
    assert before.astimezone(UTC).hour == 15 and after.astimezone(UTC).hour == 14
    assert before.isoformat() == "2025-03-07T10:00:00-05:00" and after.isoformat() == "2025-03-10T10:00:00-04:00"
    # a decision time after an early close is clamped into the session, so the half day still has its trigger
    half_day = trigger_for(calendar.session_on(date(2025, 11, 28)), time(14, 0))
    assert half_day.isoformat() == "2025-11-28T12:59:00-05:00"
