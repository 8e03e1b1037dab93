"""`tradearena report`: build the report once, then print or write it in the chosen format.

The ledgers are the report's longest job, so `start_loading` begins reading them in a second process before this
process imports pandas, pydantic and arch (reports/runs.py imports none of them); this module imports them only
inside the functions that use them, so `main.py` can call `start_loading` first.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from reports import ReportError
from reports.beside import gc_paused
from reports.runs import Loading

if TYPE_CHECKING:
    from arena.config import ArenaConfig
    from reports.build import Report

FORMATS = ("table", "csv", "json", "html")


def render(report: Report, fmt: str, wide: bool = False) -> str:
    """The report as text in one format (table as plain text without colour)."""
    from reports.text import render_csv, render_json, table_text

    if fmt == "table":
        return table_text(report, wide=wide)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        from reports.html import render_html  # matplotlib is imported only when charts are drawn

        return render_html(report)
    raise ReportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None


def without_pyarrow(config: ArenaConfig) -> bool:
    """Keep pyarrow out of this process when the report reads no Parquet dataset (CSV prices, the usual case).

    pandas imports pyarrow whenever it is installed, and pyarrow's libraries (libarrow, libparquet) add 40-80 MB to
    the report's peak RSS, though a report on CSV prices never calls them (measured on the 10-year benchmark run:
    273-314 MB with them, 235-245 MB without, the same JSON). A `None` entry in `sys.modules` is Python's way of
    saying a module is absent, so pandas takes the path it takes without pyarrow. Done only before pandas is imported
    (else nothing changes) and never when a price path is a fetched Parquet dataset, which needs pyarrow. Returns
    whether pyarrow is now kept out. The `report` command calls it, not `run_report`: a process that goes on to
    other work (a test session) keeps its pyarrow."""
    from agent_tools.parquet_store import is_dataset

    paths = [p for p in (config.data.daily_prices, config.data.hourly_prices) if p]
    if "pandas" in sys.modules or "pyarrow" in sys.modules or any(is_dataset(config.path(p)) for p in paths):
        return False
    sys.modules["pyarrow"] = None  # type: ignore[assignment]
    return True


def run_report(config: ArenaConfig, out_dir: Path, runs: list[Path], start: date | None, end: date | None,
               fmt: str, output: Path | None, *, post_cutoff: bool = False, wide: bool = False,
               loading: Loading | None = None) -> None:
    """Entry point of the `report` command; expected problems raise ReportError (one line, exit 2). `loading`: the
    models of `out_dir` and `runs`, already being loaded (`start_loading`)."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "html" and output is None and sys.stdout.isatty():
        raise ReportError("--format html writes a file: add --output report.html (or redirect standard output)")
    with gc_paused():  # pandas' modules: nothing for the garbage collector to find (see build_report)
        from reports.build import build_report

    report = build_report(config, out_dir, runs, start, end, post_cutoff=post_cutoff, details=fmt == "html",
                          loading=loading, freeze=True)
    if output is not None:
        _write(Path(output), render(report, fmt, wide))
        for note in report.notes if fmt != "table" else []:
            print(f"note: {note}", file=sys.stderr)
        print(f"wrote {output} ({len(report.models)} models, {len(report.entries) - len(report.models)} benchmarks, "
              f"{report.start}..{report.end})")
        return
    if fmt == "table":
        from rich.console import Console

        from reports.text import COMPACT_WIDTH, WIDE_WIDTH, render_table

        width = WIDE_WIDTH if wide else (None if sys.stdout.isatty() else COMPACT_WIDTH)
        render_table(report, Console(width=width, highlight=False), wide)
        return
    sys.stdout.write(render(report, fmt))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
