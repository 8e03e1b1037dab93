"""The run manifest: what a run's results depend on, hashed, so that a rerun never silently mixes inputs.

`<out>/manifest.json` holds sha256 hashes of the config as used (without the settings that only operate a run:
dates, output folder, parallelism, caps, failure policy, enabled flags, report and live sections), of each model's static prompt prefix (its system
prompt) and tool schemas (exactly what the model is shown), of every data file the run reads (prices, intraday
bars, the news corpus), plus the package version, the git commit, and where model answers come from (the provider,
or a recorded run's cassettes). `sha256` hashes all of that; `report` shows it per run folder.

A rerun into the same folder compares its inputs with the manifest there. An input present in both with another
value is a change: the rerun names every change and stops (exit 2) unless `--allow-changed`, and then the manifest
keeps the earlier inputs under `earlier` with the new ones on top. Inputs that only one side has (a data month a
longer run reads, a model added to the config) are not changes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_tools.market_calendar import at_market_time
from agent_tools.parquet_store import is_dataset
from arena.errors import ConfigError
from arena.repeats import repeat_number

if TYPE_CHECKING:
    from arena.config import ArenaConfig
    from arena.desk_factory import Market

# arena.config (pydantic) and arena.desk_factory are imported where a run uses them: `report` reads manifests in a
# process that must start before those imports (reports/runs.py).

MANIFEST = "manifest.json"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def data_files(config: ArenaConfig, start: date, end: date) -> dict[str, Path]:
    """Every data file the run reads: CSV files whole; of a fetched dataset, the universe's month files in the
    window a replay reads (history margin included)."""
    from arena.desk_factory import HISTORY_MARGIN

    files: dict[str, Path] = {}
    first = start - HISTORY_MARGIN
    months = {f"{d:%Y-%m}" for d in (first + timedelta(days=n) for n in range((end - first).days + 3))}
    for value in (config.data.daily_prices, config.data.intraday_prices or config.data.hourly_prices):
        if not value:
            continue
        path = config.path(value)
        if is_dataset(path):
            for symbol in config.universe:
                for month in sorted(months):
                    part = path / f"symbol={symbol}" / f"{month}.parquet"
                    if part.is_file():
                        files[f"{value.rstrip('/')}/symbol={symbol}/{month}.parquet"] = part
        elif path.is_file():
            files[value] = path
    if config.news.source == "local" and config.path(config.news.path).is_file():
        files[config.news.path] = config.path(config.news.path)
    return files


def git_commit() -> str | None:
    """The project's git commit, or None outside a git checkout (an installed package)."""
    from arena.config import PROJECT_DIR

    if not (PROJECT_DIR / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip() if done.returncode == 0 else ""
    return commit or None


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tradearena")
    except metadata.PackageNotFoundError:
        return "unknown"


async def _shown_to_models(config: ArenaConfig, market: Market, day: date) -> dict[str, dict[str, str]]:
    """sha256 of what each model is shown before any market fact: its tools, listed through the MCP client as a
    session lists them, and its system prompt (the static prefix)."""
    from mcp import Client

    from agent_tools.server import build_tool_server
    from arena.desk_factory import build_desk, session_context
    from arena.prompt import system_prompt
    from arena.run_loop import execution_note
    from base_agent import openai_tools

    hashes: dict[str, str] = {}
    prompts: dict[str, str] = {}
    seen: dict[str, tuple[str, str]] = {}
    note = execution_note(config)
    with tempfile.TemporaryDirectory(prefix="tradearena-manifest-") as scratch:
        for model in config.models:
            ctx = session_context(config, model, at_market_time(day, config.run.decision_time), Path(scratch))
            limits = canonical(ctx.limits.model_dump(mode="json"))
            if limits not in seen:  # a model's tools and prompt prefix differ only by its limits
                desk = build_desk(config, ctx, market)
                async with Client(build_tool_server(desk)) as client:
                    tools = openai_tools(await client.list_tools())
                seen[limits] = (sha256_text(canonical(tools)), sha256_text(system_prompt(ctx, note)))
            hashes[model.signature], prompts[model.signature] = seen[limits]
    return {"tools": hashes, "prompts": prompts}


# Settings that change how a run is operated, not what any session sees or does: left out of the config's hash, so
# a rerun may extend the dates, raise a cap or run more models at once without counting as changed inputs.
OPERATIONAL = {"run": {"start", "end", "out_dir", "parallel", "max_cost_usd", "on_session_failure",
                       "max_consecutive_failures"},
               "models": {"enabled", "max_cost_usd"}, "report": None, "live": None}


def config_as_used(config: ArenaConfig) -> dict[str, Any]:
    """The config's content that decides what sessions see and do (see OPERATIONAL)."""
    raw = config.model_dump(mode="json")
    for section, keys in OPERATIONAL.items():
        if keys is None:
            raw.pop(section, None)
        elif isinstance(raw.get(section), list):
            raw[section] = [{k: v for k, v in item.items() if k not in keys} for item in raw[section]]
        elif isinstance(raw.get(section), dict):
            raw[section] = {k: v for k, v in raw[section].items() if k not in keys}
    return raw


def run_inputs(config: ArenaConfig, market: Market, start: date, end: date,
               replay_from: Path | None = None) -> dict[str, Any]:
    """The inputs a run's results depend on, each as a hash (see the module's doc)."""
    import asyncio

    shown = asyncio.run(_shown_to_models(config, market, start))
    responses: Any = "provider"
    if replay_from is not None:
        recorded = read_manifest(replay_from)
        responses = {"cassettes": recorded["sha256"] if recorded else "a run without a manifest"}
    return {
        "config": sha256_text(canonical(config_as_used(config))),
        "prompt_prefix": shown["prompts"],
        "tool_schemas": shown["tools"],
        "data": {name: sha256_file(path) for name, path in sorted(data_files(config, start, end).items())},
        "package_version": package_version(),
        "git_commit": git_commit(),
        "responses": responses,
    }


def manifest_home(folder: Path) -> Path:
    """The folder whose manifest covers a run folder: itself, or for a `repeat-<k>` folder the run it belongs to."""
    folder = Path(folder)
    if repeat_number(folder) is not None and not (folder / MANIFEST).exists():
        return folder.parent
    return folder


def read_manifest(folder: Path) -> dict | None:
    """The manifest covering a run folder (see manifest_home); None when there is none or it is unreadable."""
    try:
        found = json.loads((manifest_home(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("sha256"), str) else None


def changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """What differs between two sets of inputs: keys present in both with other values (`data.<file>`, ...)."""
    found = []
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        if isinstance(a, dict) and isinstance(b, dict) and key != "responses":
            found += changes(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key} {_short(a)} -> {_short(b)}")
    return found


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New inputs plus those only the earlier run had (a data month it read, a model it had)."""
    out = dict(old)
    for key, value in new.items():
        out[key] = merged(old[key], value) if isinstance(value, dict) and isinstance(old.get(key), dict) \
            and key != "responses" else value
    return out


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12]
    return canonical(value) if isinstance(value, dict) else str(value)


def settle_manifest(out_dir: Path, inputs: dict[str, Any], allow_changed: bool) -> list[str]:
    """Write `<out>/manifest.json` for this run; a differing earlier manifest stops it unless `allow_changed`.

    Returns the changes that were allowed (empty when nothing changed)."""
    path = Path(out_dir) / MANIFEST
    digest = sha256_text(canonical(inputs))
    previous = None
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise ConfigError(f"{path} is not valid JSON; restore it or start over with --fresh") from None
    found: list[str] = []
    earlier: list[dict] = []
    if isinstance(previous, dict) and isinstance(previous.get("inputs"), dict):
        found = changes(previous["inputs"], inputs)
        earlier = list(previous.get("earlier") or [])
        if found and not allow_changed:
            raise ConfigError(
                f"{out_dir} was run with other inputs ({'; '.join(found)}); rerun with --allow-changed to mix them "
                "(the manifest keeps both), --fresh to start over, or another --out")
        if found:
            earlier.append({k: previous[k] for k in ("sha256", "written", "inputs") if k in previous})
        else:
            inputs = merged(previous["inputs"], inputs)
            digest = sha256_text(canonical(inputs))
            if previous.get("sha256") == digest:
                return []  # same inputs: the manifest stands as written
    manifest = {"sha256": digest, "written": datetime.now(UTC).isoformat(timespec="seconds"), "inputs": inputs,
                "earlier": earlier}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return found


def manifest_label(found: dict | None) -> str:
    """The short hash `report` shows for a run folder, marked when reruns mixed inputs (--allow-changed)."""
    if found is None:
        return "none (run before manifests)"
    mixed = len(found.get("earlier") or [])
    responses = (found.get("inputs") or {}).get("responses")
    replayed = (f" (replayed from the cassettes of {str(responses['cassettes'])[:12]}: no API calls; its cost column "
                "is what the recording paid)" if isinstance(responses, dict) and "cassettes" in responses else "")
    return found["sha256"][:12] + (f" (mixed with {mixed} earlier, --allow-changed)" if mixed else "") + replayed
