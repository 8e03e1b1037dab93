"""The `alpaca` pytest fixture: a running fake Alpaca server with the key variables pointing at it."""

from __future__ import annotations

import pytest

from tests.fakes.fake_alpaca import FakeAlpaca, alpaca_env


@pytest.fixture
def alpaca(monkeypatch):
    """A running fake Alpaca server, with the key variables pointing at it (a fixture for every test module)."""
    with FakeAlpaca() as server:
        for name, value in alpaca_env(server).items():
            monkeypatch.setenv(name, value)
        yield server
