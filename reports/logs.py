"""The reason a model gave for each trade, read from its session logs (`<model>/log/<date>/log.jsonl`).

A filled buy or sell tool call's result names the ledger id it wrote, which ties the log to the ledger. The reason
is the `reason` argument of that call when the model gave one, else the text of the assistant message that made the
call (models often explain in prose before calling tools). A reason already in the ledger record wins over both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_tools.ledger import TRADE_ACTIONS
from arena.session_log import read_log_events

FINISH_SIGNAL = "<FINISH_SIGNAL>"


def _as_dict(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _clean(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    text = text.replace(FINISH_SIGNAL, "").strip()
    return text or None


def reasons_in_log(path: Path) -> dict[int, str]:
    """Ledger id -> reason for every filled trade in one log file; unreadable lines are skipped (logs are advisory)."""
    found: dict[int, str] = {}
    said: dict[tuple[str, Any], str | None] = {}
    session = ""
    for event in read_log_events(path):
        kind = event.get("type")
        if kind == "session_start":
            session = str(event.get("session_id", ""))
        elif kind == "assistant":
            said[(session, event.get("step"))] = _clean(event.get("content"))
        elif kind == "tool" and event.get("name") in TRADE_ACTIONS and not event.get("is_error"):
            ledger_id = _as_dict(event.get("result")).get("ledger_id")
            if not isinstance(ledger_id, int):
                continue
            reason = _clean(_as_dict(event.get("arguments")).get("reason")) or said.get((session, event.get("step")))
            if reason:
                found[ledger_id] = reason
    return found


def trade_reasons(model_folder: Path) -> dict[int, str]:
    """Every reason found under one model folder's logs."""
    found: dict[int, str] = {}
    log_root = Path(model_folder) / "log"
    if not log_root.is_dir():
        return found
    for path in sorted(log_root.glob("*/log.jsonl")):
        found.update(reasons_in_log(path))
    return found
