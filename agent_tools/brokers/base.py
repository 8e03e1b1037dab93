"""The broker interface: execute one checked order and say exactly what was filled."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from agent_tools.clean_text import one_line
from agent_tools.risk.base import OrderContext


class BrokerError(RuntimeError):
    """The broker could not take the order (network, authentication); nothing was filled."""


@dataclass(frozen=True)
class Fill:
    """What the broker confirmed: status, the quantity really filled (maybe less than asked) and its average price."""

    status: str  # filled, partially_filled, canceled, rejected, expired; "unknown" when the broker never confirmed
    quantity: Decimal
    price: Decimal
    fee: Decimal
    order_id: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        """A broker's message is cleaned where it enters: one line, no lone surrogates."""
        if self.message:
            object.__setattr__(self, "message", one_line(self.message))


    @property
    def confirmed(self) -> bool:
        """The broker confirmed a final state (or a fill): the model can be told what happened as a fact."""
        return self.status != "unknown" or self.quantity > 0


@dataclass(frozen=True)
class BrokerAccount:
    cash: Decimal
    holdings: dict[str, Decimal]
    prices: dict[str, Decimal] = field(default_factory=dict)  # the broker's current price of each position


class Broker(Protocol):
    name: str

    def execute(self, order: OrderContext, client_order_id: str, deadline: float | None = None) -> Fill:
        """Send one checked order and follow it; `deadline` (time.monotonic) is the session's: an order still open
        then is canceled and followed to a final state, never abandoned."""
        ...

    def account(self) -> BrokerAccount | None:
        """The broker's own view of cash and positions, or None when the ledger is the account (simulated)."""
        ...
