"""The random trader: a seeded null that a model has to beat to show skill rather than luck.

On its first session it buys `holdings` symbols drawn at random from the universe, an equal share of `exposure` of
its equity each. On every later session each holding is swapped, with probability `turnover / (2 * exposure)`, for
a symbol it does not hold: sold whole, the proceeds put into the new one. Buys plus sells then trade about
`turnover` of equity a session.

Draws are counter-based: every number a session uses is SplitMix64's output number (lane, k) for a key made from
(seed, day) alone, so a rerun after a crash decides the same, and the report can replay hundreds of these traders
from prices alone (`reports/random_null.py`) computing the draws of every trader and day at once with numpy
(`session_keys`, `uniforms`) instead of seeding a generator per session. The k-th holding (in symbol order) is
swapped when its own draw `swap(k)` is below the swap probability, so the sessions in which a trader does anything,
and which holdings it swaps in them, are known in bulk before any is simulated (`Draws.swapped`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
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
    """`mix64` of every word, in place (z is overwritten and returned): uint64 arrays wrap modulo 2**64, as `& M64`
    does, and no temporary the size of z is made but one."""
    import numpy as np

    shifted = np.empty_like(z)
    for shift, multiplier in ((30, MIX1), (27, MIX2), (31, None)):
        np.right_shift(z, np.uint64(shift), out=shifted)
        np.bitwise_xor(z, shifted, out=z)
        if multiplier is not None:
            np.multiply(z, np.uint64(multiplier), out=z)
    return z


def session_keys(seeds: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    """`session_key` for every (seed, day): traders x days uint64 keys (seeds already reduced modulo 2**64)."""
    import numpy as np

    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.uint64))
    ordinals = np.atleast_1d(np.asarray(ordinals, dtype=np.uint64))
    counters = np.uint64(GOLDEN) * (ordinals + np.uint64(1))
    return _mix64_array(_mix64_array(seeds.copy())[:, None] + counters[None, :])


def uniform_words(keys: np.ndarray, lane: int, count: int) -> np.ndarray:
    """The 64-bit words behind `uniforms` (keys.shape + (count,)): `as_uniforms` makes them the floats, and
    `words_below` compares them with a probability without making the floats."""
    import numpy as np

    keys = np.asarray(keys, dtype=np.uint64)
    counters = np.uint64(GOLDEN) * (np.arange(count, dtype=np.uint64) + np.uint64(lane * LANE + 1))
    return _mix64_array(keys[..., None] + counters)


def as_uniforms(words: np.ndarray) -> np.ndarray:
    """SplitMix64 words as `uniform`'s floats in [0, 1): the top 53 bits times 2**-53."""
    import numpy as np

    return (words >> np.uint64(11)).astype(np.float64) * UNIT


def words_below(words: np.ndarray, probability: float) -> np.ndarray:
    """`as_uniforms(words) < probability`, exactly: (w >> 11) * 2**-53 < p holds when w < ceil(p * 2**53) * 2**11
    (p * 2**53 is exact, and for p < 1 the bound fits in 64 bits)."""
    import numpy as np

    if probability >= 1.0:
        return np.ones(words.shape, dtype=bool)
    if not probability > 0.0:  # 0, negative or NaN: no uniform in [0, 1) is below it
        return np.zeros(words.shape, dtype=bool)
    return words < np.uint64(math.ceil(probability * 2.0**53) << 11)


def uniforms(keys: np.ndarray, lane: int, count: int) -> np.ndarray:
    """`uniform(key, lane, k)` for k < count for every key: an array of shape keys.shape + (count,)."""
    return as_uniforms(uniform_words(keys, lane, count))


class Draws(Protocol):
    def swapped(self, count: int, probability: float) -> Sequence[int]:
        """The k < count, in order, whose swap draw `swap(k)` is below the probability."""
        ...

    def pick(self, j: int) -> float: ...


@dataclass(frozen=True)
class SessionDraws:
    """The numbers one session of one trader draws, computed one at a time (the baseline's way)."""

    key: int

    def swap(self, k: int) -> float:
        return uniform(self.key, SWAP_LANE, k)

    def swapped(self, count: int, probability: float) -> list[int]:
        return [k for k in range(count) if self.swap(k) < probability]

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

    @cached_property
    def swap_probability(self) -> float:  # cached: the report's null asks once a session, hundreds of thousands of times
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
        owned: set[str] | None = None  # made on the first swap: most sessions of the null swap one holding
        pick = draws.pick
        j = 0
        for k in draws.swapped(len(held), self.swap_probability):  # the k-th holding is swapped
            symbol = held[k]
            if owned is None:
                owned = set(held)
            if len(owned) >= n:
                break
            while True:  # draw again until a symbol it does not hold (uniform over those)
                drawn = int(pick(j) * n)
                new = universe[drawn if drawn < n else n - 1]
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
