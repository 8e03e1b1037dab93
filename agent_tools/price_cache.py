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
        content = path.read_bytes()
    except OSError:
        return None
    key = source_key(content, columns, fmt)
    rows = load(path, key, daily)
    if rows is None:
        rows = read_price_columns(path, columns, fmt, daily, content)
        if rows is not None:
            save(path, key, rows)
    return rows


def cache_path(path: Path) -> Path:
    folder = Path(os.environ.get("TRADEARENA_CACHE") or Path.home() / ".cache" / "tradearena")
    slot = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return folder / f"prices-{slot}.bin"


def source_key(content: bytes, columns: tuple[str, ...], fmt: str) -> str:
    """What a cached copy must have been made from: these bytes, read for these columns and time format."""
    digest = hashlib.sha256(content)
    digest.update(json.dumps([FORMAT, sys.byteorder, columns, fmt]).encode())
    return digest.hexdigest()


def load(path: Path, key: str, daily: bool) -> dict[str, SymbolRows] | None:
    """The cached columns of `path` if they were made from `key` and are intact, else None."""
    try:
        data = cache_path(path).read_bytes()
        head, _, payload = data.partition(b"\n")
        header = json.loads(head)
        if header.get("key") != key or hashlib.sha256(payload).hexdigest() != header.get("payload"):
            return None
        return _decode(header, memoryview(payload), daily)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
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


def _decode(header: dict[str, Any], payload: memoryview, daily: bool) -> dict[str, SymbolRows] | None:
    parse = date.fromisoformat if daily else datetime.fromisoformat
    distinct = [parse(t) for t in header["times"]]
    out: dict[str, SymbolRows] = {}
    at = 0
    for symbol, n in header["symbols"]:
        blocks = []
        for code in ("q", "q", "d", "d", "d", "d", "d"):
            block = array(code)
            block.frombytes(payload[at:at + 8 * n])
            if len(block) != n:
                return None
            blocks.append(block)
            at += 8 * n
        rows = out[symbol] = SymbolRows()
        rows.times = list(map(distinct.__getitem__, blocks[0]))
        rows.lines, rows.open, rows.high, rows.low, rows.close, rows.volume = blocks[1:]
    return out if at == len(payload) else None
