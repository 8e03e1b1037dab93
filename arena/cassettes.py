"""Cassettes: every chat-completions request and its outcome, one line as it happens, so a run can be replayed free.

`<out>/<signature>/cassettes/<date>.jsonl` holds one line per model call of that day: the request body (model id,
parameters, messages, tools; never a header, every configured secret redacted), the response body as the provider
sent it, or the error the call failed with after its retries, the usage and what the call cost. A line is keyed by
the sha256 of the whole request and the sample index (the repeat number, 0 outside `--repeats`), so the same request
finds the same answer wherever it sits in the file.

Every call resends the conversation so far, so a line stores its request compactly (a session's cassette grows
linearly, not with the square of its steps): `messages` holds only the messages after `messages_from` (the first
`messages_from` are the previous line's of the same session), and the tool schemas appear once per file, on the
first line with their `tools_sha256`. `full_requests(path)` rebuilds every request exactly as it was sent.

Replaying (`run --replay-from DIR`), each request is looked up in DIR's cassette of the same model and day:
- found: the recorded answer comes back without touching the network, and the line is copied into this run's own
  cassette marked `replayed` (spent 0), so a replayed folder is complete and can be replayed in turn;
- asked more often than recorded (a rerun of a failed session asks its first question again): the last recorded
  answer for that key, as a cache would;
- recorded as cut off by the session's time limit (`timeout`): the call times out again, at once;
- missing: strict replay (the default) fails the call with a `CassetteMiss` naming the session and step, and the
  run loop stops that model's stream; `--on-miss call` asks the provider and records the answer.

Money actually spent (live calls, not replayed ones) is also appended to `<out>/<signature>/spend.jsonl`, one small
line per paid call, so spending caps survive a crash and a rerun without re-reading the cassettes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from arena.models.base import ModelError, Usage
from arena.repeats import repeat_dir
from arena.session_log import Redactor

CASSETTES = "cassettes"
SPEND_FILE = "spend.jsonl"


class CassetteMiss(ModelError):
    """Strict replay: the cassette holds no answer to this request (nothing was sent to the provider)."""


def canonical(request: dict[str, Any]) -> str:
    """The request as one canonical JSON text: sorted keys, no spaces, ASCII escapes (lone surrogates survive)."""
    return json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def request_key(text: str, sample: int) -> str:
    """The cassette key of a (redacted, canonical) request for one sample index."""
    return hashlib.sha256(f"sample={sample}\n{text}".encode()).hexdigest()


def _read_lines(path: Path) -> list[dict]:
    """A cassette's lines; a line torn by a kill is skipped (that call is simply not on the tape)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            out.append(entry)
    return out


@dataclass
class Take:
    """One model call's place on the tape: its key, the request as recorded, and the recorded answer if any."""

    key: str
    request: dict[str, Any]
    step: int
    recorded: dict[str, Any] | None = None


class Tape:
    """One model stream's cassettes: records every call of the stream; with a `source` folder, answers from it.

    `source` is the recorded run's `<signature>/cassettes` folder; `strict` makes a missing answer a CassetteMiss
    instead of a call to the provider. `price(usage)` is what a call's usage costs; `on_spend(session_id, usd)` hears
    of every paid call (the spending caps).
    """

    def __init__(self, model_dir: Path, *, sample: int = 0, redact: Redactor | None = None,
                 source: Path | None = None, strict: bool = True, price: Callable[[Usage], float] | None = None,
                 on_spend: Callable[[str, float], None] | None = None):
        self.folder = Path(model_dir) / CASSETTES
        self.spend_path = Path(model_dir) / SPEND_FILE
        self.sample = sample
        self.redact = redact or Redactor()
        self.source = Path(source) if source is not None else None
        self.strict = strict
        self.price = price or (lambda _usage: 0.0)
        self.on_spend = on_spend
        self.session_id = ""
        self.day = ""
        self.step = 0
        self.missed: str | None = None  # the strict miss that stopped this stream
        self.replayed = 0  # calls answered from the source this run
        self.called = 0  # calls sent to the provider this run
        self._sent: list[Any] = []  # the messages of this session's last request (what the next one extends)
        self._tools: set[str] = set()  # tool schemas already written in today's cassette, by sha256
        self.pending: Take | None = None  # the call in flight to the provider (what a session timeout cuts off)
        self._answered: dict[str, int] = {}
        self._recorded: dict[str, list[dict]] = {}
        self._handle: IO[str] | None = None

    @property
    def replaying(self) -> bool:
        return self.source is not None

    def begin_session(self, session_id: str, day: str) -> None:
        """The next calls belong to this session (a day's cassette; each session attempt counts its steps from 1)."""
        if day != self.day:
            self.close()
            self.day = day
            own = _read_lines(self.folder / f"{day}.jsonl")
            self._answered = {}
            self._tools = set()
            for entry in own:  # what this run folder already asked that day (an earlier attempt, a resumed replay)
                self._answered[entry["key"]] = self._answered.get(entry["key"], 0) + 1
                request = entry.get("request")
                if isinstance(request, dict) and "tools" in request:
                    self._tools.add(str(request.get("tools_sha256")))
            self._recorded = {}
            if self.source is not None:
                for entry in _read_lines(self.source / f"{day}.jsonl"):
                    self._recorded.setdefault(entry["key"], []).append(entry)
        self.session_id = session_id
        self.step = 0
        self._sent = []

    def take(self, request: dict[str, Any]) -> Take:
        """The call's key and, when replaying, its recorded answer; a strict miss raises CassetteMiss."""
        self.step += 1
        text = self.redact(canonical(request))
        take = Take(request_key(text, self.sample), self._compact(json.loads(text)), self.step)
        found = self._recorded.get(take.key)
        self.pending = None
        if found:
            take.recorded = found[min(self._answered.get(take.key, 0), len(found) - 1)]
            self.replayed += 1
            self._write({**take.recorded, "session_id": self.session_id, "step": self.step, "replayed": True,
                         "spent_usd": 0.0, "request": take.request}, take.key)
        elif self.source is not None and self.strict:
            self.missed = (f"no recorded answer for session {self.session_id} step {self.step} in "
                           f"{self.source / (self.day + '.jsonl')} (strict replay, nothing was sent); rerun with "
                           "--on-miss call to ask the provider for what is missing and record it")
            raise CassetteMiss(self.missed)
        else:
            self.pending = take
        return take

    def _compact(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request as a line stores it: the messages after those of the session's previous request, the tool
        schemas once per file (see the module's doc)."""
        out = dict(request)
        messages = out.pop("messages", [])
        shared = len(self._sent) if messages[:len(self._sent)] == self._sent else 0
        out["messages_from"], out["messages"] = shared, messages[shared:]
        self._sent = messages
        tools = out.pop("tools", None)
        if tools is not None:
            digest = hashlib.sha256(canonical(tools).encode()).hexdigest()
            out["tools_sha256"] = digest
            if digest not in self._tools:
                self._tools.add(digest)
                out["tools"] = tools
        return out

    def record(self, take: Take, *, response: dict[str, Any] | None = None, error: str | None = None,
               retries: int = 0, failures: list[str] | None = None, usage: Usage | None = None) -> None:
        """A live call's outcome (a response body, or the error it failed with), written and flushed now."""
        self.called += 1
        self.pending = None
        counted = usage.counted()[0] if usage is not None else Usage()
        cost = round(self.price(counted), 8) if response is not None else 0.0
        self._write({
            "key": take.key, "sample": self.sample, "session_id": self.session_id, "step": take.step,
            "recorded_at": datetime.now(UTC).isoformat(timespec="milliseconds"), "replayed": False,
            "spent_usd": cost, "cost_usd": cost, "retries": retries, "failures": failures or [],
            "request": take.request, "response": response, "error": error,
        }, take.key)
        if cost:
            self._spend(take.step, cost)

    def timed_out(self) -> None:
        """The session's deadline cut off the call in flight: recorded as such, so that a replay times out at the
        same step instead of missing (its answer never came)."""
        take, self.pending = self.pending, None
        if take is None:
            return
        self.called += 1
        self._write({
            "key": take.key, "sample": self.sample, "session_id": self.session_id, "step": take.step,
            "recorded_at": datetime.now(UTC).isoformat(timespec="milliseconds"), "replayed": False,
            "spent_usd": 0.0, "cost_usd": 0.0, "retries": 0, "failures": [], "request": take.request,
            "response": None, "error": "cut off by the session's time limit", "timeout": True,
        }, take.key)

    def _write(self, entry: dict[str, Any], key: str) -> None:
        if self._handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._handle = (self.folder / f"{self.day or 'undated'}.jsonl").open("a", encoding="utf-8")
        self._handle.write(self.redact(json.dumps(entry, ensure_ascii=True, default=str)) + "\n")
        self._handle.flush()
        self._answered[key] = self._answered.get(key, 0) + 1

    def _spend(self, step: int, usd: float) -> None:
        line = json.dumps({"session_id": self.session_id, "date": self.day, "step": step, "usd": usd})
        with self.spend_path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        if self.on_spend is not None:
            self.on_spend(self.session_id, usd)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def full_requests(path: Path) -> list[dict[str, Any]]:
    """Every request of a cassette as it was sent (redacted), in order: each line's messages after those of its
    session's previous line, its tools from the line that first gave them."""
    tools: dict[str, Any] = {}
    sent: dict[str, list[Any]] = {}
    out = []
    for entry in _read_lines(Path(path)):
        request = dict(entry["request"])
        shared = int(request.pop("messages_from", 0))
        messages = sent.get(str(entry.get("session_id")), [])[:shared] + list(request.pop("messages", []))
        sent[str(entry.get("session_id"))] = messages
        digest = request.pop("tools_sha256", None)
        if "tools" in request:
            tools[str(digest)] = request["tools"]
        elif digest is not None:
            request["tools"] = tools.get(str(digest))
        out.append({**request, "messages": messages})
    return out


def read_spend(model_dir: Path) -> dict[str, float]:
    """Dollars actually spent per session id in one model folder (its spend.jsonl; torn lines skipped)."""
    spent: dict[str, float] = {}
    try:
        lines = (Path(model_dir) / SPEND_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return spent
    for line in lines:
        try:
            entry = json.loads(line)
            spent[str(entry["session_id"])] = spent.get(str(entry["session_id"]), 0.0) + float(entry["usd"])
        except (ValueError, KeyError, TypeError):
            continue
    return spent


def source_folder(replay_from: Path, signature: str, repeat: int | None) -> Path:
    """Where a stream's recorded cassettes are: `DIR/<signature>/cassettes`, or `DIR/repeat-<k>/<signature>/...`."""
    run = repeat_dir(replay_from, repeat) if repeat is not None else Path(replay_from)
    return run / signature / CASSETTES
