"""One self-contained HTML file: leaderboard, charts (PNG as base64 data URIs), each model's trades with the reason
it gave at the time, and the sessions index. No script, no font or stylesheet from the network: it opens offline,
in a mail attachment, years later.
"""

from __future__ import annotations

import base64
import re
from html import escape

from reports.build import Entry, Report
from reports.charts import drawdown_chart, equity_chart
from reports.text import (
    DASH,
    convention_lines,
    count,
    drawdown_dates,
    money,
    num,
    pct,
    sessions_text,
    tag,
    win_text,
)

REASON_PREVIEW = 240
OPEN_TRADES_UP_TO = 40

CSS = """
:root { --ink:#1d2430; --muted:#6b7280; --line:#e5e7eb; --soft:#f6f7f9; --pos:#137333; --neg:#b3261e; --accent:#1f4e9c; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--ink);
       background:#fff; }
main { max-width:1180px; margin:0 auto; padding:28px 28px 60px; }
h1 { font-size:26px; margin:0 0 4px; }
h2 { font-size:19px; margin:34px 0 10px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:16px; margin:26px 0 6px; }
.sub, .muted { color:var(--muted); }
.cards { display:flex; gap:12px; flex-wrap:wrap; margin:18px 0 6px; }
.card { flex:1 1 200px; border:1px solid var(--line); border-radius:8px; padding:10px 14px; background:var(--soft); }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:20px; font-weight:600; margin-top:2px; }
.card .d { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { text-align:left; background:var(--soft); font-weight:600; white-space:nowrap; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr.benchmark td { background:#fafafa; color:#444; font-style:italic; }
.pos { color:var(--pos); } .neg { color:var(--neg); }
.tag { display:inline-block; font-size:11px; padding:0 6px; border-radius:9px; border:1px solid var(--line);
       color:var(--muted); font-style:normal; margin-left:4px; white-space:nowrap; }
.tag.benchmark { border-color:#999; color:#333; } .tag.baseline { border-color:#c9d3e6; color:var(--accent); }
.tag.AI-Trader { border-color:#9ad0c2; color:#0b7a5c; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
.chart { width:100%; border:1px solid var(--line); border-radius:8px; margin:8px 0 14px; }
.notes { border-left:4px solid #e0a800; background:#fff8e1; padding:8px 14px; margin:14px 0; }
.notes li { margin:3px 0; }
.conventions { font-size:12.5px; color:var(--muted); margin:10px 0 0; padding-left:18px; }
details { margin:6px 0 10px; }
summary { cursor:pointer; font-weight:600; }
td.reason { max-width:520px; white-space:pre-wrap; }
td.reason details { margin:0; } td.reason summary { font-weight:normal; }
.buy { color:var(--pos); font-weight:600; } .sell { color:var(--neg); font-weight:600; }
.status-failed { color:var(--neg); font-weight:600; }
footer { margin-top:40px; color:var(--muted); font-size:12px; }
"""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]+", "-", text).strip("-").lower() or "model"


def signed(value: float | None, text: str | None = None) -> str:
    """A number cell coloured by sign."""
    shown = escape(text if text is not None else pct(value))
    cls = "pos" if (value or 0) > 0 else "neg" if (value or 0) < 0 else ""
    return f'<td class="n {cls}">{shown}</td>'


def cell(text: str, numeric: bool = True) -> str:
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def tag_html(entry: Entry) -> str:
    kind = tag(entry)
    return "" if kind == "model" else f'<span class="tag {escape(kind)}">{escape(kind)}</span>'


def name_html(entry: Entry) -> str:
    if entry.benchmark:
        return f"{escape(entry.label)}{tag_html(entry)}"
    return f'<a href="#model-{slug(entry.label)}">{escape(entry.label)}</a>{tag_html(entry)}'


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def cards(report: Report) -> str:
    models = report.models
    best = next((e for e in models if e.perf.cumulative_return is not None), None)
    sharpe = max((e for e in models if e.perf.sharpe is not None), key=lambda e: e.perf.sharpe or 0, default=None)
    qqq = next((e for e in report.entries if e.signature == "benchmark-qqq-buy-and-hold"), None)
    costs = [c for c in (e.session_total("cost") for e in models) if c is not None]
    total_cost = sum(costs)
    items = [
        ("Best return", pct(best.perf.cumulative_return) if best else DASH, best.label if best else ""),
        ("Best Sharpe", num(sharpe.perf.sharpe) if sharpe else DASH, sharpe.label if sharpe else ""),
        ("QQQ buy-and-hold", pct(qqq.perf.cumulative_return) if qqq else DASH, "benchmark, same dates"),
        ("LLM cost", money(total_cost, 2) if costs else DASH,
         f"{plural(len(costs), 'model')} with sessions, {report.trading_days} trading days"),
    ]
    return '<section class="cards">' + "".join(
        f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div>'
        f'<div class="d">{escape(d)}</div></div>' for k, v, d in items) + "</section>"


def leaderboard(report: Report) -> str:
    head = ("<tr><th class='n'>#</th><th>Model</th><th class='n'>Final value</th><th class='n'>Return</th>"
            "<th class='n'>Ann. return</th><th class='n'>Volatility</th><th class='n'>Sharpe</th>"
            "<th class='n'>Sortino</th><th class='n'>Max drawdown</th><th>Peak → trough</th><th class='n'>Calmar</th>"
            "</tr>")
    body = []
    for e in report.entries:
        p = e.perf
        body.append(
            f'<tr class="{"benchmark" if e.benchmark else "model"}">'
            f'<td class="n">{e.rank or ""}</td><td>{name_html(e)}</td>{cell(money(p.final_value))}'
            f"{signed(p.cumulative_return)}{signed(p.annualized_return)}{cell(pct(p.volatility, signed=False))}"
            f"{signed(p.sharpe, num(p.sharpe))}{signed(p.sortino, num(p.sortino))}{signed(p.drawdown.depth)}"
            f"{cell(drawdown_dates(e), numeric=False)}{signed(p.calmar, num(p.calmar))}</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def activity(report: Report) -> str:
    head = ("<tr><th>Model</th><th class='n'>Trades</th><th class='n'>Turnover</th><th class='n'>Fees</th>"
            "<th class='n'>Win rate</th><th class='n'>Exposure</th><th class='n'>Sessions</th>"
            "<th class='n'>Prompt tokens</th><th class='n'>Completion tokens</th><th class='n'>Cost</th>"
            "<th class='n'>Cost / day</th></tr>")
    body = []
    for e, row in zip(report.entries, report.rows(), strict=True):
        if e.benchmark:
            continue
        body.append(
            f"<tr><td>{name_html(e)}</td>{cell(count(row['trades']))}{cell(num(row['turnover']))}"
            f"{cell(money(row['fees']))}{cell(win_text(e))}{cell(pct(e.exposure, signed=False))}"
            f"{cell(sessions_text(e, row))}{cell(count(row['prompt_tokens']))}{cell(count(row['completion_tokens']))}"
            f"{cell(money(row['cost'], 4))}{cell(money(row['cost_per_day'], 4))}</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def reason_cell(reason: str | None) -> str:
    if not reason:
        return f'<td class="reason muted">{DASH}</td>'
    if len(reason) <= REASON_PREVIEW:
        return f'<td class="reason">{escape(reason)}</td>'
    preview = escape(reason[:REASON_PREVIEW].rstrip()) + "…"
    return f'<td class="reason"><details><summary>{preview}</summary>{escape(reason)}</details></td>'


def trades_table(entry: Entry) -> str:
    if not entry.trades:
        return '<p class="muted">No trades in this window: the model held its position (or cash) throughout.</p>'
    rows = []
    for t in entry.trades:
        when = escape((t.time or "")[11:16]) if t.time else ""
        rows.append(
            f"<tr><td>{t.day}</td><td>{when}</td><td class='{t.side}'>{t.side}</td><td>{escape(t.symbol)}</td>"
            f"{cell(f'{t.quantity:g}')}{cell(money(t.price))}{cell(money(t.fee))}{reason_cell(t.reason)}</tr>"
        )
    opened = " open" if len(entry.trades) <= OPEN_TRADES_UP_TO else ""
    about = ('<p class="muted">AI-Trader ledgers carry no reasons; prices are the day&#39;s open, where AI-Trader '
             "filled.</p>" if entry.source == "ai-trader" else "")

    head = ("<tr><th>Date</th><th>Time</th><th>Side</th><th>Symbol</th><th class='n'>Qty</th><th class='n'>Price</th>"
            "<th class='n'>Fee</th><th>Reason the model gave</th></tr>")
    return (f"<details{opened}><summary>Trades ({len(entry.trades)})</summary>{about}"
            f"<table>{head}{''.join(rows)}</table></details>")


def sessions_table(entry: Entry) -> str:
    if not entry.has_sessions:
        return '<p class="muted">No sessions index: AI-Trader ledgers record positions only.</p>'
    if not entry.sessions:
        return '<p class="muted">No sessions recorded in this window.</p>'
    rows = []
    for s in entry.sessions:
        status = str(s.get("status", ""))
        day = str(s.get("date", ""))[:10]
        tokens = f"{s.get('prompt_tokens') or 0:,}/{s.get('completion_tokens') or 0:,}"
        rows.append(
            f"<tr><td>{escape(day)}</td><td>{escape(str(s.get('trigger_time', ''))[11:16])}</td>"
            f"<td class='status-{escape(status)}'>{escape(status)}</td>{cell(count(s.get('steps')))}"
            f"{cell(count(s.get('tool_calls')))}{cell(count(s.get('trades')))}{cell(count(s.get('rejections')))}"
            f"{cell(tokens)}{cell(money(s.get('cost'), 4))}{cell(num(s.get('duration_s'), 1) + ' s')}"
            f"<td>{escape(str(s.get('error') or ''))}</td><td class='muted'>log/{escape(day)}/log.jsonl</td></tr>"
        )
    head = ("<tr><th>Date</th><th>Time</th><th>Status</th><th class='n'>Steps</th><th class='n'>Tool calls</th>"
            "<th class='n'>Trades</th><th class='n'>Rejected</th><th class='n'>Tokens in/out</th><th class='n'>Cost</th>"
            "<th class='n'>Duration</th><th>Error</th><th>Log</th></tr>")
    return (f"<details><summary>Sessions ({len(entry.sessions)})</summary>"
            f"<table>{head}{''.join(rows)}</table></details>")


def model_section(entry: Entry, report: Report) -> str:
    p = entry.perf
    where = f" · run folder {escape(str(entry.run_dir))}" if entry.run_dir else ""
    model = f" · model {escape(entry.model)}" if entry.model and entry.model != entry.signature else ""
    ran = (f" · ran {entry.own_range[0]}..{entry.own_range[1]}" if entry.own_range
           and entry.own_range != (report.start, report.end) else "")
    return (
        f'<article id="model-{slug(entry.label)}"><h3>{escape(entry.label)}{tag_html(entry)}</h3>'
        f'<p class="muted">{money(p.initial_value)} → {money(p.final_value)} ({escape(pct(p.cumulative_return))}), '
        f"max drawdown {escape(pct(p.drawdown.depth))}, {plural(len(entry.trades), 'trade')}{model}{ran}{where}</p>"
        f"{trades_table(entry)}{sessions_table(entry)}</article>"
    )


def render_html(report: Report) -> str:
    title = f"TradeArena report {report.start} – {report.end}"
    notes = ("<div class='notes'><strong>Notes</strong><ul>" + "".join(f"<li>{escape(n[:1].upper() + n[1:])}</li>" for n in report.notes)
             + "</ul></div>") if report.notes else ""
    benches = "".join(f"<li><strong>{escape(e.label)}</strong>: {escape(e.description)}</li>"
                      for e in report.entries if e.benchmark)
    conventions = "".join(f"<li>{escape(line)}</li>" for line in convention_lines(report))
    folders = ", ".join(escape(str(f)) for f in report.folders)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<h1>TradeArena report</h1>
<p class="sub">{report.start} – {report.end} · {report.trading_days} trading days · {len(report.models)} models
against {len(report.entries) - len(report.models)} benchmarks · generated {escape(report.generated)}</p>
</header>
{cards(report)}
{notes}
<section id="leaderboard">
<h2>Leaderboard</h2>
{leaderboard(report)}
<ul class="conventions">{conventions}</ul>
</section>
<section id="charts">
<h2>Charts</h2>
{image(equity_chart(report.entries), "Equity curves, normalized to 1.0 at the start")}
{image(drawdown_chart(report.entries), "Drawdown from the running peak")}
<p class="muted">Benchmarks (dashed):</p><ul>{benches}</ul>
</section>
<section id="activity">
<h2>Trading, sessions and cost</h2>
{activity(report)}
</section>
<section id="models">
<h2>Models: trades and sessions</h2>
{"".join(model_section(e, report) for e in report.models)}
</section>
<footer>Run folders: {folders}. Prices: {escape(str(report.prices))}.</footer>
</main>
</body>
</html>
"""
