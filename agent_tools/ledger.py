"""The position ledger: `<out>/<signature>/position/position.jsonl`, append-only, in AI-Trader's format and more.

Each line: `date`, `id`, `this_action: {action, symbol, amount}`, `positions: {<every symbol>: qty, CASH: cash}`,
plus our `price`, `fee`, `time` (ISO with offset) and `session_id`. The first record (id 0) has no action, as in
AI-Trader. A write is one line, flushed and fsync'd, under a file lock, with ids strictly increasing; a torn last
line left by a crash is reported on load, never merged. Other writers' lines are picked up (by byte offset) under
the lock before each append, so two processes never clash.

The file is the single source of truth; in memory lives only what the tools ask about, kept up to date record by
record as lines are read or appended (`LedgerState`): the latest position, the position a session
started from, average costs, flows, per-session tallies and the latest session's trades. So a session or a tool call costs the same
whatever the ledger's length, and a load is one streaming pass that keeps the state, never the records. Readers that
need more (reports, the drawdown peak) watch the records go by (`watchers`) and keep their own digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import compress
from operator import is_not, ne, or_
from pathlib import Path
from typing import Any

from filelock import FileLock

from agent_tools.clean_text import clean_data, may_need_cleaning
from agent_tools.json_lines import loads

CASH = "CASH"
TRADE_ACTIONS = ("buy", "sell")
# Live sessions: the broker is the truth. A `reconcile` record sets positions to the broker's and keeps the
# difference under "reconcile": {"cash": {"ledger", "broker"}, "holdings": {symbol: {"ledger", "broker"}}}.
RECONCILE_ACTION = "reconcile"
ZERO = Decimal("0")
PLAIN_NUMBERS = frozenset((int, float))  # quantities the fast path of `LedgerState._holdings` takes (bool is not one)
CHECKPOINT_VERSION = 1
CHECKPOINT_EVERY = 1000  # records past the last checkpoint before opening a writable ledger writes a new one
ORDER_FILL_KEYS = ("id", "this_action", "price", "fee", "requested")  # what a re-sent order's answer reads
# Money moved into or out of the account (found by reconciliation): `amount` is dollars; every reconciliation record
# also carries `cash_flow`, the signed value of the difference. Reports take flows out of returns.
CASH_FLOW_ACTIONS = ("deposit", "withdrawal")


def cash_flow_of(record: dict) -> float:
    """The money a record moved into (+) or out of (-) the account, not earned by trading; 0 for any other record."""
    if "cash_flow" in record:
        try:
            return float(record["cash_flow"])
        except (TypeError, ValueError):
            return 0.0
    action = record.get("this_action") or {}
    if action.get("action") in CASH_FLOW_ACTIONS:
        amount = abs(float(action.get("amount") or 0))
        return amount if action["action"] == "deposit" else -amount
    return 0.0


class LedgerError(ValueError):
    """The ledger cannot be read or written safely; the message names the file, the line and the fix."""


class LedgerCorrupted(LedgerError):
    pass


NUMBER_TYPES = (int, float, str, Decimal)  # what `to_decimal` takes (a tuple: `int | float | ...` is rebuilt per call)


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, NUMBER_TYPES):
        raise TypeError(f"not a number: {value!r}")
    return Decimal(str(value))


def json_number(value: Decimal) -> int | float:
    """Whole quantities as ints (AI-Trader's style), others as floats; values carry at most a few decimals."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class SessionTally:
    """What one session wrote: its records, those with an action, and its buys and sells."""

    records: int = 0
    actions: int = 0
    trades: int = 0


@dataclass(slots=True)
class Entry:
    """One record as the state takes it: checked, with its position as Decimals (zero holdings left out)."""

    record: dict
    id: int
    date: str
    cash: Decimal
    holdings: dict[str, Decimal]
    time: datetime | None


@dataclass
class LedgerState:
    """What the tools need from a ledger, updated record by record (nothing here grows with the records but the
    per-session tallies, a few integers per session)."""

    last_id: int = -1
    cash: Decimal = ZERO
    holdings: dict[str, Decimal] = field(default_factory=dict)
    last_date: str | None = None
    last_time: datetime | None = None  # the latest record instant (records without a usable `time` leave it)
    flows_total: Decimal = ZERO  # money moved in (+) or out (-) since the first record (`cash_flow_of`)
    # client_order_id -> its fills, each slimmed to what a re-sent order is answered with (never the positions)
    order_fills: dict[str, list[dict]] = field(default_factory=dict)
    records: int = 0
    first_position: tuple[Decimal, dict[str, Decimal]] | None = None  # the id-0 record's (the starting account)
    books: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # symbol -> (quantity, cost) of fills
    sessions: dict[str, SessionTally] = field(default_factory=dict)
    tail_session: str | None = None  # the session of the latest record with an action
    tail_actions: list[dict] = field(default_factory=list)  # that session's buys and sells, in order
    start_session: str | None = None  # the session of the latest trade or `no_trade` record
    start_position: tuple[Decimal, dict[str, Decimal]] | None = None  # before that session's first trade
    _raw_positions: dict = field(default_factory=dict, repr=False)  # the latest record's positions as read
    # What `_holdings` made last: (positions, their keys, values and value types, the holdings it returned)
    _seen: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def initialized(self) -> bool:
        return self.last_id >= 0

    @property
    def session_ids(self) -> set[str]:
        return set(self.sessions)

    def quantity(self, symbol: str) -> Decimal:
        return self.holdings.get(symbol, ZERO)

    def session(self, session_id: str) -> SessionTally:
        return self.sessions.get(session_id) or SessionTally()

    def session_actions(self, session_id: str) -> list[dict]:
        """The buys and sells (`this_action`) a session wrote, in order. Kept for the latest session only: a
        session can write (or resume) only while no later session has written (chronology), so only it asks."""
        return list(self.tail_actions) if session_id == self.tail_session else []

    def average_costs(self) -> dict[str, Decimal]:
        """Average cost per share of each current holding (fees included), from every fill so far."""
        return {symbol: cost / qty for symbol, (qty, cost) in self.books.items() if qty > 0}

    # -- checkpoint ------------------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        """Everything kept, as JSON (Decimals as exact strings); `records` first, so a reader finds it early."""
        def pos(p: tuple[Decimal, dict[str, Decimal]] | None) -> list | None:
            return None if p is None else [str(p[0]), {s: str(q) for s, q in p[1].items()}]

        return {
            "records": self.records, "last_id": self.last_id, "cash": str(self.cash),
            "holdings": {s: str(q) for s, q in self.holdings.items()}, "last_date": self.last_date,
            "last_time": self.last_time.isoformat() if self.last_time else None,
            "first_position": pos(self.first_position), "flows_total": str(self.flows_total),
            "books": {s: [str(q), str(c)] for s, (q, c) in self.books.items()},
            "sessions": {sid: [t.records, t.actions, t.trades] for sid, t in self.sessions.items()},
            "tail_session": self.tail_session, "tail_actions": self.tail_actions, "order_fills": self.order_fills,
            "start_session": self.start_session, "start_position": pos(self.start_position),
            "raw_positions": self._raw_positions,
        }

    @classmethod
    def from_json(cls, raw: dict) -> LedgerState:
        def pos(p: list | None) -> tuple[Decimal, dict[str, Decimal]] | None:
            return None if p is None else (Decimal(p[0]), {s: Decimal(q) for s, q in p[1].items()})

        return cls(
            last_id=int(raw["last_id"]), cash=Decimal(raw["cash"]),
            holdings={s: Decimal(q) for s, q in raw["holdings"].items()}, last_date=raw["last_date"],
            last_time=datetime.fromisoformat(raw["last_time"]) if raw["last_time"] else None,
            records=int(raw["records"]), first_position=pos(raw["first_position"]),
            flows_total=Decimal(raw["flows_total"]),
            books={s: (Decimal(q), Decimal(c)) for s, (q, c) in raw["books"].items()},
            sessions={sid: SessionTally(*t) for sid, t in raw["sessions"].items()},
            tail_session=raw["tail_session"], tail_actions=list(raw["tail_actions"]),
            order_fills={k: list(v) for k, v in raw["order_fills"].items()},
            start_session=raw["start_session"], start_position=pos(raw["start_position"]),
            _raw_positions=dict(raw["raw_positions"]),
        )

    # -- taking records --------------------------------------------------------------------------------------------
    def check(self, record: dict, where: str, last_id: int) -> Entry:
        """One parsed record checked for what makes the ledger trustworthy (a position, an id that increases)."""
        try:
            record_id = int(record["id"])
            positions = record["positions"]
            date = str(record["date"])
            cash = to_decimal(positions.get(CASH, 0))
            holdings = self._holdings(positions)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise LedgerCorrupted(f"{where}: not a ledger record ({type(exc).__name__}: {exc}); fix or remove that line") from None
        if record_id <= last_id:
            raise LedgerCorrupted(f"{where}: id {record_id} does not increase (previous id {last_id}); ids must be strictly increasing")
        return Entry(record, record_id, date, cash, holdings, record_time(record.get("time")))

    def _holdings(self, positions: dict) -> dict[str, Decimal]:
        """Non-zero holdings as Decimals; a quantity unchanged since the previous record reuses its Decimal (a
        trade changes one symbol of a hundred, so a long ledger loads without converting every number again)."""
        out = self._changed_holdings(positions)
        if out is not None:
            self._raw_positions = positions
            return out
        previous, known = self._raw_positions, self.holdings
        out = {}
        for symbol, qty in positions.items():
            if symbol == CASH:
                continue
            kind = type(qty)
            if kind is int or kind is float:
                if qty == 0:
                    continue
                old = previous.get(symbol)
                if type(old) is kind and old == qty and symbol in known:
                    out[str(symbol)] = known[symbol]
                    continue
            value = to_decimal(qty)
            if value != 0:
                out[str(symbol)] = value
        self._raw_positions = positions
        self._remember(positions, list(positions), list(positions.values()), out)
        return out

    def _remember(self, positions: dict, keys: list, values: list, out: dict[str, Decimal]) -> None:
        """Keep what the fast path compares the next record with, when it could take this one: text symbols and
        plain int or float quantities only."""
        kinds = list(map(type, values))
        plain = PLAIN_NUMBERS.issuperset(kinds) and all(type(key) is str for key in keys)
        self._seen = (positions, keys, values, kinds, out) if plain else None

    def _changed_holdings(self, positions: dict) -> dict[str, Decimal] | None:
        """`_holdings` of a record listing the same symbols in the same order as the one `_holdings` saw last (as
        every line of our ledgers does), with int or float quantities: the symbols whose value or type changed are
        found by C-level comparisons and only they are converted; anything else is None (the plain loop decides).
        The result is the plain loop's: same keys in the same order, same Decimals (int 1 and float 1.0 differ)."""
        seen = self._seen
        if seen is None or seen[0] is not self._raw_positions or seen[4] is not self.holdings:
            return None  # the state moved on without us (a checkpoint, a merge that was given up)
        _, keys, values, kinds, known = seen
        new_keys = list(positions)
        if new_keys != keys:
            return None
        new_values = list(positions.values())
        new_kinds = list(map(type, new_values))
        if new_kinds == kinds:  # the usual line: only values changed (kinds were plain numbers already)
            changed = compress(keys, map(ne, new_values, values))
        elif PLAIN_NUMBERS.issuperset(new_kinds):  # 1 -> 1.0 is a change too (Decimal("1.0") is not "1")
            changed = compress(keys, map(or_, map(ne, new_values, values), map(is_not, new_kinds, kinds)))
        else:
            return None
        updates: dict[str, Decimal] = {}
        gone: list[str] = []
        appeared = False
        for symbol in changed:
            if symbol == CASH:
                continue
            qty = positions[symbol]
            if qty:  # non-zero (NaN too), as the plain loop keeps it
                updates[symbol] = Decimal(str(qty))
                appeared = appeared or symbol not in known
            elif symbol in known:
                gone.append(symbol)
        if appeared:  # a new holding takes its place in the ledger's order
            merged = {**known, **updates}
            nonzero = dict(compress(positions.items(), new_values))
            nonzero.pop(CASH, None)
            out = dict(zip(nonzero, map(merged.__getitem__, nonzero), strict=True))
        else:
            out = dict(known)
            for symbol in gone:
                del out[symbol]
            out.update(updates)
        self._seen = (positions, new_keys, new_values, new_kinds, out)
        return out

    def take(self, entry: Entry) -> None:
        """Make a checked record the latest position and update everything kept about the ledger."""
        record = entry.record
        before = (self.cash, self.holdings)
        self.last_id = entry.id
        self.cash = entry.cash
        self.holdings = entry.holdings
        self.last_date = entry.date
        if entry.time is not None and (self.last_time is None or entry.time > self.last_time):
            self.last_time = entry.time
        if self.first_position is None:
            self.first_position = (entry.cash, entry.holdings)
        self._raw_positions = record["positions"]
        action = record.get("this_action") or {}
        kind = action.get("action") if isinstance(action, dict) else None
        if kind in TRADE_ACTIONS and "price" in record:
            self._book(kind, action, record)
        if self.records:  # the first record is the starting position, not a flow
            flow = cash_flow_of(record)
            if flow:
                self.flows_total += Decimal(str(flow))
        if record.get("client_order_id"):
            slim = {k: record[k] for k in ORDER_FILL_KEYS if k in record}
            self.order_fills.setdefault(str(record["client_order_id"]), []).append(slim)
        session_id = record.get("session_id")
        if kind in TRADE_ACTIONS or kind == "no_trade":
            self._mark_session_start(str(session_id) if session_id else None, kind, before)
        if session_id:
            tally = self.sessions.get(str(session_id))
            if tally is None:
                tally = self.sessions[str(session_id)] = SessionTally()
            tally.records += 1
            if action:
                tally.actions += 1
                if str(session_id) != self.tail_session:
                    self.tail_session, self.tail_actions = str(session_id), []
            if kind in TRADE_ACTIONS:
                tally.trades += 1
                self.tail_actions.append(dict(action))
        self.records += 1

    def _mark_session_start(self, session_id: str | None, kind: str, before: tuple[Decimal, dict[str, Decimal]]) -> None:
        """Keep the position before the first trade of the latest session that traded or passed, counted since the
        previous session's last trade or `no_trade` (records between, such as reconciliations, do not end it)."""
        if session_id is not None and session_id == self.start_session:
            if kind in TRADE_ACTIONS and self.start_position is None:
                self.start_position = before
            return
        self.start_session = session_id
        self.start_position = before if kind in TRADE_ACTIONS and self.records else None

    def position_at_session_start(self, session_id: str) -> tuple[Decimal, dict[str, Decimal]]:
        """Cash and holdings as the session found them: before its first trade (a rerun after a crash sees the
        start it had), but after what was booked for it before the model was asked (a live reconciliation, a
        deposit, orders an earlier run left), so targets are sized from the account as it really is."""
        if session_id == self.start_session and self.start_position is not None:
            cash, holdings = self.start_position
            return cash, dict(holdings)
        return self.cash, dict(self.holdings)

    def _book(self, kind: str, action: dict, record: dict) -> None:
        """Average cost: a buy adds its notional and fee; a sell takes out its share of the cost."""
        symbol = action["symbol"]
        qty, cost = self.books.get(symbol, (ZERO, ZERO))
        amount = Decimal(str(action.get("amount", 0)))
        if kind == "buy":
            cost += amount * Decimal(str(record["price"])) + Decimal(str(record.get("fee", 0)))
            qty += amount
        elif qty > 0:
            cost -= cost * amount / qty
            qty -= amount
        self.books[symbol] = (qty, cost)

    def apply(self, record: dict, where: str) -> None:
        """Check one parsed record and take it as the new latest position."""
        self.take(self.check(record, where, self.last_id))


def record_time(value: Any) -> datetime | None:
    """A record's `time` as an aware instant, or None (AI-Trader's records have none; a naive one is not used)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


Watcher = Callable[[dict, LedgerState], None]


class PositionLedger:
    """One model's ledger file. Load once; `append` is the only way to write.

    `watchers` see every record as it is taken (after the state moved), in file order: a reader keeps what it needs
    in one pass instead of holding the records.
    """

    def __init__(self, path: Path, universe: tuple[str, ...] = (), read_only: bool = False,
                 watchers: list[Watcher] | None = None):
        self.path = Path(path)
        self.universe = universe
        self.read_only = read_only
        self.lock = FileLock(str(self.path) + ".lock", timeout=120)
        self.state = LedgerState()
        self.watchers: list[Watcher] = list(watchers or [])
        self.trackers: dict[str, Any] = {}  # readers' digests kept up to date by watchers (e.g. the drawdown peak)
        self._offset = 0
        self._checkpoint_records = 0  # records in the checkpoint this ledger was restored from (0: none usable)
        if read_only:
            self._sync()
        else:
            with self.lock:
                self._sync()
                self._keep_checkpoint()

    @classmethod
    def for_signature(cls, out_dir: Path, signature: str, universe: tuple[str, ...] = ()) -> PositionLedger:
        path = Path(out_dir) / signature / "position" / "position.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, universe)

    # -- reading -------------------------------------------------------------------------------------------------
    def _sync(self) -> None:
        """Read whatever was appended since our offset (by us or another process); refuse a torn or shrunk file.

        A first load streams the file and keeps only the state; later chunks (usually a line) are checked whole
        before any of their lines is taken, so a bad line merges nothing, not even the lines before it.
        """
        if not self.path.exists():
            if self._offset:
                raise LedgerCorrupted(f"{self.path}: the ledger disappeared while in use; restore it from backup")
            return
        size = self.path.stat().st_size
        if size < self._offset:
            raise LedgerCorrupted(f"{self.path}: the ledger shrank while in use (another program truncated it)")
        if size == self._offset:
            return
        with self.path.open("rb") as handle:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                self._torn(handle, size)
            first = self._offset == 0
            if first and not self.watchers:
                self._restore(handle, size)
            handle.seek(self._offset)
            lines = _lines(handle, size - self._offset)
            if first:
                self._load(lines)
            else:
                self._merge(lines)
        self._offset = size

    # -- checkpoint ----------------------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.path.with_name(self.path.name + ".checkpoint")

    def _restore(self, handle: Any, size: int) -> None:
        """Start from the checkpoint when it matches the ledger: its length is not past the end and the bytes up to
        it hash the same. Anything else (missing, unreadable, another file's, edited since) is ignored."""
        try:
            saved = json.loads(self.checkpoint_path.read_text(encoding="utf-8"))
            length = saved["length"]
            if saved.get("version") != CHECKPOINT_VERSION or not isinstance(length, int) or not 0 < length <= size:
                return
            handle.seek(0)
            if _sha256(handle, length) != saved["sha256"]:
                return
            state = LedgerState.from_json(saved["state"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError):
            return
        self.state, self._offset, self._checkpoint_records = state, length, state.records

    def _keep_checkpoint(self) -> None:
        """Write a checkpoint when the ledger has grown CHECKPOINT_EVERY records past the last one (best effort,
        written whole then renamed; the ledger stays the only truth and a stale checkpoint is only slower)."""
        if self.watchers or self.state.records - self._checkpoint_records < CHECKPOINT_EVERY:
            return
        try:
            with self.path.open("rb") as handle:
                digest = _sha256(handle, self._offset)
            body = {"version": CHECKPOINT_VERSION, "length": self._offset, "sha256": digest,
                    "state": self.state.to_json()}
            scratch = self.checkpoint_path.with_name(f"{self.checkpoint_path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
            os.replace(scratch, self.checkpoint_path)
        except OSError:
            pass

    def _torn(self, handle: Any, size: int) -> None:
        handle.seek(self._offset)
        newlines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        from arena.commands import cli_command  # how to call us from a fresh shell (the CLI's concern)

        raise LedgerCorrupted(
            f"{self.path} line {self.state.records + newlines + 1}: torn last line (a write cut off by a crash); "
            f"nothing was loaded. Move it aside with `{cli_command('repair-ledger', self.path)}` and rerun"
        )

    def _parse(self, raw: bytes, line_no: int) -> tuple[dict, str]:
        where = f"{self.path} line {line_no}"
        try:
            record = loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise LedgerCorrupted(f"{where}: not valid JSON; fix or remove that line") from None
        if not isinstance(record, dict):
            raise LedgerCorrupted(f"{where}: not a JSON object")
        if may_need_cleaning(raw):  # a reason holding half an emoji, written before text was cleaned
            record = clean_data(record)
        return record, where

    def _take(self, entry: Entry) -> None:
        self.state.take(entry)
        for watch in self.watchers:
            watch(entry.record, self.state)

    def _load(self, lines: Iterator[bytes]) -> None:
        """The first read (after a checkpoint, if any): one streaming pass; on a bad line nothing stays loaded."""
        state, watchers = self.state, self.watchers
        try:
            for n, raw in enumerate(lines, state.records + 1):
                record, where = self._parse(raw, n)
                state.take(state.check(record, where, state.last_id))
                for watch in watchers:  # `_take`, inlined: this loop runs once per line of a ten-year ledger
                    watch(record, state)
        except BaseException:
            self.state = LedgerState()
            raise

    def _merge(self, lines: Iterator[bytes]) -> None:
        """Lines appended since the last read: every one checked before any is taken."""
        state = self.state
        saved_raw, saved_holdings = state._raw_positions, state.holdings
        entries: list[Entry] = []
        last_id = state.last_id
        try:
            for n, raw in enumerate(lines, state.records + 1):
                record, where = self._parse(raw, n)
                entry = state.check(record, where, last_id)
                # the next line's unchanged quantities are compared with this one's
                state._raw_positions, state.holdings = record["positions"], entry.holdings
                entries.append(entry)
                last_id = entry.id
        finally:
            state._raw_positions, state.holdings = saved_raw, saved_holdings
        for entry in entries:
            self._take(entry)

    def refresh(self) -> LedgerState:
        if self.read_only:
            self._sync()
            return self.state
        with self.lock:
            self._sync()
        return self.state

    def watch(self, watcher: Watcher, replay: bool = True) -> None:
        """Add a watcher; with `replay` it first sees every record already in the file (one streaming pass)."""
        if replay:
            for record, state in self.replay():
                watcher(record, state)
        self.watchers.append(watcher)

    def replay(self, upto: int | None = None) -> Iterator[tuple[dict, LedgerState]]:
        """The records up to our offset again, each with the state as it stood after it (a scratch state, so the
        ledger's own state is untouched); streaming, nothing kept."""
        end = self._offset if upto is None else upto
        scratch = LedgerState()
        with self.path.open("rb") as handle:
            for n, raw in enumerate(_lines(handle, end), 1):
                record, where = self._parse(raw, n)
                scratch.apply(record, where)
                yield record, scratch

    # -- writing -------------------------------------------------------------------------------------------------
    def positions_snapshot(self, cash: Decimal, holdings: dict[str, Decimal]) -> dict[str, int | float]:
        """Every universe symbol (zeros included, as AI-Trader lists them), any other holding, then CASH."""
        positions: dict[str, int | float] = {s: json_number(holdings.get(s, ZERO)) for s in self.universe}
        for symbol, qty in holdings.items():
            if symbol not in positions and qty != 0:
                positions[symbol] = json_number(qty)
        positions[CASH] = float(cash)
        return positions

    def append(self, build: Callable[[LedgerState], dict | None]) -> dict | None:
        """Under the lock: catch up with the file, let `build` turn the current state into a record, write it.

        `build` sees the state exactly as it is on disk and returns the record without its id (or None to write
        nothing). The line is written whole, flushed and fsync'd before the in-memory state moves.
        """
        if self.read_only:
            raise LedgerError(f"{self.path}: opened read-only")
        with self.lock:
            self._sync()
            record = build(self.state)
            if record is None:
                return None
            record = {"date": record["date"], "id": self.state.last_id + 1, **{k: v for k, v in record.items() if k != "date"}}
            line = (json.dumps(record, separators=(", ", ": ")) + "\n").encode("utf-8")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise LedgerError(f"{self.path}: short write ({written} of {len(line)} bytes); disk full?")
                os.fsync(fd)
            finally:
                os.close(fd)
            self._sync()
            return record

    def append_record(self, record: dict) -> dict:
        """Append a fully built record (id assigned here)."""
        written = self.append(lambda _state: record)
        assert written is not None
        return written


def _sha256(handle: Any, length: int) -> str:
    """The SHA-256 of the next `length` bytes of an open file."""
    digest, remaining = hashlib.sha256(), length
    while remaining > 0:
        block = handle.read(min(1 << 20, remaining))
        if not block:
            raise ValueError("file shorter than expected")
        digest.update(block)
        remaining -= len(block)
    return digest.hexdigest()


def _lines(handle: Any, length: int) -> Iterator[bytes]:
    """The complete lines in the next `length` bytes of an open file, read a block at a time."""
    remaining, rest = length, b""
    while remaining > 0:
        block = handle.read(min(1 << 20, remaining))
        if not block:
            break
        remaining -= len(block)
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def repair_torn_tail(path: Path) -> str:
    """Move a torn last line into `<ledger>.torn` and truncate the ledger to its last complete line."""
    path = Path(path)
    with FileLock(str(path) + ".lock", timeout=30):
        data = path.read_bytes()
        if not data or data.endswith(b"\n"):
            return f"{path}: no torn line; nothing changed"
        cut = data.rfind(b"\n") + 1
        torn = data[cut:]
        with open(str(path) + ".torn", "ab") as aside:
            aside.write(torn + b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        with open(path, "r+b") as handle:
            handle.truncate(cut)
            handle.flush()
            os.fsync(handle.fileno())
    return f"{path}: moved a torn line of {len(torn)} bytes to {path.name}.torn"


def read_ledger(path: Path, watchers: list[Watcher] | None = None) -> PositionLedger:
    """Open any ledger for reading (ours or AI-Trader's); a missing file is an error naming it. `watchers` see each
    record once, as it is read."""
    path = Path(path)
    if not path.exists():
        raise LedgerError(f"{path}: no position ledger here; expected <run>/<signature>/position/position.jsonl")
    return PositionLedger(path, read_only=True, watchers=watchers)
