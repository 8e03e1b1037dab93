"""The random trader: a seeded null that a model has to beat to show skill rather than luck.

On its first session it buys `holdings` symbols drawn at random from the universe, an equal share of `exposure` of
its equity each. On every later session each holding is swapped, with probability `turnover / (2 * exposure)`, for
a symbol it does not hold: sold whole, the proceeds put into the new one. Buys plus sells then trade about
`turnover` of equity a session.

Draws are counter-based: every number a session uses is SplitMix64's output number (lane, k) for a key made from
(seed, day) alone, so a rerun after a crash decides the same, and the report can replay hundreds of these traders
from prices alone (`reports/random_null.py`) computing the draws of every trader and day at once with numpy
(`session_keys`, `uniforms`) instead of seeding a generator per session. The k-th holding (in symbol order) is
swapped when its own draw `swap(k)` is below the swap probability, so the sessions in which a trader does anything
are known in bulk before any is simulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

PROCEEDS_BUFFER = 0.995  # keep half a percent of a swap's proceeds for the buy's slippage and fee

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's increment
MIX1, MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # SplitMix64's finaliser (Stafford's Mix13)
SWAP_LANE, PICK_LANE = 0, 1  # swap(k): is holding k swapped; pick(j): the j-th symbol drawn (buys, swap-ins)
LANE = 1 << 32  # counters of one lane: lane * LANE + k
UNIT = 2.0 ** -53


def mix64(z: int) -> int:
    """SplitMix64's finaliser: a bijection of 64-bit words whose outputs pass BigCrush when fed a counter."""
    z = ((z ^ (z >> 30)) * MIX1) & M64
    z = ((z ^ (z >> 27)) * MIX2) & M64
    return z ^ (z >> 31)


def session_key(seed: int, ordinal: int) -> int:
    """The key of one trader's session: its seed (modulo 2**64) and the day's ordinal, nothing else."""
    return mix64((mix64(seed & M64) + GOLDEN * (ordinal + 1)) & M64)


def uniform(key: int, lane: int, k: int) -> float:
    """Draw k of a lane: SplitMix64 seeded with `key`, output number lane * 2**32 + k, as a float in [0, 1)."""
    return (mix64((key + GOLDEN * (lane * LANE + k + 1)) & M64) >> 11) * UNIT


def _mix64_array(z: np.ndarray) -> np.ndarray:
    import numpy as np

    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)  # uint64 arrays wrap modulo 2**64, as `& M64` does
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


def session_keys(seeds: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    """`session_key` for every (seed, day): traders x days uint64 keys (seeds already reduced modulo 2**64)."""
    import numpy as np

    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.uint64))
    ordinals = np.atleast_1d(np.asarray(ordinals, dtype=np.uint64))
    counters = np.uint64(GOLDEN) * (ordinals + np.uint64(1))
    return _mix64_array(_mix64_array(seeds)[:, None] + counters[None, :])


def uniforms(keys: np.ndarray, lane: int, count: int) -> np.ndarray:
    """`uniform(key, lane, k)` for k < count for every key: an array of shape keys.shape + (count,)."""
    import numpy as np

    keys = np.asarray(keys, dtype=np.uint64)
    counters = np.uint64(GOLDEN) * (np.arange(count, dtype=np.uint64) + np.uint64(lane * LANE + 1))
    out = _mix64_array(keys[..., None] + counters) >> np.uint64(11)
    return out.astype(np.float64) * UNIT


class Draws(Protocol):
    def swap(self, k: int) -> float: ...

    def pick(self, j: int) -> float: ...


@dataclass(frozen=True)
class SessionDraws:
    """The numbers one session of one trader draws, computed one at a time (the baseline's way)."""

    key: int

    def swap(self, k: int) -> float:
        return uniform(self.key, SWAP_LANE, k)

    def pick(self, j: int) -> float:
        return uniform(self.key, PICK_LANE, j)


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
        """(symbols to buy from cash, swaps (sell, buy)) for one session; `universe` in a fixed order."""
        return self.decide(self.draws(day), sorted(held), universe)

    def draws(self, day: date) -> SessionDraws:
        return SessionDraws(session_key(self.seed, day.toordinal()))

    def decide(self, draws: Draws, held: list[str], universe: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """`plan` given the session's draws and `held` sorted: the one decision rule the baseline and the report's
        null share (the null passes draws it computed in bulk)."""
        n = len(universe)
        if not held:
            pool = list(universe)
            count = min(self.holdings, n)
            for j in range(count):  # a partial Fisher-Yates shuffle: `count` distinct symbols, uniformly
                i = j + min(int(draws.pick(j) * (n - j)), n - j - 1)
                pool[j], pool[i] = pool[i], pool[j]
            return sorted(pool[:count]), []
        swaps: list[tuple[str, str]] = []
        owned = set(held)
        p = self.swap_probability
        swap = draws.swap
        j = 0
        for k, symbol in enumerate(held):
            if swap(k) >= p:
                continue
            if len(owned) >= n:
                break
            while True:  # draw again until a symbol it does not hold (uniform over those)
                new = universe[min(int(draws.pick(j) * n), n - 1)]
                j += 1
                if new not in owned:
                    break
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
