"""PNG charts with matplotlib's Agg backend (no display needed): normalized equity curves and drawdowns.

Figures are built with the object API (no pyplot global state) so reports can be made from threads and tests, and
PNG metadata is left empty so the same report gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.dates import MO, AutoDateLocator, DateFormatter, WeekdayLocator  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from reports.build import Entry  # noqa: E402
from reports.metrics import drawdown_series  # noqa: E402

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d")
BENCHMARK_STYLE = {"benchmark-qqq-buy-and-hold": ("#111111", "--"), "benchmark-equal-weight-universe": ("#777777", "--")}


def _style(entries: Sequence[Entry]) -> dict[str, tuple[str, str, float]]:
    """Colour, line style and width per entry: benchmarks dashed grey/black, baselines dotted, models solid."""
    styles: dict[str, tuple[str, str, float]] = {}
    colours = iter(PALETTE * 4)
    for entry in entries:
        if entry.benchmark:
            colour, line = BENCHMARK_STYLE.get(entry.signature, ("#555555", "--"))
            styles[entry.label] = (colour, line, 1.6)
        else:
            styles[entry.label] = (next(colours), ":" if entry.baseline else "-", 1.4 if entry.baseline else 1.8)
    return styles


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _axes(title: str, entries: Sequence[Entry]) -> tuple[Figure, Any]:
    """A figure with weekly ticks (on Mondays) for short windows, automatic ones for long windows."""
    figure = Figure(figsize=(10, 4.6), layout="constrained")
    ax = figure.add_subplot()
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    index = entries[0].curve.equity.index if entries else []
    span = (index[-1] - index[0]).days if len(index) > 1 else 0
    ax.xaxis.set_major_locator(WeekdayLocator(byweekday=MO) if span <= 120 else AutoDateLocator(maxticks=10))
    ax.xaxis.set_major_formatter(DateFormatter("%b %d" if span <= 370 else "%Y-%m"))
    return figure, ax


def equity_chart(entries: Sequence[Entry]) -> bytes:
    """Every curve divided by its base value, so models with different cash compare directly."""
    figure, ax = _axes("Equity, normalized to 1.0 at the start", entries)
    styles = _style(entries)
    for entry in entries:
        equity = entry.curve.equity
        base = float(equity.iloc[0]) or 1.0
        colour, line, width = styles[entry.label]
        ax.plot(list(equity.index), (equity / base).to_numpy(), color=colour, linestyle=line, linewidth=width,
                label=entry.label)
    ax.axhline(1.0, color="#999999", linewidth=0.8)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _png(figure)


def drawdown_chart(entries: Sequence[Entry]) -> bytes:
    figure, ax = _axes("Drawdown from the running peak", entries)
    styles = _style(entries)
    for entry in entries:
        dd = drawdown_series(entry.curve.equity)
        colour, line, width = styles[entry.label]
        ax.plot(list(dd.index), dd.to_numpy(), color=colour, linestyle=line, linewidth=width, label=entry.label)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _png(figure)
