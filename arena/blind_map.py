"""The saved alias map of a `run --blind` run (`<out>/blind.json`) and the translation of its ledger back into real
symbols, shares and prices: what `report` needs of a blind run, without the market data, news and config that
making one takes (arena/blind.py), so the report's ledger reader starts before those imports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

BLIND_FILE = "blind.json"


@dataclass(frozen=True)
class BlindMap:
    """Alias and rebasing factor of every symbol for one blind run (`scale` = 100 / close on the base day)."""

    aliases: dict[str, str]  # real -> alias
    scale: dict[str, float]  # real -> factor applied to prices
    base_day: date
    seed: int

    @property
    def reals(self) -> dict[str, str]:
        return {alias: real for real, alias in self.aliases.items()}

    @property
    def universe(self) -> tuple[str, ...]:
        return tuple(sorted(self.aliases.values()))

    def real(self, symbol: str) -> str:
        clean = symbol.strip().upper() if isinstance(symbol, str) else ""
        if clean not in self.reals:
            from agent_tools.point_in_time import ViewError

            raise ViewError(f"unknown symbol {symbol!r}: in this blind run symbols are aliases such as "
                            f"{', '.join(self.universe[:3])} ({len(self.aliases)} symbols)")
        return self.reals[clean]

    def hide(self, text: str) -> str:
        """A message with every real ticker replaced by its alias."""
        for real in sorted(self.aliases, key=len, reverse=True):
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(real)}(?![A-Za-z0-9])", self.aliases[real], text)
        return text

    def to_json(self) -> dict:
        return {"seed": self.seed, "base_day": self.base_day.isoformat(), "aliases": self.aliases,
                "scale": self.scale}

    @classmethod
    def from_json(cls, raw: dict) -> BlindMap:
        return cls({str(k): str(v) for k, v in raw["aliases"].items()},
                   {str(k): float(v) for k, v in raw["scale"].items()}, date.fromisoformat(raw["base_day"]),
                   int(raw.get("seed", 0)))


def read_map(run_dir: Path) -> BlindMap | None:
    path = Path(run_dir) / BLIND_FILE
    try:
        return BlindMap.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def to_named_record(record: dict, blind: BlindMap) -> dict:
    """A blind ledger record in real symbols, shares and prices: q_real = q_alias * scale, p_real = p_alias / scale."""
    reals = blind.reals
    out = dict(record)
    positions = record.get("positions") or {}
    out["positions"] = {(reals.get(k, k)): (float(v) * blind.scale[reals[k]] if k in reals and v else v)
                        for k, v in positions.items()}
    action = dict(record.get("this_action") or {})
    symbol = action.get("symbol")
    if symbol in reals:
        real = reals[symbol]
        action["symbol"] = real
        action["amount"] = float(action.get("amount", 0) or 0) * blind.scale[real]
        if record.get("price") is not None:
            out["price"] = float(record["price"]) / blind.scale[real]
    if record.get("this_action") is not None:
        out["this_action"] = action
    return out
