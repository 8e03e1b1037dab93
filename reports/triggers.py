"""Sessions, trades and cost per trigger type (scheduled, event:price_move, ...), and the trades exit rules made
apart from the model's (`exit:stop_loss`, ...): what each kind of trigger cost and did."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reports.equity import Trade

SCHEDULED = "scheduled"


def trigger_type(trigger: object) -> str:
    """`event:price_move:NVDA` -> `event:price_move`: the type, without the symbol it fired for."""
    text = str(trigger or SCHEDULED)
    return ":".join(text.split(":")[:2])


@dataclass
class TriggerRow:
    sessions: int = 0
    trades: int = 0
    cost: float = 0.0
    tokens: int = 0

    def as_dict(self) -> dict:
        return {"sessions": self.sessions, "trades": self.trades, "cost": round(self.cost, 6), "tokens": self.tokens}


def by_trigger(sessions: Iterable[dict], trades: Iterable[Trade]) -> dict[str, TriggerRow]:
    """Per trigger type: sessions, the trades they made (counted from the ledger), cost and tokens; exit rules'
    trades under `exit:<rule>` with no session and no cost (no model was asked)."""
    rows: dict[str, TriggerRow] = {}
    kind_of: dict[str, str] = {}
    for session in sessions:
        kind = trigger_type(session.get("trigger"))
        kind_of[str(session.get("session_id"))] = kind
        row = rows.setdefault(kind, TriggerRow())
        row.sessions += 1
        row.cost += float(session.get("cost") or 0)
        row.tokens += int(session.get("prompt_tokens") or 0) + int(session.get("completion_tokens") or 0)
    for trade in trades:
        kind = f"exit:{trade.trigger}" if trade.trigger else kind_of.get(str(trade.session_id), SCHEDULED)
        rows.setdefault(kind, TriggerRow()).trades += 1
    order = {SCHEDULED: 0}
    return dict(sorted(rows.items(), key=lambda item: (order.get(item[0], 1 if item[0].startswith("event") else 2),
                                                        item[0])))


def worth_showing(breakdowns: Iterable[dict[str, TriggerRow]]) -> bool:
    """The table is shown when some model had more than the one scheduled kind of trigger."""
    return any(set(rows) - {SCHEDULED} for rows in breakdowns)
