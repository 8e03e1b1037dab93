"""README promises about errors and exit codes that no other test pinned down: `--symbols` naming a symbol outside
the universe is a one-line error (exit 2, nothing created) in `data fetch` and `probe-memory`, and `run` exits 1
when `on_session_failure: stop` ended a model's stream."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from main import cli
from tests.test_sessions_openai import llm


def test_data_fetch_refuses_a_symbol_outside_the_universe_before_anything(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", "PKTEST")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "secret")
    dest = tmp_path / "fetched"
    result = CliRunner().invoke(cli, ["data", "fetch", "--start", "2025-10-01", "--end", "2025-10-10",
                                      "--symbols", "AAPL,APPL", "--dest", str(dest)])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --symbols: APPL not in the config's universe; --symbols narrows the "
                                     "universe (add a new symbol to `universe` first)")
    assert not dest.exists()


def test_probe_memory_refuses_a_symbol_outside_the_universe(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    result = CliRunner().invoke(cli, ["probe-memory", "--config", "configs/llm_example.json", "--model", "gpt-4o-mini",
                                      "--symbols", "ZZZZ", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and result.output.strip() == "error: --symbols: ZZZZ not in the universe with prices"
    assert not (tmp_path / "p").exists()


def test_run_exits_1_when_on_session_failure_stop_ended_a_model(fake, write_config, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-fake")
    fake.script("trader", [{"status": 500, "error": "down"}], repeat_last=True)
    config = write_config(models=[llm("trader", fake.base_url, max_retries=0)], run={"on_session_failure": "stop"})
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--out", str(tmp_path / "out"),
                                      "--start", "2025-10-01", "--end", "2025-10-03"])
    assert result.exit_code == 1, result.output
    assert len(fake.requests_for("trader")) == 1  # the first failed session stopped the stream
