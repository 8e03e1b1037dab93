"""Fast path for reading a plain, valid price CSV file into per-symbol columns, without a Python step per row.

The file is read in blocks of lines; each block is split on commas in one go, its numeric columns converted with
`float` through `map` and checked column-wise (finite, positive, high and low bracketing the other prices), its time
texts parsed once per distinct text. Anything this path does not handle exactly like `csv.reader` (a quote, a lone
carriage return, a NUL, a blank line, a row of the wrong width, a very long field) or any row that fails a check makes
it answer None: the caller then reads the file the careful way, row by row, which finds and names the first problem.
So the fast path changes speed only, never what is loaded or which error is raised.
"""

from __future__ import annotations

import csv
import gc
import io
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice, pairwise
from operator import ge, itemgetter, le, lt, methodcaller
from pathlib import Path
from typing import Any

_BLOCK_CHARS = 1 << 20  # about 16,000 rows of a daily file per block: the transient strings stay a few MB
_COUNT_COMMAS = methodcaller("count", ",")


class _Fallback(Exception):
    """The file needs the row-by-row reader (unusual format or a bad row)."""


class SymbolRows:
    """One symbol's valid rows of one file, as columns, with the file line of each (for naming duplicates)."""

    __slots__ = ("times", "lines", "open", "high", "low", "close", "volume")

    def __init__(self) -> None:
        self.times: list[Any] = []
        self.lines = array("q")
        self.open, self.high, self.low, self.close, self.volume = (array("d") for _ in range(5))

    def add(self, when: Any, line: int, values: tuple[float, float, float, float, float]) -> None:
        self.times.append(when)
        self.lines.append(line)
        o, h, lo, c, v = values
        self.open.append(o)
        self.high.append(h)
        self.low.append(lo)
        self.close.append(c)
        self.volume.append(v)

    def take(self, order: Iterable[int], into: SymbolRows | None = None) -> SymbolRows:
        """These rows at `order`, appended to `into` (default: a new set)."""
        out = SymbolRows() if into is None else into
        for i in order:
            out.add(self.times[i], self.lines[i], (self.open[i], self.high[i], self.low[i], self.close[i], self.volume[i]))
        return out

    def sort(self) -> tuple[SymbolRows, int | None]:
        """These rows in time order, and the file line of the first repeated time (a duplicate bar), if any."""
        times = self.times
        if all(a < b for a, b in pairwise(times)):
            return self, None
        order = sorted(range(len(times)), key=times.__getitem__)  # stable: equal times stay in file order
        repeats = [max(self.lines[i], self.lines[j]) for i, j in pairwise(order) if times[i] == times[j]]
        return self.take(order), min(repeats) if repeats else None


def read_price_columns(path: Path, columns: tuple[str, ...], fmt: str, daily: bool,
                       content: bytes | None = None) -> dict[str, SymbolRows] | None:
    """The valid rows of a plain price CSV file grouped by symbol in time order, or None if the careful reader must
    judge it. `columns` is (time, symbol, open, high, low, close, volume); `fmt` the time format; `content` the
    file's bytes if they were read already."""
    collecting = gc.isenabled()
    gc.disable()  # the read makes only acyclic objects: cycle collections would walk its big lists again and again
    try:
        return _read(path, columns, fmt, daily, content)
    except (_Fallback, OSError, UnicodeDecodeError, ValueError, OverflowError):
        return None
    finally:
        if collecting:
            gc.enable()


def _blocks(path: Path, content: bytes | None) -> Iterator[list[str]]:
    source = path.open("rb") if content is None else io.BytesIO(content)
    with io.TextIOWrapper(source, encoding="utf-8-sig", newline="") as handle:
        while lines := handle.readlines(_BLOCK_CHARS):
            yield lines


def _check_block(lines: list[str], width: int) -> str:
    """The block's text with '\\n' line ends and no final one; raises _Fallback where csv.reader could differ."""
    text = "".join(lines)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise _Fallback
    if '"' in text or "\x00" in text or "\n\n" in text or text.startswith("\n"):
        raise _Fallback
    if set(map(_COUNT_COMMAS, lines)) != {width - 1} or max(map(len, lines)) > csv.field_size_limit():
        raise _Fallback
    return text[:-1] if text.endswith("\n") else text


def _valid(o: array, h: array, lo: array, c: array, v: array) -> bool:
    """Every row passes the careful reader's checks: all five numbers finite, prices positive, volume not negative,
    high at or above open, low and close, low at or below open and close.

    Fewer passes give the same answer: a NaN fails every comparison, so `high` and `volume` finite (their exact sum
    is) and high >= open, close, low leaves no NaN and no +inf; low > 0 and low <= open, close, high then makes every
    price positive and finite."""
    return (math.isfinite(math.fsum(h)) and math.isfinite(math.fsum(v))
            and all(map(ge, h, o)) and all(map(ge, h, c)) and all(map(ge, h, lo))
            and all(map(le, lo, o)) and all(map(le, lo, c)) and min(lo) > 0 and min(v) >= 0)


def _read(path: Path, columns: tuple[str, ...], fmt: str, daily: bool, content: bytes | None) -> dict[str, SymbolRows]:
    blocks = _blocks(path, content)
    first = next(blocks, None)
    if not first:
        raise _Fallback
    line = first[0]
    line = line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith("\n") else line
    if any(c in line for c in '\r\x00"'):
        raise _Fallback
    header = [name.strip() for name in line.split(",")]
    if any(c not in header for c in columns):
        raise _Fallback
    where = [header.index(c) for c in columns]
    width = len(header)
    codes: dict[str, int] = {}  # symbol -> its number, in order of first appearance
    parsed: dict[str, Any] = {}  # each distinct time text parsed once
    sym = array("l")
    times: list[Any] = []
    numeric = [array("d") for _ in range(5)]
    for lines in _chain_blocks(first[1:], blocks):
        fields = _check_block(lines, width).replace("\n", ",").split(",")
        when_col, sym_col, *num_cols = (fields[w::width] for w in where)
        values = [array("d", map(float, col)) for col in num_cols]  # ValueError: not a number -> careful reader
        if not _valid(*values):
            raise _Fallback
        for symbol in dict.fromkeys(sym_col):
            if symbol not in codes:
                if not symbol.strip():
                    raise _Fallback
                codes[symbol] = len(codes)
        for text in set(when_col).difference(parsed):
            at = datetime.strptime(text, fmt)  # ValueError -> careful reader
            parsed[text] = at.date() if daily else at
        sym.extend(map(codes.__getitem__, sym_col))
        times.extend(map(parsed.__getitem__, when_col))
        for into, col in zip(numeric, values, strict=True):
            into.extend(col)
    return _group(codes, sym, times, numeric)


def _chain_blocks(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    if first:
        yield first
    yield from rest


def _group(codes: dict[str, int], sym: array, times: list[Any], numeric: list[array]) -> dict[str, SymbolRows]:
    """Rows grouped by symbol (in order of first appearance), each group in time order; no repeated time."""
    spans = _even_spans(codes, sym)
    if spans is None:
        order = sorted(range(len(sym)), key=sym.__getitem__)  # stable: file order within a symbol
        counts = Counter(sym)
    out: dict[str, SymbolRows] = {}
    start = 0
    for symbol, code in codes.items():
        if spans is not None:
            span, index = spans[code], None
        else:
            span, index = None, order[start:start + counts[code]]
            start += counts[code]
        at = times[span] if span else list(map(times.__getitem__, index))
        if not all(map(lt, at, islice(at, 1, None))):
            index = sorted(range(span.start, span.stop, span.step) if span else index, key=times.__getitem__)
            span, at = None, list(map(times.__getitem__, index))  # sorted is stable: equal times keep file order
            if not all(map(lt, at, islice(at, 1, None))):
                raise _Fallback  # a duplicate bar: the careful reader names it
        rows = out[symbol] = SymbolRows()
        rows.times = at
        rows.lines = array("q", range(span.start + 2, span.stop + 2, span.step) if span else map((2).__add__, index))
        rows.open, rows.high, rows.low, rows.close, rows.volume = (
            col[span] if span else array("d", itemgetter(*index)(col) if len(index) > 1 else map(col.__getitem__, index))
            for col in numeric)
    return out  # line 1 is the header and there are no blank lines, so row i is on line i + 2


def _even_spans(codes: dict[str, int], sym: array) -> list[slice] | None:
    """Each symbol's rows as a slice, if they are evenly spaced (each day lists the same symbols in the same order,
    as most price files do), else None."""
    spans, covered = [], 0  # rows outside the runs make `covered` fall short
    for code in codes.values():
        first = sym.index(code)
        try:
            step = sym.index(code, first + 1) - first
        except ValueError:
            step = 1
        picked = sym[first::step]
        n = picked.count(code)
        if picked[:n].count(code) != n:  # a gap in the run
            return None
        spans.append(slice(first, first + (n - 1) * step + 1, step))
        covered += n
    return spans if covered == len(sym) else None
