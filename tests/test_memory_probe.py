"""The memory probe against a fake OpenAI-compatible server whose model remembers closes up to a planted cutoff."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from main import cli
from tests.fakes.fake_openai import FakeOpenAI, assistant

PLANTED_CUTOFF = date(2025, 8, 20)
ASKED = re.compile(r"price of (\S+) stock on \w+, (\w+ \d{2}, \d{4})")


def remembering_model(market):
    """Exact closes (to the cent) up to the planted cutoff; after it, alternately UNKNOWN and a confident guess."""
    count = {"n": 0}

    def answer(body: dict) -> dict:
        question = body["messages"][-1]["content"]
        symbol, when = ASKED.search(question).groups()
        day = datetime.strptime(when, "%B %d, %Y").date()
        bars = market.data.daily[symbol]
        close = bars.bars[bars.index_of_day(day)].close
        count["n"] += 1
        if day <= PLANTED_CUTOFF:
            return assistant(f"{close:.2f}", prompt_tokens=60, completion_tokens=4)
        return assistant("UNKNOWN" if count["n"] % 2 else f"${close * 1.18:,.2f}", prompt_tokens=60, completion_tokens=4)

    return answer


@pytest.fixture
def probe_config(write_config, tmp_path: Path):
    def make(base_url: str) -> Path:
        model = {"signature": "recaller", "kind": "openai", "model": "recall-1", "base_url": base_url,
                 "api_key_env": "PROBE_TEST_KEY", "max_retries": 0,
                 "price": {"prompt_per_million": 1.0, "completion_per_million": 2.0}}
        return write_config(models=[model], run={"out_dir": str(tmp_path / "runs")})
    return make


def test_probe_recovers_the_planted_recall_cutoff_and_prints_the_estimate_first(probe_config, market, monkeypatch,
                                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PROBE_TEST_KEY", "sk-test")
    with FakeOpenAI() as fake:
        fake.script("recall-1", [remembering_model(market)], repeat_last=True)
        done = CliRunner().invoke(cli, ["probe-memory", "--config", str(probe_config(fake.base_url)), "--model",
                                        "recaller", "--samples", "50", "--out", str(tmp_path / "probe")])
        assert done.exit_code == 0, done.output
        assert len(fake.requests_for("recall-1")) == 50
        assert all("tools" not in r and len(r["messages"]) == 1 for r in fake.requests)  # no tools, no context
    lines = done.output.splitlines()
    assert lines[0].startswith("probe-memory: 50 questions to recaller (recall-1); estimated cost $0.00")
    assert "estimated recall stops after 2025-08" in done.output
    saved = json.loads((tmp_path / "probe" / "recaller.json").read_text())
    assert saved["recall_until"] == "2025-08"
    months = {m["month"]: m for m in saved["months"]}
    assert months["2025-07"]["within"] == 1.0 and months["2025-10"]["within"] == 0.0
    assert months["2025-10"]["refused"] > 0 and months["2025-10"]["median_error"] == pytest.approx(0.18, abs=0.01)
    assert saved["cost"] == pytest.approx(50 * (60 * 1.0 + 4 * 2.0) / 1e6)
    assert (tmp_path / "probe" / "recaller.png").read_bytes()[:4] == b"\x89PNG"


def test_probe_refuses_to_start_above_the_cost_cap(probe_config, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROBE_TEST_KEY", "sk-test")
    with FakeOpenAI() as fake:
        done = CliRunner().invoke(cli, ["probe-memory", "--config", str(probe_config(fake.base_url)), "--model",
                                        "recaller", "--samples", "500", "--max-cost-usd", "0.001"])
        assert fake.requests == []
    assert done.exit_code == 2
    assert "estimated cost $0.0" in done.output and "above --max-cost-usd 0.001" in done.output


def test_probe_of_a_baseline_says_it_needs_an_llm(write_config) -> None:
    done = CliRunner().invoke(cli, ["probe-memory", "--config", str(write_config()), "--model", "baseline-momentum"])
    assert done.exit_code == 2 and "the memory probe asks an LLM" in done.output
