"""Daily equity from a position ledger, marked to market at each session's close.

The position at a day's close is the last ledger record dated that day or earlier, so days without a record (no
session ran, or AI-Trader skipped a day) carry the position. A held symbol with no bar that day is valued at its last
close (said once per symbol); one with no price at all is valued at its last fill price, or 0, with a note.
The curve starts with a base point at the previous session's close holding the first record's position (for a fresh
account, its initial cash), so the first day's return covers the first session's trades.

Money moved into or out of an account (live reconciliation's `deposit`, `withdrawal` and the `cash_flow` of a
`reconcile` record) is not performance: returns are time-weighted. A flow lands at the session's start, before its
trades, so day d's return is value_d / (value_{d-1} + flow_d) - 1, and `Curve.equity` is the account's base value
grown by those returns (what the account would be worth without the flows). `Curve.value` is what it was worth.
Without flows the two are the same series.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from graphlib import CycleError, TopologicalSorter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from agent_tools.market_calendar import MarketCalendar, at_market_time, parse_day
from agent_tools.market_data import MarketData
from reports.notes import Notes
from reports.runs import ModelRun


class Trade(NamedTuple):
    """One fill from a ledger, with what a reader of the report needs (price and fee, the model's reason). A named
    tuple: a ten-year ledger has 30,000 of them, made 4x faster than a frozen dataclass."""

    ledger_id: int
    day: date
    time: str | None
    side: str
    symbol: str
    quantity: float
    price: float | None
    fee: float
    session_id: str | None
    reason: str | None = None
    trigger: str | None = None  # an exit rule's sell (stop_loss, take_profit, trailing_stop); None: the model's

    @property
    def notional(self) -> float:
        return abs(self.quantity) * (self.price or 0.0)


@dataclass
class Curve:
    """At each close: the time-weighted equity (flows taken out; what every return, metric and chart uses), the
    invested share, the account's actual value and the money moved in (+) or out (-) that day. The first point is
    the base (the close before day one)."""

    equity: pd.Series
    exposure: pd.Series
    value: pd.Series | None = None
    flows: pd.Series | None = None

    def __post_init__(self) -> None:
        if self.value is None:
            self.value = self.equity
        if self.flows is None:
            self.flows = pd.Series(0.0, index=self.equity.index, dtype=float)

    def window(self, base_day: date, end: date) -> Curve:
        keep = (self.equity.index >= base_day) & (self.equity.index <= end)
        assert self.value is not None and self.flows is not None
        return Curve(self.equity[keep], self.exposure[keep], self.value[keep], self.flows[keep])

    @property
    def net_flows(self) -> float:
        """Money moved in minus money moved out over the curve's days (the base point's own flows excluded)."""
        assert self.flows is not None
        return float(self.flows.iloc[1:].sum()) if len(self.flows) > 1 else 0.0


def time_weighted(values: list[float], flows: list[float]) -> list[float]:
    """The base value grown by each day's return net of that day's flow (a flow lands before the day's trades)."""
    out = [values[0]]
    for previous, value, flow in zip(values, values[1:], flows[1:], strict=False):
        invested = previous + flow
        growth = value / invested if invested > 0 else 1.0
        out.append(out[-1] * growth)
    return out


class Marker:
    """Prices holdings at a day's close; missing bars are carried forward and said once per symbol."""

    def __init__(self, data: MarketData, notes: Notes, decision_time: time = time(10, 0)):
        self.data = data
        self.notes = notes
        self.decision_time = decision_time
        self._calendar = MarketCalendar()
        self._views: dict[date, Any] = {}
        self._columns: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def close(self, symbol: str, day: date, fallback: float | None = None, who: str = "") -> float:
        bars = self.data.daily.get(symbol)
        if bars is not None:
            i = bisect.bisect_right(bars.days, day) - 1
            if i >= 0:
                if bars.days[i] != day:
                    self.notes.add(
                        f"{symbol} has no close on {day} (held by {who}); its last close ({bars.days[i]}, "
                        f"{bars.close[i]:g}) is carried forward there and on any later gap",
                        key=f"carry:{symbol}",
                    )
                return bars.close[i]
        if fallback is not None:
            self.notes.add(f"{symbol} (held by {who}) has no price in {self.data.daily_path.name} by {day}; "
                           f"valued at its last fill price {fallback:g}", key=f"fill:{symbol}")
            return fallback
        self.notes.add(f"{symbol} (held by {who}) has no price at all; valued at 0", key=f"zero:{symbol}")
        return 0.0

    def _closes(self, symbol: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A symbol's bar days (as ordinals) and closes as arrays, made once per report."""
        if symbol not in self._columns:
            bars = self.data.daily.get(symbol)
            self._columns[symbol] = None if bars is None else (
                np.fromiter(map(date.toordinal, bars.days), dtype=np.int64, count=len(bars.days)),
                np.asarray(bars.close, dtype=float))
        return self._columns[symbol]

    def invested(self, held: list[dict[str, float]], days: list[date]) -> tuple[np.ndarray, np.ndarray]:
        """`added(q * close(s, day) for s, q in holdings.items())` for each day and its holdings, for all days at
        once, and which days that is exact for: every held symbol has a bar that very day (no note to say) and the
        holdings list their symbols in the columns' order (the sum adds in the same order, so it is the same
        float). The caller marks the other days one symbol at a time (`close`)."""
        n = len(days)
        unique: dict[int, int] = {}
        dicts: list[dict[str, float]] = []
        row_of_day = np.empty(n, dtype=np.intp)
        for r, holdings in enumerate(held):
            k = unique.get(id(holdings))
            if k is None:
                k = unique[id(holdings)] = len(dicts)
                dicts.append(holdings)
            row_of_day[r] = k
        key_sets = {tuple(h): None for h in dicts}
        columns = _column_order(key_sets)
        position = {s: j for j, s in enumerate(columns)}
        quantities = np.zeros((len(dicts), len(columns)))
        held_mask = np.zeros((len(dicts), len(columns)), dtype=bool)
        in_order = np.ones(len(dicts), dtype=bool)
        placed: dict[tuple[str, ...], tuple[np.ndarray, bool]] = {}
        for k, holdings in enumerate(dicts):
            keys = tuple(holdings)
            if keys not in placed:
                where = np.fromiter(map(position.__getitem__, keys), dtype=np.intp, count=len(keys))
                placed[keys] = where, bool(np.all(where[1:] > where[:-1]))
            where, ordered = placed[keys]
            quantities[k, where] = np.fromiter(holdings.values(), dtype=float, count=len(keys))
            held_mask[k, where] = True
            in_order[k] = ordered
        ordinals = np.fromiter(map(date.toordinal, days), dtype=np.int64, count=n)
        prices = np.zeros((len(columns), n))
        exact = np.zeros((len(columns), n), dtype=bool)
        for j, symbol in enumerate(columns):
            found = self._closes(symbol)
            if found is None:
                continue
            bar_days, closes = found
            i = np.searchsorted(bar_days, ordinals, side="right") - 1
            at = np.maximum(i, 0)
            exact[j] = (i >= 0) & (bar_days[at] == ordinals) if len(bar_days) else False
            prices[j] = np.where(exact[j], closes[at] if len(bar_days) else 0.0, 0.0)
        held_t = held_mask[row_of_day].T
        terms = np.where(held_t, quantities[row_of_day].T * prices, 0.0)
        total = np.zeros(n)
        for j in range(len(columns)):  # one symbol after another, as the sum over a holdings dict adds them
            total += terms[j]
        ok = in_order[row_of_day] & ~np.any(held_t & ~exact, axis=0)
        return total, ok

    def close_on_or_before(self, symbol: str, day: date) -> float | None:
        """The last close at or before `day`, without a note (None when the symbol has none by then)."""
        bars = self.data.daily.get(symbol)
        if bars is None:
            return None
        i = bisect.bisect_right(bars.days, day) - 1
        return bars.close[i] if i >= 0 else None

    def session_price(self, symbol: str, day: date) -> float | None:
        """The price a session at the decision time trades at that day (the replay's own rule: the open of the
        intraday bar starting then, or the day's open with daily bars only), or None when it has none."""
        from agent_tools.point_in_time import MarketView, ViewError

        if not self.data.hourly:
            return self.open(symbol, day)
        view = self._views.get(day)
        if view is None:
            view = self._views[day] = MarketView(self.data, at_market_time(day, self.decision_time), self._calendar)
        try:
            return view.quote(symbol).price
        except ViewError:
            return None

    def open(self, symbol: str, day: date) -> float | None:
        bars = self.data.daily.get(symbol)
        if bars is None:
            return None
        i = bars.index_of_day(day)
        return bars.open[i] if i is not None else None


def added(terms: Iterable[float]) -> float:
    """The terms added left to right, as `Marker.invested` adds a day's held values. Not `sum()`: from Python 3.12 it
    compensates for rounding, so a day marked one symbol at a time (a missing bar) would differ in its last bits
    from the days marked at once (and the report from the same report on Python 3.11)."""
    total = 0.0
    for term in terms:
        total += term
    return total


def valued(cash: float | list[float], invested: np.ndarray) -> tuple[list[float], list[float]]:
    """Each day's value (cash plus what `Marker.invested` found held) and the invested share of it (0 at no value)."""
    values = np.asarray(cash, dtype=float) + invested
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(values != 0, invested / values, 0.0)
    return values.tolist(), shares.tolist()


def base_day_before(day: date, trading_days: list[date], calendar: MarketCalendar) -> date:
    """The session before `day`: from the price file when it has one, else from the NYSE calendar."""
    i = bisect.bisect_left(trading_days, day)
    if i > 0:
        return trading_days[i - 1]
    previous = calendar.previous_session(day)
    return previous.day if previous is not None else day


def ledger_trades(run: ModelRun, marker: Marker) -> list[Trade]:
    """Every buy and sell in ledger order. AI-Trader records without a price are priced at that day's open."""
    trades = []
    days: dict[object, date] = {}  # a day's fills share its date text: parsed once
    for fill in run.ledger.fills:
        symbol = str(fill.symbol)
        day = days.get(fill.date)
        if day is None:
            day = days[fill.date] = parse_day(str(fill.date)[:10])
        price = fill.price
        if price is None:
            price = marker.open(symbol, day)
        trades.append(Trade(
            ledger_id=int(fill.id), day=day, time=fill.time, side=str(fill.side),
            symbol=symbol, quantity=abs(float(fill.amount or 0)), price=float(price) if price is not None else None,
            fee=float(fill.fee or 0), session_id=fill.session_id, reason=fill.reason, trigger=fill.trigger,
        ))
    return trades


def model_curve(run: ModelRun, trading_days: list[date], marker: Marker, calendar: MarketCalendar) -> Curve:
    """Equity at the close of every trading day from the ledger's first day to its last (or the last price day)."""
    first, last = run.first_day, run.last_day
    days = [d for d in trading_days if first <= d <= last]
    base = base_day_before(first, trading_days, calendar)
    last_fill: dict[str, float] = {}

    def mark(cash: float, holdings: dict[str, float], day: date) -> tuple[float, float]:
        invested = added(q * marker.close(s, day, last_fill.get(s), run.label) for s, q in holdings.items())
        return cash + invested, invested

    ledger_days = run.ledger.days
    assert run.ledger.base is not None
    cash, holdings = run.ledger.base.cash, run.ledger.base.holdings
    value, invested = mark(cash, holdings, base)
    index, equity, exposure, flows = [base], [value], [invested / value if value else 0.0], [0.0]
    # The position at each close, then every close marked at once; the days that need a note (a held symbol without
    # a bar that day) are marked one symbol at a time, in order, with the fill prices known by then.
    cashes: list[float] = []
    held: list[dict[str, float]] = []
    read: list[int] = []  # ledger days taken in by each day's close
    i = 0
    for day in days:
        flow = 0.0
        while i < len(ledger_days) and ledger_days[i].day <= day:
            end = ledger_days[i]
            flow += end.flow
            cash, holdings = end.cash, end.holdings
            i += 1
        cashes.append(cash)
        held.append(holdings)
        read.append(i)
        flows.append(flow)
    total, exact = marker.invested(held, days) if days else (np.zeros(0), np.zeros(0, dtype=bool))
    values_list, shares_list = valued(cashes, total)
    taken = 0
    for r in np.flatnonzero(~exact).tolist():
        while taken < read[r]:
            last_fill.update(ledger_days[taken].fills)
            taken += 1
        values_list[r], invested = mark(cashes[r], held[r], days[r])
        shares_list[r] = invested / values_list[r] if values_list[r] else 0.0
    index += days
    equity += values_list
    exposure += shares_list
    return Curve(pd.Series(time_weighted(equity, flows), index=index, dtype=float),
                 pd.Series(exposure, index=index, dtype=float), pd.Series(equity, index=index, dtype=float),
                 pd.Series(flows, index=index, dtype=float))


def _column_order(key_sets: dict[tuple[str, ...], None]) -> list[str]:
    """Every symbol of these holdings, in an order that keeps each one's own order when there is one (a ledger lists
    its symbols in one order, so there is); else in order of appearance (the days out of order are marked one
    symbol at a time)."""
    order = TopologicalSorter()
    for keys in key_sets:
        for first in keys[:1]:
            order.add(first)
        for before, after in zip(keys, keys[1:], strict=False):
            order.add(after, before)
    try:
        return list(order.static_order())
    except CycleError:
        return list(dict.fromkeys(s for keys in key_sets for s in keys))
