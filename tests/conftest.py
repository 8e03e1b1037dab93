"""Shared fixtures: the default config, the bundled market (loaded once), and config files made per test."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from arena.config import DEFAULT_CONFIG, ArenaConfig, load_config
from arena.desk_factory import Market, load_market

pytest_plugins = ["tests.fakes.alpaca_fixture"]  # the `alpaca` fixture: a running fake Alpaca server

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The NYSE session cache (agent_tools.market_calendar) of this test run, never the user's ~/.cache; subprocesses
# inherit it. Removed when the run's process exits.
TEST_CACHE = tempfile.mkdtemp(prefix="tradearena-test-cache-")
os.environ["TRADEARENA_CACHE"] = TEST_CACHE
atexit.register(shutil.rmtree, TEST_CACHE, ignore_errors=True)
PYTHON = sys.executable


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake():
    """A running fake OpenAI-compatible server on 127.0.0.1 (tests/fakes/fake_openai.py)."""
    from tests.fakes.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def default_config() -> ArenaConfig:
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def market(default_config: ArenaConfig) -> Market:
    return load_market(default_config)


def default_config_dict() -> dict[str, Any]:
    return json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config file from the default one with top-level sections patched; returns its path."""

    def write(name: str = "config.json", **sections: Any) -> Path:
        raw = default_config_dict()
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
        path = tmp_path / name
        path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
        return path

    return write


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for running main.py in a child process: the project importable, no proxies."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(PROJECT_DIR)
    env.update(extra)
    return env
