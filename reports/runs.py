"""Find and load run folders: ours (ledger + sessions + logs) and AI-Trader's (ledger only), with clear errors.

A run folder holds one sub-folder per model with `position/position.jsonl`; a model folder itself is accepted too.
A model is in AI-Trader's format when its ledger has no `session_id` and it has no `sessions.jsonl`: those trades
filled at the day's open and paid no fee, and there are no sessions, tokens or logs to report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from agent_tools.market_calendar import parse_day
from arena.blind_map import BLIND_FILE, read_map, to_named_record
from arena.commands import cli_command
from arena.manifest import read_manifest
from arena.repeats import repeat_dirs, repeat_number
from arena.session_log import latest_by_session, read_session_records
from reports import ReportError
from reports.beside import Claims, Pending, beside, gc_paused
from reports.ledger_digest import LedgerDigest, digest_ledger
from reports.notes import Notes

# This module is imported before the report's heavy imports (pandas, pydantic, arch): the process reading the ledgers
# is forked as the command starts (`start_loading`), so it imports only what reading a run folder takes.

LEDGER = Path("position") / "position.jsonl"
Source = Literal["tradearena", "ai-trader"]


@dataclass
class ModelRun:
    """One model's outputs as found on disk; `label` is unique across every folder in the report."""

    signature: str
    folder: Path
    run_dir: Path
    source: Source
    ledger: LedgerDigest  # what the report reads from the ledger (never the records themselves)
    sessions: list[dict] = field(default_factory=list)
    baseline: bool = False
    model: str | None = None
    label: str = ""
    blind: bool = False  # a `run --blind` ledger, translated back into real symbols, shares and prices
    repeat: int | None = None  # k of `<out>/repeat-<k>/<signature>` (run --repeats)
    manifest: dict | None = None  # the run folder's manifest.json (its parent's for a repeat), None before manifests

    @cached_property
    def _session_span(self) -> list[date]:
        """The first and last session days (none without sessions), worked out once: the report asks often."""
        days = {parse_day(str(s["date"])[:10]) for s in self.sessions if s.get("date")}
        return [min(days), max(days)] if days else []

    @property
    def first_day(self) -> date:
        """The ledger's first day, or an earlier session's (a failed first session may not have written one)."""
        assert self.ledger.base is not None
        return min([self.ledger.base.day, *self._session_span[:1]])

    @property
    def last_day(self) -> date:
        """The last day the model ran: a failed last session writes no ledger line but still counts."""
        return max([*([self.ledger.last_day] if self.ledger.last_day else []), *self._session_span[-1:]])


def model_folders(folder: Path) -> list[Path]:
    """The model folders under a run folder (or the folder itself when it is one model's folder)."""
    if not folder.exists():
        raise ReportError(f"{folder}: no such run folder; create it with `{cli_command('run', '--out', folder)}` "
                          "or point --out/--runs at an existing one")
    if not folder.is_dir():
        raise ReportError(f"{folder}: not a folder; --out and --runs take a run folder")
    if (folder / LEDGER).is_file():
        return [folder]
    found = sorted(d for d in folder.iterdir() if d.is_dir() and (d / LEDGER).is_file())
    if not found:
        raise ReportError(f"{folder}: no model ledgers in this folder (expected {folder}/<signature>/{LEDGER}); "
                          f"run `{cli_command('run', '--out', folder)}` first or pass the right folder")
    return found


def _configured_baselines(run_dir: Path) -> set[str]:
    """Baseline signatures from the run's own saved config, for models whose sessions file is missing."""
    path = run_dir / "run_config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {m["signature"] for m in raw.get("models", []) if m.get("kind") == "baseline"}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def nested_run_folders(out_dir: Path) -> list[Path]:
    """Run folders inside a run folder: `blind/` (run --blind) and `repeat-<k>/` (run --repeats), in order."""
    if not out_dir.is_dir():
        return []
    repeats = repeat_dirs(out_dir)
    blind = [out_dir / "blind"] if (out_dir / "blind" / BLIND_FILE).is_file() else []
    return [d for d in [*repeats, *blind] if any((m / LEDGER).is_file() for m in d.iterdir() if m.is_dir())]


def expand(folder: Path) -> list[tuple[Path, list[Path]]]:
    """A run folder's own model folders, then those of its blind and repeat folders; an error when there are none."""
    nested = [(d, model_folders(d)) for d in nested_run_folders(folder)]
    try:
        return [(folder, model_folders(folder)), *nested]
    except ReportError:
        if nested:
            return nested
        raise


# What the report reads from a session record (build, text, html, triggers); ten years of sessions are kept in
# memory and handed between processes, so the rest (fingerprints, flags, sampling settings) is left out.
SESSION_FIELDS = ("session_id", "date", "trigger_time", "trigger", "kind", "status", "model", "baseline", "steps",
                  "tool_calls", "trades", "rejections", "prompt_tokens", "completion_tokens", "cached_tokens", "cost",
                  "duration_s", "error")


def _slim(session: dict) -> dict:
    return {k: session[k] for k in SESSION_FIELDS if k in session}


def load_model(folder: Path, run_dir: Path, baselines: set[str]) -> ModelRun:
    blind = read_map(run_dir)
    ledger = digest_ledger(folder / LEDGER, (lambda r: to_named_record(r, blind)) if blind is not None else None)
    sessions = sorted((_slim(s) for s in latest_by_session(read_session_records(folder)).values()
                       if s.get("kind") != "exit"),
                      key=lambda s: (str(s.get("trigger_time") or s.get("date") or ""), str(s["session_id"])))
    ours = bool(sessions) or ledger.has_session_ids
    signature = folder.name
    models = [str(s["model"]) for s in sessions if s.get("model")]
    return ModelRun(
        signature=signature,
        folder=folder,
        run_dir=run_dir,
        source="tradearena" if ours else "ai-trader",
        ledger=ledger,
        blind=blind is not None,
        repeat=repeat_number(run_dir),
        sessions=sessions,
        manifest=read_manifest(run_dir),
        baseline=any(bool(s.get("baseline")) for s in sessions) or signature in baselines,
        model=models[-1] if models else None,
    )


def find_run_folders(out_dir: Path, extra: list[Path], notes: Notes) -> list[tuple[Path, list[Path]]]:
    """The run folders to report on with their model folders: the main run folder, then each `--runs` folder.

    A missing main folder is tolerated when `--runs` folders were given (the user may only want those); a missing
    or empty `--runs` folder is an error because the user named it.
    """
    folders: list[tuple[Path, list[Path]]] = []
    try:
        folders += expand(Path(out_dir))
    except ReportError as exc:
        if not extra:
            raise
        notes.add(f"skipped the default run folder: {exc}")
    for run_dir in extra:
        for found, models in expand(Path(run_dir).resolve()):
            if not any(found == seen for seen, _ in folders):
                folders.append((found, models))
    return folders


ModelTask = tuple[Path, Path, set[str]]  # a model folder, its run folder, the run's configured baselines


def model_tasks(folders: list[tuple[Path, list[Path]]]) -> list[ModelTask]:
    """Every model folder to load, in report order."""
    tasks: list[ModelTask] = []
    for run_dir, model_dirs in folders:
        baselines = _configured_baselines(run_dir)
        tasks += [(folder, run_dir, baselines) for folder in model_dirs]
    return tasks


def task_size(task: ModelTask) -> int:
    """Bytes to read for a model (its ledger and sessions): what loading it costs, roughly."""
    folder = task[0]
    return sum(p.stat().st_size for p in (folder / LEDGER, folder / "sessions.jsonl") if p.is_file())


def load_claimed(tasks: list[ModelTask], order: list[int], claims, from_back: bool = False) -> dict[int, object]:
    """Load the models this process claims (`order[i]` for each claimed i): task index -> its ModelRun, or the error
    loading it raised (raised by `finish_models` in report order, whichever process met it)."""
    done: dict[int, object] = {}
    with gc_paused():
        while (i := claims.take(from_back)) is not None:
            k = order[i]
            try:
                done[k] = load_model(*tasks[k])
            except Exception as exc:
                done[k] = exc
    return done


def finish_models(tasks: list[ModelTask], loaded: dict[int, object], notes: Notes) -> list[ModelRun]:
    """The loaded models in report order, with unique labels; empty ledgers skipped with a note."""
    runs: list[ModelRun] = []
    for k, (folder, _run_dir, _baselines) in enumerate(tasks):
        run = loaded[k]
        if isinstance(run, Exception):
            raise run
        assert isinstance(run, ModelRun)
        if not run.ledger.records:
            notes.add(f"skipped {folder}: its ledger is empty (no sessions ran yet)")
            continue
        runs.append(run)
    if not runs:
        names = ", ".join(str(d) for d in dict.fromkeys(task[1] for task in tasks))
        raise ReportError(f"nothing to report: every ledger in {names} is empty; run some sessions first")

    counts: dict[str, int] = {}
    for run in runs:
        counts[run.signature] = counts.get(run.signature, 0) + 1
    for run in runs:
        run.label = run.signature if counts[run.signature] == 1 and not run.blind else f"{run.signature} [{run.run_dir.name}]"
    if any(r.source == "ai-trader" for r in runs):
        notes.add("AI-Trader ledgers have no fees, sessions, tokens or logs; their trades are priced at the day's "
                  "open (as AI-Trader filled them) and their holdings are marked at the same closes as ours",
                  key="ai-trader")
    return runs


@dataclass
class Loading:
    """The models of the report's run folders, being loaded since the command started: the largest ledgers in a
    second process (reports/beside.py), while this one imports and loads what the report needs; `models()` then
    loads what is left here and waits for the rest. Both take the largest ledger left whenever they are free, so
    neither ends alone with a large one (taking the smallest first here left the other process idle while this one
    read the 8.5 MB ledger last). A problem finding the folders is raised by `models()`, at the point where the
    report would have met it without the early start."""

    notes: Notes
    folders: list[tuple[Path, list[Path]]]
    error: Exception | None = None
    tasks: list[ModelTask] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    claims: Claims | None = None
    pending: Pending[dict[int, object]] | None = None

    def models(self) -> list[ModelRun]:
        if self.error is not None:
            raise self.error
        assert self.claims is not None and self.pending is not None
        mine = load_claimed(self.tasks, self.order, self.claims)
        return finish_models(self.tasks, {**self.pending.result(), **mine}, self.notes)


def start_loading(out_dir: Path, extra: list[Path]) -> Loading:
    """Find the run folders and start loading their models beside this process (see Loading)."""
    notes = Notes()
    try:
        folders = find_run_folders(Path(out_dir), [Path(r) for r in extra], notes)
    except Exception as exc:  # raised by Loading.models(), after the config and the format are checked
        return Loading(notes, [], exc)
    tasks = model_tasks(folders)
    order = sorted(range(len(tasks)), key=lambda k: -task_size(tasks[k]))
    claims = Claims(len(tasks))
    return Loading(notes, folders, None, tasks, order, claims, beside(load_claimed, tasks, order, claims))


def load_models(folders: list[tuple[Path, list[Path]]], notes: Notes) -> list[ModelRun]:
    """Every model of these folders (ledgers digested, sessions read), with unique labels."""
    tasks = model_tasks(folders)
    loaded: dict[int, object] = {}
    for k, task in enumerate(tasks):
        loaded[k] = load_model(*task)
    return finish_models(tasks, loaded, notes)


def load_runs(out_dir: Path, extra: list[Path], notes: Notes) -> list[ModelRun]:
    """Every model of the main run folder and of each `--runs` folder, with unique labels."""
    return load_models(find_run_folders(out_dir, extra, notes), notes)
