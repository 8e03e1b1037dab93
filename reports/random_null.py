"""A null to beat: where a model's return falls among random traders over the same days, from prices alone.

Each model is placed among `report.random_traders` random traders (the `random` baseline's policy,
`arena/models/random_trader.py`) with the model's own turnover and average exposure, the same initial equity, the
same days and the same costs (the config's slippage and commission; none for fee-less AI-Trader ledgers). They are
simulated in-process: they buy at the price a 10:00 session trades at, and are marked at the close. The
percentile is the share of random traders the model beat (ties count half).

Only each trader's final return is needed, and a trader does nothing on a session in which none of its holdings
draws a swap. So the swap draws of every trader and day are computed at once (the policy's counter-based draws,
with numpy), and each trader is stepped through its own sessions that have something to decide, with the same
`RandomPolicy.decide` the baseline calls. Prices are days x symbols arrays; fill prices and per-share fees are
computed in floats where that equals the Decimal money rules of `agent_tools/fills.py` exactly, and with those rules
where it might not (a value on a rounding tie).
"""

from __future__ import annotations

import math
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from agent_tools.fills import BPS, CENT, PRICE_TICK, FeeModel, FillModel, NoFee, PerShareFee, SlippageFill
from arena.models.random_trader import (
    M64,
    PICK_LANE,
    PROCEEDS_BUFFER,
    SWAP_LANE,
    RandomPolicy,
    quantity,
    session_keys,
    uniform,
    uniform_words,
    uniforms,
    words_below,
)
from reports.equity import Marker

DEFAULT_HOLDINGS = 5
TRADERS_AT_ONCE = 25
PICKS_AHEAD = 2  # pick draws computed in bulk per session that decides something; later ones one at a time

TICKS_PER_DOLLAR = float(1 / PRICE_TICK)  # the fill rules' rounding, as the bulk float versions use it
CENTS_PER_DOLLAR = int(1 / CENT)


@dataclass(frozen=True)
class NullResult:
    returns: np.ndarray  # each random trader's cumulative return
    percentile: float  # share of random traders the model beat
    turnover: float  # per session, after the first
    exposure: float
    fees: bool

    @property
    def median(self) -> float:
        return float(np.median(self.returns))

    def describe(self, label: str) -> str:
        beaten = int(round(self.percentile * len(self.returns)))
        return (f"{label} beat {beaten} of {len(self.returns)} random traders (median {self.median:+.2%}; matched "
                f"turnover {self.turnover:.0%} of equity a session, exposure {self.exposure:.0%}"
                f"{'' if self.fees else ', no fees like its ledger'})")


class PriceGrid:
    """The window's days x the universe: `opens` (the price a session trades at; NaN when the symbol cannot trade
    that day) and `closes` (the last close on or before the day, 0 before the first).

    The simulation reads them as rows of one float array per day whose columns are in symbol order (`symbols`), so a
    trader's holdings, kept as column numbers, sort as their symbols do: `RandomPolicy.decide` sorts, draws and
    compares them exactly as it does symbols, without a name lookup per trade."""

    def __init__(self, universe: list[str], days: list[date], marker: Marker):
        self.universe = list(universe)
        self.days = list(days)
        self.ordinals = np.array([d.toordinal() for d in self.days], dtype=np.int64)
        self.index = {s: j for j, s in enumerate(self.universe)}
        self.opens, self.closes = _prices(self.universe, self.days, self.ordinals, marker)
        self.symbols = sorted(self.index)
        self._columns = [self.index[s] for s in self.symbols]  # the symbol-order columns of opens and closes
        column_of = {s: c for c, s in enumerate(self.symbols)}
        self._universe_columns = [column_of[s] for s in self.universe]
        self._tradable_rows = np.isfinite(self.opens) & (self.opens != 0)
        self._tradable: list[list[int]] | None = None
        self.open_rows = _rows(self.opens[:, self._columns])
        self.close_rows = _rows(self.closes[:, self._columns])
        self._fills: dict[tuple[FillModel, str], list[array]] = {}

    def tradable(self) -> list[list[int]]:
        """For each day, the columns of the symbols with a price to trade at, in universe order (one list shared by
        days alike)."""
        if self._tradable is None:
            shared: dict[bytes, list[int]] = {}
            self._tradable = []
            for row in self._tradable_rows:
                key = row.tobytes()
                found = shared.get(key)
                if found is None:
                    found = shared[key] = [c for c, ok in zip(self._universe_columns, row.tolist(), strict=True) if ok]
                self._tradable.append(found)
        return self._tradable

    def fill_rows(self, fill: FillModel, side: str) -> list[array]:
        """Every open's fill price for one side (NaN where there is no open), computed once per fill model."""
        rows = self._fills.get((fill, side))
        if rows is None:
            rows = self._fills[(fill, side)] = _rows(fill_prices(fill, side, self.opens)[:, self._columns])
        return rows


def _rows(matrix: np.ndarray) -> list[array]:
    """A days x symbols matrix as one float array per day: item reads as cheap as a list's, a quarter of the memory
    of a quarter of a million Python floats."""
    rows = []
    for row in np.ascontiguousarray(matrix, dtype=np.float64):
        packed = array("d")
        packed.frombytes(row.tobytes())
        rows.append(packed)
    return rows


def _prices(universe: list[str], days: list[date], ordinals: np.ndarray, marker: Marker) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    opens = np.full((len(days), len(universe)), np.nan)
    closes = np.zeros((len(days), len(universe)))
    seen: tuple[list[date], np.ndarray] | None = None  # most symbols trade on the same days: their ordinals once
    for j, symbol in enumerate(universe):
        bars = marker.data.daily.get(symbol)
        if bars is None or not len(bars):
            continue
        if seen is not None and bars.days == seen[0]:
            have = seen[1]
        else:
            have = np.fromiter(map(date.toordinal, bars.days), dtype=np.int64, count=len(bars.days))
            seen = (bars.days, have)
        last = np.searchsorted(have, ordinals, side="right") - 1  # the last bar on or before each day
        bar_closes = np.asarray(bars.close, dtype=float)
        closes[:, j] = np.where(last >= 0, bar_closes[np.maximum(last, 0)], 0.0)
        if not marker.data.hourly:  # a session trades at the day's open (Marker.session_price's daily rule)
            bar_opens = np.asarray(bars.open, dtype=float)
            same = (last >= 0) & (have[np.maximum(last, 0)] == ordinals)
            opens[:, j] = np.where(same, bar_opens[np.maximum(last, 0)], np.nan)
    if marker.data.hourly:  # the open of the intraday bar at the decision time: the point-in-time view's rule
        for i, day in enumerate(days):
            for j, symbol in enumerate(universe):
                price = marker.session_price(symbol, day)
                opens[i, j] = price if price is not None else np.nan
    return opens, closes


def _half_up(values: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """values rounded half up to 1/scale, and where the float rounding cannot be trusted (within reach of a tie)."""
    scaled = values * scale
    floor = np.floor(scaled)
    frac = scaled - floor
    rounded = np.where(frac >= 0.5, floor + 1.0, floor) / scale
    unsure = np.abs(frac - 0.5) <= 1e-9 * np.maximum(1.0, np.abs(scaled))
    return rounded, unsure


def fill_prices(fill: FillModel, side: str, opens: np.ndarray) -> np.ndarray:
    """`float(fill.fill_price(side, Decimal(str(open))))` for every open, in bulk; NaN where the open is NaN."""
    out = np.full(opens.shape, np.nan)
    have = np.isfinite(opens)
    if isinstance(fill, SlippageFill):
        factor = 1.0 + (1 if side == "buy" else -1) * float(fill.bps / BPS)
        rounded, unsure = _half_up(opens * factor, TICKS_PER_DOLLAR)
        out = np.where(have, rounded, np.nan)
        redo = have & unsure
    else:
        redo = have
    for i, j in zip(*np.nonzero(redo), strict=True):
        out[i, j] = float(fill.fill_price(side, Decimal(str(float(opens[i, j])))))
    return out


def fee_function(fee: FeeModel | None) -> Callable[[float, float], float]:
    """`float(fee.fee(Decimal(str(qty)), Decimal(str(price))))`, in integer arithmetic for a per-share fee on
    quantities of at most 4 decimals (exact: cents half up), else with the fee model itself."""

    def by_model(qty: float, price: float) -> float:
        return float(fee.fee(Decimal(str(qty)), Decimal(str(price)))) if fee is not None else 0.0

    if fee is None or isinstance(fee, NoFee):
        return lambda qty, price: 0.0
    if not isinstance(fee, PerShareFee):
        return by_model
    if not (fee.per_share.is_finite() and fee.minimum.is_finite()) or fee.per_share < 0:
        return by_model
    num, den = fee.per_share.as_integer_ratio()  # dollars a share, exactly
    den *= 10_000  # ... a 1/10000 share
    min_cents, whole = (fee.minimum / CENT).as_integer_ratio()
    if whole != 1:  # a minimum in fractions of a cent: leave it to the fee model
        return by_model

    def per_share(qty: float, price: float) -> float:
        units = round(qty * 10_000)
        if units <= 0 or units / 10_000 != qty:
            return by_model(qty, price)
        exact = units * num * CENTS_PER_DOLLAR  # cents x den
        return max(min_cents, (2 * exact + den) // (2 * den)) / CENTS_PER_DOLLAR

    return per_share


@dataclass
class Costs:
    """The money rules a random trader pays: the config's fill model, and its fee model (None: no fees)."""

    fill: FillModel
    fee: FeeModel | None
    fee_function: Callable[[float, float], float] = field(init=False, repr=False)
    fee_by_quantity: bool = field(init=False, repr=False)  # the fee is the same at any price (none, per share)

    def __post_init__(self) -> None:
        self.fee_function = fee_function(self.fee)
        self.fee_by_quantity = self.fee is None or isinstance(self.fee, NoFee | PerShareFee)


class _BulkDraws:
    """One session's draws from the bulk arrays: `swapped` is the holdings whose swap draw is below the probability,
    found in bulk (`_swapped`); picks past the first few are computed one at a time."""

    __slots__ = ("key", "picks", "ks")

    def __init__(self, key: int, ks: tuple[int, ...], picks: list[float]):
        self.key, self.ks, self.picks = key, ks, picks

    def swapped(self, count: int, probability: float) -> tuple[int, ...]:
        ks = self.ks  # for this trader's probability, among all `slots` draws: those of held holdings
        return ks if not ks or ks[-1] < count else tuple(k for k in ks if k < count)

    def pick(self, j: int) -> float:
        return self.picks[j] if j < len(self.picks) else uniform(self.key, PICK_LANE, j)


def _swapped(below: np.ndarray) -> list[tuple[int, ...]]:
    """For each row of a sessions x slots table of "draw below the swap probability", the slots that are."""
    slots = below.shape[1]
    if slots > 8:
        return [tuple(np.flatnonzero(row).tolist()) for row in below]
    table = [tuple(k for k in range(slots) if mask >> k & 1) for mask in range(1 << slots)]
    masks = below.astype(np.int64) @ (np.int64(1) << np.arange(slots, dtype=np.int64))
    return [table[m] for m in masks.tolist()]


Fill = tuple[int, str, str, float, float, float]  # day index, side, symbol, quantity, price, fee


def simulate_traders(policies: list[RandomPolicy], grid: PriceGrid, initial: float, costs: Costs,
                     fractional: bool = False, trace: list[list[Fill]] | None = None) -> np.ndarray:
    """Each random trader over the grid's days: its cumulative return at the last close. `trace`, when given,
    receives each trader's fills (for tests that compare them with the baseline's ledger)."""
    if not policies:
        return np.array([], dtype=float)
    slots = max(p.holdings for p in policies)
    returns = np.empty(len(policies))
    for first in range(0, len(policies), TRADERS_AT_ONCE):  # the draws of a few traders at a time: bounded memory
        batch = policies[first:first + TRADERS_AT_ONCE]
        keys = session_keys(np.array([p.seed & M64 for p in batch], dtype=np.uint64), grid.ordinals)
        swap_words = uniform_words(keys, SWAP_LANE, slots)  # traders x days x slots
        for t, policy in enumerate(batch):
            below = words_below(swap_words[t], policy.swap_probability)
            events = below[:, 0].copy()  # a session in which some holding may be swapped
            for k in range(1, slots):
                events |= below[:, k]
            event_days = np.flatnonzero(events)
            fills: list[Fill] | None = [] if trace is not None else None
            returns[first + t] = _one_trader(policy, keys[t], event_days, _swapped(below[event_days]), grid,
                                             initial, costs, fractional, fills)
            if trace is not None and fills is not None:
                trace.append(fills)
    return returns


def _one_trader(policy: RandomPolicy, keys: np.ndarray, event_days: np.ndarray, swapped: list[tuple[int, ...]],
                grid: PriceGrid, initial: float, costs: Costs, fractional: bool, fills: list[Fill] | None) -> float:
    """One trader, session by session: the hot loop of the null (about a quarter of a million sessions on a 10-year,
    4-model report), so names are looked up once, a session's draws reuse one object, whole-share sizes are computed
    in place and a fee that depends on the quantity alone is computed once per quantity. While the trader holds
    something only its events can change anything, and `decide` buys nothing then (it buys only with nothing held)."""
    opens, closes, names = grid.open_rows, grid.close_rows, grid.symbols
    buy_at, sell_at = grid.fill_rows(costs.fill, "buy"), grid.fill_rows(costs.fill, "sell")
    fee_of, decide, tradable, exposure = costs.fee_function, policy.decide, grid.tradable(), policy.exposure
    fee_known: dict[float, float] = {}
    memo = costs.fee_by_quantity
    floor = math.floor
    buffer = PROCEEDS_BUFFER
    events = event_days.tolist()
    last_event = len(events)
    if events:
        event_keys = keys[event_days]
        picks = uniforms(event_keys, PICK_LANE, PICKS_AHEAD).tolist()
        event_keys = event_keys.tolist()
    draws = _BulkDraws(0, (), [])
    cash = initial
    held: dict[int, float] = {}  # column (symbol order) -> quantity
    days = len(grid.days)
    d, e = 0, 0
    while d < days:
        if not held:  # the first session, or one after every holding was sold: buy from cash
            e = bisect_left(events, d, e)
            if e < last_event and events[e] == d:
                draws.key, draws.picks = event_keys[e], picks[e]
            else:  # nothing held: no swap draw is read
                draws.key, draws.picks = int(keys[d]), []
            buys, _ = decide(draws, [], tradable[d])
            day_opens, buy_row = opens[d], buy_at[d]
            each = cash * exposure / len(buys) if buys else 0.0
            for j in buys:
                price = buy_row[j]
                qty = quantity(each, day_opens[j], fractional)  # sized at the quote, as the baseline does
                fee = fee_of(qty, price)
                if qty > 0 and qty * price + fee <= cash:
                    cash -= qty * price + fee
                    held[j] = held.get(j, 0.0) + qty
                    if fills is not None:
                        fills.append((d, "buy", names[j], qty, price, fee))
            d += 1
            continue
        e = bisect_left(events, d, e)
        for e in range(e, last_event):  # noqa: B020 (the walk goes on from e)
            d = events[e]
            draws.key, draws.ks, draws.picks = event_keys[e], swapped[e], picks[e]
            _, swaps = decide(draws, sorted(held), tradable[d])
            day_opens, buy_row, sell_row = opens[d], buy_at[d], sell_at[d]
            for old, new in swaps:
                old_open, new_open = day_opens[old], day_opens[new]
                if old not in held or old_open != old_open or not old_open:  # no price for the old holding today
                    continue
                value = held[old] * old_open * buffer
                # as the baseline: a new symbol dearer than the old holding is not swapped in (quantity(...) <= 0)
                if fractional:
                    if quantity(value, new_open, fractional) <= 0:
                        continue
                elif new_open <= 0 or value <= 0 or value / new_open < 1.0:
                    continue
                qty = held.pop(old)
                price = sell_row[old]
                fee = fee_known.get(qty) if memo else None
                if fee is None:
                    fee = fee_known[qty] = fee_of(qty, price)
                cash += qty * price - fee
                if fills is not None:
                    fills.append((d, "sell", names[old], qty, price, fee))
                buy_price = buy_row[new]
                spend = value if value < cash else cash  # min(value, cash)
                if fractional:
                    new_qty = quantity(spend, new_open, fractional)
                else:  # quantity(spend, new_open, False), new_open > 0 known
                    new_qty = float(floor(spend / new_open)) if spend > 0 else 0.0
                fee = fee_known.get(new_qty) if memo else None
                if fee is None:
                    fee = fee_known[new_qty] = fee_of(new_qty, buy_price)
                if new_qty > 0 and new_qty * buy_price + fee <= cash:
                    cash -= new_qty * buy_price + fee
                    held[new] = held.get(new, 0.0) + new_qty
                    if fills is not None:
                        fills.append((d, "buy", names[new], new_qty, buy_price, fee))
            if not held:
                break
        else:
            break  # no event left: nothing changes until the last close
        d += 1
    final = cash + sum(q * closes[-1][c] for c, q in held.items())
    return final / initial - 1.0


def simulate(policy: RandomPolicy, grid: PriceGrid, initial: float, costs: Costs, fractional: bool = False) -> float:
    """One random trader over the grid's days; its cumulative return at the last close."""
    return float(simulate_traders([policy], grid, initial, costs, fractional)[0])


def matched_policy(seed: int, turnover: float | None, exposure: float | None, days: int) -> RandomPolicy:
    """Per-session turnover and exposure of a model, as the random policy's parameters."""
    e = min(max(exposure or 0.0, 0.01), 1.0)
    total = max(turnover or 0.0, 0.0)
    per_session = max(total - e, 0.0) / max(days - 1, 1)
    return RandomPolicy(seed=seed, holdings=DEFAULT_HOLDINGS, turnover=min(per_session, 2.0), exposure=e)


def trader_seed(seed: int, label: str, i: int) -> int:
    """The i-th random trader of a model: the report's seed and the model's label, so adding a model moves nothing."""
    return (seed * 1_000_033 + zlib.crc32(label.encode("utf-8"))) * 10_007 + i


def matched_traders(label: str, turnover: float | None, exposure: float | None, days: int, count: int,
                    seed: int) -> list[RandomPolicy]:
    """The `count` random traders a model is placed among, matched to its turnover and exposure."""
    base = matched_policy(0, turnover, exposure, days)
    return [RandomPolicy(seed=trader_seed(seed, label, i), holdings=base.holdings, turnover=base.turnover,
                         exposure=base.exposure) for i in range(count)]


def placed(model_return: float, returns: np.ndarray, traders: list[RandomPolicy], fees: bool) -> NullResult:
    """The model's return among its random traders' (`returns`, in the order of `traders`)."""
    beaten = float(np.sum(returns < model_return) + 0.5 * np.sum(returns == model_return)) / len(returns)
    return NullResult(returns, beaten, traders[0].turnover, traders[0].exposure, fees)


def place_among_random(label: str, model_return: float | None, turnover: float | None, exposure: float | None,
                       grid: PriceGrid, initial: float, costs: Costs, count: int, seed: int) -> NullResult | None:
    """The model's cumulative return placed among `count` random traders matched to its turnover and exposure."""
    if model_return is None or count <= 0 or not grid.days:
        return None
    traders = matched_traders(label, turnover, exposure, len(grid.days), count, seed)
    return placed(model_return, simulate_traders(traders, grid, initial, costs), traders, costs.fee is not None)
