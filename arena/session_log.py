"""Session outputs: `<out>/<sig>/log/<date>/log.jsonl` (every message, tool call and result with latency) and
`<out>/<sig>/sessions.jsonl` (one line per session). Secrets are redacted before anything is written.

Every log event is one line written and flushed as it happens, so a killed attempt leaves its messages and tool
calls behind (crash forensics), and a rerun can add up what earlier attempts of the same session spent.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_tools.clean_text import clean_data, clean_text, may_need_cleaning
from agent_tools.json_lines import loads

SESSIONS_FILE = "sessions.jsonl"


class Redactor:
    """Replaces every known secret value (API keys read from the environment) with '***'."""

    def __init__(self, secrets: list[str] | None = None):
        self.secrets = sorted({s for s in (secrets or []) if s and len(s) >= 4}, key=len, reverse=True)

    @classmethod
    def from_env(cls, names: list[str]) -> Redactor:
        return cls([os.environ.get(n, "") for n in names if n])

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class SessionLog:
    """Append-only JSONL of one session's events: each event one whole line, flushed to the OS as it happens."""

    def __init__(self, path: Path, redact: Redactor | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.redact = redact or Redactor()
        self._handle = self.path.open("a", encoding="utf-8")

    def event(self, kind: str, **fields: Any) -> None:
        record = {"t": datetime.now(UTC).isoformat(timespec="milliseconds"), "type": kind, **fields}
        line = clean_text(self.redact(json.dumps(record, default=str, ensure_ascii=False)))
        self._handle.write(line + "\n")
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            self._handle.close()


def append_session_record(model_dir: Path, record: dict, redact: Redactor | None = None) -> None:
    """One line per session in sessions.jsonl, fsync'd: this line is what marks a session as done."""
    path = Path(model_dir) / SESSIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = clean_text(json.dumps(record, default=str, ensure_ascii=False))
    if redact is not None:
        line = redact(line)
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a torn last line (crash mid-write): never glue this session's line onto it
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_session_records(model_dir: Path) -> list[dict]:
    """Every session line in order; a torn last line (crash mid-write) is ignored: that session simply reruns."""
    path = Path(model_dir) / SESSIONS_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "session_id" in record:
            # only a line with a \u escape can hold a surrogate or NUL (ten years of sessions are read by `report`)
            out.append(clean_data(record) if "\\u" in line and may_need_cleaning(line.encode("utf-8")) else record)
    return out


def latest_by_session(records: list[dict]) -> dict[str, dict]:
    """The last line per session id wins (a retried failed session appends a newer line)."""
    return {r["session_id"]: r for r in records}


def read_log_events(path: Path) -> Iterator[dict]:
    """The events of a log.jsonl, cleaned (a log written before text was cleaned may hold lone surrogates).

    A missing file has none; unreadable lines (one torn by a kill) are skipped: logs are forensics, not the record.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            yield clean_data(event)


def earlier_attempts(log_path: Path, session_id: str) -> list[list[dict]]:
    """The events of each earlier attempt of one session in its log (crashed, failed or interrupted), oldest first.

    An attempt starts at its `session_start` event; events after it belong to it until the next `session_start`.
    Unreadable lines are skipped (a line torn by a kill).
    """
    attempts: list[list[dict]] = []
    current: list[dict] | None = None
    for event in read_log_events(log_path):
        if event.get("type") == "session_start":
            current = [] if event.get("session_id") == session_id else None
            if current is not None:
                attempts.append(current)
        if current is not None:
            current.append(event)
    return attempts


def monotonic_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
