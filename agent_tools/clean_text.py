"""Text from outside (model output, tool arguments, news, broker messages) made safe to write, once, where it enters.

A provider can send half of an emoji: a lone UTF-16 surrogate (`"\\ud83d"` in JSON) is a valid Python string but
cannot be encoded as UTF-8, so the first writer that meets it (a log line, an HTML report) raises
`UnicodeEncodeError`. Lone surrogates become U+FFFD (a pair split across two escapes is joined back into its
character) and NUL characters are dropped. Readers of files written before this existed clean what they load too.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
# A JSON escape of a surrogate (`\ud83d`, any case): the only way one can sit in a file written with ASCII escapes.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def clean_text(text: str) -> str:
    """The text with lone surrogates replaced by U+FFFD and NUL characters removed; unchanged (fast) when clean."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # utf-16 with surrogatepass joins a valid high+low pair; decoding with "replace" marks what stays unpaired.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", "") if "\x00" in text else text


def clean_data(value: Any) -> Any:
    """`clean_text` applied to every string in a JSON-like value (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_data(k): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean_data(v) for v in value)
    return value


def may_need_cleaning(raw: bytes) -> bool:
    """Whether a raw JSON line could decode to a string with a surrogate or NUL (a cheap test before `clean_data`)."""
    # a backslash first: one byte is found by memchr, 7x faster than `\u` on a ledger line, and most lines have none
    return b"\\" in raw and b"\\u" in raw and (SURROGATE_ESCAPE.search(raw) is not None or b"\\u0000" in raw)


def one_line(text: str, limit: int = 500) -> str:
    """A message fit for one line of a console or a JSONL field: clean, whitespace collapsed, bounded."""
    text = " ".join(clean_text(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
