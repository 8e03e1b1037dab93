"""Exit rules that need no model: stop-loss, take-profit and trailing stop per position.

Levels are fractions: `stop_loss` and `take_profit` of the position's average cost (fees included), `trailing_stop`
of the highest price since entry. Defaults come from the config (`exits`, per model `models[].exits`); a model sets
or changes them per position with the `set_exit` tool. Each change is one line of
`<out>/<signature>/position/exits.jsonl` (`time`, `symbol`, the fields set, `session_id`): append-only and stamped
with the session instant, so a replay knows which levels held when. In a call, a field left out (null) keeps its
level and 0 switches that rule off.

`check_bar` says whether a bar hits a level: a bar that opens through the level fills at its open (a gap), one
that crosses it inside fills at the level. Stops are checked before the take-profit (the worse case first when a
bar spans both).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from filelock import FileLock

from agent_tools.errors import ToolInputError
from agent_tools.ledger import record_time

RULES = ("stop_loss", "take_profit", "trailing_stop")
EXITS_FILE = "exits.jsonl"


@dataclass(frozen=True)
class ExitLevels:
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None

    @property
    def any(self) -> bool:
        return any(getattr(self, r) for r in RULES)

    def prices(self, avg_cost: Decimal, peak: Decimal | None = None) -> dict[str, Decimal]:
        """The price each active rule sells at (rounded to the cent)."""
        out: dict[str, Decimal] = {}
        if self.stop_loss:
            out["stop_loss"] = avg_cost * (1 - Decimal(str(self.stop_loss)))
        if self.take_profit:
            out["take_profit"] = avg_cost * (1 + Decimal(str(self.take_profit)))
        if self.trailing_stop:
            out["trailing_stop"] = max(peak or avg_cost, avg_cost) * (1 - Decimal(str(self.trailing_stop)))
        return {k: v.quantize(Decimal("0.01")) for k, v in out.items()}


@dataclass(frozen=True)
class ExitHit:
    rule: str  # stop_loss, take_profit or trailing_stop
    level: Decimal  # the rule's price
    price: Decimal  # the reference the sell fills at before slippage: the level, or the open when it gapped
    gapped: bool


def check_bar(levels: dict[str, Decimal], open_: float, high: float, low: float) -> ExitHit | None:
    """The first exit a bar triggers: a gap through a level at the open fills at the open; else a level crossed
    inside the bar fills at the level. Stops (stop_loss, trailing_stop: the higher one, hit first) before the
    take-profit."""
    o, h, lo = Decimal(str(open_)), Decimal(str(high)), Decimal(str(low))
    stops = sorted(((p, r) for r, p in levels.items() if r != "take_profit"), reverse=True)
    for level, rule in stops:
        if o <= level:
            return ExitHit(rule, level, o, True)
    take = levels.get("take_profit")
    if take is not None and o >= take:
        return ExitHit("take_profit", take, o, True)
    for level, rule in stops:
        if lo <= level:
            return ExitHit(rule, level, level, False)
    if take is not None and h >= take:
        return ExitHit("take_profit", take, take, False)
    return None


def _check_fraction(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolInputError(f"{name} must be a fraction such as 0.08 (8%), or 0 to switch it off")
    if value < 0 or (name != "take_profit" and value >= 1) or value > 100:
        raise ToolInputError(f"{name} {value!r} is out of range: a fraction such as 0.08 (8%)"
                             + ("" if name == "take_profit" else ", below 1") + "; 0 switches it off")
    return float(value)


class ExitBook:
    """The exit levels a model set per position (exits.jsonl), over the config's defaults."""

    def __init__(self, model_dir: Path, defaults: ExitLevels):
        self.path = Path(model_dir) / "position" / EXITS_FILE
        self.defaults = defaults
        self._lines: list[dict] = []
        self._read_at: tuple[int, int] | None = None  # (size, mtime) of the file when `_lines` was read

    def _read(self) -> list[dict]:
        """The file's changes, re-read only when the file changed: another book over the same file (a session's desk
        beside the replay's exit watcher) may have appended since."""
        try:
            stat = self.path.stat()
            now: tuple[int, int] | None = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            now = None
        if now != self._read_at:
            lines: list[dict] = []
            if now is not None:
                for text in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        line = json.loads(text)
                    except json.JSONDecodeError:
                        continue  # a torn last line (a crash mid-write): that change was never confirmed
                    if isinstance(line, dict) and line.get("symbol"):
                        lines.append(line)
            self._lines, self._read_at = lines, now
        return self._lines

    def levels(self, symbol: str, at: datetime | None = None) -> ExitLevels:
        """The levels of `symbol` at instant `at` (default: the latest): defaults, then each change in order."""
        values = {r: getattr(self.defaults, r) for r in RULES}
        for line in self._read():
            if line["symbol"] != symbol:
                continue
            moment = record_time(line.get("time"))
            if at is not None and moment is not None and moment > at:
                break
            for rule in RULES:
                if rule in line:
                    values[rule] = line[rule] or None
        return ExitLevels(**values)

    def set(self, symbol: str, time: str, session_id: str, **rules: object) -> ExitLevels:
        """Record a change (fields given; 0 switches a rule off) and return the levels now in force."""
        changes = {name: _check_fraction(name, rules.get(name)) for name in RULES}
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise ToolInputError("set_exit: give at least one of stop_loss, take_profit, trailing_stop "
                                 "(a fraction such as 0.08; 0 switches it off)")
        line = {"time": time, "symbol": symbol, **changes, "session_id": session_id}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock", timeout=60):
            data = (json.dumps(line) + "\n").encode("utf-8")
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # never glue a change onto a line torn by a crash
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        return self.levels(symbol)
