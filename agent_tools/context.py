"""The immutable context a session's tools are bound to: nothing the model sends can change it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from agent_tools.limits import Limits


@dataclass(frozen=True)
class SessionContext:
    signature: str
    instant: datetime
    mode: Literal["replay", "live"]
    limits: Limits
    out_dir: Path
    initial_cash: Decimal
    dry_run: bool = False
    trigger: str = "scheduled"  # what fired the session: scheduled, event:price_move:NVDA, ... (arena.triggers)

    @property
    def day(self) -> date:
        return self.instant.date()

    @property
    def session_id(self) -> str:
        """Deterministic per (model, trigger), so a rerun after a crash continues the same session."""
        return f"{self.signature}@{self.instant.isoformat(timespec='minutes')}"

    @property
    def model_dir(self) -> Path:
        return self.out_dir / self.signature

    @property
    def log_dir(self) -> Path:
        return self.model_dir / "log" / self.day.isoformat()
