"""One self-contained HTML file: leaderboard, charts (PNG as base64 data URIs), each model's trades with the reason
it gave at the time, and the sessions index. No script, no font or stylesheet from the network: it opens offline,
in a mail attachment, years later.
"""

from __future__ import annotations

import base64
import re
from html import escape

from reports.build import Entry, Report
from reports.charts import holdings_chart, null_histograms, panels, return_distribution
from reports.metrics import drawdown_series
from reports.tearsheet import rolling_sharpe, rolling_window, worst_drawdowns
from reports.text import (
    DASH,
    convention_lines,
    count,
    drawdown_dates,
    legend_lines,
    money,
    num,
    p_text,
    pct,
    sessions_text,
    tag,
    win_text,
)
from reports.uncertainty import MCS_SIZE

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
td.annual, .annual { color:#9aa0a6; } td.annual small, td small { display:block; color:#9aa0a6; font-size:11px; }
.tag.nofees { border-color:#e0a800; color:#8a6d00; } .tag.remember { border-color:#b3261e; color:#b3261e; }
.verdict { border-left:4px solid var(--accent); background:#f1f5fc; padding:8px 14px; margin:12px 0; }
.verdict p { margin:4px 0; }
table.matrix td { text-align:center; font-variant-numeric:tabular-nums; }
.name { white-space:nowrap; } .grid2 { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
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
    tags = "" if kind == "model" else f'<span class="tag {escape(kind)}">{escape(kind)}</span>'
    if not entry.benchmark and not entry.fees_recorded:
        tags += '<span class="tag nofees" title="this ledger records no fees: returns before costs">no fees</span>'
    if entry.cutoff is not None and entry.cutoff.may_remember:
        tags += (f'<span class="tag remember" title="training cutoff {entry.cutoff.cutoff}: the model may remember '
                 'this period">may remember</span>')
    return tags


def name_html(entry: Entry) -> str:
    name = escape(entry.label)
    if not entry.benchmark:
        name = f'<a href="#model-{slug(entry.label)}">{name}</a>'
    return f'<span class="name">{name}</span>{tag_html(entry)}'


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def cards(report: Report) -> str:
    """Headlines: cumulative figures with their intervals; never an annualized figure on a short window; the cost
    card only when some run paid for tokens."""
    models = report.models
    best = next((e for e in models if e.perf.cumulative_return is not None), None)
    qqq = report.qqq
    costs = [c for c in (e.session_total("cost") for e in models) if c]
    comparison = report.comparison
    items = [
        ("Best return", pct(best.perf.cumulative_return) if best else DASH,
         (f"{best.label}; 95% CI {ci(best.stats.cumulative_ci)}" if best else "")),
        ("QQQ buy-and-hold", pct(qqq.perf.cumulative_return) if qqq else DASH, "benchmark, same dates"),
    ]
    if comparison.beats is not None:
        items.append(("Significantly worse than the best", str(len(comparison.excluded)),
                      f"of {len(comparison.labels)} models (model confidence set, {1 - MCS_SIZE:.0%})"))
    if comparison.spa_pvalue is not None:
        items.append(("Any model beats QQQ?", "yes" if comparison.spa_pvalue < 0.05 else "not shown",
                      f"SPA test over all models, p = {comparison.spa_pvalue:.2f}"))
    if costs:
        items.append(("LLM cost", money(sum(costs), 2),
                      f"{plural(len(costs), 'model')} with sessions, {report.trading_days} trading days"))
    return '<section class="cards">' + "".join(
        f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div>'
        f'<div class="d">{escape(d)}</div></div>' for k, v, d in items) + "</section>"


def ci(interval, percent: bool = True) -> str:
    if interval is None:
        return DASH
    if percent:
        return f"{interval.low:+.1%} … {interval.high:+.1%}"
    return f"{interval.low:+.2f} … {interval.high:+.2f}"


def annual_cell(report: Report, value: float | None, text: str, interval=None, percent: bool = True) -> str:
    """An annualized figure: greyed with its interval when the window is short (< 60 sessions)."""
    if not report.short:
        return signed(value, text)
    extra = f"<small>95% {escape(ci(interval, percent))}</small>" if interval is not None else ""
    return (f'<td class="n annual" title="annualized from {report.trading_days} sessions: a rough indication">'
            f"{escape(text)}{extra}</td>")


def leaderboard(report: Report) -> str:
    head = ("<tr><th class='n'>#</th><th>Model</th><th class='n'>Final value</th><th class='n'>Return</th>"
            "<th class='n'>95% CI</th><th class='n'>p vs QQQ</th><th>In MCS</th><th class='n'>Beats random</th>"
            "<th class='n'>Max drawdown</th><th class='n'>Sharpe</th></tr>")
    body = []
    for e in report.entries:
        p, st = e.perf, e.stats
        mcs = "" if e.in_confidence_set is None else ("yes" if e.in_confidence_set else "<strong>no</strong>")
        body.append(
            f'<tr class="{"benchmark" if e.benchmark else "model"}">'
            f'<td class="n">{e.rank or ""}</td><td>{name_html(e)}</td>{cell(money(p.final_value))}'
            f"{signed(p.cumulative_return)}{cell(ci(st.cumulative_ci))}{cell(p_text(st.p_value))}<td>{mcs}</td>"
            f"{cell(f'{e.null.percentile:.0%}' if e.null else DASH)}{signed(p.drawdown.depth)}"
            f"{annual_cell(report, p.sharpe, num(p.sharpe), st.sharpe_ci, percent=False)}</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def risk_table(report: Report) -> str:
    """Annualized and relative figures: greyed, with their intervals, when the window is short."""
    head = ("<tr><th>Model</th><th class='n'>Ann. return</th><th class='n'>Volatility</th><th class='n'>Sortino</th>"
            "<th class='n'>Calmar</th><th class='n'>Alpha vs QQQ</th><th class='n'>Beta</th>"
            "<th class='n'>Information ratio</th><th>Max drawdown peak → trough</th></tr>")
    body = []
    for e in report.entries:
        p, st, rel = e.perf, e.stats, e.relative
        body.append(
            f'<tr class="{"benchmark" if e.benchmark else "model"}"><td>{name_html(e)}</td>'
            f"{annual_cell(report, p.annualized_return, pct(p.annualized_return), st.annualized_ci)}"
            f"{annual_cell(report, p.volatility, pct(p.volatility, signed=False))}"
            f"{annual_cell(report, p.sortino, num(p.sortino))}{annual_cell(report, p.calmar, num(p.calmar))}"
            f"{annual_cell(report, rel.alpha if rel else None, pct(rel.alpha if rel else None))}"
            f"{cell(num(rel.beta if rel else None))}"
            f"{annual_cell(report, rel.information_ratio if rel else None, num(rel.information_ratio if rel else None))}"
            f"{cell(drawdown_dates(e), numeric=False)}</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def significance(report: Report) -> str:
    comparison = report.comparison
    if comparison.beats is None:
        return '<p class="muted">Fewer than two models with comparable days: nothing to compare.</p>'
    lines = "".join(f"<p>{escape(line)}</p>" for line in report.significance)
    labels = comparison.labels
    head = "<tr><th>P(row beats column)</th>" + "".join(f"<th>{escape(b)}</th>" for b in labels) + "</tr>"
    rows = []
    for i, a in enumerate(labels):
        cells = []
        for j, _b in enumerate(labels):
            if i == j:
                cells.append("<td class='muted'>·</td>")
                continue
            value = float(comparison.beats[i, j])
            shade = int(255 - abs(value - 0.5) * 2 * 120)
            colour = f"rgb({shade},255,{shade})" if value > 0.5 else f"rgb(255,{shade},{shade})"
            strong = " style='font-weight:600'" if value >= 0.95 or value <= 0.05 else ""
            cells.append(f"<td style='background:{colour}'><span{strong}>{value:.0%}</span></td>")
        rows.append(f"<tr><th>{escape(a)}</th>{''.join(cells)}</tr>")
    return (f'<div class="verdict">{lines}</div><details><summary>Pairwise: the probability that one model&#39;s '
            f"return beats another's ({comparison.reps} resampled histories; bold: 95% or more either way)</summary>"
            f'<table class="matrix">{head}{"".join(rows)}</table></details>')


def blind_and_repeats_section(report: Report) -> str:
    parts = []
    if report.blind_pairs:
        rows = "".join(f"<tr><td>{escape(n.signature)}</td>{signed(n.perf.cumulative_return)}"
                       f"{signed(b.perf.cumulative_return)}{signed(n.blind_gap)}</tr>" for n, b in report.blind_pairs)
        parts.append('<h3>Named versus blind</h3><p class="muted">The same model on the same days with tickers '
                     "replaced by aliases, prices rebased to 100 and names stripped from news (<code>run --blind"
                     "</code>). A large positive gap means the names helped: knowledge of the companies, or memory "
                     "of the period.</p><table><tr><th>Model</th><th class='n'>Named</th><th class='n'>Blind</th>"
                     f"<th class='n'>Gap (named − blind)</th></tr>{rows}</table>")
    if report.groups:
        rows = "".join(
            f"<tr><td>{escape(g.signature)}</td>{cell(str(len(g.returns)))}{signed(g.mean)}"
            f"{cell(ci_pair(g.interval))}{cell(pct(min(g.returns)) + ' … ' + pct(max(g.returns)))}</tr>"
            for g in report.groups)
        parts.append("<h3>Across repeats</h3><p class=\"muted\">One model run several times over the same days "
                     "(<code>run --repeats</code>): the mean return and its 95% t-interval across runs.</p>"
                     "<table><tr><th>Model</th><th class='n'>Runs</th><th class='n'>Mean return</th>"
                     f"<th class='n'>95% CI</th><th class='n'>Range</th></tr>{rows}</table>")
    return f'<section id="runs"><h2>Blind and repeated runs</h2>{"".join(parts)}</section>' if parts else ""


def ci_pair(interval: tuple[float, float] | None) -> str:
    return DASH if interval is None else f"{interval[0]:+.1%} … {interval[1]:+.1%}"


def cutoff_section(report: Report) -> str:
    split = [e for e in report.models if e.cutoff is not None]
    if not split:
        return ""
    rows = []
    for e in split:
        c = e.cutoff
        assert c is not None
        rows.append(f"<tr><td>{name_html(e)}</td><td>{c.cutoff}</td>{cell(str(c.pre_days))}{signed(c.pre_return)}"
                    f"{signed(c.pre_excess)}{cell(str(c.post_days))}{signed(c.post_return)}{signed(c.post_excess)}</tr>")
    head = ("<tr><th>Model</th><th>Training cutoff</th><th class='n'>Days before</th><th class='n'>Return before</th>"
            "<th class='n'>vs QQQ before</th><th class='n'>Days after</th><th class='n'>Return after</th>"
            "<th class='n'>vs QQQ after</th></tr>")
    return ('<section id="cutoff"><h2>Before and after the training cutoff</h2><p class="muted">On days up to its '
            "cutoff a model may remember what happened: those days are not evidence of skill. "
            "<code>report --post-cutoff</code> ranks on later days only.</p>"
            f"<table>{head}{''.join(rows)}</table></section>")


def activity(report: Report) -> str:
    head = ("<tr><th>Model</th><th class='n'>Trades</th><th class='n'>Turnover</th><th class='n'>Fees</th>"
            "<th class='n'>Win rate</th><th class='n'>Exposure</th><th class='n'>Sessions</th><th class='n'>Failed</th>"
            "<th class='n'>Prompt tokens</th><th class='n'>Completion tokens</th><th class='n'>Cost</th>"
            "<th class='n'>Cost / day</th></tr>")
    body = []
    for e, row in zip(report.entries, report.rows(), strict=True):
        if e.benchmark:
            continue
        fees = money(row["fees"]) if e.fees_recorded else "not recorded"
        body.append(
            f"<tr><td>{name_html(e)}</td>{cell(count(row['trades']))}{cell(num(row['turnover']))}"
            f"{cell(fees)}{cell(win_text(e))}{cell(pct(e.exposure, signed=False))}"
            f"{''.join(cell(c) for c in sessions_text(e, row))}{cell(count(row['prompt_tokens']))}{cell(count(row['completion_tokens']))}"
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
        f'<div class="grid2"><div>{drawdown_table(entry)}</div><div>{relative_text(entry, report)}</div></div>'
        f"{holdings_image(entry)}{trades_table(entry)}{sessions_table(entry)}</article>"
    )


def holdings_image(entry: Entry) -> str:
    if entry.holdings is None:
        return ""
    return image(holdings_chart(entry.label, entry.holdings), f"Holdings of {entry.label} at each close")


def drawdown_table(entry: Entry) -> str:
    periods = worst_drawdowns(entry.curve.equity)
    if not periods:
        return '<p class="muted">No drawdown in this window.</p>'
    rows = "".join(f"<tr>{signed(d.depth)}<td>{d.peak}</td><td>{d.trough}</td>"
                   f"<td>{d.recovery or 'not recovered'}</td>{cell(str(d.sessions))}</tr>" for d in periods)
    return ("<table><tr><th class='n'>Worst drawdowns</th><th>Peak</th><th>Trough</th><th>Recovered</th>"
            f"<th class='n'>Sessions</th></tr>{rows}</table>")


def relative_text(entry: Entry, report: Report) -> str:
    rel, st = entry.relative, entry.stats
    parts = [f"95% interval of the return: {ci(st.cumulative_ci)}", f"p vs QQQ: {p_text(st.p_value)}"]
    if rel is not None:
        parts.append(f"beta {num(rel.beta)}, alpha {pct(rel.alpha)} a year, information ratio "
                     f"{num(rel.information_ratio)}" + (" (annualized from a short window)" if report.short else ""))
    if entry.null is not None:
        parts.append(entry.null.describe(entry.label))
    if not entry.fees_recorded:
        parts.append("this ledger records no fees: its returns are before costs")
    return "<ul>" + "".join(f"<li>{escape(p)}</li>" for p in parts) + "</ul>"


def charts(report: Report) -> str:
    models = report.models
    qqq = report.qqq
    normalized = {e.label: e.curve.equity / (float(e.curve.equity.iloc[0]) or 1.0) for e in report.entries}
    drawdowns = {e.label: drawdown_series(e.curve.equity) for e in report.entries}
    window = rolling_window(report.trading_days)
    rf, ppy = report.conventions.per_period_risk_free, report.conventions.periods_per_year
    rolling = {e.label: rolling_sharpe(e.curve.equity, window, rf, ppy) for e in report.entries}
    exposure = {e.label: e.curve.exposure.iloc[1:] for e in models}

    def ref(series: dict):
        return series.get(qqq.label) if qqq is not None else None

    short = " (annualized from a short window: rough)" if report.short else ""
    return "".join([
        image(panels(models, normalized, "Equity, normalized to 1.0 at the start (dashed: QQQ buy-and-hold)",
                     ref(normalized), zero=1.0), "Equity curves, normalized to 1.0 at the start"),
        image(panels(models, drawdowns, "Drawdown from the running peak", ref(drawdowns), percent=True),
              "Drawdown from the running peak"),
        image(panels(models, rolling, f"Rolling Sharpe over {window} sessions{short}", ref(rolling), zero=0.0),
              "Rolling Sharpe"),
        image(panels(models, exposure, "Exposure: share of equity held in stocks at the close", percent=True),
              "Exposure over time"),
        image(return_distribution(report.entries), "Distribution of daily returns"),
    ])


def render_html(report: Report) -> str:
    title = f"TradeArena report {report.start} – {report.end}"
    notes = ("<div class='notes'><strong>Notes</strong><ul>" + "".join(f"<li>{escape(n[:1].upper() + n[1:])}</li>" for n in report.notes)
             + "</ul></div>") if report.notes else ""
    benches = "".join(f"<li><strong>{escape(e.label)}</strong>: {escape(e.description)}</li>"
                      for e in report.entries if e.benchmark)
    conventions = "".join(f"<li>{escape(line)}</li>" for line in convention_lines(report))
    legend = "".join(f"<li>{escape(line.replace(' (--wide shows it)', ''))}</li>" for line in legend_lines(report))
    placed = [e for e in report.models if e.null is not None]
    null_section = ('<section id="random"><h2>A null to beat: random traders</h2><p class="muted">Each model '
                    "against random traders with its own turnover, exposure, days and costs (the <code>random</code> "
                    "baseline&#39;s policy, simulated from prices).</p>"
                    + image(null_histograms(placed), "Each model among random traders") + "</section>"
                    if placed else "")
    manifests = report.manifests
    folders = ", ".join(escape(str(f)) + (f" (manifest {escape(manifests[f])})" if f in manifests else "")
                        for f in report.folders)
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
<h3>Risk, annualized, and relative to QQQ</h3>
{risk_table(report)}
<ul class="conventions">{legend}{conventions}</ul>
</section>
<section id="significance">
<h2>Which differences are real</h2>
{significance(report)}
</section>
{null_section}
{cutoff_section(report)}
{blind_and_repeats_section(report)}
<section id="charts">
<h2>Charts</h2>
{charts(report)}
<p class="muted">Benchmarks:</p><ul>{benches}</ul>
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
