"""Live progress per model (day, trades, equity, failures) while a replay runs, and the short leaderboard at the end.

On a terminal: a progress bar per model. Piped (cron, nohup, CI): one plain line per finished session, as it
finishes, so a log shows progress. Equity is marked at the close of the session's day in both, the same marking as
the leaderboard (`arena.leaderboard.value_at_close`).

Exit code: 0 when every model ran its days (some sessions may have failed: the table says how many), 1 when a model
stopped early (circuit breaker, unusable ledger) or `on_session_failure` is `stop` and a session failed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arena.budget import Budget
from arena.commands import cli_command
from arena.config import ArenaConfig, ModelSettings
from arena.desk_factory import Market
from arena.leaderboard import standings
from arena.run_loop import ModelProgress, Replay, Stream, run_replay, streams_for
from arena.session_log import latest_by_session, read_session_records


def session_line(p: ModelProgress, fresh: bool = True) -> str | None:
    """One plain line for the session that just finished (no colour, no terminal codes); a stop says why in one
    more line, or in the only line when the stop is this session's own failure (a replay miss) or comes before a
    session (`fresh` False: a spending cap)."""
    r = p.last if fresh else None
    if r is None or (p.stopped and r.error and r.error in p.stopped):
        return f"{r.date + ' ' if r else ''}{p.label}: {p.stopped}" if p.stopped else None
    line = (f"{r.date} {p.label}: {r.status}, {r.trades} trade(s), {r.rejections} rejected, "
            f"equity ${p.equity:,.2f} at the close [{p.done}/{p.total}]")
    if r.error:
        line += f": {r.error}"
    if p.stopped:
        line += f"\n{p.label}: {p.stopped}"
    return line


def _display(console: Console, streams: list[Stream]) -> tuple[AbstractContextManager, Callable[[ModelProgress], None]]:
    """Progress bars on a terminal; otherwise a line per finished session on standard error."""
    if not console.is_terminal:
        said: dict[str, int] = {}  # sessions already reported per stream

        def say(p: ModelProgress) -> None:
            line = session_line(p, fresh=len(p.results) > said.get(p.label, 0))
            said[p.label] = len(p.results)
            if line:
                print(line, file=sys.stderr, flush=True)
        return nullcontext(), say
    bars = Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[day]}  trades {task.fields[trades]:>4}  equity {task.fields[equity]}"
                   "{task.fields[failed]}"),
        TimeElapsedColumn(), console=console,
    )
    tasks = {s.label: bars.add_task(s.label, total=1, day="", trades=0, equity="-", failed="") for s in streams}

    def update(p: ModelProgress) -> None:
        failed = f"  [red]failed {p.failures}[/red]" if p.failures else ""
        bars.update(tasks[p.label], total=p.total, completed=p.done, day=p.day, trades=p.trades,
                    equity=f"${p.equity:,.2f}" if p.equity else "-", failed=failed)
    return bars, update


def run_with_progress(config: ArenaConfig, market: Market, models: list[ModelSettings], out_dir: Path,
                      start: date, end: date, parallel: int, config_path: str | None = None, *,
                      repeats: int | None = None, replay: Replay | None = None, workers: int = 1,
                      executor: Literal["local", "ray"] = "local", ray_address: str | None = None) -> int:
    """Run the replay with progress per stream; print the leaderboard and the spending; return the exit code."""
    console = Console(stderr=True)
    started = time.perf_counter()
    display, update = _display(console, streams_for(models, out_dir, repeats))
    budget = Budget(config, out_dir)
    with display:
        results = asyncio.run(run_replay(config, market, models, out_dir, start, end, parallel, update,
                                         repeats=repeats, replay=replay, budget=budget, workers=workers,
                                         executor=executor, ray_address=ray_address))

    out = Console() if sys.stdout.isatty() else Console(width=130)
    sessions = sum(len(p.results) for p in results)
    skipped = sum(p.skipped for p in results)
    runs = f" x {repeats} repeats" if repeats else ""
    out.print(f"Ran {sessions} sessions ({skipped} already done, skipped) for {len(models)} models{runs} "
              f"in {time.perf_counter() - started:.1f}s; output in {escape(str(out_dir))}")
    for p in results:
        if p.stopped:
            out.print(f"[red]{escape(p.label)}: {escape(p.stopped)}[/red]", soft_wrap=True)
        elif p.failures:
            out.print(f"[yellow]{escape(p.label)}: {p.failures} failed session(s); "
                      f"last error: {escape(p.last_error or '')}[/yellow]", soft_wrap=True)
    out.print(leaderboard_table(config, market, models, results, start, end, out))
    for line in spending_lines(config, models, results, budget, replay):
        out.print(escape(line), soft_wrap=True, highlight=False)
    report = ["report", "--out", str(out_dir)] + (["--config", config_path] if config_path else [])
    out.print(f"Full report: {escape(cli_command(*report))} (add --format html --output report.html)",
              soft_wrap=True, highlight=False)
    stopped = any(p.stopped for p in results)
    stopped_on_failure = config.run.on_session_failure == "stop" and any(p.failures for p in results)
    return 1 if stopped or stopped_on_failure else 0


def leaderboard_table(config: ArenaConfig, market: Market, models: list[ModelSettings], results: list[ModelProgress],
                      start: date, end: date, out: Console) -> Table:
    """Every stream's standing at the close of `end`, best first, with its tokens, recorded cost and money spent."""
    baselines = {m.signature for m in models if m.kind in ("baseline", "scripted")}
    caps = {m.signature: m.max_cost_usd for m in models}
    rows = []
    for run_dir in dict.fromkeys(p.run_dir for p in results if p.run_dir is not None):
        streams = {p.signature: p for p in results if p.run_dir == run_dir}
        problems: dict[str, str] = {}
        for row in standings(run_dir, list(streams), market.data, end, baselines, problems):
            rows.append((row, run_dir, streams[row.signature]))
        for signature, problem in problems.items():
            if (run_dir / signature / "position" / "position.jsonl").exists():
                out.print(f"[red]{escape(streams[signature].label)}: not on the leaderboard: {escape(problem)}[/red]",
                          soft_wrap=True)
    rows.sort(key=lambda r: r[0].total_return, reverse=True)
    table = Table(title=f"Leaderboard {start} .. {end} (marked at the close of {end})")
    for column in ("#", "model", "final value", "return", "trades", "failed", "tokens", "cost", "spent"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for rank, (row, run_dir, progress) in enumerate(rows, 1):
        label = f"{progress.label}{' (baseline)' if row.baseline else ''}"
        recorded = latest_by_session(read_session_records(run_dir / row.signature)).values()
        trades = sum(s.get("trades", 0) for s in recorded)
        failed = sum(s.get("status") == "failed" for s in recorded)
        tokens = sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in recorded)
        cost = sum(s.get("cost", 0.0) for s in recorded)
        cap = caps.get(row.signature)
        spent = "-" if row.baseline else f"${progress.spent:,.4f}" + (f" of ${cap:,.2f}" if cap is not None else "")
        table.add_row(str(rank), escape(label), f"${row.final_value:,.2f}", f"{row.total_return:+.2%}", str(trades),
                      str(failed), f"{tokens:,}", f"${cost:,.4f}", spent)
    return table


def spending_lines(config: ArenaConfig, models: list[ModelSettings], results: list[ModelProgress], budget: Budget,
                   replay: Replay | None) -> list[str]:
    """What this run spent against its caps, and how many answers came from cassettes (free) or the provider."""
    lines = budget.summary([m.signature for m in models])
    if replay is not None:
        replayed = sum(p.replayed for p in results)
        called = sum(p.called for p in results)
        lines.append(f"Replayed {replayed} model call(s) from the cassettes in {replay.source}: no API calls, no "
                     f"cost" + (f"; {called} call(s) missing there went to the provider (--on-miss call)"
                                if called else "") + "; the cost column is what the recording paid")
    return lines
