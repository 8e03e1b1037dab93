"""The broker interface: execute one checked order and say exactly what was filled."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from agent_tools.clean_text import one_line
from agent_tools.risk.base import OrderContext


class BrokerError(RuntimeError):
    """The broker could not take the order (network, authentication); nothing was filled."""


@dataclass(frozen=True)
class Fill:
    """What the broker confirmed: status, the quantity really filled (maybe less than asked) and its average price."""

    status: str  # filled, partially_filled, canceled, rejected, expired
    quantity: Decimal
    price: Decimal
    fee: Decimal
    order_id: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        """A broker's message is cleaned where it enters: one line, no lone surrogates."""
        if self.message:
            object.__setattr__(self, "message", one_line(self.message))


@dataclass(frozen=True)
class BrokerAccount:
    cash: Decimal
    holdings: dict[str, Decimal]


class Broker(Protocol):
    name: str

    def execute(self, order: OrderContext, client_order_id: str) -> Fill: ...

    def account(self) -> BrokerAccount | None:
        """The broker's own view of cash and positions, or None when the ledger is the account (simulated)."""
        ...
