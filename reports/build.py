"""Assemble one report: load the runs, pick the comparison window, mark every model and benchmark, compute metrics.

Every model is compared on the same trading days: the range all of them cover (said in a note when their ranges
differ), narrowed by --start/--end. Benchmarks are built on exactly those days. The result is plain data that the
text, charts and HTML renderers share, so every format shows the same numbers.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agent_tools.fills import build_fee_model, build_fill_model
from agent_tools.market_calendar import MarketCalendar
from agent_tools.market_data import load_market_data
from agent_tools.price_archive import archives_in
from arena.config import ArenaConfig
from reports import ReportError
from reports.benchmarks import equal_weight_universe, qqq_buy_and_hold
from reports.beside import Claims, beside, gc_paused
from reports.cutoff import MAY_REMEMBER, CutoffSplit, cutoff_for, split_at
from reports.equity import Curve, Marker, Trade, base_day_before, ledger_trades, model_curve
from reports.logs import trade_reasons
from reports.metrics import (
    Conventions,
    Performance,
    WinRate,
    average_exposure,
    daily_returns,
    performance,
    turnover,
    win_rate,
)
from reports.notes import Notes
from reports.random_null import (
    TRADERS_AT_ONCE,
    Costs,
    NullResult,
    PriceGrid,
    matched_traders,
    placed,
    simulate_traders,
)
from reports.runs import Loading, ModelRun, start_loading
from reports.tearsheet import Relative, holdings_over_time, relative_to
from reports.triggers import TriggerRow, by_trigger
from reports.uncertainty import (
    Comparison,
    EntryStats,
    arch_bootstrap,
    compare,
    entry_stats,
    significance_lines,
)

ROW_KEYS = (
    "rank", "signature", "label", "benchmark", "baseline", "source", "model", "run", "start", "end", "trading_days",
    "initial_value", "final_value", "cumulative_return", "annualized_return", "volatility", "sharpe", "sortino",
    "max_drawdown", "max_drawdown_peak", "max_drawdown_trough", "calmar", "trades", "turnover", "fees", "win_rate",
    "closed_trades", "average_exposure", "cash_flows", "sessions", "failed_sessions", "prompt_tokens", "completion_tokens",
    "cached_tokens", "cost", "cost_per_day", "periods_per_year", "risk_free_rate",
    # how sure the leaderboard is (reports/uncertainty.py, reports/random_null.py, reports/cutoff.py)
    "sessions_failed", "fees_recorded", "cumulative_return_ci", "sharpe_ci", "annualized_return_ci",
    "p_value_vs_benchmark", "probability_beats", "in_confidence_set", "random_percentile", "random_median_return", "alpha", "beta",
    "information_ratio", "knowledge_cutoff", "pre_cutoff_days", "post_cutoff_days", "pre_cutoff_return",
    "post_cutoff_return", "may_remember",
    # run --blind and run --repeats
    "blind", "named_minus_blind", "repeat", "repeats", "repeats_mean_return", "repeats_return_ci",
    # run manifest (arena/manifest.py): the sha256 of the run's inputs, and how many earlier inputs it mixes
    "manifest", "manifest_earlier",
    # triggers (reports/triggers.py): {type: {sessions, trades, cost, tokens}}; trades exit rules made
    "by_trigger", "exit_trades",
)
SHORT_WINDOW = 60  # sessions: below this, annualized figures are shown greyed with their interval


@dataclass
class RepeatGroup:
    """One signature run several times (`run --repeats`): the mean return across repeats and its 95% t-interval."""

    signature: str
    labels: list[str]
    returns: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def interval(self) -> tuple[float, float] | None:
        n = len(self.returns)
        if n < 2:
            return None
        from scipy.stats import t

        half = float(t.ppf(0.975, n - 1)) * float(np.std(self.returns, ddof=1)) / np.sqrt(n)
        return self.mean - half, self.mean + half


@dataclass
class Entry:
    """One leaderboard line (a model or a benchmark) with everything the renderers show."""

    label: str
    signature: str
    source: str
    baseline: bool
    benchmark: bool
    curve: Curve
    perf: Performance
    description: str = ""
    model: str | None = None
    run_dir: Path | None = None
    own_range: tuple[date, date] | None = None
    trades: list[Trade] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)
    win: WinRate | None = None
    turnover: float | None = None
    exposure: float | None = None
    rank: int | None = None
    run: ModelRun | None = None
    stats: EntryStats = field(default_factory=EntryStats)
    relative: Relative | None = None
    null: NullResult | None = None
    knowledge_cutoff: date | None = None
    cutoff: CutoffSplit | None = None
    in_confidence_set: bool | None = None
    holdings: pd.DataFrame | None = None  # market value per symbol at each close of the window
    blind_gap: float | None = None  # named minus blind cumulative return, same signature, same days
    group: RepeatGroup | None = None

    @property
    def blind(self) -> bool:
        return bool(self.run and self.run.blind)

    @property
    def repeat(self) -> int | None:
        return self.run.repeat if self.run else None


    @property
    def has_sessions(self) -> bool:
        return self.source == "tradearena"

    @property
    def fees_recorded(self) -> bool:
        """AI-Trader ledgers carry no fees: their returns are before costs, ours after."""
        return self.source != "ai-trader"

    @property
    def returns(self) -> pd.Series:
        """Daily returns indexed by the day they end on (the base point has none)."""
        equity = self.curve.equity
        return pd.Series(daily_returns(equity), index=equity.index[1:], dtype=float)

    def session_total(self, key: str) -> int | float | None:
        if not self.has_sessions:
            return None
        return sum(s.get(key) or 0 for s in self.sessions)

    @property
    def triggers(self) -> dict[str, TriggerRow]:
        """Sessions, trades and cost per trigger type; exit rules' trades apart (reports/triggers.py)."""
        return by_trigger(self.sessions, self.trades)

    @property
    def failed_sessions(self) -> int | None:
        """Sessions whose latest attempt failed (shown in a column of their own: failing is not caution)."""
        return sum(s.get("status") == "failed" for s in self.sessions) if self.has_sessions else None


@dataclass
class Report:
    entries: list[Entry]
    start: date
    end: date
    base_day: date
    trading_days: int
    conventions: Conventions
    notes: list[str]
    folders: list[Path]
    prices: Path
    generated: str
    days: list[date] = field(default_factory=list)
    comparison: Comparison = field(default_factory=Comparison)
    significance: list[str] = field(default_factory=list)
    post_cutoff: bool = False
    groups: list[RepeatGroup] = field(default_factory=list)

    @property
    def blind_pairs(self) -> list[tuple[Entry, Entry]]:
        """(named, blind) entries of the same signature: the named-versus-blind gap."""
        pairs = []
        for blind in (e for e in self.models if e.blind):
            named = [e for e in self.models if not e.blind and e.signature == blind.signature]
            named.sort(key=lambda e: e.repeat or 0)
            if named:
                pairs.append((named[0], blind))
        return pairs

    @property
    def manifests(self) -> dict[Path, str]:
        """The manifest hash (short) of each run folder (a run's repeats share their run's), as `report` shows it."""
        from arena.manifest import manifest_home, manifest_label

        runs = {manifest_home(e.run.run_dir): e.run.manifest for e in self.models
                if e.run is not None and e.run.source == "tradearena"}
        return {folder: manifest_label(found) for folder, found in sorted(runs.items(), key=lambda kv: str(kv[0]))}

    @property
    def short(self) -> bool:
        """Too few sessions for annualized figures to mean much: they are greyed and shown with their interval."""
        return self.trading_days < SHORT_WINDOW

    @property
    def qqq(self) -> Entry | None:
        return next((e for e in self.entries if e.signature == "benchmark-qqq-buy-and-hold"), None)

    @property
    def models(self) -> list[Entry]:
        return [e for e in self.entries if not e.benchmark]

    def rows(self) -> list[dict[str, Any]]:
        return [row(e, self) for e in self.entries]


def _round(value: float | None, digits: int = 8) -> float | None:
    return None if value is None else round(float(value), digits)


def _pair(interval) -> list[float] | None:
    return interval.as_list() if interval is not None else None


def row(entry: Entry, report: Report) -> dict[str, Any]:
    """The stable JSON/CSV object for one entry: every key always present, null where it does not apply."""
    perf, days = entry.perf, report.trading_days
    cost = entry.session_total("cost")
    model_only = not entry.benchmark
    values: dict[str, Any] = {
        "rank": entry.rank,
        "signature": entry.signature,
        "label": entry.label,
        "benchmark": entry.benchmark,
        "baseline": entry.baseline,
        "source": entry.source,
        "model": entry.model,
        "run": str(entry.run_dir) if entry.run_dir else None,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "trading_days": days,
        "initial_value": _round(perf.initial_value, 4),
        "final_value": _round(perf.final_value, 4),
        "cumulative_return": _round(perf.cumulative_return),
        "annualized_return": _round(perf.annualized_return),
        "volatility": _round(perf.volatility),
        "sharpe": _round(perf.sharpe),
        "sortino": _round(perf.sortino),
        "max_drawdown": _round(perf.drawdown.depth),
        "max_drawdown_peak": perf.drawdown.peak.isoformat() if perf.drawdown.peak else None,
        "max_drawdown_trough": perf.drawdown.trough.isoformat() if perf.drawdown.trough else None,
        "calmar": _round(perf.calmar),
        "trades": len(entry.trades) if model_only else None,
        "turnover": _round(entry.turnover) if model_only else None,
        "fees": _round(sum(t.fee for t in entry.trades), 4) if model_only else None,
        "win_rate": _round(entry.win.rate) if entry.win else None,
        "closed_trades": entry.win.closed if entry.win else None,
        "average_exposure": _round(entry.exposure),
        "cash_flows": _round(entry.curve.net_flows, 2) if model_only else None,
        "sessions": len(entry.sessions) if entry.has_sessions else None,
        "failed_sessions": entry.failed_sessions,
        "prompt_tokens": entry.session_total("prompt_tokens"),
        "completion_tokens": entry.session_total("completion_tokens"),
        "cached_tokens": entry.session_total("cached_tokens"),
        "cost": _round(cost),
        "cost_per_day": _round(cost / days) if cost is not None and days else None,
        "periods_per_year": report.conventions.periods_per_year,
        "risk_free_rate": report.conventions.risk_free_rate,
        "sessions_failed": entry.failed_sessions,
        "fees_recorded": entry.fees_recorded,
        "cumulative_return_ci": _pair(entry.stats.cumulative_ci),
        "sharpe_ci": _pair(entry.stats.sharpe_ci),
        "annualized_return_ci": _pair(entry.stats.annualized_ci),
        "p_value_vs_benchmark": _round(entry.stats.p_value, 6),
        "probability_beats": ({other: round(p, 4) for other in report.comparison.labels if other != entry.label
                               and (p := report.comparison.probability(entry.label, other)) is not None}
                              if entry.label in report.comparison.labels else None),
        "in_confidence_set": entry.in_confidence_set,
        "random_percentile": _round(entry.null.percentile, 4) if entry.null else None,
        "random_median_return": _round(entry.null.median) if entry.null else None,
        "alpha": _round(entry.relative.alpha) if entry.relative else None,
        "beta": _round(entry.relative.beta) if entry.relative else None,
        "information_ratio": _round(entry.relative.information_ratio) if entry.relative else None,
        "knowledge_cutoff": entry.knowledge_cutoff.isoformat() if entry.knowledge_cutoff else None,
        "pre_cutoff_days": entry.cutoff.pre_days if entry.cutoff else None,
        "post_cutoff_days": entry.cutoff.post_days if entry.cutoff else None,
        "pre_cutoff_return": _round(entry.cutoff.pre_return) if entry.cutoff else None,
        "post_cutoff_return": _round(entry.cutoff.post_return) if entry.cutoff else None,
        "may_remember": entry.cutoff.may_remember if entry.cutoff else None,
        "blind": entry.blind if model_only else None,
        "named_minus_blind": _round(entry.blind_gap),
        "repeat": entry.repeat,
        "repeats": len(entry.group.returns) if entry.group else None,
        "repeats_mean_return": _round(entry.group.mean) if entry.group else None,
        "repeats_return_ci": ([round(v, 8) for v in entry.group.interval]
                              if entry.group and entry.group.interval else None),
        "manifest": entry.run.manifest["sha256"] if entry.run and entry.run.manifest else None,
        "manifest_earlier": (len(entry.run.manifest.get("earlier") or [])
                             if entry.run and entry.run.manifest else None),
        "by_trigger": ({k: v.as_dict() for k, v in entry.triggers.items()} if entry.has_sessions and model_only
                       else None),
        "exit_trades": sum(1 for t in entry.trades if t.trigger) if model_only else None,
    }
    return {k: values[k] for k in ROW_KEYS}


def _price_file_note(run: ModelRun, config: ArenaConfig, notes: Notes) -> None:
    """Say so when a run was made with other prices than the ones it is valued with here."""
    try:
        saved = json.loads((run.run_dir / "run_config.json").read_text(encoding="utf-8"))
        used = saved["data"]["daily_prices"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if config.path(used) != config.path(config.data.daily_prices):
        notes.add(f"{run.run_dir} was run with prices from {used}; it is valued here with {config.data.daily_prices}",
                  key=f"prices:{run.run_dir}")


def choose_window(runs: list[ModelRun], trading_days: list[date], start: date | None, end: date | None,
                  notes: Notes) -> list[date]:
    """The trading days every model covers, narrowed by --start/--end; notes say what was cut and why."""
    if start and end and end < start:
        raise ReportError(f"--end {end} is before --start {start}")
    last_price = trading_days[-1]
    ranges = {r.label: (r.first_day, min(r.last_day, last_price)) for r in runs}
    common_start = max(first for first, _ in ranges.values())
    common_end = min(last for _, last in ranges.values())
    if len(set(ranges.values())) > 1:
        listed = "; ".join(f"{label} {a}..{b}" for label, (a, b) in ranges.items())
        notes.add(f"the runs cover different dates ({listed}); every model and benchmark is compared on the common "
                  f"range {common_start}..{common_end}", key="common-range")
    if common_start > common_end:
        raise ReportError(f"the runs share no trading day ({'; '.join(f'{k} {a}..{b}' for k, (a, b) in ranges.items())}); "
                          "report them separately or narrow --runs")
    first, last = common_start, common_end
    if start is not None:
        if start < common_start:
            notes.add(f"--start {start} is before the first day every model covers; starting at {common_start}")
        first = max(start, common_start)
    if end is not None:
        if end > common_end:
            notes.add(f"--end {end} is after the last day every model covers; ending at {common_end}")
        last = min(end, common_end)
    if first > last:
        asked = f"--start {start}" if start is not None and start > common_end else f"--end {end}"
        raise ReportError(f"{asked} leaves no day that every model covers; pick dates within "
                          f"{common_start}..{common_end}")
    days = [d for d in trading_days if first <= d <= last]
    if not days:
        raise ReportError(f"no trading day with prices in {first}..{last}; pick dates inside the price file's range "
                          f"{trading_days[0]}..{last_price}")
    return days


def model_entry(run: ModelRun, curve: Curve, window: list[date], base_day: date, marker: Marker,
                conventions: Conventions, details: bool = True) -> Entry:
    first, last = window[0], window[-1]
    listed = ledger_trades(run, marker)
    # the session logs are read only when a trade's reason is not in the ledger (baselines write theirs there), and
    # only for the HTML's trade lists (`details`): no other format shows reasons
    wanted = details and run.source == "tradearena" and any(not t.reason for t in listed)
    reasons = trade_reasons(run.folder) if wanted else {}
    all_trades = [t if t.reason or t.ledger_id not in reasons else _with_reason(t, reasons[t.ledger_id])
                  for t in listed]
    trades = [t for t in all_trades if first <= t.day <= last]
    part = curve.window(base_day, last)
    since, until = first.isoformat(), last.isoformat()
    sessions = [s for s in run.sessions if since <= str(s.get("date", ""))[:10] <= until]
    # Returns and risk come from the time-weighted curve (deposits are not performance); the values shown are the
    # account's own.
    assert part.value is not None
    perf = replace(performance(part.equity, conventions), initial_value=float(part.value.iloc[0]),
                   final_value=float(part.value.iloc[-1]))
    return Entry(
        label=run.label, signature=run.signature, source=run.source, baseline=run.baseline, benchmark=False,
        curve=part, perf=perf, model=run.model, run_dir=run.run_dir,
        own_range=(run.first_day, run.last_day), trades=trades, sessions=sessions, run=run,
        win=win_rate(all_trades, {t.ledger_id for t in trades if t.side == "sell"}),
        turnover=turnover(trades, part.value), exposure=average_exposure(part.exposure),
    )


def _with_reason(trade: Trade, reason: str) -> Trade:
    return trade._replace(reason=reason)


def post_cutoff_window(window: list[date], cutoffs: dict[str, date | None], notes: Notes) -> list[date]:
    """--post-cutoff: only the days after every model's training cutoff, so no model can remember them."""
    known = {label: c for label, c in cutoffs.items() if c is not None}
    if not known:
        raise ReportError("--post-cutoff needs a training cutoff: set models[].knowledge_cutoff in the config (or "
                          "report.knowledge_cutoffs {\"signature\": \"YYYY-MM-DD\"} for runs that are not in it)")
    latest = max(known.values())
    days = [d for d in window if d > latest]
    if not days:
        raise ReportError(f"--post-cutoff leaves no day: the latest training cutoff is {latest} "
                          f"({', '.join(k for k, c in known.items() if c == latest)}) and the window ends {window[-1]}")
    unknown = sorted(label for label, c in cutoffs.items() if c is None)
    notes.add(f"--post-cutoff: ranked on {len(days)} day(s) after the latest training cutoff {latest}"
              + (f"; no cutoff known for {', '.join(unknown)}" if unknown else ""), key="post-cutoff")
    return days


class NullWork:
    """The random null of every model as pieces of TRADERS_AT_ONCE traders (reports/random_null.py), costliest model
    first; each process builds the price grid once, for the first piece it takes. A model's result is assembled from
    its pieces in trader order, so it is the same whichever process simulated which piece."""

    def __init__(self, config: ArenaConfig, days: list[date], marker: Marker, models: list[Entry]):
        self.config, self.days, self.marker = config, days, marker
        count = config.report.random_traders
        ex = config.execution
        fill = build_fill_model(ex.slippage_bps)
        fee = build_fee_model(ex.fee_model, ex.per_share, ex.fee_minimum, ex.fee_bps)
        self.models = [m for m in models if m.perf.cumulative_return is not None] if count > 0 and days else []
        self.traders = {id(m): matched_traders(m.label, m.turnover, m.exposure, len(days), count,
                                               config.report.seed) for m in self.models}
        self.costs = {id(m): Costs(fill, fee if m.fees_recorded else None) for m in self.models}
        by_cost = sorted(self.models, key=lambda m: -self._cost(m))
        self.pieces = [(m, first) for m in by_cost for first in range(0, count, TRADERS_AT_ONCE)]
        self._grid: PriceGrid | None = None

    def _cost(self, entry: Entry) -> float:
        """How much simulating a model's random traders costs, roughly: the share of sessions with a swap draw."""
        policy = self.traders[id(entry)][0]
        return 1.0 - (1.0 - policy.swap_probability) ** policy.holdings

    def grid(self) -> PriceGrid:
        """The price grid every piece reads, made by each process for the first null piece it takes (this one often
        takes none: made before the fork, it would delay both). Its fill prices and tradable columns are cached on
        first use (`PriceGrid.fill_rows`, `PriceGrid.tradable`)."""
        if self._grid is None:
            self._grid = PriceGrid(list(self.config.universe), self.days, self.marker)
        return self._grid

    def release(self) -> None:
        self._grid = None

    def run(self, piece: int) -> np.ndarray:
        """The returns of one piece's traders."""
        entry, first = self.pieces[piece]
        traders = self.traders[id(entry)][first:first + TRADERS_AT_ONCE]
        return simulate_traders(traders, self.grid(), entry.perf.initial_value, self.costs[id(entry)])

    def results(self, returns: dict[int, np.ndarray]) -> dict[int, NullResult]:
        """Each model's NullResult (by id) from every piece's returns (by piece index)."""
        found: dict[int, list[np.ndarray]] = {}
        for piece in sorted(range(len(self.pieces)), key=lambda k: self.pieces[k][1]):  # trader order
            found.setdefault(id(self.pieces[piece][0]), []).append(returns[piece])
        return {id(m): placed(m.perf.cumulative_return, np.concatenate(found[id(m)]), self.traders[id(m)],
                              self.costs[id(m)].fee is not None) for m in self.models}


class StatisticsWork:
    """The costly statistics as pieces with no order between them: the null's pieces (costliest model first), each
    entry's bootstrap, then the comparison (the costliest statistic). A second process claims pieces from the front
    and this one from the back (reports/beside.Claims), so both start with a large piece and meet at small ones;
    `attach` puts every result in its place, the same whichever process computed which piece."""

    def __init__(self, report: Report, config: ArenaConfig, marker: Marker):
        settings, conventions = config.report, report.conventions
        self.report = report
        self.nulls = NullWork(config, report.days, marker, report.models)
        self.pieces: list[Callable[[], Any]] = [partial(self.nulls.run, k) for k in range(len(self.nulls.pieces))]
        qqq_returns = report.qqq.returns if report.qqq is not None else None
        self.qqq_of: dict[int, np.ndarray | None] = {}  # QQQ's returns on each entry's days (None: not all known)
        for entry in report.entries:
            returns = entry.returns
            theirs = (qqq_returns.reindex(returns.index).to_numpy() if qqq_returns is not None and entry is not report.qqq
                      else None)
            self.qqq_of[id(entry)] = theirs if theirs is None or np.all(np.isfinite(theirs)) else None
            self.pieces.append(partial(self._statistic, entry_stats, entry.label, returns.to_numpy(), self.qqq_of[id(entry)],
                                       reps=settings.bootstrap_reps, seed=settings.seed,
                                       per_period_rf=conventions.per_period_risk_free,
                                       periods_per_year=conventions.periods_per_year))
        self.comparing: int | None = None
        models = report.models
        if len(models) >= 2:
            frame = pd.concat([m.returns.rename(m.label) for m in models], axis=1)
            if frame.notna().all().all():
                theirs = qqq_returns.reindex(frame.index).to_numpy() if qqq_returns is not None else None
                self.comparing = len(self.pieces)
                self.pieces.append(partial(self._statistic, compare, list(frame.columns), frame.to_numpy(), theirs,
                                           reps=settings.bootstrap_reps, seed=settings.seed))
        self.claims = Claims(len(self.pieces))

    def _statistic(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A bootstrap piece: once every null piece is claimed (they come first), this process lets go of its price
        grid before the bootstrap's own arrays are made (peak memory)."""
        if self.claims.front() >= len(self.nulls.pieces):
            self.nulls.release()
        return fn(*args, **kwargs)

    def attach(self, done: dict[int, Any]) -> None:
        """Every piece's result (by piece index) into the report's entries and comparison."""
        report = self.report
        for k, entry in enumerate(report.entries, start=len(self.nulls.pieces)):
            entry.stats = done[k]
        if self.comparing is not None:
            report.comparison = done[self.comparing]
            included = set(report.comparison.confidence_set)
            for entry in report.models:
                entry.in_confidence_set = entry.label in included if report.comparison.beats is not None else None
        null_of = self.nulls.results(done)
        for entry in report.models:
            entry.null = null_of.get(id(entry))


def attach_statistics(report: Report, config: ArenaConfig, marker: Marker, notes: Notes, details: bool = True) -> None:
    """Intervals, p-values, relative figures, the random null and the cutoff split for every entry; the comparison;
    with `details`, each model's holdings over time (the HTML's chart)."""
    conventions, models = report.conventions, report.models
    work = StatisticsWork(report, config, marker)
    with gc_paused():  # the pieces make no cyclic garbage worth a full collection's walk over the loaded runs (0.2 s)
        beside_done = beside(work.claims.run, work.pieces)
        done = work.claims.run(work.pieces, from_back=True)
    rf, ppy = conventions.per_period_risk_free, conventions.periods_per_year
    for entry in report.entries:  # the light work, while the second process finishes its last piece
        returns, theirs = entry.returns, work.qqq_of[id(entry)]
        if theirs is not None:
            entry.relative = relative_to(returns.to_numpy(), theirs, rf, ppy)
        if entry.knowledge_cutoff is not None:
            entry.cutoff = split_at(entry.knowledge_cutoff, list(returns.index), returns.to_numpy(), theirs)
        if entry.run is not None and details:
            entry.holdings = holdings_over_time(entry.run, report.days,
                                                lambda s, d, who=entry.label: marker.close(s, d, who=who))
    done.update(beside_done.result())
    work.attach(done)
    for named, blind in report.blind_pairs:
        if named.perf.cumulative_return is not None and blind.perf.cumulative_return is not None:
            named.blind_gap = blind.blind_gap = named.perf.cumulative_return - blind.perf.cumulative_return
    by_signature: dict[str, list[Entry]] = {}
    for entry in models:
        if entry.repeat is not None and not entry.blind and entry.perf.cumulative_return is not None:
            by_signature.setdefault(entry.signature, []).append(entry)
    for signature, members in by_signature.items():
        if len(members) >= 2:
            members.sort(key=lambda e: e.repeat or 0)
            group = RepeatGroup(signature, [m.label for m in members], [m.perf.cumulative_return or 0.0 for m in members])
            report.groups.append(group)
            for member in members:
                member.group = group
    best = models[0].label if models else None
    report.significance = significance_lines(report.comparison, best)
    if any(e.cutoff and e.cutoff.may_remember for e in models):
        remembered = [e.label for e in models if e.cutoff and e.cutoff.may_remember]
        notes.add(f"{', '.join(remembered)}: part of the window is on or before the training cutoff; "
                  f"{MAY_REMEMBER} (rank on later days only with --post-cutoff)", key="may-remember")
        report.notes = notes.as_list()


def build_report(config: ArenaConfig, out_dir: Path, runs: list[Path], start: date | None, end: date | None,
                 post_cutoff: bool = False, details: bool = True, loading: Loading | None = None,
                 freeze: bool = False) -> Report:
    """Everything the report shows, computed once. `details` (the trades' reasons from the session logs, holdings
    over time) is what only the HTML shows; the other formats leave it out and skip reading the logs.

    Up to the statistics the report only builds what it keeps (arch's modules, prices, ledgers, curves): the cyclic
    garbage collector is paused there, as it would walk them all again and again for nothing (a third of a second
    on ten years, most of it in full collections while scipy is imported). `freeze` (a process that ends with this
    report: the CLI) then moves them out of the collector's sight for good, so the statistics' collections, in
    this process and in the one forked beside it, walk only what the statistics make."""
    with gc_paused():
        report, marker, notes = assemble_report(config, out_dir, runs, start, end, post_cutoff, details, loading)
        if freeze:
            gc.freeze()
    attach_statistics(report, config, marker, notes, details)
    return report


def assemble_report(config: ArenaConfig, out_dir: Path, runs: list[Path], start: date | None, end: date | None,
                    post_cutoff: bool, details: bool, loading: Loading | None) -> tuple[Report, Marker, Notes]:
    """The report up to its statistics: models and benchmarks on one window, with their curves and metrics."""
    # The ledgers are read in a second process (the largest first) while this one parses the prices and imports arch,
    # then this one helps with what is left (the largest left first). `tradearena report` starts that reading before its
    # own imports and hands it in as `loading`.
    loading = loading or start_loading(Path(out_dir), [Path(r) for r in runs])
    notes, folders = loading.notes, loading.folders
    if loading.error is not None:
        raise loading.error
    conventions = Conventions(config.report.periods_per_year, config.report.risk_free_rate)
    calendar = MarketCalendar()
    prices = config.path(config.data.daily_prices)
    hourly = config.path(config.data.hourly_prices) if config.data.hourly_prices else None

    def market(archives: list[Path]):
        return load_market_data(prices, hourly, tuple(config.universe), calendar, extra_daily=archives,
                                members=config.membership)

    # No run folder has a live price archive (the usual case): the prices do not depend on which ledgers load.
    data = market([]) if not archives_in(sorted({d for d, _ in folders}, key=str)) else None
    arch_bootstrap()  # imported now, while the ledgers are still being read
    model_runs = loading.models()
    archives = archives_in(sorted({r.run_dir for r in model_runs}, key=str))
    if data is None:
        data = market(archives)
    for archive in archives:
        notes.add(f"days after the bundled prices are valued with the live price archive {archive}",
                  key=f"archive:{archive}")
    trading_days = data.trading_days()
    marker = Marker(data, notes, config.run.decision_time)

    usable = []
    for run in model_runs:
        _price_file_note(run, config, notes)
        if run.first_day > trading_days[-1] or run.last_day < trading_days[0]:
            notes.add(f"skipped {run.label}: it ran {run.first_day}..{run.last_day}, outside the price file's "
                      f"{trading_days[0]}..{trading_days[-1]}")
            continue
        usable.append(run)
    if not usable:
        raise ReportError(f"no run overlaps the prices in {prices} ({trading_days[0]}..{trading_days[-1]})")

    window = choose_window(usable, trading_days, start, end, notes)
    cutoffs = {r.label: cutoff_for(r, config) for r in usable}
    if post_cutoff:
        window = post_cutoff_window(window, cutoffs, notes)
    if len(window) < conventions.periods_per_year // 4:
        notes.add(f"the window is {len(window)} trading days: annualized return, volatility, Sharpe, Sortino and "
                  "Calmar extrapolate it to a year, so read them as rough indications", key="short-window")
    base_day = base_day_before(window[0], trading_days, calendar)
    notes.add(f"models and benchmarks are measured from the close of {base_day}, the session before the window's "
              f"first ({window[0]}): every curve starts there at its value then", key="convention")
    entries = [model_entry(r, model_curve(r, trading_days, marker, calendar), window, base_day, marker, conventions,
                           details) for r in usable]
    for entry in entries:
        entry.knowledge_cutoff = cutoffs.get(entry.label)

    initial = config.run.initial_cash
    for bench in (qqq_buy_and_hold(base_day, window, initial, marker, notes),
                  equal_weight_universe(list(config.membership.on(window[0])), base_day, window, initial, marker,
                                        notes)):
        if bench is not None:
            entries.append(Entry(label=bench.title, signature=bench.signature, source="benchmark", baseline=False,
                                 benchmark=True, curve=bench.curve, perf=performance(bench.curve.equity, conventions),
                                 description=bench.description, exposure=average_exposure(bench.curve.exposure)))

    entries.sort(key=lambda e: (e.perf.cumulative_return is None, -(e.perf.cumulative_return or 0.0), e.label))
    for rank, entry in enumerate((e for e in entries if not e.benchmark), start=1):
        entry.rank = rank
    folders = sorted({r.run_dir for r in usable}, key=str)
    report = Report(entries=entries, start=window[0], end=window[-1], base_day=base_day, trading_days=len(window),
                    conventions=conventions, notes=notes.as_list(), folders=folders, prices=prices,
                    generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), days=window,
                    post_cutoff=post_cutoff)
    return report, marker, notes
