"""The HTML report renders in a real browser: Debian's headless Chromium loads the file offline, and the DOM it
builds holds every model, both charts as decoded images, and the leaderboard. Skipped (with the reason shown)
where Chromium is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from matplotlib.image import imread

from reports.cli import run_report
from tests.report_support import AI_TRADER_RUNS, real_run

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: apt-get install chromium")

MODELS = ["baseline-buy-and-hold-qqq", "baseline-equal-weight", "baseline-momentum", "MiniMax-M2",
          "claude-3.7-sonnet", "deepseek-chat-v3.1", "gemini-2.5-flash", "gpt-5", "qwen3-max"]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with everything that could reach the network switched off."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90)


@pytest.fixture(scope="module")
def html_file(tmp_path_factory: pytest.TempPathFactory, default_config) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    run_report(default_config, real_run(), [AI_TRADER_RUNS], None, None, "html", path)
    return path


def test_chromium_renders_every_model_and_every_chart(html_file: Path, tmp_path: Path) -> None:
    done = chromium(tmp_path / "profile", "--dump-dom", html_file.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<h1>TradeArena report</h1>" in dom
    leaderboard = dom[dom.index('id="leaderboard"'):dom.index('id="charts"')]
    for name in MODELS + ["QQQ buy-and-hold", "Equal-weight universe"]:
        assert f">{name}<" in leaderboard, name
    assert len(re.findall(r'<img class="chart"[^>]*src="data:image/png;base64,', dom)) == 6 + len(MODELS)


def test_chromium_screenshot_is_a_drawn_page(html_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = chromium(tmp_path / "profile", "--window-size=1280,1800", f"--screenshot={shot}", html_file.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (1800, 1280)
    assert pixels.std() > 0.05  # text, tables and a chart in the first screen; a blank page is one colour
    assert shot.stat().st_size > 100_000  # a blank page compresses to a few kilobytes
