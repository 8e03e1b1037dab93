"""Finding and loading run folders: ours and AI-Trader's, and one-line errors for missing or empty folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reports import ReportError
from reports.notes import Notes
from reports.runs import load_runs, model_folders
from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env
from tests.report_support import AI_TRADER_RUNS, record, write_jsonl, write_ledger


def test_a_missing_folder_is_an_error_that_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"no such run folder.*tradearena run --out"):
        model_folders(tmp_path / "nowhere")


def test_a_folder_without_ledgers_is_an_error_naming_the_expected_layout(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    with pytest.raises(ReportError, match=r"no model ledgers.*<signature>/position/position.jsonl"):
        model_folders(tmp_path)


def test_a_model_folder_can_be_given_directly(tmp_path: Path) -> None:
    folder = write_ledger(tmp_path, "solo", [record("2025-10-01", 1000)])
    assert model_folders(folder) == [folder]


def test_only_empty_ledgers_is_an_error_and_an_empty_one_among_others_is_skipped(tmp_path: Path) -> None:
    write_ledger(tmp_path, "empty", [])
    with pytest.raises(ReportError, match="every ledger .* is empty"):
        load_runs(tmp_path, [], Notes())
    write_ledger(tmp_path, "full", [record("2025-10-01", 1000)])
    notes = Notes()
    assert [r.signature for r in load_runs(tmp_path, [], notes)] == ["full"]
    assert any("empty" in n for n in notes)


def test_ai_trader_ledgers_are_recognised_and_ours_are_not_mistaken_for_them(tmp_path: Path) -> None:
    ours = write_ledger(tmp_path / "ours", "mine", [record("2025-10-01", 1000, session="s1")])
    write_jsonl(ours / "sessions.jsonl", [{"session_id": "s1", "date": "2025-10-01", "baseline": True}])
    runs = load_runs(tmp_path / "ours", [AI_TRADER_RUNS], Notes())
    sources = {r.signature: r.source for r in runs}
    assert sources.pop("mine") == "tradearena"
    assert sorted(sources) == ["MiniMax-M2", "claude-3.7-sonnet", "deepseek-chat-v3.1", "gemini-2.5-flash", "gpt-5",
                               "qwen3-max"]
    assert set(sources.values()) == {"ai-trader"}
    assert next(r for r in runs if r.signature == "mine").baseline


def test_the_same_signature_in_two_folders_gets_distinct_labels(tmp_path: Path) -> None:
    write_ledger(tmp_path / "a", "gpt-5", [record("2025-10-01", 1000)])
    runs = load_runs(tmp_path / "a", [AI_TRADER_RUNS], Notes())
    labels = sorted(r.label for r in runs if r.signature == "gpt-5")
    assert labels == ["gpt-5 [a]", "gpt-5 [ai_trader_2025-10]"]


def test_a_missing_default_folder_is_skipped_with_a_note_when_runs_are_given(tmp_path: Path) -> None:
    notes = Notes()
    runs = load_runs(tmp_path / "not-run-yet", [AI_TRADER_RUNS], notes)
    assert len(runs) == 6 and any("skipped the default run folder" in n for n in notes)


def test_the_command_prints_one_line_and_exits_2_for_a_missing_folder(tmp_path: Path) -> None:
    done = subprocess.run([PYTHON, "main.py", "report", "--out", str(tmp_path / "nowhere")], cwd=PROJECT_DIR,
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "no such run folder" in done.stderr
