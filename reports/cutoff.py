"""Training-cutoff awareness: a model may remember prices from before its training cutoff, so its results on those
days are not evidence of skill.

A model's cutoff comes from `models[].knowledge_cutoff` in the config the report is built with, else from the run's
own saved config (`run_config.json`), else from `report.knowledge_cutoffs` (signature -> date, for runs that are not
ours, like AI-Trader's). Days up to and including the cutoff are "pre"; later days are "post".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from arena.config import ArenaConfig
from reports.runs import ModelRun

MAY_REMEMBER = "the model may remember this period"


def _saved_cutoffs(run_dir: Path) -> dict[str, date]:
    try:
        raw = json.loads((run_dir / "run_config.json").read_text(encoding="utf-8"))
        return {m["signature"]: date.fromisoformat(m["knowledge_cutoff"]) for m in raw.get("models", [])
                if m.get("knowledge_cutoff")}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def cutoff_for(run: ModelRun, config: ArenaConfig) -> date | None:
    configured = {m.signature: m.knowledge_cutoff for m in config.models if m.knowledge_cutoff}
    if run.signature in configured:
        return configured[run.signature]
    saved = _saved_cutoffs(run.run_dir)
    if run.signature in saved:
        return saved[run.signature]
    return config.report.knowledge_cutoffs.get(run.signature) or (
        config.report.knowledge_cutoffs.get(run.model) if run.model else None)


@dataclass(frozen=True)
class CutoffSplit:
    cutoff: date
    pre_days: int
    post_days: int
    pre_return: float | None
    post_return: float | None
    pre_excess: float | None  # against QQQ buy-and-hold on the same days
    post_excess: float | None

    @property
    def may_remember(self) -> bool:
        return self.pre_days > 0


def _compound(returns: np.ndarray) -> float | None:
    return float(np.prod(1.0 + returns) - 1.0) if len(returns) else None


def split_at(cutoff: date, days: list[date], returns: np.ndarray, qqq: np.ndarray | None) -> CutoffSplit:
    """Cumulative return (and excess over QQQ) on the window's days up to the cutoff and after it."""
    pre = np.array([d <= cutoff for d in days], dtype=bool)
    returns = np.asarray(returns, dtype=float)

    def excess(mask: np.ndarray) -> float | None:
        if qqq is None or not mask.any():
            return None
        mine, theirs = _compound(returns[mask]), _compound(np.asarray(qqq, dtype=float)[mask])
        return None if mine is None or theirs is None else mine - theirs

    return CutoffSplit(cutoff, int(pre.sum()), int((~pre).sum()), _compound(returns[pre]), _compound(returns[~pre]),
                       excess(pre), excess(~pre))
