"""The test run's NYSE session cache (TRADEARENA_CACHE) is a fresh temporary folder, removed when the run ends."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

SHOW_CACHE = """
import os, tests.conftest
from agent_tools.market_calendar import MarketCalendar
MarketCalendar().trading_days(__import__("datetime").date(2025, 1, 2), __import__("datetime").date(2025, 1, 31))
print(os.environ["TRADEARENA_CACHE"], sorted(os.listdir(os.environ["TRADEARENA_CACHE"])))
"""


def test_the_cache_folder_of_a_run_is_used_and_then_removed(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = subprocess.run([PYTHON, "-c", SHOW_CACHE], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
                          env=subprocess_env(TMPDIR=str(temp)))

    assert done.returncode == 0, done.stderr
    folder, files = done.stdout.split(" ", 1)
    assert Path(folder).parent == temp and Path(folder).name.startswith("tradearena-test-cache-")
    assert files.strip() != "[]"  # the calendar wrote its sessions there
    assert list(temp.iterdir()) == []  # and the folder went with the process
