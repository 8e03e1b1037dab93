"""The business logic behind the MCP tools: prices, history, portfolio, news, buy and sell for one bound session.

A desk is built for one SessionContext and never changes it. Every buy or sell is checked by the risk rules and
priced by the fill and fee models under the ledger's lock, then executed by the broker; the ledger is written
only from the broker's confirmed fill. Rejections are raised to the caller and kept in the audit trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from agent_tools.brokers.base import Broker, BrokerError
from agent_tools.context import SessionContext
from agent_tools.fills import FeeModel, FillModel, cents
from agent_tools.ledger import CASH, TRADE_ACTIONS, LedgerState, PositionLedger, json_number
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.news import NewsError, NewsSource
from agent_tools.point_in_time import MAX_HISTORY_DAYS, PriceView, ViewError
from agent_tools.risk import OrderContext, RiskRule, first_rejection
from agent_tools.risk.base import fmt_qty

MAX_PRICE_SYMBOLS = 30


class ToolInputError(ValueError):
    """A tool call the desk refuses; the message goes to the model as-is and nothing is written."""


class TradeRejected(ToolInputError):
    pass


@dataclass
class TradingDesk:
    ctx: SessionContext
    view: PriceView
    ledger: PositionLedger
    broker: Broker
    news: NewsSource
    rules: list[RiskRule]
    fill_model: FillModel
    fee_model: FeeModel
    market_open: bool
    audit_path: Path | None = None
    audit: list[dict] = field(default_factory=list)
    trades_this_session: int = 0
    peak_equity: Decimal = Decimal("0")
    start_position: tuple[Decimal, dict[str, Decimal]] = (Decimal("0"), {})

    def __post_init__(self) -> None:
        check_chronology(self.ledger, self.ctx)
        self._ensure_initialized()
        self.trades_this_session = sum(
            1 for r in self.ledger.records
            if r.get("session_id") == self.ctx.session_id and (r.get("this_action") or {}).get("action") in TRADE_ACTIONS
        )
        self.start_position = self._position_before_today()
        self.peak_equity = self._peak_equity()

    # -- set-up ----------------------------------------------------------------------------------------------
    def _ensure_initialized(self) -> None:
        """A new ledger starts with AI-Trader's id-0 record: the initial cash and no action."""
        def build(state: LedgerState) -> dict | None:
            if state.initialized:
                return None
            return {
                "date": self.ctx.day.isoformat(),
                "positions": self.ledger.positions_snapshot(cents(self.ctx.initial_cash), {}),
                "time": self._now(),
                "session_id": self.ctx.session_id,
            }
        self.ledger.append(build)

    def _position_before_today(self) -> tuple[Decimal, dict[str, Decimal]]:
        """Cash and holdings as they stood when today's session began (before any of today's records)."""
        today = self.ctx.day.isoformat()
        earlier = [d for d in self.ledger.state.by_date if d < today]
        if earlier:
            cash, holdings = self.ledger.state.by_date[max(earlier)]
            return cash, dict(holdings)
        first = self.ledger.records[0]["positions"]
        return Decimal(str(first.get(CASH, 0))), {s: Decimal(str(q)) for s, q in first.items() if s != CASH and q}

    def _peak_equity(self) -> Decimal:
        """Highest equity at any past close (visible closes only) or now: the reference for the drawdown halt."""
        if self.ctx.limits.max_drawdown is None:
            return Decimal("0")
        peak = self.equity()
        by_date = self.ledger.state.by_date
        symbols = {s for _cash, holdings in by_date.values() for s in holdings}
        closes: dict[str, dict[date, float]] = {}
        for symbol in symbols:
            try:
                bars = self.view.completed_daily_bars(symbol)
            except ViewError:
                continue
            closes[symbol] = {b.day: b.close for b in bars}
        for day_text, (cash, holdings) in by_date.items():
            day = date.fromisoformat(day_text)
            if day >= self.ctx.day:
                continue
            value = cash + sum((qty * Decimal(str(closes.get(s, {}).get(day, 0))) for s, qty in holdings.items()), Decimal("0"))
            peak = max(peak, value)
        return peak

    def _now(self) -> str:
        return self.ctx.instant.astimezone(MARKET_TZ).isoformat()

    def _record_audit(self, event: dict) -> None:
        event = {"time": self._now(), "session_id": self.ctx.session_id, **event}
        self.audit.append(event)
        if self.audit_path is not None:
            self.audit_path.parent.mkdir(parents=True, exist_ok=True)
            with self.audit_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event, default=str) + "\n")

    # -- read-only tools ---------------------------------------------------------------------------------------
    def get_price(self, symbols: list[str]) -> dict:
        if isinstance(symbols, str):
            symbols = [s for s in symbols.replace(",", " ").split() if s]
        if not symbols:
            raise ToolInputError("give at least one symbol, e.g. [\"AAPL\", \"NVDA\"]")
        if len(symbols) > MAX_PRICE_SYMBOLS:
            raise ToolInputError(f"at most {MAX_PRICE_SYMBOLS} symbols per call, got {len(symbols)}")
        prices = {}
        for symbol in symbols:
            quote = self._quote(symbol)
            prices[quote.symbol] = {"price": quote.price, "as_of": quote.as_of.isoformat(), "basis": quote.basis}
        return {"time": self._now(), "prices": prices}

    def get_history(self, symbol: str, days: int = 20, end_date: str | None = None) -> dict:
        end_day = None
        if end_date:
            try:
                end_day = date.fromisoformat(end_date)
            except ValueError:
                raise ToolInputError(f"end_date must be YYYY-MM-DD, got {end_date!r}") from None
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
            raise ToolInputError(f"days must be a whole number from 1 to {MAX_HISTORY_DAYS}, got {days!r}")
        try:
            clean = self.view.check_symbol(symbol)
            bars = self.view.daily_history(clean, days, end_day)
        except ViewError as exc:
            raise ToolInputError(str(exc)) from None
        return {"symbol": clean, "time": self._now(), "bars": bars}

    def search_news(self, query: str = "", ticker: str | None = None, limit: int = 5) -> dict:
        if ticker:
            try:
                ticker = self.view.check_symbol(ticker)
            except ViewError as exc:
                raise ToolInputError(str(exc)) from None
        try:
            items = self.news.search(self.ctx.instant, query=query, ticker=ticker, limit=limit)
        except NewsError as exc:
            raise ToolInputError(str(exc)) from None
        return {"time": self._now(), "source": self.news.name, "count": len(items), "items": [i.compact() for i in items]}

    def _quote(self, symbol: str):
        try:
            return self.view.quote(symbol)
        except ViewError as exc:
            raise ToolInputError(str(exc)) from None

    def equity(self, state: LedgerState | None = None) -> Decimal:
        state = state or self.ledger.state
        total = state.cash
        for symbol, qty in state.holdings.items():
            try:
                total += qty * Decimal(str(self.view.quote(symbol).price))
            except ViewError:
                continue
        return total

    def get_portfolio(self) -> dict:
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
        costs = self._average_costs()
        for symbol, row in holdings.items():
            row["weight"] = round(row["market_value"] / float(value), 4) if row["market_value"] and value else 0.0
            cost = costs.get(symbol)
            if cost is not None and row["market_value"] is not None:
                row["avg_cost"] = float(cost.quantize(Decimal("0.0001")))
                row["unrealized_pnl"] = float(cents(Decimal(str(row["market_value"])) - cost * state.holdings[symbol]))
        start_cash, start_holdings = self.start_position
        return {
            "time": self._now(),
            "cash": float(cents(state.cash)),
            "holdings": holdings,
            "total_value": float(cents(value)),
            "cash_weight": round(float(state.cash / value), 4) if value else 1.0,
            "trades_this_session": self.trades_this_session,
            "trades_left": (self.ctx.limits.max_trades_per_session - self.trades_this_session)
            if self.ctx.limits.max_trades_per_session else None,
            "start_of_session": {"cash": float(start_cash), "holdings": {s: json_number(q) for s, q in sorted(start_holdings.items())}},
            "market_open": self.market_open,
        }

    def _average_costs(self) -> dict[str, Decimal]:
        """Average cost per share of each current holding (fees included): one pass over the ledger's fills."""
        books: dict[str, list[Decimal]] = {}  # symbol -> [quantity, cost]
        for record in self.ledger.records:
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

    # -- trading ---------------------------------------------------------------------------------------------
    def _price_order(self, order: OrderContext) -> None:
        quote = self._quote(order.symbol)
        reference = Decimal(str(quote.price))
        order.fill_price = self.fill_model.fill_price(order.side, reference)
        order.fee_for = lambda q: self.fee_model.fee(q, order.fill_price)
        order.fee = order.fee_for(order.quantity)
        order.equity = order.cash + sum(
            (q * (order.fill_price if s == order.symbol else Decimal(str(self._quote(s).price))) for s, q in order.holdings.items()),
            Decimal("0"),
        )
        order.peak_equity = max(self.peak_equity, order.equity)

    def trade(self, side: str, symbol: str, amount: object, reason: str | None = None, call_id: str | None = None) -> dict:
        """Check, fill and record one order; raise TradeRejected with the rule's message when it cannot go through."""
        if side not in TRADE_ACTIONS:
            raise ToolInputError(f"side must be buy or sell, got {side!r}")
        client_order_id = f"{self.ctx.session_id}#{call_id or self.trades_this_session + len(self.audit)}"
        outcome: dict = {}

        def build(state: LedgerState) -> dict | None:
            order = OrderContext(
                side=side, symbol=symbol, raw_amount=amount, limits=self.ctx.limits, instant=self.ctx.instant,
                market_open=self.market_open, universe=frozenset(self.view.universe), cash=state.cash,
                holdings=dict(state.holdings), trades_this_session=self.trades_this_session,
            )
            rejection = first_rejection(self.rules, order, self._price_order)
            if rejection is not None:
                outcome["rejection"] = rejection
                return None
            try:
                fill = self.broker.execute(order, client_order_id)
            except BrokerError as exc:
                outcome["broker_error"] = str(exc)
                return None
            outcome["fill"] = fill
            outcome["order"] = order
            if fill.quantity <= 0:
                return None
            holdings = dict(state.holdings)
            sign = 1 if side == "buy" else -1
            holdings[order.symbol] = holdings.get(order.symbol, Decimal("0")) + sign * fill.quantity
            # The notional is rounded to the cent on its own (as a broker statement does), then the fee is applied.
            cash = cents(state.cash - sign * cents(fill.quantity * fill.price) - fill.fee)
            return {
                "date": self.ctx.day.isoformat(),
                "this_action": {"action": side, "symbol": order.symbol, "amount": json_number(fill.quantity)},
                "positions": self.ledger.positions_snapshot(cash, {s: q for s, q in holdings.items() if q != 0}),
                "price": float(fill.price),
                "fee": float(fill.fee),
                "time": self._now(),
                "session_id": self.ctx.session_id,
                **({"order_id": fill.order_id} if fill.order_id and fill.order_id != client_order_id else {}),
                **({"reason": reason[:500]} if reason else {}),
            }

        record = self.ledger.append(build)
        base = {"side": side, "symbol": symbol, "amount": amount if isinstance(amount, int | float | str) else repr(amount)}
        if "rejection" in outcome:
            rejection = outcome["rejection"]
            self._record_audit({"type": "rejection", **base, "rule": rejection.rule, "message": rejection.message})
            raise TradeRejected(f"{side} rejected ({rejection.rule}): {rejection.message}")
        if "broker_error" in outcome:
            self._record_audit({"type": "broker_error", **base, "message": outcome["broker_error"]})
            raise TradeRejected(f"{side} not sent: {outcome['broker_error']}; nothing was filled")
        fill = outcome["fill"]
        order = outcome["order"]
        if record is None:
            self._record_audit({"type": "not_filled", **base, "status": fill.status, "message": fill.message})
            raise TradeRejected(f"{side} {fmt_qty(order.quantity)} {order.symbol}: order {fill.status}, nothing filled. {fill.message}".strip())
        self.trades_this_session += 1
        self._record_audit({"type": "fill", **base, "status": fill.status, "quantity": float(fill.quantity),
                            "price": float(fill.price), "fee": float(fill.fee), "ledger_id": record["id"]})
        result = {
            "status": fill.status,
            "side": side,
            "symbol": order.symbol,
            "requested": json_number(order.quantity),
            "filled": json_number(fill.quantity),
            "price": float(fill.price),
            "fee": float(fill.fee),
            "cash_after": record["positions"][CASH],
            "holding_after": json_number(self.ledger.state.quantity(order.symbol)),
            "ledger_id": record["id"],
        }
        if fill.quantity < order.quantity:
            result["note"] = f"only {fmt_qty(fill.quantity)} of {fmt_qty(order.quantity)} filled ({fill.status}). {fill.message}".strip()
        return result

    def finish(self) -> dict | None:
        return record_no_trade(self.ledger, self.ctx)


def session_records(ledger: PositionLedger, session_id: str) -> list[dict]:
    return [r for r in ledger.records if r.get("session_id") == session_id and r.get("this_action")]


def record_no_trade(ledger: PositionLedger, ctx: SessionContext) -> dict | None:
    """End of session: a session that left no record of its own writes AI-Trader's `no_trade` record."""
    def build(state: LedgerState) -> dict | None:
        if session_records(ledger, ctx.session_id):
            return None
        return {
            "date": ctx.day.isoformat(),
            "this_action": {"action": "no_trade", "symbol": "", "amount": 0},
            "positions": ledger.positions_snapshot(state.cash, state.holdings),
            "time": ctx.instant.astimezone(MARKET_TZ).isoformat(),
            "session_id": ctx.session_id,
        }
    return ledger.append(build)


def check_chronology(ledger: PositionLedger, ctx: SessionContext) -> None:
    """A replay only moves forward: a session dated before the ledger's last record would rewrite history."""
    last = ledger.state.last_date
    if last is not None and last > ctx.day.isoformat():
        raise ToolInputError(
            f"{ledger.path}: the ledger already has records for {last}, after this session's date {ctx.day}; "
            "use --fresh or another --out folder to replay earlier dates"
        )
