"""Notes collected while building a report: each said once, then shown in every output format."""

from __future__ import annotations


class Notes:
    """Ordered, de-duplicated messages; a key lets a repeated condition (same symbol, many days) be said once."""

    def __init__(self) -> None:
        self._messages: dict[str, str] = {}

    def add(self, message: str, key: str | None = None) -> None:
        self._messages.setdefault(key or message, message)

    def seen(self, key: str) -> bool:
        return key in self._messages

    def __iter__(self):
        return iter(self._messages.values())

    def __len__(self) -> int:
        return len(self._messages)

    def as_list(self) -> list[str]:
        return list(self._messages.values())
