"""Fast start: `--help` and the live market-day guard import neither pandas nor pydantic; the NYSE calendar is built
once for a range of years, and the guard's copy on disk gives the same sessions as the library."""

from __future__ import annotations

import subprocess
from datetime import date

from agent_tools.market_calendar import MarketCalendar, _Sessions
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

HEAVY = ("pandas", "pydantic", "numpy")


def imported(args: list[str], **env: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run main.py with -X importtime; the top-level modules it imported."""
    done = subprocess.run([PYTHON, "-X", "importtime", str(PROJECT_DIR / "main.py"), *args], capture_output=True,
                          text=True, env=subprocess_env(**env), timeout=120)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()
             if line.startswith("import time:")}
    return done, names


def test_help_imports_neither_pandas_nor_pydantic():
    done, names = imported(["--help"])
    assert done.returncode == 0 and "Usage:" in done.stdout
    assert "click" in names  # the measurement sees imports at all
    assert not names & set(HEAVY)


def test_the_live_guard_on_a_weekend_imports_neither_pandas_nor_pydantic(tmp_path):
    cache = str(tmp_path / "cache")
    first, _ = imported(["live", "--now", "2025-11-22T10:00"], TRADEARENA_CACHE=cache)  # builds the year's sessions
    second, names = imported(["live", "--now", "2025-11-29T10:00"], TRADEARENA_CACHE=cache)

    assert first.returncode == second.returncode == 0
    assert "Saturday" in second.stdout and "no live session" in second.stdout
    assert "agent_tools" in names
    assert not names & set(HEAVY)


def test_sessions_from_disk_equal_the_library_s(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEARENA_CACHE", str(tmp_path))
    built = _Sessions()
    built(2019, 2025, disk=True)  # one schedule call for seven years, written to disk
    from_disk = _Sessions()

    assert all(from_disk(y, disk=True) == built(y) for y in range(2019, 2026))
    assert len(built.years) == 7 and sum(len(built(y)) for y in range(2019, 2026)) > 1700


def test_a_range_of_years_is_one_build_and_the_same_sessions_as_year_by_year():
    calendar = MarketCalendar()
    days = calendar.trading_days(date(2016, 3, 1), date(2025, 10, 30))
    assert days[0] == date(2016, 3, 1) and days[-1] == date(2025, 10, 30)
    assert len(days) == len(set(days)) == sum(len(calendar.trading_days(date(y, 1, 1), date(y, 12, 31)))
                                              for y in range(2017, 2025)) + len([d for d in days if d.year in (2016, 2025)])
    assert calendar.session_on(date(2025, 11, 28)).early_close
