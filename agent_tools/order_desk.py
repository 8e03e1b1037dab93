"""Buy and sell: check an order with the risk rules, price it with the fill and fee models, have the broker execute
it, and write the ledger only from the broker's confirmed fill, all under the ledger's lock.

Exactly once: every fill record carries its order's `client_order_id`; an order re-sent under an id the ledger
already holds (a session rerun after a crash) returns the recorded fill and sends nothing, whatever the broker.
The market's hours are checked per order at the clock (a live session may run past the close), and the session's
deadline bounds what the broker may spend on one order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agent_tools.audit import AuditTrail
from agent_tools.brokers.base import Broker, BrokerError
from agent_tools.chronology import chronology_violation
from agent_tools.clean_text import one_line
from agent_tools.context import SessionContext
from agent_tools.errors import ToolInputError, TradeRejected
from agent_tools.fills import FeeModel, FillModel, cents
from agent_tools.ledger import CASH, TRADE_ACTIONS, LedgerState, PositionLedger, json_number
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.point_in_time import Quote
from agent_tools.risk import OrderContext, RiskRule, first_rejection
from agent_tools.risk.base import fmt_qty


@dataclass
class OrderDesk:
    ctx: SessionContext
    ledger: PositionLedger
    broker: Broker
    rules: list[RiskRule]
    fill_model: FillModel
    fee_model: FeeModel
    market_open: Callable[[], bool]
    universe: frozenset[str]
    quote: Callable[[str], Quote]
    audit: AuditTrail
    now: Callable[[], str]
    trades_this_session: int = 0
    peak_equity: Decimal = Decimal("0")
    redact: Callable[[str], str] = str  # removes API keys from what the model wrote (the reason) before it is kept
    deadline: float | None = None  # time.monotonic() at which the session ends; bounds broker order calls

    def _price_order(self, order: OrderContext) -> None:
        quote = self.quote(order.symbol)
        reference = Decimal(str(quote.price))
        order.fill_price = self.fill_model.fill_price(order.side, reference)
        order.fee_for = lambda q: self.fee_model.fee(q, order.fill_price)
        order.fee = order.fee_for(order.quantity)
        order.equity = order.cash + sum(
            (q * (order.fill_price if s == order.symbol else Decimal(str(self.quote(s).price))) for s, q in order.holdings.items()),
            Decimal("0"),
        )
        order.peak_equity = max(self.peak_equity, order.equity)

    def trade(self, side: str, symbol: str, amount: object, reason: str | None = None, call_id: str | None = None,
              tags: dict | None = None) -> dict:
        """Check, fill and record one order; raise TradeRejected with the rule's message when it cannot go through.
        `tags` go into the fill record as they are (an exit rule's `trigger` and `level`)."""
        if side not in TRADE_ACTIONS:
            raise ToolInputError(f"side must be buy or sell, got {side!r}")
        # The session gives every tool call a session-unique id; a client that sends none (an MCP client of
        # `serve-tools`) gets a random one, so two different orders never share a broker order id.
        client_order_id = f"{self.ctx.session_id}#{call_id or uuid.uuid4().hex[:16]}"
        reason = self.redact(reason)[:500] if reason else None
        outcome: dict = {}

        def build(state: LedgerState) -> dict | None:
            recorded = state.order_fills.get(client_order_id)
            if recorded:  # re-sent after a restart: the recorded fill is the answer; nothing is sent again
                outcome["recorded"] = list(recorded)
                return None
            late = chronology_violation(state, self.ctx, self.ledger.path)
            if late:  # another writer moved the ledger past this session since it started
                outcome["chronology"] = late
                return None
            order = OrderContext(
                side=side, symbol=symbol, raw_amount=amount, limits=self.ctx.limits, instant=self.ctx.instant,
                market_open=self.market_open(), universe=self.universe, cash=state.cash,
                holdings=dict(state.holdings), trades_this_session=self.trades_this_session,
            )
            rejection = first_rejection(self.rules, order, self._price_order)
            if rejection is not None:
                outcome["rejection"] = rejection
                return None
            try:
                fill = self.broker.execute(order, client_order_id, self.deadline)
            except BrokerError as exc:
                outcome["broker_error"] = one_line(str(exc))
                return None
            outcome["fill"] = fill
            outcome["order"] = order
            if fill.quantity <= 0:
                return None
            extra = {"client_order_id": client_order_id, **(tags or {})}
            if fill.order_id and fill.order_id != client_order_id:
                extra["order_id"] = fill.order_id
            if fill.quantity < order.quantity:
                extra["requested"] = json_number(order.quantity)
            if reason:
                extra["reason"] = reason
            # `time` is the session's instant (what chronology compares); a live fill also says when it happened.
            stamp = self.ctx.instant.astimezone(MARKET_TZ).isoformat()
            if self.now() != stamp:
                extra["executed_at"] = self.now()
            return fill_record(self.ledger, state, day=self.ctx.day.isoformat(), side=side, symbol=order.symbol,
                               quantity=fill.quantity, price=fill.price, fee=fill.fee, time=stamp,
                               session_id=self.ctx.session_id, extra=extra)

        record = self.ledger.append(build)
        base = {"side": side, "symbol": symbol, "amount": amount if isinstance(amount, int | float | str) else repr(amount),
                "client_order_id": client_order_id}
        if "recorded" in outcome:
            return self._recorded_fill(outcome["recorded"], client_order_id, side, symbol, amount, base)
        if "chronology" in outcome:
            self.audit.record({"type": "rejection", **base, "rule": "chronology", "message": outcome["chronology"]})
            raise ToolInputError(outcome["chronology"])
        if "rejection" in outcome:
            rejection = outcome["rejection"]
            self.audit.record({"type": "rejection", **base, "rule": rejection.rule, "message": rejection.message})
            raise TradeRejected(f"{side} rejected ({rejection.rule}): {rejection.message}")
        if "broker_error" in outcome:
            self.audit.record({"type": "broker_error", **base, "message": outcome["broker_error"]})
            raise TradeRejected(f"{side} not sent: {outcome['broker_error']}; nothing was filled")
        fill = outcome["fill"]
        order = outcome["order"]
        if record is None and not fill.confirmed:
            self.audit.record({"type": "unconfirmed", **base, "status": fill.status, "message": fill.message})
            raise TradeRejected(f"{side} {fmt_qty(order.quantity)} {order.symbol}: order sent, final state not confirmed "
                                f"yet, nothing booked so far. {fill.message}".strip())
        if record is None and fill.status == "already_sent":
            self.audit.record({"type": "already_sent", **base, "status": fill.status, "message": fill.message})
            raise TradeRejected(f"{side} {fmt_qty(order.quantity)} {order.symbol}: not sent again. {fill.message}")
        if record is None:
            self.audit.record({"type": "not_filled", **base, "status": fill.status, "message": fill.message})
            raise TradeRejected(f"{side} {fmt_qty(order.quantity)} {order.symbol}: order {fill.status}, nothing filled. {fill.message}".strip())
        self.trades_this_session += 1
        self.audit.record({"type": "fill", **base, "status": fill.status, "quantity": float(fill.quantity),
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

    def _recorded_fill(self, records: list[dict], client_order_id: str, side: str, symbol: object, amount: object,
                       base: dict) -> dict:
        """The answer to a re-sent order id: its recorded fill if it is the same order, else a refusal."""
        first = records[0]["this_action"]
        requested = records[0].get("requested", first["amount"])
        same = (first["action"] == side and first["symbol"] == str(symbol).strip().upper()
                and _same_amount(amount, requested))
        if not same:
            message = (f"order id {client_order_id} was already used in this session for {first['action']} "
                       f"{requested} {first['symbol']}; an order needs its own id")
            self.audit.record({"type": "rejection", **base, "rule": "duplicate_order_id", "message": message})
            raise TradeRejected(f"{side} rejected (duplicate_order_id): {message}")
        filled = sum((Decimal(str(r["this_action"]["amount"])) for r in records), Decimal("0"))
        notional = sum((Decimal(str(r["this_action"]["amount"])) * Decimal(str(r.get("price", 0))) for r in records),
                       Decimal("0"))
        ids = ", ".join(str(r["id"]) for r in records)
        self.audit.record({"type": "already_filled", **base, "quantity": float(filled), "ledger_ids": ids})
        return {
            "status": "filled" if filled >= Decimal(str(requested)) else "partially_filled",
            "side": side,
            "symbol": first["symbol"],
            "requested": requested,
            "filled": json_number(filled),
            "price": float((notional / filled).quantize(Decimal("0.0001"))) if filled else 0.0,
            "fee": float(sum((Decimal(str(r.get("fee", 0))) for r in records), Decimal("0"))),
            "cash_after": float(self.ledger.state.cash),
            "holding_after": json_number(self.ledger.state.quantity(first["symbol"])),
            "ledger_id": records[-1]["id"],
            "note": (f"this order (id {client_order_id}) was already filled before a restart (ledger id {ids}); "
                     "this is its recorded fill; nothing was sent again"),
        }


def _same_amount(amount: object, recorded: object) -> bool:
    try:
        return Decimal(str(amount)) == Decimal(str(recorded))
    except (InvalidOperation, ValueError):
        return False


def fill_record(ledger: PositionLedger, state: LedgerState, *, day: str, side: str, symbol: str, quantity: Decimal,
                price: Decimal, fee: Decimal, time: str, session_id: str, extra: dict | None = None) -> dict:
    """A fill as a ledger record: AI-Trader's action and positions, then our price, fee, time and session."""
    holdings = dict(state.holdings)
    sign = 1 if side == "buy" else -1
    holdings[symbol] = holdings.get(symbol, Decimal("0")) + sign * quantity
    # The notional is rounded to the cent on its own (as a broker statement does), then the fee is applied.
    cash = cents(state.cash - sign * cents(quantity * price) - fee)
    return {
        "date": day,
        "this_action": {"action": side, "symbol": symbol, "amount": json_number(quantity)},
        "positions": ledger.positions_snapshot(cash, {s: q for s, q in holdings.items() if q != 0}),
        "price": float(price),
        "fee": float(fee),
        "time": time,
        "session_id": session_id,
        **(extra or {}),
    }
