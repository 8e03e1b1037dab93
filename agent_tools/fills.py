"""How an order is priced: a fill model (slippage) and a fee model (commission), each a small pluggable class.

Money is Decimal throughout: fill prices to 1/10000 of a dollar, fees and cash to the cent (half up), so the
ledger reconciles to the cent however many trades it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

CENT = Decimal("0.01")
PRICE_TICK = Decimal("0.0001")
BPS = Decimal("10000")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class FillModel(Protocol):
    """Turns the decision price (the quote at the instant) into the price an order fills at."""

    def fill_price(self, side: str, reference: Decimal) -> Decimal: ...

    def describe(self) -> str: ...


class FeeModel(Protocol):
    """The commission for a fill of `quantity` shares at `price`."""

    def fee(self, quantity: Decimal, price: Decimal) -> Decimal: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class SlippageFill:
    """Buys fill `bps` above the reference, sells `bps` below it: the cost of crossing the spread and moving the book."""

    bps: Decimal = Decimal("0")

    def fill_price(self, side: str, reference: Decimal) -> Decimal:
        sign = 1 if side == "buy" else -1
        return (reference * (1 + sign * self.bps / BPS)).quantize(PRICE_TICK, rounding=ROUND_HALF_UP)

    def describe(self) -> str:
        return f"fill at the decision price {'+/-' if self.bps else ''}{self.bps} bps slippage"


@dataclass(frozen=True)
class NoFee:
    def fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        return Decimal("0.00")

    def describe(self) -> str:
        return "no commission"


@dataclass(frozen=True)
class PerShareFee:
    """Per-share commission with a minimum per order (Interactive Brokers' fixed tier is $0.005, min $1)."""

    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")

    def fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        if quantity <= 0:
            return Decimal("0.00")
        return cents(max(self.minimum, quantity * self.per_share))

    def describe(self) -> str:
        return f"${self.per_share} per share, minimum ${self.minimum} per order"


@dataclass(frozen=True)
class BpsFee:
    """Commission as basis points of the notional, with a minimum per order."""

    bps: Decimal = Decimal("1")
    minimum: Decimal = Decimal("0")

    def fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        if quantity <= 0:
            return Decimal("0.00")
        return cents(max(self.minimum, quantity * price * self.bps / BPS))

    def describe(self) -> str:
        return f"{self.bps} bps of notional, minimum ${self.minimum} per order"


def build_fill_model(slippage_bps: float) -> FillModel:
    return SlippageFill(Decimal(str(slippage_bps)))


def build_fee_model(model: str, per_share: float = 0.005, minimum: float = 1.0, bps: float = 1.0) -> FeeModel:
    if model == "none":
        return NoFee()
    if model == "per_share":
        return PerShareFee(Decimal(str(per_share)), Decimal(str(minimum)))
    if model == "bps":
        return BpsFee(Decimal(str(bps)), Decimal(str(minimum)))
    raise ValueError(f"unknown fee model {model!r}; use 'none', 'per_share' or 'bps'")
