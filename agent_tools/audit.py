"""A session's audit trail (`<log>/audit.jsonl`): every fill, rejection and broker refusal, one line as it happens.

Rejections include trade calls refused before the desk saw them (arguments that are not JSON or fail the tool's
schema, the session's trade limit), so the trail holds every refused trade call the session counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent_tools.clean_text import clean_data


@dataclass
class AuditTrail:
    """Events are kept in memory (for the session's counts) and appended to the file at once, one line each."""

    session_id: str
    now: Callable[[], str]
    path: Path | None = None
    events: list[dict] = field(default_factory=list)

    def record(self, event: dict) -> dict:
        event = clean_data({"time": self.now(), "session_id": self.session_id, **event})
        self.events.append(event)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event, default=str) + "\n")
        return event
