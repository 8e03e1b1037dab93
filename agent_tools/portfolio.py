"""The account as the tools show it: valued at the view's prices, with average costs, the position at the start
of the session, and the peak equity the drawdown halt measures from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from agent_tools.context import SessionContext
from agent_tools.fills import cents
from agent_tools.ledger import CASH, TRADE_ACTIONS, LedgerState, PositionLedger, json_number
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


def average_costs(records: list[dict]) -> dict[str, Decimal]:
    """Average cost per share of each current holding (fees included): one pass over the ledger's fills."""
    books: dict[str, list[Decimal]] = {}  # symbol -> [quantity, cost]
    for record in records:
        action = record.get("this_action") or {}
        if action.get("action") not in TRADE_ACTIONS or "price" not in record:
            continue
        book = books.setdefault(action["symbol"], [Decimal("0"), Decimal("0")])
        amount = Decimal(str(action.get("amount", 0)))
        if action["action"] == "buy":
            book[1] += amount * Decimal(str(record["price"])) + Decimal(str(record.get("fee", 0)))
            book[0] += amount
        elif book[0] > 0:
            book[1] -= book[1] * amount / book[0]
            book[0] -= amount
    return {symbol: cost / qty for symbol, (qty, cost) in books.items() if qty > 0}


def _split(positions: dict) -> tuple[Decimal, dict[str, Decimal]]:
    return Decimal(str(positions.get(CASH, 0))), {s: Decimal(str(q)) for s, q in positions.items() if s != CASH and q}


def position_at_session_start(ledger: PositionLedger, session_id: str) -> tuple[Decimal, dict[str, Decimal]]:
    """Cash and holdings as the session found them: before its first trade (a rerun after a crash sees the start
    it had), but after what was booked for it before the model was asked (a live reconciliation, a deposit, orders
    an earlier run left), so targets are sized from the account as it really is.

    Walks back from the end only as far as the previous session's own records.
    """
    records = ledger.records
    first_trade = None
    for i in range(len(records) - 1, -1, -1):
        action = (records[i].get("this_action") or {}).get("action")
        if records[i].get("session_id") == session_id:
            if action in TRADE_ACTIONS:
                first_trade = i
            continue
        if action in TRADE_ACTIONS or action == "no_trade":
            break
    if first_trade is None or first_trade == 0:
        return ledger.state.cash, dict(ledger.state.holdings)
    return _split(records[first_trade - 1]["positions"])


def peak_equity(ledger: PositionLedger, view: PriceView, ctx: SessionContext) -> Decimal:
    """Highest equity at any past close (visible closes only) or now: the reference for the drawdown halt.

    Money moved in or out since a close is added to that close's value, so a withdrawal is never a drawdown and a
    deposit never hides one."""
    if ctx.limits.max_drawdown is None:
        return Decimal("0")
    peak = equity(ledger.state, view)
    by_date = ledger.state.by_date
    symbols = {s for _cash, holdings in by_date.values() for s in holdings}
    closes: dict[str, dict[date, float]] = {}
    for symbol in symbols:
        try:
            bars = view.completed_daily_bars(symbol)
        except ViewError:
            continue
        closes[symbol] = {b.day: b.close for b in bars}
    flows = ledger.state.flows_by_date
    for day_text, (cash, holdings) in by_date.items():
        day = date.fromisoformat(day_text)
        if day >= ctx.day:
            continue
        value = cash + sum((qty * Decimal(str(closes.get(s, {}).get(day, 0))) for s, qty in holdings.items()), Decimal("0"))
        moved_since = sum((f for d, f in flows.items() if d > day_text), Decimal("0"))
        peak = max(peak, value + moved_since)
    return peak


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
        costs = average_costs(self.ledger.records)
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
