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

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reports.build import ROW_KEYS, Entry, Report
from reports.metrics import TURNOVER_DEFINITION, WIN_RATE_DEFINITION
from reports.triggers import worth_showing

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


def sessions_text(entry: Entry, row: dict) -> tuple[str, str]:
    """Sessions run and, in a column of its own, sessions failed (a model that fails must not look cautious)."""
    return count(row["sessions"]), count(row["failed_sessions"])


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


COMPACT_WIDTH = 100
WIDE_WIDTH = 320  # --wide: every column at full width (use `less -S` in a narrow terminal)
NAME_WIDTH = 22
KIND_SHORT = {"benchmark": "bmk", "AI-Trader": "AI-T", "baseline": "base", "model": "llm"}


def short_labels(entries: list[Entry], width: int = NAME_WIDTH) -> dict[str, str]:
    """Names that fit `width` and stay distinguishable: a baseline loses its `baseline-` prefix (the kind column says
    it), a long name keeps its start and its end (where versions and run labels are), and any clash widens the names."""
    def shorten(entry: Entry, w: int) -> str:
        label = entry.label
        if len(label) > w and entry.baseline and label.startswith("baseline-"):
            label = label.removeprefix("baseline-")
        if len(label) <= w:
            return label
        base, bracket, run = label.partition(" [")  # the run label ("[blind]", "[repeat-2]") is always kept
        suffix = bracket + run
        room = max(6, w - len(suffix))
        if len(base) <= room:
            return base + suffix
        keep_end = max(3, (room - 1) // 2)
        return base[: room - 1 - keep_end] + "…" + base[-keep_end:] + suffix

    for w in range(width, 200):
        names = {e.label: shorten(e, w) for e in entries}
        if len(set(names.values())) == len(names):
            return names
    return {e.label: e.label for e in entries}


def ci_text(interval, percent: bool = True) -> str:
    if interval is None:
        return DASH
    if percent:
        return f"{interval.low * 100:+.1f}…{interval.high * 100:+.1f}"
    return f"{interval.low:+.1f}…{interval.high:+.1f}"


def p_text(value: float | None) -> str:
    if value is None:
        return DASH
    return "<.01" if value < 0.01 else f"{value:.2f}"


def random_text(entry: Entry) -> str:
    return DASH if entry.null is None else f"{entry.null.percentile:.0%}"


def mcs_text(entry: Entry) -> str:
    return "" if entry.in_confidence_set is None else ("yes" if entry.in_confidence_set else "no")


def marks(entry: Entry) -> str:
    """Footnote marks after a name: † may remember the period, ‡ ledger without fees."""
    return ("†" if entry.cutoff and entry.cutoff.may_remember else "") + ("" if entry.fees_recorded else "‡")


def legend_lines(report: Report) -> list[str]:
    lines = ["95% CI: stationary block bootstrap of daily returns; p: paired test of daily excess returns against QQQ "
             "buy-and-hold; MCS: in the 90% model confidence set (not significantly worse than the best); "
             "rand: share of random traders with the same turnover and exposure it beat; fail: sessions failed; "
             "kind: llm = an LLM run, base = built-in baseline, AI-T = AI-Trader ledger, bmk = benchmark."]
    if any(e.cutoff and e.cutoff.may_remember for e in report.models):
        lines.append("† the model may remember this period: part of the window is on or before its training cutoff.")
    if any(not e.fees_recorded for e in report.models):
        lines.append("‡ ledger without fees (AI-Trader's): its returns are before costs, ours after.")
    if report.short:
        lines.append(f"Sharpe is annualized from {report.trading_days} sessions (< 60): read it with its interval "
                     "(--wide shows it), not as a headline.")
    return lines


def compact_table(report: Report) -> Table:
    """The leaderboard in 100 columns: what a reader needs to judge a rank, with its uncertainty."""
    title = f"Leaderboard {report.start}..{report.end}, {report.trading_days} sessions"
    if report.post_cutoff:
        title += ", after every training cutoff"
    table = Table(title=title, title_style="bold", header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1),
                  pad_edge=False, collapse_padding=True)
    for name, justify in (("#", "right"), ("model", "left"), ("kind", "left"), ("return", "right"),
                          ("95% CI %", "right"), ("Sharpe", "right"), ("p", "right"), ("MCS", "left"),
                          ("rand", "right"), ("maxDD", "right"), ("trades", "right"), ("fail", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    names = short_labels(report.entries)
    for entry in report.entries:
        style = "dim italic" if entry.benchmark else ("cyan" if entry.source == "ai-trader" else None)
        r = entry.perf.cumulative_return
        ret = Text(pct(r), style="green" if (r or 0) > 0 else "red" if (r or 0) < 0 else "")
        sharpe = Text(num(entry.perf.sharpe), style="dim" if report.short else "")
        table.add_row(str(entry.rank or ""), Text(names[entry.label] + marks(entry)), KIND_SHORT[tag(entry)], ret,
                      ci_text(entry.stats.cumulative_ci), sharpe, p_text(entry.stats.p_value), mcs_text(entry),
                      random_text(entry), DASH if entry.perf.drawdown.depth is None else f"{entry.perf.drawdown.depth:+.1%}",
                      "" if entry.benchmark else str(len(entry.trades)),
                      "" if entry.benchmark else count(entry.failed_sessions), style=style)
    return table


def trigger_table(report: Report) -> Table | None:
    """Sessions, trades and cost per trigger type, exit rules' trades apart; shown when a model had more than the
    scheduled sessions."""
    models = [e for e in report.models if e.has_sessions]
    if not worth_showing(e.triggers for e in models):
        return None
    table = Table(title="By trigger (sessions, trades, cost; exit rules trade without a session or tokens)",
                  title_justify="left")
    for name in ("model", "trigger", "sessions", "trades", "cost"):
        table.add_column(name, justify="left" if name in ("model", "trigger") else "right")
    names = short_labels(report.entries)
    for entry in models:
        for kind, row in entry.triggers.items():
            table.add_row(names[entry.label], kind, str(row.sessions) if row.sessions else "-", str(row.trades),
                          money(row.cost, 4) if row.sessions else "-")
    return table


def cutoff_table(report: Report) -> Table | None:
    split = [e for e in report.models if e.cutoff is not None]
    if not split:
        return None
    table = Table(title="Before and after each model's training cutoff", title_style="bold", header_style="bold",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for name in ("model", "cutoff", "days pre", "return pre", "vs QQQ pre", "days post", "return post", "vs QQQ post"):
        table.add_column(name, justify="left" if name in ("model", "cutoff") else "right", no_wrap=True)
    names = short_labels(report.entries)
    for e in split:
        c = e.cutoff
        assert c is not None
        table.add_row(Text(names[e.label]), c.cutoff.isoformat(), str(c.pre_days), pct(c.pre_return), pct(c.pre_excess),
                      str(c.post_days), pct(c.post_return), pct(c.post_excess))
    return table


def wide_tables(report: Report) -> list[Table]:
    """Everything, as wide as it takes (--wide)."""
    rows = report.rows()
    title = (f"Leaderboard {report.start} .. {report.end} ({report.trading_days} trading days, "
             f"marked at the close)")
    perf = Table(title=title, title_style="bold", header_style="bold")
    for name, justify in (("#", "right"), ("model", "left"), ("kind", "left"), ("final value", "right"),
                          ("return", "right"), ("95% CI", "right"), ("p vs QQQ", "right"), ("MCS", "left"),
                          ("random", "right"), ("ann. return", "right"), ("volatility", "right"),
                          ("Sharpe", "right"), ("Sharpe 95% CI", "right"), ("Sortino", "right"), ("max DD", "right"),
                          ("DD peak → trough", "left"), ("Calmar", "right"), ("alpha", "right"), ("beta", "right"),
                          ("IR", "right")):
        perf.add_column(name, justify=justify)  # type: ignore[arg-type]
    activity = Table(title="Trading, sessions and cost", title_style="bold", header_style="bold")
    for name in ("model", "trades", "turnover", "fees", "win rate", "exposure", "sessions", "failed", "tokens in/out",
                 "cost", "cost/day"):
        activity.add_column(name, justify="left" if name == "model" else "right")
    annual = "dim" if report.short else ""
    for entry, row in zip(report.entries, rows, strict=True):
        style = "dim italic" if entry.benchmark else ("cyan" if entry.source == "ai-trader" else None)
        r = entry.perf.cumulative_return
        ret = Text(pct(r), style="green" if (r or 0) > 0 else "red" if (r or 0) < 0 else "")
        rel = entry.relative
        perf.add_row(str(entry.rank or ""), Text(entry.label + marks(entry)), tag(entry), money(entry.perf.final_value), ret,
                     ci_text(entry.stats.cumulative_ci), p_text(entry.stats.p_value), mcs_text(entry),
                     random_text(entry), Text(pct(entry.perf.annualized_return), style=annual),
                     Text(pct(entry.perf.volatility, signed=False), style=annual),
                     Text(num(entry.perf.sharpe), style=annual), Text(ci_text(entry.stats.sharpe_ci, False), style=annual),
                     Text(num(entry.perf.sortino), style=annual), pct(entry.perf.drawdown.depth),
                     drawdown_dates(entry), Text(num(entry.perf.calmar), style=annual),
                     pct(rel.alpha if rel else None), num(rel.beta if rel else None),
                     num(rel.information_ratio if rel else None), style=style)
        if entry.benchmark:
            continue
        tokens = (f"{row['prompt_tokens']:,}/{row['completion_tokens']:,}" if row["prompt_tokens"] is not None else DASH)
        fees = money(row["fees"]) if entry.fees_recorded else "not recorded"
        activity.add_row(Text(entry.label), count(row["trades"]), num(row["turnover"]), fees, win_text(entry),
                         pct(entry.exposure, signed=False), *sessions_text(entry, row), tokens,
                         money(row["cost"], 4), money(row["cost_per_day"], 4), style=style)
    return [perf, activity]


def blind_and_repeat_lines(report: Report) -> list[str]:
    lines = []
    for named, blind in report.blind_pairs:
        lines.append(f"Named vs blind ({named.signature}): named {pct(named.perf.cumulative_return)}, blind "
                     f"{pct(blind.perf.cumulative_return)}, gap {pct(named.blind_gap)} (what knowing the names is "
                     "worth, or remembering them)")
    for group in report.groups:
        interval = group.interval
        ci = f" (95% CI {pct(interval[0])}…{pct(interval[1])})" if interval else ""
        lines.append(f"Repeats ({group.signature}): {len(group.returns)} runs, mean return {pct(group.mean)}{ci}, "
                     f"range {pct(min(group.returns))}…{pct(max(group.returns))}")
    return lines


def render_table(report: Report, console: Console, wide: bool = False) -> None:
    for table in (wide_tables(report) if wide else [compact_table(report)]):
        console.print(table)
    cutoffs = cutoff_table(report)
    if cutoffs is not None:
        console.print(cutoffs)
    triggers = trigger_table(report)
    if triggers is not None:
        console.print(triggers)
    for line in report.significance:
        console.print(line, highlight=False)
    for line in blind_and_repeat_lines(report):
        console.print(line, highlight=False)
    for folder, label in report.manifests.items():
        console.print(f"Manifest of {folder}: {label}", style="dim", highlight=False, soft_wrap=True)
    placed = [e for e in report.models if e.null is not None]
    if wide:
        for entry in placed:
            console.print(entry.null.describe(entry.label), highlight=False)  # type: ignore[union-attr]
    elif placed:
        names = short_labels(report.entries)
        count_ = len(placed[0].null.returns)  # type: ignore[union-attr]
        listed = ", ".join(f"{names[e.label]} {e.null.percentile:.0%}" for e in placed)  # type: ignore[union-attr]
        console.print(f"Random null ({count_} random traders per model, same days, turnover, exposure and costs): "
                      f"share beaten: {listed}.", highlight=False)
    for line in legend_lines(report) + convention_lines(report):
        console.print(line, style="dim", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", highlight=False)


def table_text(report: Report, width: int = COMPACT_WIDTH, wide: bool = False) -> str:
    """The table as plain text (no colour), for --output FILE."""
    buffer = io.StringIO()
    render_table(report, Console(file=buffer, width=WIDE_WIDTH if wide else width, no_color=True, highlight=False,
                                 emoji=False), wide)
    return buffer.getvalue()


def render_json(report: Report) -> str:
    return json.dumps(report.rows(), indent=2, ensure_ascii=False) + "\n"


def csv_value(value: object) -> object:
    """Empty for null and true/false for booleans, as in the JSON, so one parser handles both."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ROW_KEYS), lineterminator="\n")
    writer.writeheader()
    for row in report.rows():
        writer.writerow({k: csv_value(v) for k, v in row.items()})
    return buffer.getvalue()
