"""Built-in baselines that need no API key: buy-and-hold, equal weight, momentum, and a seeded random trader.

They are real strategies and act only through the same MCP tools as an LLM, turn by turn: first they read the
portfolio and prices, then they send sells before buys, then they finish. Targets are computed from the account as
it stood at the start of the session (`start_of_session` in get_portfolio), so a session rerun after a crash sends
only the orders still missing and ends with the same ledger as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import ROUND_DOWN, Decimal

from agent_tools.market_calendar import MarketCalendar
from agent_tools.universe import Universe
from arena.models.base import FINISH_SIGNAL, ModelTurn, ToolCall
from arena.models.random_trader import PROCEEDS_BUFFER, RandomPolicy, quantity

CASH_BUFFER = Decimal("0.01")  # keep 1% in cash for fees and slippage
PRICE_CHUNK = 30


def _tool_results(messages: list[dict]) -> dict[str, dict]:
    """Every JSON tool result of the session so far, by tool-call id (ids carry the step they belong to)."""
    out: dict[str, dict] = {}
    for message in messages:
        if message["role"] == "tool":
            try:
                out[message["tool_call_id"]] = json.loads(message["content"])
            except (json.JSONDecodeError, TypeError):
                out[message["tool_call_id"]] = {"error": message["content"]}
    return out


class Baseline:
    """Shared turn logic; subclasses say when to rebalance and what target weights to hold."""

    is_baseline = True
    call_ids_name_orders = True  # `b2_buy_AAPL`: a re-sent order keeps its id (see ModelBackend)
    strategy = "baseline"

    def __init__(self, label: str, universe: tuple[str, ...] | Universe, fractional: bool = False,
                 calendar: MarketCalendar | None = None, min_trade_value: float = 1.0):
        self.label = label
        self.membership = universe if isinstance(universe, Universe) else Universe.of(tuple(universe))
        self.universe = self.membership.symbols
        self.today: date | None = None
        self.fractional = fractional
        self.calendar = calendar or MarketCalendar()
        self.min_trade_value = Decimal(str(min_trade_value))

    # -- strategy hooks ----------------------------------------------------------------------------------------
    def rebalance_today(self, today: date, holds_anything: bool) -> bool:
        return True

    def research_calls(self) -> list[tuple[str, dict]]:
        return []

    def target_weights(self, results: dict[str, dict]) -> dict[str, Decimal]:
        raise NotImplementedError

    def symbols_to_price(self) -> list[str]:
        return list(self.tradable())

    def tradable(self) -> tuple[str, ...]:
        """The universe's members on the session's day (every symbol before the first turn)."""
        return self.membership.on(self.today) if self.today else self.universe

    # -- the turn machine --------------------------------------------------------------------------------------
    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        """Step 0 reads the portfolio; step 1 researches (only on a rebalance day); step 2 trades; then finish."""
        step = sum(1 for m in messages if m["role"] == "assistant")
        results = _tool_results(messages)
        if step == 0:
            return ModelTurn(None, [ToolCall("b0_0", "get_portfolio", "{}")])
        portfolio = results.get("b0_0", {})
        if step == 1:
            if "start_of_session" not in portfolio:
                return ModelTurn(f"{self.strategy}: portfolio unavailable, not trading. {FINISH_SIGNAL}")
            today = self.today = date.fromisoformat(portfolio["time"][:10])
            if not self.rebalance_today(today, bool(portfolio["start_of_session"]["holdings"])):
                return ModelTurn(f"{self.strategy}: not a rebalance day. {FINISH_SIGNAL}")
            symbols = self.symbols_to_price()
            calls = [("get_price", {"symbols": symbols[i:i + PRICE_CHUNK]}) for i in range(0, len(symbols), PRICE_CHUNK)]
            calls += self.research_calls()
            return ModelTurn(None, [ToolCall(f"b1_{i}", n, json.dumps(a)) for i, (n, a) in enumerate(calls)])
        if step == 2:
            orders = self._orders(portfolio, {k: v for k, v in results.items() if k.startswith("b1_")})
            if not orders:
                return ModelTurn(f"{self.strategy}: on target, nothing to trade. {FINISH_SIGNAL}")
            # Ids name the order, not its position: a rerun after a crash re-sends a missing order under the same
            # id (a broker de-duplicates it) and never reuses an id for a different order.
            calls = [ToolCall(f"b2_{side}_{s}", side, json.dumps({"symbol": s, "amount": q, "reason": why}))
                     for side, s, q, why in orders]
            return ModelTurn(f"{self.strategy}: sending {len(calls)} orders.", calls)
        rejected = sum(1 for k, r in results.items() if k.startswith("b2_") and "error" in r)
        note = f" ({rejected} orders rejected)" if rejected else ""
        return ModelTurn(f"{self.strategy}: rebalanced{note}. {FINISH_SIGNAL}")

    def _orders(self, portfolio: dict, results: dict[str, dict]) -> list[tuple[str, str, float, str]]:
        start = portfolio["start_of_session"]
        start_holdings = {s: Decimal(str(q)) for s, q in start["holdings"].items()}
        prices: dict[str, Decimal] = {}
        for result in results.values():
            for symbol, row in (result.get("prices") or {}).items():
                prices[symbol] = Decimal(str(row["price"]))
        current = {s: Decimal(str(row["quantity"])) for s, row in portfolio["holdings"].items()}
        equity = Decimal(str(start["cash"])) + sum((q * prices.get(s, Decimal(0)) for s, q in start_holdings.items()), Decimal(0))
        investable = equity * (1 - CASH_BUFFER)
        weights = self.target_weights(results)
        step = Decimal("0.0001") if self.fractional else Decimal("1")
        sells, buys = [], []
        for symbol in sorted(set(weights) | set(current)):
            price = prices.get(symbol)
            if price is None or price <= 0:
                continue
            weight = weights.get(symbol, Decimal(0))
            target = (investable * weight / price).quantize(step, rounding=ROUND_DOWN) if weight > 0 else Decimal(0)
            delta = target - current.get(symbol, Decimal(0))
            if abs(delta) * price < self.min_trade_value or delta == 0:
                continue
            why = f"{self.strategy}: target {weight:.2%} of equity"
            amount = float(abs(delta)) if self.fractional else int(abs(delta))
            (sells if delta < 0 else buys).append(("sell" if delta < 0 else "buy", symbol, amount, why))
        return sells + buys

    async def aclose(self) -> None:
        return None


class BuyAndHold(Baseline):
    """Put (almost) everything into one symbol on the first session and hold it."""

    strategy = "buy-and-hold"

    def __init__(self, *args, symbol: str = "QQQ", **kwargs):
        super().__init__(*args, **kwargs)
        self.symbol = symbol.upper()

    def symbols_to_price(self) -> list[str]:
        return [self.symbol]

    def rebalance_today(self, today: date, holds_anything: bool) -> bool:
        return not holds_anything

    def target_weights(self, results: dict[str, dict]) -> dict[str, Decimal]:
        return {self.symbol: Decimal(1)}


class EqualWeight(Baseline):
    """The same weight in every symbol of the universe (QQQ excluded), rebalanced on a schedule."""

    strategy = "equal-weight"

    def __init__(self, *args, rebalance: str = "monthly", exclude: tuple[str, ...] = ("QQQ",), **kwargs):
        super().__init__(*args, **kwargs)
        if rebalance not in ("daily", "weekly", "monthly", "never"):
            raise ValueError(f"equal_weight: rebalance must be daily, weekly, monthly or never, got {rebalance!r}")
        self.rebalance = rebalance
        self.exclude = set(exclude)

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(s for s in self.tradable() if s not in self.exclude)

    def symbols_to_price(self) -> list[str]:
        return list(self.members)

    def rebalance_today(self, today: date, holds_anything: bool) -> bool:
        return not holds_anything or _new_period(self.calendar, today, self.rebalance)

    def target_weights(self, results: dict[str, dict]) -> dict[str, Decimal]:
        weight = Decimal(1) / Decimal(len(self.members))
        return dict.fromkeys(self.members, weight)


class Momentum(Baseline):
    """Hold the `top_n` symbols with the best positive return over `lookback_days`, equally weighted; weekly."""

    strategy = "momentum"

    def __init__(self, *args, lookback_days: int = 20, top_n: int = 5, rebalance: str = "weekly",
                 exclude: tuple[str, ...] = ("QQQ",), **kwargs):
        super().__init__(*args, **kwargs)
        if not 2 <= lookback_days <= 59 or not 1 <= top_n <= 50:
            raise ValueError("momentum: lookback_days must be 2..59 and top_n 1..50")
        self.lookback_days = lookback_days
        self.top_n = top_n
        self.rebalance = rebalance
        self.exclude = set(exclude)

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(s for s in self.tradable() if s not in self.exclude)

    def rebalance_today(self, today: date, holds_anything: bool) -> bool:
        return not holds_anything or _new_period(self.calendar, today, self.rebalance)

    def research_calls(self) -> list[tuple[str, dict]]:
        return [("get_history", {"symbol": s, "days": self.lookback_days + 1}) for s in self.members]

    def target_weights(self, results: dict[str, dict]) -> dict[str, Decimal]:
        scores = []
        for result in results.values():
            bars = [b for b in result.get("bars") or [] if "close" in b]
            if len(bars) >= 2 and bars[0]["close"] > 0:
                change = bars[-1]["close"] / bars[0]["close"] - 1
                if math.isfinite(change) and change > 0:
                    scores.append((change, result["symbol"]))
        chosen = [s for _c, s in sorted(scores, reverse=True)[: self.top_n]]
        if not chosen:
            return {}
        weight = Decimal(1) / Decimal(len(chosen))
        return dict.fromkeys(chosen, weight)


class RandomTrader(Baseline):
    """The null to beat: random picks and random swaps at a set turnover (`arena/models/random_trader.py`)."""

    strategy = "random"

    def __init__(self, *args, seed: int = 0, holdings: int = 5, turnover: float = 0.10, exposure: float = 0.99,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = RandomPolicy(seed=int(seed), holdings=int(holdings), turnover=float(turnover),
                                   exposure=float(exposure))

    def _orders(self, portfolio: dict, results: dict[str, dict]) -> list[tuple[str, str, float, str]]:
        start = portfolio["start_of_session"]
        prices: dict[str, float] = {}
        for result in results.values():
            for symbol, row in (result.get("prices") or {}).items():
                prices[symbol] = float(row["price"])
        held = {s: float(q) for s, q in start["holdings"].items() if float(q) > 0}
        current = {s: float(row["quantity"]) for s, row in portfolio["holdings"].items()}
        universe = [s for s in self.universe if s in prices]
        buys, swaps = self.policy.plan(date.fromisoformat(portfolio["time"][:10]), sorted(held), universe)
        why = f"random: seed {self.policy.seed}"
        orders: list[tuple[str, str, float, str]] = []
        if buys:
            equity = float(start["cash"]) + sum(q * prices.get(s, 0.0) for s, q in held.items())
            each = equity * self.policy.exposure / len(buys)
            orders += [("buy", s, quantity(each, prices[s], self.fractional) - current.get(s, 0.0), why) for s in buys]
        for old, new in swaps:
            if quantity(held[old] * prices.get(old, 0.0) * PROCEEDS_BUFFER, prices[new], self.fractional) <= 0:
                continue  # one share of the new symbol costs more than the old holding: keep it
            qty = current.get(old, 0.0)  # after a crash, what is left of the swap
            if qty > 0:
                orders.append(("sell", old, qty, f"{why}: swap into another symbol"))
            value = held[old] * prices.get(old, 0.0) * PROCEEDS_BUFFER - current.get(new, 0.0) * prices[new]
            orders.append(("buy", new, quantity(value, prices[new], self.fractional), f"{why}: swapped in"))
        fix = (lambda q: q) if self.fractional else int
        return [(side, s, fix(q), why) for side, s, q, why in orders if q > 0]


def _new_period(calendar: MarketCalendar, today: date, schedule: str) -> bool:
    """True on the first session of a new day/week/month, judged against the previous NYSE session."""
    if schedule == "never":
        return False
    if schedule == "daily":
        return True
    previous = calendar.previous_session(today)
    if previous is None:
        return True
    if schedule == "weekly":
        return previous.day.isocalendar()[:2] != today.isocalendar()[:2]
    return (previous.day.year, previous.day.month) != (today.year, today.month)


def build_baseline(strategy: str, label: str, universe: tuple[str, ...] | Universe, fractional: bool, params: dict,
                   calendar: MarketCalendar | None = None) -> Baseline:
    classes = {"buy_and_hold": BuyAndHold, "equal_weight": EqualWeight, "momentum": Momentum, "random": RandomTrader}
    try:
        return classes[strategy](label, universe, fractional=fractional, calendar=calendar, **params)
    except TypeError as exc:
        raise ValueError(f"model {label!r}: bad params for baseline {strategy!r}: {exc}") from None
