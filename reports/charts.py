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


# -- tearsheet charts: small multiples, one highlighted series per panel, so a dozen models stay readable ----------
PANEL_COLUMNS = 3


def _grid(count: int, title: str, panel_height: float = 2.1) -> tuple[Figure, list[Any]]:
    cols = min(PANEL_COLUMNS, max(1, count))
    rows = max(1, -(-count // cols))
    height = 0.55 + panel_height * rows
    figure = Figure(figsize=(10.5, height))  # fixed margins: a constrained layout doubles the drawing time
    figure.suptitle(title, x=0.01, y=1 - 0.12 / height, ha="left", va="top", fontsize=12, fontweight="bold")
    figure.subplots_adjust(left=0.06, right=0.99, bottom=0.35 / height, top=1 - 0.5 / height, wspace=0.12,
                           hspace=0.45)
    axes = figure.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel().tolist()
    for ax in axes[count:]:
        ax.set_visible(False)
    for ax in axes[:count]:
        ax.grid(True, color="#eeeeee", linewidth=0.7)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
    return figure, axes[:count]


def _date_axis(ax: Any, index: Sequence[Any]) -> None:
    span = (index[-1] - index[0]).days if len(index) > 1 else 0
    ax.xaxis.set_major_locator(WeekdayLocator(byweekday=MO, interval=2) if span <= 120 else AutoDateLocator(maxticks=5))
    ax.xaxis.set_major_formatter(DateFormatter("%b %d" if span <= 370 else "%Y-%m"))


def panels(models: Sequence[Entry], series: dict[str, Any], title: str, reference: Any = None,
           reference_label: str = "QQQ buy-and-hold", percent: bool = False, zero: float | None = None) -> bytes:
    """One panel per model: its series in colour, every other model in light grey, the reference dashed."""
    figure, axes = _grid(len(models), title)
    styles = _style(models)
    for ax, entry in zip(axes, models, strict=True):
        for other in models:
            if other is not entry and other.label in series:
                s = series[other.label]
                ax.plot(list(s.index), s.to_numpy(), color="#d9d9d9", linewidth=0.8)
        if reference is not None and len(reference):
            ax.plot(list(reference.index), reference.to_numpy(), color="#111111", linestyle="--", linewidth=1.0,
                    label=reference_label)
        s = series.get(entry.label)
        if s is not None and len(s):
            ax.plot(list(s.index), s.to_numpy(), color=styles[entry.label][0], linewidth=1.9)
            _date_axis(ax, list(s.index))
        if zero is not None:
            ax.axhline(zero, color="#999999", linewidth=0.7)
        ax.set_title(entry.label, loc="left", fontsize=9)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return _png(figure)


def return_distribution(entries: Sequence[Entry]) -> bytes:
    """Daily returns of every model and benchmark as horizontal box plots with the days as dots."""
    height = 0.9 + 0.42 * len(entries)
    figure = Figure(figsize=(10.5, height))
    figure.subplots_adjust(left=0.2, right=0.98, bottom=0.45 / height, top=1 - 0.4 / height)
    ax = figure.add_subplot()
    ax.set_title("Distribution of daily returns", loc="left", fontsize=12, fontweight="bold")
    data = [e.returns.to_numpy() for e in entries][::-1]
    labels = [e.label for e in entries][::-1]
    styles = _style(entries)
    ax.boxplot(data, orientation="horizontal", widths=0.55, showfliers=False, medianprops={"color": "#111111"})
    for i, (values, label) in enumerate(zip(data, labels, strict=True), start=1):
        jitter = (i + (hash_offsets(len(values)) - 0.5) * 0.3)
        ax.scatter(values, jitter, s=9, color=styles[label][0], alpha=0.7, zorder=3)
    ax.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.grid(True, axis="x", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def hash_offsets(n: int) -> Any:
    """Deterministic jitter in [0, 1) (the same report gives the same bytes)."""
    import numpy as np

    return (np.arange(n) * 0.6180339887) % 1.0


def null_histograms(models: Sequence[Entry]) -> bytes:
    """Each model's cumulative return (red line) against its random traders' returns (grey histogram)."""
    placed = [m for m in models if m.null is not None]
    figure, axes = _grid(len(placed), "Each model among random traders with its turnover and exposure", 1.9)
    for ax, entry in zip(axes, placed, strict=True):
        null = entry.null
        assert null is not None
        ax.hist(null.returns, bins=20, color="#c7ccd6", edgecolor="#ffffff")
        ax.axvline(entry.perf.cumulative_return or 0.0, color="#b3261e", linewidth=2)
        ax.set_title(f"{entry.label}: beats {null.percentile:.0%}", loc="left", fontsize=9)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return _png(figure)


def holdings_chart(label: str, values: Any, top: int = 8) -> bytes:
    """Market value of the largest holdings over time as stacked areas, the rest as 'other'."""
    figure = Figure(figsize=(10.5, 2.6))
    figure.subplots_adjust(left=0.07, right=0.86, bottom=0.14, top=0.88)
    ax = figure.add_subplot()
    ax.set_title(f"{label}: holdings at each close", loc="left", fontsize=10, fontweight="bold")
    if values.empty:
        ax.text(0.5, 0.5, "no holdings in this window", ha="center", va="center", transform=ax.transAxes)
        return _png(figure)
    order = values.max().sort_values(ascending=False).index.tolist()
    shown = values[order[:top]].copy()
    if len(order) > top:
        shown["other"] = values[order[top:]].sum(axis=1)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(shown.columns))]
    ax.stackplot(list(shown.index), shown.to_numpy().T, labels=list(shown.columns), colors=colours, alpha=0.85)
    _date_axis(ax, list(shown.index))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=7)
    return _png(figure)
