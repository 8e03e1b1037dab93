"""Live progress per model (day, trades, equity) while a replay runs, and the short leaderboard at the end."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arena.config import ArenaConfig, ModelSettings
from arena.desk_factory import Market
from arena.leaderboard import standings
from arena.run_loop import ModelProgress, run_replay
from arena.session_log import latest_by_session, read_session_records


def run_with_progress(config: ArenaConfig, market: Market, models: list[ModelSettings], out_dir: Path,
                      start: date, end: date, parallel: int) -> int:
    """Run the replay with a progress bar per model; print the leaderboard; return the exit code."""
    console = Console(stderr=True)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[day]}  trades {task.fields[trades]:>4}  equity {task.fields[equity]}"),
        TimeElapsedColumn(), console=console, transient=not console.is_terminal,
    ) as bars:
        tasks = {m.signature: bars.add_task(m.signature, total=1, day="", trades=0, equity="-") for m in models}

        def update(p: ModelProgress) -> None:
            bars.update(tasks[p.signature], total=p.total, completed=p.done, day=p.day, trades=p.trades,
                        equity=f"${p.equity:,.2f}" if p.equity else "-")

        results = asyncio.run(run_replay(config, market, models, out_dir, start, end, parallel, update))

    out = Console() if sys.stdout.isatty() else Console(width=130)
    sessions = sum(len(p.results) for p in results)
    skipped = sum(p.skipped for p in results)
    failures = [p for p in results if p.failures]
    out.print(f"Ran {sessions} sessions ({skipped} already done, skipped) for {len(models)} models "
              f"in {time.perf_counter() - started:.1f}s; output in {out_dir}")
    for p in failures:
        out.print(f"[yellow]{p.signature}: {p.failures} failed session(s); last error: {p.last_error}[/yellow]")
    baselines = {m.signature for m in models if m.kind in ("baseline", "scripted")}
    table = Table(title=f"Leaderboard {start} .. {end} (marked at the close of {end})")
    for column in ("#", "model", "final value", "return", "trades", "tokens", "cost"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for rank, row in enumerate(standings(out_dir, [m.signature for m in models], market.data, end, baselines), 1):
        label = f"{row.signature}{' (baseline)' if row.baseline else ''}"
        sessions = latest_by_session(read_session_records(out_dir / row.signature)).values()
        trades = sum(s.get("trades", 0) for s in sessions)
        tokens = sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in sessions)
        cost = sum(s.get("cost", 0.0) for s in sessions)
        table.add_row(str(rank), label, f"${row.final_value:,.2f}", f"{row.total_return:+.2%}", str(trades),
                      f"{tokens:,}", f"${cost:,.4f}")
    out.print(table)
    out.print("Full report: python main.py report (add --format html --output report.html)")
    stopped = config.run.on_session_failure == "stop" and failures
    return 1 if stopped else 0
