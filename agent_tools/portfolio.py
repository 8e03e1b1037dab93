"""The account as the tools show it: valued at the view's prices, with average costs, the position at the start
of the session, and the peak equity the drawdown halt measures from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from agent_tools.context import SessionContext
from agent_tools.fills import cents
from agent_tools.ledger import LedgerState, PositionLedger, json_number
from agent_tools.point_in_time import PriceView, ViewError


def equity(state: LedgerState, view: PriceView) -> Decimal:
    """Cash plus holdings at the view's latest prices (a holding without a price is left out)."""
    total = state.cash
    for symbol, qty in state.holdings.items():
        try:
            total += qty * Decimal(str(view.quote(symbol).price))
        except ViewError:
            continue
    return total


def position_at_session_start(ledger: PositionLedger, session_id: str) -> tuple[Decimal, dict[str, Decimal]]:
    """Cash and holdings as the session found them (see `LedgerState.position_at_session_start`): O(1)."""
    return ledger.state.position_at_session_start(session_id)


class PeakTracker:
    """The highest value the account had at a past close, kept up to date as days close.

    A ledger watcher: when a record opens a new date, the previous date's closing position is valued at that day's
    closes (a holding without a close that day counts 0) and folded into the best so far, so asking for the peak
    costs O(holdings) whatever the ledger's length. `close(symbol, day)` is the session view's (set per session).
    Money moved in or out after a close counts as if it had been there at that close (so a withdrawal is never a
    drawdown and a deposit never hides one): closes are kept net of the flows up to them, and the flows so far are
    added back when asked.
    """

    KEY = "peak"

    def __init__(self, close: Callable[[str, date], float | None]):
        self.close = close
        self.best: Decimal | None = None  # the best past close, net of the flows up to it
        # the latest date (it may still change): date, cash, holdings, flows up to its latest record
        self.open_day: tuple[str, Decimal, dict[str, Decimal], Decimal] | None = None
        self.flows = Decimal("0")

    def __call__(self, _record: dict, state: LedgerState) -> None:
        if self.open_day is not None and state.last_date != self.open_day[0]:
            value = self._net_value(*self.open_day)
            self.best = value if self.best is None else max(self.best, value)
        self.open_day = (state.last_date or "", state.cash, state.holdings, state.flows_total)
        self.flows = state.flows_total

    def _net_value(self, day_text: str, cash: Decimal, holdings: dict[str, Decimal], flows: Decimal) -> Decimal:
        day = date.fromisoformat(day_text[:10])
        value = cash + sum((qty * Decimal(str(self.close(s, day) or 0)) for s, qty in holdings.items()), Decimal("0"))
        return value - flows

    def peak(self, before: date, now: Decimal) -> Decimal:
        """The highest of `now` and every close before the day `before` (plus the money moved in since it)."""
        best = self.best
        if self.open_day is not None and self.open_day[0][:10] < before.isoformat():
            value = self._net_value(*self.open_day)
            best = value if best is None else max(best, value)
        return now if best is None else max(now, best + self.flows)

    @classmethod
    def on(cls, ledger: PositionLedger, view: PriceView) -> PeakTracker:
        """The ledger's tracker, now pricing with this view; the first one replays the file once."""
        tracker = ledger.trackers.get(cls.KEY)
        if tracker is None:
            tracker = cls(view.close_on)
            ledger.watch(tracker, replay=True)
            ledger.trackers[cls.KEY] = tracker
        tracker.close = view.close_on
        return tracker


def peak_equity(ledger: PositionLedger, view: PriceView, ctx: SessionContext) -> Decimal:
    """Highest equity at any past close (visible closes only) or now: the reference for the drawdown halt.

    Money moved in or out since a close is added to that close's value, so a withdrawal is never a drawdown and a
    deposit never hides one."""
    if ctx.limits.max_drawdown is None:
        return Decimal("0")
    return PeakTracker.on(ledger, view).peak(ctx.day, equity(ledger.state, view))


@dataclass
class PortfolioView:
    """`get_portfolio`: what the model holds now, what it is worth, what it cost, and how the session started."""

    ctx: SessionContext
    view: PriceView
    ledger: PositionLedger
    start_position: tuple[Decimal, dict[str, Decimal]]

    def report(self, now: str, trades_this_session: int, market_open: bool) -> dict:
        state = self.ledger.refresh()
        holdings = {}
        value = state.cash
        for symbol, qty in sorted(state.holdings.items()):
            try:
                price = Decimal(str(self.view.quote(symbol).price))
            except ViewError:
                price = None
            market_value = qty * price if price is not None else None
            if market_value is not None:
                value += market_value
            holdings[symbol] = {"quantity": json_number(qty), "price": float(price) if price is not None else None,
                                "market_value": float(cents(market_value)) if market_value is not None else None}
        costs = state.average_costs()
        for symbol, row in holdings.items():
            row["weight"] = round(row["market_value"] / float(value), 4) if row["market_value"] and value else 0.0
            cost = costs.get(symbol)
            if cost is not None and row["market_value"] is not None:
                row["avg_cost"] = float(cost.quantize(Decimal("0.0001")))
                row["unrealized_pnl"] = float(cents(Decimal(str(row["market_value"])) - cost * state.holdings[symbol]))
        start_cash, start_holdings = self.start_position
        limit = self.ctx.limits.max_trades_per_session
        return {
            "time": now,
            "cash": float(cents(state.cash)),
            "holdings": holdings,
            "total_value": float(cents(value)),
            "cash_weight": round(float(state.cash / value), 4) if value else 1.0,
            "trades_this_session": trades_this_session,
            "trades_left": (limit - trades_this_session) if limit else None,
            "start_of_session": {"cash": float(start_cash),
                                 "holdings": {s: json_number(q) for s, q in sorted(start_holdings.items())}},
            "market_open": market_open,
        }
