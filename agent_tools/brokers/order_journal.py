"""The order journal: every order sent to a real broker, written (flushed and fsync'd) *before* it is sent.

`<out>/<signature>/orders/journal.jsonl`, one JSON line per event:

  {"event": "sent",  "client_order_id", "broker_order_id", "session_id", "side", "symbol", "quantity", "time"}
  {"event": "final", "client_order_id", "status", "filled"}

A process killed between sending an order and booking its fill leaves a `sent` line without a matching booking in
the ledger; the next session start finds it here, follows the order at the broker to a final state (or cancels it)
and books its real fill before the model is asked anything. `final` says the broker confirmed a final state with
that filled quantity; an order whose filled quantity the ledger already holds needs no look-up again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from filelock import FileLock


@dataclass(frozen=True)
class SentOrder:
    client_order_id: str
    broker_order_id: str
    session_id: str
    side: str
    symbol: str
    quantity: Decimal
    time: str
    final_status: str | None = None
    final_filled: Decimal | None = None


class OrderJournal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = FileLock(str(self.path) + ".lock", timeout=60)
        self._sent_ids: set[str] | None = None

    @classmethod
    def for_model(cls, model_dir: Path) -> OrderJournal:
        return cls(Path(model_dir) / "orders" / "journal.jsonl")

    def _append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        with self.lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a torn line from a crash: never glue onto it
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def was_sent(self, client_order_id: str) -> bool:
        """Whether an order with this id was ever sent (by this process or an earlier one)."""
        if self._sent_ids is None:
            self._sent_ids = {o.client_order_id for o in self.orders()}
        return client_order_id in self._sent_ids

    def sent(self, order: SentOrder) -> None:
        if self._sent_ids is not None:
            self._sent_ids.add(order.client_order_id)
        self._append({"event": "sent", "client_order_id": order.client_order_id,
                      "broker_order_id": order.broker_order_id, "session_id": order.session_id, "side": order.side,
                      "symbol": order.symbol, "quantity": str(order.quantity), "time": order.time})

    def final(self, client_order_id: str, status: str, filled: Decimal) -> None:
        self._append({"event": "final", "client_order_id": client_order_id, "status": status, "filled": str(filled)})

    def orders(self) -> list[SentOrder]:
        """Every order sent, in the order first sent, with its last confirmed final state if any."""
        if not self.path.exists():
            return []
        sent: dict[str, SentOrder] = {}
        finals: dict[str, tuple[str, Decimal]] = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                coid = str(record["client_order_id"])
                if record["event"] == "sent" and coid not in sent:
                    sent[coid] = SentOrder(coid, str(record["broker_order_id"]), str(record["session_id"]),
                                           str(record["side"]), str(record["symbol"]), Decimal(record["quantity"]),
                                           str(record.get("time", "")))
                elif record["event"] == "final":
                    finals[coid] = (str(record["status"]), Decimal(record["filled"]))
            except (ValueError, KeyError, TypeError, ArithmeticError):
                continue  # a torn line left by a crash: the ledger and the broker are the truth
        out = []
        for coid, order in sent.items():
            status, filled = finals.get(coid, (None, None))
            out.append(SentOrder(**{**order.__dict__, "final_status": status, "final_filled": filled}))
        return out
