"""Config is validated on load: every mistake is one line naming the key and the fix, and nothing runs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from arena.config import ConfigError, load_config
from main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_the_default_config_is_valid_offline_and_enables_only_baselines(default_config):
    enabled = default_config.enabled_models()
    assert {m.strategy for m in enabled} == {"buy_and_hold", "equal_weight", "momentum"}
    assert all(m.kind == "baseline" for m in enabled)
    assert any(m.kind == "openai" and not m.enabled for m in default_config.models)


def test_the_llm_example_config_lists_every_provider():
    config = load_config("configs/llm_example.json")
    urls = " ".join(m.base_url or "" for m in config.models)
    for provider in ("api.openai.com", "openrouter.ai", "api.deepseek.com", "localhost:8000", "localhost:11434"):
        assert provider in urls


def test_an_unknown_key_is_named(write_config, tmp_path):
    path = write_config(run={"strat": "2025-10-01"})
    assert_one_line_error(run("run", "--config", str(path), "--out", str(tmp_path / "o")), "unknown key 'run.strat'")


def test_a_bad_date_is_named(write_config, tmp_path):
    path = write_config(run={"start": "2025-13-01"})
    assert_one_line_error(run("run", "--config", str(path), "--out", str(tmp_path / "o")), "run.start")


def test_end_before_start_is_refused(write_config, tmp_path):
    path = write_config(run={"start": "2025-10-10", "end": "2025-10-01"})
    assert_one_line_error(run("run", "--config", str(path), "--out", str(tmp_path / "o")), "before start")


def test_end_before_start_on_the_command_line_is_refused(tmp_path):
    result = run("run", "--start", "2025-10-10", "--end", "2025-10-01", "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "--end 2025-10-01 is before --start 2025-10-10")


def test_an_enabled_model_without_its_api_key_is_refused_before_anything_runs(write_config, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    raw = json.loads(write_config().read_text())
    for model in raw["models"]:
        model["enabled"] = model["signature"] == "gpt-4o-mini"
    path = tmp_path / "keyless.json"
    path.write_text(json.dumps(raw))
    out = tmp_path / "o"

    result = run("run", "--config", str(path), "--out", str(out))

    assert_one_line_error(result, "'gpt-4o-mini'", "OPENAI_API_KEY")
    assert not out.exists()


def test_a_date_range_outside_the_data_is_refused(tmp_path):
    result = run("run", "--start", "2025-10-01", "--end", "2025-12-31", "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "outside the bundled data", "2025-06-10..2025-11-10")


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "run": {\n    "start": "2025-10-01",,\n  }\n}')
    with pytest.raises(ConfigError, match=r"broken.json line 3: not valid JSON"):
        load_config(path)


def test_a_missing_config_file_says_how_to_fix_it(tmp_path):
    assert_one_line_error(run("run", "--config", str(tmp_path / "nope.json")), "not found", "--config")


def test_duplicate_signatures_are_refused(write_config):
    raw = json.loads(write_config().read_text())
    raw["models"].append(dict(raw["models"][0]))
    with pytest.raises(ConfigError, match="duplicate model signature"):
        load_config(write_config(models=raw["models"]))


def test_unknown_models_on_the_command_line_are_named(tmp_path):
    assert_one_line_error(run("run", "--models", "nobody", "--out", str(tmp_path / "o")), "unknown signature(s) nobody")


def test_per_model_limits_override_the_global_ones(default_config):
    model = next(m for m in default_config.models if m.signature == "baseline-buy-and-hold-qqq")
    assert default_config.limits_for(model).max_position_weight == 1.0
    other = next(m for m in default_config.models if m.signature == "baseline-momentum")
    assert default_config.limits_for(other).max_position_weight == default_config.limits.max_position_weight


@pytest.mark.parametrize("args, fragment", [
    (("run", "--parallel", "0"), "'--parallel': 0 is not in the range"),
    (("report", "--format", "xml"), "'--format': 'xml' is not one of"),
    (("run", "--bogus"), "No such option '--bogus'"),
    (("repair-ledger", "/nonexistent/position.jsonl"), "does not exist"),
])
def test_a_bad_command_line_flag_is_a_one_line_error(args, fragment):
    assert_one_line_error(run(*args), fragment)
