"""The position ledger: `<out>/<signature>/position/position.jsonl`, append-only, in AI-Trader's format and more.

Each line: `date`, `id`, `this_action: {action, symbol, amount}`, `positions: {<every symbol>: qty, CASH: cash}`,
plus our `price`, `fee`, `time` (ISO with offset) and `session_id`. The first record (id 0) has no action, as in
AI-Trader. A write is one line, flushed and fsync'd, under a file lock, with ids strictly increasing; a torn last
line left by a crash is reported on load, never merged. The latest position lives in memory; other writers'
lines are picked up (by byte offset) under the lock before each append, so two processes never clash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from filelock import FileLock

from agent_tools.clean_text import clean_data, may_need_cleaning

CASH = "CASH"
TRADE_ACTIONS = ("buy", "sell")
# Live sessions: the broker is the truth. A `reconcile` record sets positions to the broker's and keeps the
# difference under "reconcile": {"cash": {"ledger", "broker"}, "holdings": {symbol: {"ledger", "broker"}}}.
RECONCILE_ACTION = "reconcile"
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


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(f"not a number: {value!r}")
    return Decimal(str(value))


def json_number(value: Decimal) -> int | float:
    """Whole quantities as ints (AI-Trader's style), others as floats; values carry at most a few decimals."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class LedgerState:
    """The latest position and what the loader learned on the way (ids, per-day closing positions)."""

    last_id: int = -1
    cash: Decimal = Decimal("0")
    holdings: dict[str, Decimal] = field(default_factory=dict)
    last_date: str | None = None
    last_time: datetime | None = None  # the latest record instant (records without a usable `time` leave it)
    by_date: dict[str, tuple[Decimal, dict[str, Decimal]]] = field(default_factory=dict)
    session_ids: set[str] = field(default_factory=set)
    order_fills: dict[str, list[dict]] = field(default_factory=dict)  # client_order_id -> its fill records
    flows_by_date: dict[str, Decimal] = field(default_factory=dict)  # money moved in (+) or out (-) per date
    session_trades: dict[str, int] = field(default_factory=dict)  # session id -> its buy and sell records
    records: int = 0

    @property
    def initialized(self) -> bool:
        return self.last_id >= 0

    def quantity(self, symbol: str) -> Decimal:
        return self.holdings.get(symbol, Decimal("0"))

    def apply(self, record: dict, where: str) -> None:
        """Take one parsed record as the new latest position, checking what makes the ledger trustworthy."""
        try:
            record_id = int(record["id"])
            positions = record["positions"]
            date = str(record["date"])
            cash = to_decimal(positions.get(CASH, 0))
            holdings = {str(s): to_decimal(q) for s, q in positions.items() if s != CASH and to_decimal(q) != 0}
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise LedgerCorrupted(f"{where}: not a ledger record ({type(exc).__name__}: {exc}); fix or remove that line") from None
        if record_id <= self.last_id:
            raise LedgerCorrupted(f"{where}: id {record_id} does not increase (previous id {self.last_id}); ids must be strictly increasing")
        self.last_id = record_id
        self.cash = cash
        self.holdings = holdings
        self.last_date = date
        moment = record_time(record.get("time"))
        if moment is not None and (self.last_time is None or moment > self.last_time):
            self.last_time = moment
        self.by_date[date] = (cash, dict(holdings))
        if record.get("session_id"):
            self.session_ids.add(str(record["session_id"]))
        flow = cash_flow_of(record)
        if flow and self.records:  # the first record is the starting position, not a flow
            self.flows_by_date[date] = self.flows_by_date.get(date, Decimal("0")) + Decimal(str(flow))
        if (record.get("this_action") or {}).get("action") in TRADE_ACTIONS and record.get("session_id"):
            sid = str(record["session_id"])
            self.session_trades[sid] = self.session_trades.get(sid, 0) + 1
        if record.get("client_order_id"):
            self.order_fills.setdefault(str(record["client_order_id"]), []).append(record)
        self.records += 1


def record_time(value: Any) -> datetime | None:
    """A record's `time` as an aware instant, or None (AI-Trader's records have none; a naive one is not used)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class PositionLedger:
    """One model's ledger file. Load once; `append` is the only way to write."""

    def __init__(self, path: Path, universe: tuple[str, ...] = (), read_only: bool = False):
        self.path = Path(path)
        self.universe = universe
        self.read_only = read_only
        self.lock = FileLock(str(self.path) + ".lock", timeout=120)
        self.state = LedgerState()
        self._offset = 0
        self.records: list[dict] = []
        if read_only:
            self._sync()
        else:
            with self.lock:
                self._sync()

    @classmethod
    def for_signature(cls, out_dir: Path, signature: str, universe: tuple[str, ...] = ()) -> PositionLedger:
        path = Path(out_dir) / signature / "position" / "position.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, universe)

    # -- reading -------------------------------------------------------------------------------------------------
    def _sync(self) -> None:
        """Read whatever was appended since our offset (by us or another process); refuse a torn or shrunk file."""
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
            handle.seek(self._offset)
            chunk = handle.read()
        line_no = len(self.records) + 1
        if not chunk.endswith(b"\n"):
            last_line = line_no + chunk.count(b"\n")
            from arena.commands import cli_command  # how to call us from a fresh shell (the CLI's concern)

            raise LedgerCorrupted(
                f"{self.path} line {last_line}: torn last line (a write cut off by a crash); nothing was loaded. "
                f"Move it aside with `{cli_command('repair-ledger', self.path)}` and rerun"
            )
        parsed: list[tuple[dict, str]] = []
        for raw in chunk.split(b"\n")[:-1]:
            where = f"{self.path} line {line_no}"
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise LedgerCorrupted(f"{where}: not valid JSON; fix or remove that line") from None
            if not isinstance(record, dict):
                raise LedgerCorrupted(f"{where}: not a JSON object")
            if may_need_cleaning(raw):  # a reason holding half an emoji, written before text was cleaned
                record = clean_data(record)
            parsed.append((record, where))
            line_no += 1
        # Check every new line on a scratch state first, so a bad line merges nothing (not even the lines before it).
        scratch = LedgerState(last_id=self.state.last_id)
        for record, where in parsed:
            scratch.apply(record, where)
        for record, where in parsed:
            self.state.apply(record, where)
            self.records.append(record)
        self._offset = size

    def refresh(self) -> LedgerState:
        if self.read_only:
            self._sync()
            return self.state
        with self.lock:
            self._sync()
        return self.state

    # -- writing -------------------------------------------------------------------------------------------------
    def positions_snapshot(self, cash: Decimal, holdings: dict[str, Decimal]) -> dict[str, int | float]:
        """Every universe symbol (zeros included, as AI-Trader lists them), any other holding, then CASH."""
        positions: dict[str, int | float] = {s: json_number(holdings.get(s, Decimal("0"))) for s in self.universe}
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


def read_ledger(path: Path) -> PositionLedger:
    """Open any ledger for reading (ours or AI-Trader's); a missing file is an error naming it."""
    path = Path(path)
    if not path.exists():
        raise LedgerError(f"{path}: no position ledger here; expected <run>/<signature>/position/position.jsonl")
    return PositionLedger(path, read_only=True)
