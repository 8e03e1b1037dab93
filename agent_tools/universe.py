"""The tradable universe through time: which symbols are members on a given day.

Index membership changes (Thomson Reuters replaced ANSYS in the Nasdaq-100 on 2025-07-28), and a replay that lets a
model trade a stock before it joined picks winners with hindsight. An entry is a plain symbol (a member throughout)
or `{"symbol": "TRI", "from": "2025-07-28", "to": null}`; `from` is the first day of membership, `to` the last
(both inclusive, both optional). Before it joins, a symbol is neither shown nor tradable; after it leaves, it is no
longer listed or buyable, but a position in it can still be valued and sold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Member:
    symbol: str
    start: date | None = None
    end: date | None = None

    def active(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def describe(self) -> str:
        if self.start and self.end:
            return f"a member from {self.start} to {self.end}"
        if self.start:
            return f"a member from {self.start}"
        if self.end:
            return f"a member until {self.end}"
        return "a member throughout"


@dataclass(frozen=True)
class Universe:
    members: tuple[Member, ...]

    @classmethod
    def of(cls, symbols: tuple[str, ...] | list[str]) -> Universe:
        return cls(tuple(Member(s) for s in symbols))

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol that is a member on some day, in config order."""
        return tuple(m.symbol for m in self.members)

    @property
    def dated(self) -> bool:
        return any(m.start or m.end for m in self.members)

    def on(self, day: date) -> tuple[str, ...]:
        """The members on `day`, in config order."""
        return tuple(m.symbol for m in self.members if m.active(day))

    def member(self, symbol: str) -> Member | None:
        return next((m for m in self.members if m.symbol == symbol), None)

    def visible(self, day: date) -> tuple[str, ...]:
        """Symbols whose prices may be looked at on `day`: members, and former members (a holder must be able to
        value and sell what it holds). A symbol that has not joined yet is not visible: that would be hindsight."""
        return tuple(m.symbol for m in self.members if m.start is None or m.start <= day)

    def why_not(self, symbol: str, day: date) -> str | None:
        """Why a known symbol is not visible on `day` (None when it is, or when it is not in the list at all)."""
        member = self.member(symbol)
        if member is None or member.start is None or member.start <= day:
            return None
        return f"{symbol} is not in the universe on {day}: it is {member.describe()}"
