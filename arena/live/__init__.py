"""`main.py live`: one live session per enabled model for this trigger.

One module a job: `guard` (is the market open at the clock, is this the trigger's hour), `trigger` (which decision
instant a run belongs to), `accounts` (per-model keys, market data and broker), `recovery` (orders an interrupted
run left), `reconcile` (the broker is the truth; cash flows), `schedule` (cron entries and the systemd timer),
`command` (the console command that ties them together, exactly once per model and trigger).

Imports are lazy, so `python -m arena.live.schedule` (run by the installers) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["live_desk", "run_live", "trigger_for"]


def __getattr__(name: str) -> Any:
    if name in ("live_desk", "run_live"):
        from arena.live import command

        return getattr(command, name)
    if name == "trigger_for":
        from arena.live.trigger import trigger_for

        return trigger_for
    raise AttributeError(f"module 'arena.live' has no attribute {name!r}")
