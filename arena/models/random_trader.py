"""The random trader: a seeded null that a model has to beat to show skill rather than luck.

On its first session it buys `holdings` symbols drawn at random from the universe, an equal share of `exposure` of
its equity each. On every later session each holding is swapped, with probability `turnover / (2 * exposure)`, for
a symbol it does not hold: sold whole, the proceeds put into the new one. Buys plus sells then trade about
`turnover` of equity a session. Draws depend only on (seed, day, what is held), so a rerun after a crash decides the
same, and the report can replay hundreds of these traders from prices alone with the same decisions
(`reports/random_null.py`), matched to each model's turnover and exposure.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

PROCEEDS_BUFFER = 0.995  # keep half a percent of a swap's proceeds for the buy's slippage and fee


@dataclass(frozen=True)
class RandomPolicy:
    seed: int = 0
    holdings: int = 5
    turnover: float = 0.10
    exposure: float = 0.99

    def __post_init__(self) -> None:
        if not 1 <= self.holdings <= 100:
            raise ValueError("random: holdings must be 1..100")
        if not 0 <= self.turnover <= 2:
            raise ValueError("random: turnover (share of equity traded a session) must be 0..2")
        if not 0 < self.exposure <= 1:
            raise ValueError("random: exposure must be in (0, 1]")

    @property
    def swap_probability(self) -> float:
        return min(1.0, self.turnover / (2 * self.exposure))

    def plan(self, day: date, held: list[str], universe: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """(symbols to buy from cash, swaps (sell, buy)) for one session; `held` and `universe` in a fixed order."""
        return self.decide(random.Random(self.day_seed(day)), sorted(held), universe)

    def day_seed(self, day: date) -> int:
        """The seed of one session's draws: the policy's seed and the day, nothing else."""
        return self.seed * 1_000_003 + day.toordinal()

    def decide(self, rng: random.Random, held: list[str], universe: list[str]) -> tuple[list[str],
                                                                                        list[tuple[str, str]]]:
        """`plan` with its generator already seeded by `day_seed` and `held` sorted: the report's null reseeds one
        generator per session instead of building one, and makes the same draws."""
        if not held:
            return sorted(rng.sample(universe, min(self.holdings, len(universe)))), []
        swaps: list[tuple[str, str]] = []
        owned = set(held)
        p = self.swap_probability
        for symbol in held:
            if rng.random() >= p:
                continue
            if len(owned) >= len(universe):
                break
            new = universe[rng.randrange(len(universe))]
            while new in owned:  # draw again until a symbol it does not hold (uniform over those)
                new = universe[rng.randrange(len(universe))]
            owned.discard(symbol)
            owned.add(new)
            swaps.append((symbol, new))
        return [], swaps


def quantity(value: float, price: float, fractional: bool) -> float:
    """Whole shares (or 4-decimal fractions) worth at most `value`."""
    if price <= 0 or value <= 0:
        return 0.0
    raw = value / price
    return math.floor(raw * 10_000) / 10_000 if fractional else float(math.floor(raw))
