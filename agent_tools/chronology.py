"""What a session may write given what the ledger already holds: time only moves forward, one no_trade per session."""

from __future__ import annotations

from agent_tools.context import SessionContext
from agent_tools.errors import ToolInputError
from agent_tools.ledger import LedgerState, PositionLedger
from agent_tools.market_calendar import MARKET_TZ


def session_records(ledger: PositionLedger, session_id: str) -> list[dict]:
    """The buys and sells a session wrote (`this_action` of each), from the ledger's state: O(1) in its length."""
    return ledger.state.session_actions(session_id)


def record_no_trade(ledger: PositionLedger, ctx: SessionContext) -> dict | None:
    """End of session: a session that left no record of its own writes AI-Trader's `no_trade` record."""
    def build(state: LedgerState) -> dict | None:
        if state.session(ctx.session_id).actions or chronology_violation(state, ctx):
            return None
        return {
            "date": ctx.day.isoformat(),
            "this_action": {"action": "no_trade", "symbol": "", "amount": 0},
            "positions": ledger.positions_snapshot(state.cash, state.holdings),
            "time": ctx.instant.astimezone(MARKET_TZ).isoformat(),
            "session_id": ctx.session_id,
        }
    return ledger.append(build)


def chronology_violation(state: LedgerState, ctx: SessionContext, path: object = "the ledger") -> str | None:
    """Why this session may not write to a ledger in this state, or None. Compared by instant, not date: a 10:00
    session must not run after a 15:00 session of the same day and trade on its fills. Records without a usable
    `time` (AI-Trader's) are compared by date."""
    if state.last_time is not None:
        if state.last_time > ctx.instant:
            return (f"{path}: the ledger already has a record at {state.last_time.astimezone(MARKET_TZ).isoformat()}, "
                    f"after this session's instant {ctx.instant.astimezone(MARKET_TZ).isoformat()}; use --fresh or "
                    "another --out folder to replay earlier times")
        return None
    last = state.last_date
    if last is not None and last > ctx.day.isoformat():
        return (f"{path}: the ledger already has records for {last}, after this session's date {ctx.day}; "
                "use --fresh or another --out folder to replay earlier dates")
    return None


def check_chronology(ledger: PositionLedger, ctx: SessionContext) -> None:
    """A replay only moves forward: a session before the ledger's last record would rewrite history."""
    why = chronology_violation(ledger.state, ctx, ledger.path)
    if why:
        raise ToolInputError(why)
