"""The short leaderboard printed at the end of a run: final value marked at the last close, and return.

One marking everywhere in a replay: holdings at the close of the day (the last close on or before it), the same
for the progress display after each session and for the leaderboard at the end.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from agent_tools.ledger import LedgerError, LedgerState, read_ledger
from agent_tools.market_data import MarketData


@dataclass(frozen=True)
class Standing:
    signature: str
    final_value: float
    initial_value: float
    baseline: bool

    @property
    def total_return(self) -> float:
        return self.final_value / self.initial_value - 1 if self.initial_value else 0.0


def close_on_or_before(data: MarketData, symbol: str, day: date) -> float | None:
    series = data.daily.get(symbol)
    if series is None:
        return None
    i = bisect.bisect_right(series.days, day) - 1
    return series.close[i] if i >= 0 else None


def value_at_close(state: LedgerState, data: MarketData, day: date) -> Decimal:
    """Cash plus holdings marked at the close of `day` (a symbol without a bar that day: its last close before)."""
    return state.cash + sum(
        (q * Decimal(str(close_on_or_before(data, s, day) or 0)) for s, q in state.holdings.items()), Decimal("0")
    )


def standings(out_dir: Path, signatures: list[str], data: MarketData, day: date, baselines: set[str],
              problems: dict[str, str] | None = None) -> list[Standing]:
    """Rows best first; a model whose ledger cannot be read is left out and named in `problems` with the reason."""
    rows = []
    for signature in signatures:
        path = out_dir / signature / "position" / "position.jsonl"
        try:
            ledger = read_ledger(path)
        except LedgerError as exc:
            if problems is not None:
                problems[signature] = str(exc)
            continue
        if ledger.state.first_position is None:
            continue
        initial = float(ledger.state.first_position[0])
        rows.append(Standing(signature, float(value_at_close(ledger.state, data, day)), initial, signature in baselines))
    return sorted(rows, key=lambda r: r.total_return, reverse=True)
