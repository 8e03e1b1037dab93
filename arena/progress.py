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

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arena.commands import cli_command
from arena.config import ArenaConfig, ModelSettings
from arena.desk_factory import Market
from arena.leaderboard import standings
from arena.run_loop import ModelProgress, run_replay
from arena.session_log import latest_by_session, read_session_records


def session_line(p: ModelProgress) -> str | None:
    """One plain line for the session that just finished (no colour, no terminal codes)."""
    r = p.last
    if r is None:
        return f"{p.signature}: {p.stopped}" if p.stopped else None
    line = (f"{r.date} {p.signature}: {r.status}, {r.trades} trade(s), {r.rejections} rejected, "
            f"equity ${p.equity:,.2f} at the close [{p.done}/{p.total}]")
    if r.error:
        line += f": {r.error}"
    if p.stopped:
        line += f"\n{p.signature}: {p.stopped}"
    return line


def _display(console: Console, models: list[ModelSettings]) -> tuple[AbstractContextManager, Callable[[ModelProgress], None]]:
    """Progress bars on a terminal; otherwise a line per finished session on standard error."""
    if not console.is_terminal:
        def say(p: ModelProgress) -> None:
            line = session_line(p)
            if line:
                print(line, file=sys.stderr, flush=True)
        return nullcontext(), say
    bars = Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[day]}  trades {task.fields[trades]:>4}  equity {task.fields[equity]}"
                   "{task.fields[failed]}"),
        TimeElapsedColumn(), console=console,
    )
    tasks = {m.signature: bars.add_task(m.signature, total=1, day="", trades=0, equity="-", failed="") for m in models}

    def update(p: ModelProgress) -> None:
        failed = f"  [red]failed {p.failures}[/red]" if p.failures else ""
        bars.update(tasks[p.signature], total=p.total, completed=p.done, day=p.day, trades=p.trades,
                    equity=f"${p.equity:,.2f}" if p.equity else "-", failed=failed)
    return bars, update


def run_with_progress(config: ArenaConfig, market: Market, models: list[ModelSettings], out_dir: Path,
                      start: date, end: date, parallel: int, config_path: str | None = None) -> int:
    """Run the replay with progress per model; print the leaderboard; return the exit code."""
    console = Console(stderr=True)
    started = time.perf_counter()
    display, update = _display(console, models)
    with display:
        results = asyncio.run(run_replay(config, market, models, out_dir, start, end, parallel, update))

    out = Console() if sys.stdout.isatty() else Console(width=130)
    sessions = sum(len(p.results) for p in results)
    skipped = sum(p.skipped for p in results)
    out.print(f"Ran {sessions} sessions ({skipped} already done, skipped) for {len(models)} models "
              f"in {time.perf_counter() - started:.1f}s; output in {escape(str(out_dir))}")
    for p in results:
        if p.stopped:
            out.print(f"[red]{escape(p.signature)}: {escape(p.stopped)}[/red]", soft_wrap=True)
        elif p.failures:
            out.print(f"[yellow]{escape(p.signature)}: {p.failures} failed session(s); "
                      f"last error: {escape(p.last_error or '')}[/yellow]", soft_wrap=True)
    baselines = {m.signature for m in models if m.kind in ("baseline", "scripted")}
    problems: dict[str, str] = {}
    rows = standings(out_dir, [m.signature for m in models], market.data, end, baselines, problems)
    for signature, problem in problems.items():
        if (out_dir / signature / "position" / "position.jsonl").exists():
            out.print(f"[red]{escape(signature)}: not on the leaderboard: {escape(problem)}[/red]", soft_wrap=True)
    table = Table(title=f"Leaderboard {start} .. {end} (marked at the close of {end})")
    for column in ("#", "model", "final value", "return", "trades", "failed", "tokens", "cost"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for rank, row in enumerate(rows, 1):
        label = f"{row.signature}{' (baseline)' if row.baseline else ''}"
        recorded = latest_by_session(read_session_records(out_dir / row.signature)).values()
        trades = sum(s.get("trades", 0) for s in recorded)
        failed = sum(s.get("status") == "failed" for s in recorded)
        tokens = sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in recorded)
        cost = sum(s.get("cost", 0.0) for s in recorded)
        table.add_row(str(rank), escape(label), f"${row.final_value:,.2f}", f"{row.total_return:+.2%}", str(trades),
                      str(failed), f"{tokens:,}", f"${cost:,.4f}")
    out.print(table)
    report = ["report", "--out", str(out_dir)] + (["--config", config_path] if config_path else [])
    out.print(f"Full report: {escape(cli_command(*report))} (add --format html --output report.html)",
              soft_wrap=True, highlight=False)
    stopped = any(p.stopped for p in results)
    stopped_on_failure = config.run.on_session_failure == "stop" and any(p.failures for p in results)
    return 1 if stopped or stopped_on_failure else 0
