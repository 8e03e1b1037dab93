"""One interface for every risk rule: look at a proposed order and the account, reject it or let it pass.

A rejection tells the model what would be allowed (the most shares it can afford, the largest order the limit
takes), so it can correct itself. Rules run in order before any fill; a rejection writes nothing to the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from agent_tools.limits import Limits


@dataclass(frozen=True)
class Rejection:
    rule: str
    message: str
    allowed: dict = field(default_factory=dict)


@dataclass
class OrderContext:
    """Everything a rule may look at. Pricing fields are filled in once the symbol and amount are known good."""

    side: str
    symbol: str
    raw_amount: object
    limits: Limits
    instant: datetime
    market_open: bool
    universe: frozenset[str]
    cash: Decimal
    holdings: dict[str, Decimal]
    trades_this_session: int
    quantity: Decimal = Decimal("0")
    fill_price: Decimal = Decimal("0")
    fee: Decimal = Decimal("0")
    equity: Decimal = Decimal("0")
    peak_equity: Decimal = Decimal("0")
    fee_for: Callable[[Decimal], Decimal] = lambda q: Decimal("0")
    priced: bool = False

    @property
    def held(self) -> Decimal:
        return self.holdings.get(self.symbol, Decimal("0"))

    @property
    def step(self) -> Decimal:
        """The smallest tradable quantity: one share, or 1/10000 of one with fractional trading on."""
        return Decimal("0.0001") if self.limits.fractional else Decimal("1")

    def largest(self, fits: Callable[[Decimal], bool], upper: Decimal) -> Decimal:
        """The largest multiple of `step` up to `upper` for which `fits` holds (fits is monotone), 0 if none."""
        lo, hi = 0, int(max(Decimal("0"), upper) / self.step)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(mid * self.step):
                lo = mid
            else:
                hi = mid - 1
        return lo * self.step


class RiskRule(Protocol):
    name: str
    needs_price: bool

    def check(self, order: OrderContext) -> Rejection | None: ...


def fmt_qty(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else str(int(value))
