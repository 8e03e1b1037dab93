"""`main.py live`: one live session per enabled model for this trigger.

One module a job: `guard` (is the market open at the clock), `trigger` (which decision instant a run belongs to),
`accounts` (per-model keys, market data and broker), `reconcile` (the broker is the truth), `command` (the console
command that ties them together, exactly once per model and trigger).
"""

from arena.live.command import live_desk, run_live
from arena.live.trigger import trigger_for

__all__ = ["live_desk", "run_live", "trigger_for"]
