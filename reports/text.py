"""Text formats: a rich table for people, CSV and JSON for scripts. All three state the conventions.

JSON is a list with one object per model and benchmark; its keys (`build.ROW_KEYS`) are always present, null
where a value does not apply (a benchmark has no trades; AI-Trader ledgers have no tokens), so scripts can rely on
them. CSV has the same columns in the same order. Notes go to standard error for CSV and JSON, so the data stays
parseable.
"""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reports.build import ROW_KEYS, Entry, Report
from reports.metrics import TURNOVER_DEFINITION, WIN_RATE_DEFINITION

DASH = "—"


def pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return DASH
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def money(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"${value:,.{digits}f}"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def tag(entry: Entry) -> str:
    if entry.benchmark:
        return "benchmark"
    if entry.source == "ai-trader":
        return "AI-Trader"
    return "baseline" if entry.baseline else "model"


def drawdown_dates(entry: Entry) -> str:
    dd = entry.perf.drawdown
    return f"{dd.peak} → {dd.trough}" if dd.peak and dd.trough else DASH


def win_text(entry: Entry) -> str:
    if entry.win is None:
        return DASH
    if entry.win.rate is None:
        return f"{DASH} (0 sells)"
    return f"{entry.win.rate:.0%} ({entry.win.wins}/{entry.win.closed})"


def sessions_text(entry: Entry, row: dict) -> str:
    if row["sessions"] is None:
        return DASH
    return f"{row['sessions']} ({row['failed_sessions']} failed)" if row["failed_sessions"] else str(row["sessions"])


def convention_lines(report: Report) -> list[str]:
    """What every number means; printed under the table and in the HTML."""
    return [
        f"Window {report.start}..{report.end}: {report.trading_days} trading days, equity marked at each close; "
        f"the base point is the close of {report.base_day}.",
        f"Conventions: {report.conventions.describe()}.",
        "Annualized return is geometric; Sharpe and Sortino use daily excess returns; Sortino's denominator is the "
        "downside deviation over all days; max drawdown is peak-to-trough on closing equity; Calmar = annualized "
        "return / |max drawdown|.",
        f"Win rate = {WIN_RATE_DEFINITION}. Turnover = {TURNOVER_DEFINITION}. Exposure = average share of equity "
        "held in stocks at the close.",
        "Benchmarks come from prices alone: bought at the open of the first day at no cost, then held.",
    ]


def render_table(report: Report, console: Console) -> None:
    rows = report.rows()
    title = (f"Leaderboard {report.start} .. {report.end} ({report.trading_days} trading days, "
             f"marked at the close)")
    perf = Table(title=title, title_style="bold", header_style="bold")
    for name, justify in (("#", "right"), ("model", "left"), ("kind", "left"), ("final value", "right"),
                          ("return", "right"), ("ann. return", "right"), ("volatility", "right"),
                          ("Sharpe", "right"), ("Sortino", "right"), ("max DD", "right"), ("DD peak → trough", "left"),
                          ("Calmar", "right")):
        perf.add_column(name, justify=justify)  # type: ignore[arg-type]
    activity = Table(title="Trading, sessions and cost", title_style="bold", header_style="bold")
    for name in ("model", "trades", "turnover", "fees", "win rate", "exposure", "sessions", "tokens in/out", "cost",
                 "cost/day"):
        activity.add_column(name, justify="left" if name == "model" else "right")
    for entry, row in zip(report.entries, rows, strict=True):
        style = "dim italic" if entry.benchmark else ("cyan" if entry.source == "ai-trader" else None)
        r = entry.perf.cumulative_return
        ret = Text(pct(r), style="green" if (r or 0) > 0 else "red" if (r or 0) < 0 else "")
        perf.add_row(str(entry.rank or ""), entry.label, tag(entry), money(entry.perf.final_value), ret,
                     pct(entry.perf.annualized_return), pct(entry.perf.volatility, signed=False),
                     num(entry.perf.sharpe), num(entry.perf.sortino), pct(entry.perf.drawdown.depth),
                     drawdown_dates(entry), num(entry.perf.calmar), style=style)
        if entry.benchmark:
            continue
        tokens = (f"{row['prompt_tokens']:,}/{row['completion_tokens']:,}" if row["prompt_tokens"] is not None else DASH)
        activity.add_row(entry.label, count(row["trades"]), num(row["turnover"]), money(row["fees"]), win_text(entry),
                         pct(entry.exposure, signed=False), sessions_text(entry, row), tokens,
                         money(row["cost"], 4), money(row["cost_per_day"], 4), style=style)
    console.print(perf)
    console.print(activity)
    for line in convention_lines(report):
        console.print(line, style="dim", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", highlight=False)


def table_text(report: Report, width: int = 160) -> str:
    """The table as plain text (no colour), for --output FILE."""
    buffer = io.StringIO()
    render_table(report, Console(file=buffer, width=width, no_color=True, highlight=False, emoji=False))
    return buffer.getvalue()


def render_json(report: Report) -> str:
    return json.dumps(report.rows(), indent=2, ensure_ascii=False) + "\n"


def csv_value(value: object) -> object:
    """Empty for null and true/false for booleans, as in the JSON, so one parser handles both."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ROW_KEYS), lineterminator="\n")
    writer.writeheader()
    for row in report.rows():
        writer.writerow({k: csv_value(v) for k, v in row.items()})
    return buffer.getvalue()
