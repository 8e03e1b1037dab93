"""Reconciliation: the broker is the truth. Where the ledger and the account differ, a record sets the ledger's
positions to the broker's and keeps the difference; a new ledger starts from the account.

Money that moved into or out of the account (a deposit, a withdrawal, a paper account reset) is not performance.
Each reconciliation record carries the value of the difference, `cash_flow` (the cash difference plus each holdings
difference at the current price), and a difference in cash alone is written as a `deposit` or `withdrawal` record
(`this_action.amount` in dollars). Reports take these flows out of every return (time-weighted returns).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from agent_tools.brokers.base import BrokerAccount
from agent_tools.context import SessionContext
from agent_tools.fills import CENT, cents
from agent_tools.ledger import CASH_FLOW_ACTIONS, RECONCILE_ACTION, LedgerState, PositionLedger, json_number
from agent_tools.market_calendar import MARKET_TZ

PriceOf = Callable[[str], Decimal | None]


def differences(state: LedgerState, account: BrokerAccount) -> dict:
    """Where the ledger and the broker disagree: cash (to the cent) and every symbol's quantity."""
    diff: dict = {}
    if abs(state.cash - account.cash) >= CENT:
        diff["cash"] = {"ledger": float(state.cash), "broker": float(cents(account.cash))}
    holdings = {}
    for symbol in sorted(set(state.holdings) | set(account.holdings)):
        ours, theirs = state.quantity(symbol), account.holdings.get(symbol, Decimal("0"))
        if ours != theirs:
            holdings[symbol] = {"ledger": json_number(ours), "broker": json_number(theirs)}
    if holdings:
        diff["holdings"] = holdings
    return diff


def flow_value(diff: dict, account: BrokerAccount, price_of: PriceOf | None) -> Decimal:
    """What the difference is worth now: cash difference plus each holdings difference at the current price
    (the market view's, else the broker's position price; a symbol with no price at all counts 0)."""
    value = Decimal("0")
    if "cash" in diff:
        value += Decimal(str(diff["cash"]["broker"])) - Decimal(str(diff["cash"]["ledger"]))
    for symbol, q in diff.get("holdings", {}).items():
        price = (price_of(symbol) if price_of is not None else None) or account.prices.get(symbol) or Decimal("0")
        value += (Decimal(str(q["broker"])) - Decimal(str(q["ledger"]))) * price
    return cents(value)


def describe_difference(diff: dict) -> str:
    parts = [f"{s} {q['ledger']} -> {q['broker']} shares" for s, q in diff.get("holdings", {}).items()]
    if "cash" in diff:
        parts.append(f"cash ${diff['cash']['ledger']:,.2f} -> ${diff['cash']['broker']:,.2f}")
    return ", ".join(parts)


def describe_record(record: dict) -> str:
    """One line for the console and the model: the difference, and the money moved when it is a cash flow."""
    action = (record.get("this_action") or {}).get("action")
    if action in CASH_FLOW_ACTIONS:
        return f"a {action} of ${record['this_action']['amount']:,.2f} ({describe_difference(record['reconcile'])})"
    flow = record.get("cash_flow", 0.0)
    moved = f"; worth ${flow:+,.2f} at current prices, counted as money moved, not as performance" if flow else ""
    return f"{describe_difference(record['reconcile'])}{moved}"


def reconcile(ledger: PositionLedger, account: BrokerAccount, ctx: SessionContext, price_of: PriceOf | None = None,
              time: str | None = None) -> tuple[str, dict | None]:
    """Make the ledger agree with the broker (the truth). Returns (what happened, the record written or None).

    A new ledger starts from the broker's account (its id-0 record); a ledger that differs gets a `deposit` or
    `withdrawal` record (cash alone differs) or a `reconcile` record, with the broker's positions, the difference
    and its value (`cash_flow`). Written under the ledger's lock, like every write.
    """
    outcome = {"kind": "same"}

    def build(state: LedgerState) -> dict | None:
        base = {"date": ctx.day.isoformat(),
                "positions": ledger.positions_snapshot(cents(account.cash), account.holdings)}
        stamp = {"time": time or ctx.instant.astimezone(MARKET_TZ).isoformat(), "session_id": ctx.session_id}
        if not state.initialized:
            outcome["kind"] = "opened"
            return {**base, **stamp, "source": "broker account"}
        diff = differences(state, account)
        if not diff:
            return None
        flow = flow_value(diff, account, price_of)
        if set(diff) == {"cash"}:
            outcome["kind"] = "deposit" if flow > 0 else "withdrawal"
            action = {"action": outcome["kind"], "symbol": "", "amount": float(abs(flow))}
        else:
            outcome["kind"] = "reconciled"
            action = {"action": RECONCILE_ACTION, "symbol": "", "amount": 0}
        return {"date": base["date"], "this_action": action, "positions": base["positions"], **stamp,
                "reconcile": diff, "cash_flow": float(flow)}

    record = ledger.append(build)
    return outcome["kind"], record


def reconcile_note(record: dict) -> str:
    action = (record.get("this_action") or {}).get("action")
    if action in CASH_FLOW_ACTIONS:
        return (f"Your broker account shows {describe_record(record)} since the last session: money moved, not a "
                "gain or loss of yours; the ledger now follows the broker. The cash below is the broker's.")
    return (
        "Reconciliation with your broker account at session start: our ledger differed from the broker, and the "
        f"broker is the truth, so the ledger now follows it ({describe_difference(record['reconcile'])}). "
        "The cash and holdings below are the broker's."
    )
