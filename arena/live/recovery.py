"""Orders an earlier run sent but never booked (a crash, a kill, a poll that never answered): found in the order
journal at session start, followed at Alpaca to a final state (canceled at the order timeout) and booked in the
ledger with their real fills, before the model is asked anything. Run again after the session for anything the
session itself left unconfirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from agent_tools.brokers.alpaca import AlpacaBroker
from agent_tools.brokers.base import BrokerError
from agent_tools.context import SessionContext
from agent_tools.ledger import LedgerState, PositionLedger
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.order_desk import fill_record
from agent_tools.risk.base import fmt_qty

ZERO = Decimal("0")


@dataclass
class Recovery:
    booked: list[dict] = field(default_factory=list)  # ledger records written
    lines: list[str] = field(default_factory=list)  # what happened to each order followed, one line each

    @property
    def note(self) -> str | None:
        if not self.lines:
            return None
        return ("Orders sent by an earlier, interrupted run were followed at the broker before this session and "
                "their real fills booked: " + "; ".join(self.lines) + ". The holdings below include them.")


def _booked(records: list[dict]) -> tuple[Decimal, Decimal]:
    quantity = sum((Decimal(str(r["this_action"]["amount"])) for r in records), ZERO)
    notional = sum((Decimal(str(r["this_action"]["amount"])) * Decimal(str(r.get("price", 0))) for r in records), ZERO)
    return quantity, notional


def recover_orders(broker: AlpacaBroker, ledger: PositionLedger, ctx: SessionContext,
                   now: Callable[[], str]) -> Recovery:
    """Follow every journaled order whose fill the ledger does not hold yet, and book what really filled."""
    done = Recovery()
    if broker.journal is None:
        return done
    for sent in broker.journal.orders():
        if sent.final_status in ("not_placed", "not_ours", "already_sent"):
            continue
        have, have_notional = _booked(ledger.refresh().order_fills.get(sent.client_order_id, []))
        if sent.final_filled is not None and sent.final_filled == have:
            continue  # final and fully booked: no need to ask Alpaca
        what = f"{sent.side} {fmt_qty(sent.quantity)} {sent.symbol} (order {sent.broker_order_id})"
        try:
            fill = broker.follow_up(sent)
        except BrokerError as exc:
            done.lines.append(f"{what}: could not be checked ({exc}); it is checked again next time")
            continue
        if fill is None:
            continue  # it never reached Alpaca, or the id is another order's: nothing of ours to book
        if not fill.confirmed:
            done.lines.append(f"{what}: still not final at Alpaca ({fill.message})")
            continue
        missing = fill.quantity - have
        if missing <= 0:
            if have == 0:
                done.lines.append(f"{what}: {fill.status}, nothing filled")
            continue
        # What is still missing is priced so the booked total matches Alpaca's average price over the whole fill.
        price = ((fill.quantity * fill.price - have_notional) / missing).quantize(Decimal("0.0001"))

        def build(state: LedgerState, sent=sent, fill=fill, missing=missing, price=price) -> dict:
            return fill_record(ledger, state, day=ctx.day.isoformat(), side=sent.side, symbol=sent.symbol,
                               quantity=missing, price=price, fee=fill.fee,
                               time=ctx.instant.astimezone(MARKET_TZ).isoformat(), session_id=sent.session_id,
                               extra={"client_order_id": sent.client_order_id, "order_id": fill.order_id,
                                      "recovered": True, "booked_at": now()})

        record = ledger.append(build)
        assert record is not None
        done.booked.append(record)
        done.lines.append(f"{what}: {fill.status}, {fmt_qty(missing)} filled at ${price} (ledger id {record['id']})")
    return done
