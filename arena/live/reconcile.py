"""Reconciliation: the broker is the truth. Where the ledger and the account differ, a `reconcile` record sets the
ledger's positions to the broker's and keeps the difference; a new ledger starts from the account."""

from __future__ import annotations

from decimal import Decimal

from agent_tools.brokers.base import BrokerAccount
from agent_tools.context import SessionContext
from agent_tools.fills import CENT, cents
from agent_tools.ledger import RECONCILE_ACTION, LedgerState, PositionLedger, json_number
from agent_tools.market_calendar import MARKET_TZ


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


def describe_difference(diff: dict) -> str:
    parts = [f"{s} {q['ledger']} -> {q['broker']} shares" for s, q in diff.get("holdings", {}).items()]
    if "cash" in diff:
        parts.append(f"cash ${diff['cash']['ledger']:,.2f} -> ${diff['cash']['broker']:,.2f}")
    return ", ".join(parts)


def reconcile(ledger: PositionLedger, account: BrokerAccount, ctx: SessionContext) -> tuple[str, dict | None]:
    """Make the ledger agree with the broker (the truth). Returns (what happened, the record written or None).

    A new ledger starts from the broker's account (its id-0 record); a ledger that differs gets a `reconcile`
    record with the broker's positions and the difference. Both under the ledger's lock, like every write.
    """
    outcome = {"kind": "same"}

    def build(state: LedgerState) -> dict | None:
        base = {"date": ctx.day.isoformat(),
                "positions": ledger.positions_snapshot(cents(account.cash), account.holdings)}
        stamp = {"time": ctx.instant.astimezone(MARKET_TZ).isoformat(), "session_id": ctx.session_id}
        if not state.initialized:
            outcome["kind"] = "opened"
            return {**base, **stamp, "source": "broker account"}
        diff = differences(state, account)
        if not diff:
            return None
        outcome["kind"] = "reconciled"
        return {"date": base["date"], "this_action": {"action": RECONCILE_ACTION, "symbol": "", "amount": 0},
                "positions": base["positions"], **stamp, "reconcile": diff}

    record = ledger.append(build)
    return outcome["kind"], record


def reconcile_note(record: dict) -> str:
    return (
        "Reconciliation with your broker account at session start: our ledger differed from the broker, and the "
        f"broker is the truth, so the ledger now follows it ({describe_difference(record['reconcile'])}). "
        "The cash and holdings below are the broker's."
    )

