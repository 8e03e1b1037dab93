"""The immutable context a config gives one model's session at one instant: its limits, cash and output folder.

Apart from `desk_factory` (which builds the tools' world over market data) so a caller can know the context before
any data is loaded: `serve-tools` describes its tools from it while the data loads.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from agent_tools.context import SessionContext
from arena.config import ArenaConfig, ModelSettings


def session_context(config: ArenaConfig, model: ModelSettings, instant: datetime, out_dir: Path,
                    mode: Literal["replay", "live"] = "replay", dry_run: bool = False,
                    trigger: str = "scheduled") -> SessionContext:
    return SessionContext(
        signature=model.signature,
        instant=instant,
        mode=mode,
        limits=config.limits_for(model),
        out_dir=Path(out_dir),
        initial_cash=Decimal(str(config.initial_cash_for(model))),
        dry_run=dry_run,
        trigger=trigger,
    )
