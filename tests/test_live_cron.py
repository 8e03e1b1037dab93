"""scripts/install_cron.sh: prints the entry; --install adds it once (a fake `crontab` on PATH keeps the table)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "install_cron.sh"
FAKE_CRONTAB = """#!/bin/sh
# crontab -l prints the table (or fails like cron when there is none); crontab - replaces it from stdin
if [ "$1" = "-l" ]; then [ -f "$CRONTAB_FILE" ] || { echo "no crontab for $USER" >&2; exit 1; }; cat "$CRONTAB_FILE"
elif [ "$1" = "-" ]; then cat > "$CRONTAB_FILE"; else exit 9; fi
"""


@pytest.fixture
def cron(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "crontab").write_text(FAKE_CRONTAB)
    (bin_dir / "crontab").chmod(0o755)
    table = tmp_path / "crontab.txt"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CRONTAB_FILE": str(table)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)

    return run, table


def test_prints_the_entry_without_touching_the_crontab(cron, tmp_path: Path):
    run, table = cron
    out = tmp_path / "live out"
    done = run("--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "CRON_TZ=America/New_York"
    python = PROJECT_DIR / ".venv" / "bin" / "python"
    assert lines[2] == (f"0 10 * * 1-5 cd {PROJECT_DIR} && {python} main.py live --out '{tmp_path}/live out' "
                        f">> '{tmp_path}/live out'/cron.log 2>&1")
    assert not table.exists() and not out.exists()


def test_install_adds_the_entry_once_and_keeps_other_lines(cron, tmp_path: Path):
    run, table = cron
    table.write_text("MAILTO=me@example.com\n30 2 * * * /usr/bin/backup\n")
    out = tmp_path / "runs"
    first = run("--install", "--out", str(out))
    assert first.returncode == 0, first.stderr
    second = run("--install", "--out", str(out))
    assert "already installed; crontab unchanged" in second.stdout
    text = table.read_text()
    assert text.startswith("MAILTO=me@example.com\n30 2 * * * /usr/bin/backup\n")
    assert text.count("main.py live") == 1 and text.count("CRON_TZ=America/New_York") == 1
    assert out.is_dir()  # the log folder exists before cron first appends to it
    moved = run("--install", "--out", str(tmp_path / "elsewhere"), "--models", "a,b")
    assert moved.returncode == 0, moved.stderr
    text = table.read_text()
    assert text.count("main.py live") == 1 and "--models a,b --out" in text and "/usr/bin/backup" in text


def test_install_into_an_empty_crontab_and_bad_options(cron, tmp_path: Path):
    run, table = cron
    assert run("--install", "--out", str(tmp_path / "o")).returncode == 0
    assert table.read_text().splitlines()[0] == "# >>> tradearena live (scripts/install_cron.sh) >>>"
    bad = run("--frobnicate")
    assert bad.returncode == 2 and bad.stderr.strip() == "install_cron.sh: unknown option '--frobnicate' (see --help)"
    missing = run("--config", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "not found" in missing.stderr
