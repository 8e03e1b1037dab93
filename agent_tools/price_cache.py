"""Parsed price columns kept on disk, so a big price CSV file is parsed once, not at every report, replay or tool
server start.

One cache file per price file (named from its resolved path, so a daily-growing archive does not pile up copies) in
the cache folder the calendar uses (`TRADEARENA_CACHE`, default `~/.cache/tradearena`). A cached copy is used only if
it was made from a file with exactly the same bytes (the SHA-256 of the file is recomputed at every load), by this
format and for the same columns, and if its own contents still hash to what was written; anything else is ignored
and the file is parsed again. Only a file that parsed without a problem is cached, so every error still comes from
reading the file itself. Small files are not cached: parsing them is about as fast as checking a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from array import array
from datetime import date, datetime
from pathlib import Path
from typing import Any

from agent_tools.market_calendar import cache_folder
from agent_tools.price_csv import SymbolRows, read_price_columns

FORMAT = 1
MIN_BYTES = 4 << 20  # below this a file is parsed every time
_FIELDS = ("open", "high", "low", "close", "volume")


def read_prices(path: Path, columns: tuple[str, ...], fmt: str, daily: bool) -> dict[str, SymbolRows] | None:
    """A price CSV file's rows by symbol, from the cache when it holds this very file, else parsed (and then cached);
    None if the file needs the careful row-by-row reader (see `price_csv`)."""
    try:
        if path.stat().st_size < MIN_BYTES:
            return read_price_columns(path, columns, fmt, daily)
        with path.open("rb") as handle:  # hashed as it is read: the file's bytes are not all held at once
            rows = load(path, source_key(hashlib.file_digest(handle, "sha256"), columns, fmt), daily)
        if rows is not None:
            return rows
        content = path.read_bytes()  # parsed and keyed from the same bytes, even if the file is being rewritten
    except OSError:
        return None
    rows = read_price_columns(path, columns, fmt, daily, content)
    if rows is not None:
        save(path, source_key(hashlib.sha256(content), columns, fmt), rows)
    return rows


def cache_path(path: Path) -> Path:
    slot = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return cache_folder() / f"prices-{slot}.bin"


def source_key(content: Any, columns: tuple[str, ...], fmt: str) -> str:
    """What a cached copy must have been made from: a file with this SHA-256 (`content`, a hashlib object), read for
    these columns and time format, by this format of cache on a machine of this byte order."""
    digest = content.copy()
    digest.update(json.dumps([FORMAT, sys.byteorder, columns, fmt]).encode())
    return digest.hexdigest()


def load(path: Path, key: str, daily: bool) -> dict[str, SymbolRows] | None:
    """The cached columns of `path` if they were made from `key` and are intact, else None. The arrays are read
    straight from the file (no copy of the whole payload) and hashed as they come."""
    try:
        with cache_path(path).open("rb") as handle:
            header = json.loads(handle.readline())
            if header.get("key") != key:
                return None
            digest = hashlib.sha256()
            columns: list[tuple[str, list[array]]] = []
            for symbol, n in header["symbols"]:
                blocks = [array(code) for code in ("q", "q", "d", "d", "d", "d", "d")]
                for block in blocks:
                    block.fromfile(handle, n)
                    digest.update(block)
                columns.append((symbol, blocks))
            if handle.read(1) or digest.hexdigest() != header["payload"]:
                return None
        return _rows(header["times"], columns, daily)
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError):
        return None


def save(path: Path, key: str, rows: dict[str, SymbolRows]) -> None:
    """Best effort (a read-only cache folder only means the next load parses again); written whole, then renamed."""
    distinct = list(dict.fromkeys(t for r in rows.values() for t in r.times))
    number = {t: i for i, t in enumerate(distinct)}
    blobs = []
    for r in rows.values():
        blobs.append(array("q", map(number.__getitem__, r.times)).tobytes())
        blobs.append(r.lines.tobytes())
        blobs.extend(getattr(r, f).tobytes() for f in _FIELDS)
    payload = b"".join(blobs)
    header = {"key": key, "payload": hashlib.sha256(payload).hexdigest(), "times": [t.isoformat() for t in distinct],
              "symbols": [[s, len(r.times)] for s, r in rows.items()]}
    target = cache_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        scratch.write_bytes(json.dumps(header).encode() + b"\n" + payload)
        os.replace(scratch, target)
    except OSError:
        pass


def _rows(times: list[str], columns: list[tuple[str, list[array]]], daily: bool) -> dict[str, SymbolRows]:
    parse = date.fromisoformat if daily else datetime.fromisoformat
    distinct = [parse(t) for t in times]
    out: dict[str, SymbolRows] = {}
    for symbol, (index, lines, o, h, lo, c, v) in columns:
        rows = out[symbol] = SymbolRows()
        rows.times = list(map(distinct.__getitem__, index))
        rows.lines, rows.open, rows.high, rows.low, rows.close, rows.volume = lines, o, h, lo, c, v
    return out
