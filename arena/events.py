"""Event triggers (`run.events`): the conditions that call a model between its scheduled times.

- `price_move`: a symbol (the holdings, or a list) moved more than `threshold` from the day's open or from the
  price at the model's last session;
- `drawdown`: the account's equity fell `threshold` below its peak of the day (the peak restarts after it fired);
- `news`: an item about one of `tickers` (the holdings, or a list) whose title or summary has any of `keywords`.

A check looks at the market as it stands at an instant, through the same point-in-time view a session would
(`MarketView`): in a replay at each intraday bar's end, live at each poll. What a check returns is a candidate:
the day's budget (`arena.triggers.DayBudget`) decides whether it runs. A price move from the open fires once per
symbol a day, a news item once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from agent_tools.ledger import LedgerState
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.news import NewsSource
from agent_tools.point_in_time import PriceView, ViewError
from agent_tools.portfolio import equity
from arena.config import DrawdownRule, NewsRule, PriceMoveRule
from arena.triggers import Trigger


def _price(view: PriceView, symbol: str) -> Decimal | None:
    try:
        return Decimal(str(view.quote(symbol).price))
    except ViewError:
        return None


def _open(view: PriceView, symbol: str) -> Decimal | None:
    opener = getattr(view, "session_open", None)
    try:
        value = opener(symbol) if opener is not None else None
    except ViewError:
        return None
    return Decimal(str(value)) if value is not None else None


@dataclass
class EventWatch:
    """One model's event rules over one day; `check` returns the events true at an instant, in rule order."""

    rules: list
    news: NewsSource | None = None
    fired: set[str] = field(default_factory=set)  # once-a-day keys: price moves from the open, news items
    peak: Decimal | None = None  # the day's highest equity (drawdown)
    last_session_prices: dict[str, Decimal] = field(default_factory=dict)

    def session_ran(self, view: PriceView, state: LedgerState) -> None:
        """A session ran at the view's instant: prices there are the `last_session` reference from now on."""
        symbols = set(state.holdings)
        for rule in self.rules:
            if isinstance(rule, PriceMoveRule) and rule.symbols != "holdings":
                symbols.update(s.upper() for s in rule.symbols)
        for symbol in sorted(symbols):
            price = _price(view, symbol)
            if price is not None:
                self.last_session_prices[symbol] = price
        self.peak = None if self.peak is None else max(self.peak, equity(state, view))

    def check(self, view: PriceView, state: LedgerState, since: datetime) -> list[Trigger]:
        found: list[Trigger] = []
        for rule in self.rules:
            if isinstance(rule, PriceMoveRule):
                found += self._price_moves(rule, view, state)
            elif isinstance(rule, DrawdownRule):
                found += self._drawdown(rule, view, state)
            elif isinstance(rule, NewsRule) and self.news is not None:
                found += self._news(rule, view, state, since)
        return found

    def taken(self, trigger: Trigger) -> None:
        """The budget admitted this event: it will not fire again today (a drawdown restarts its peak)."""
        self.fired.add(trigger.kind if not trigger.kind.startswith("event:news") else trigger.why)
        if trigger.kind == "event:drawdown":
            self.peak = None

    def _price_moves(self, rule: PriceMoveRule, view: PriceView, state: LedgerState) -> list[Trigger]:
        symbols = sorted(state.holdings) if rule.symbols == "holdings" else [s.upper() for s in rule.symbols]
        at = view.instant.astimezone(MARKET_TZ)
        out = []
        for symbol in symbols:
            kind = f"event:price_move:{symbol}"
            if rule.reference == "open":
                if kind in self.fired:
                    continue
                reference, against = _open(view, symbol), "the open"
            else:
                reference, against = self.last_session_prices.get(symbol), "the last session"
            price = _price(view, symbol)
            if reference is None or price is None or reference <= 0:
                continue
            move = price / reference - 1
            if abs(move) >= Decimal(str(rule.threshold)):
                out.append(Trigger(view.instant, kind, f"{symbol} moved {float(move):+.1%} from {against} "
                                                        f"(${reference} -> ${price}) by {at:%H:%M %Z}."))
        return out

    def _drawdown(self, rule: DrawdownRule, view: PriceView, state: LedgerState) -> list[Trigger]:
        value = equity(state, view)
        self.peak = value if self.peak is None else max(self.peak, value)
        if self.peak <= 0:
            return []
        fall = 1 - value / self.peak
        if fall >= Decimal(str(rule.threshold)):
            return [Trigger(view.instant, "event:drawdown", f"the account is {float(fall):.1%} below its peak of "
                                                           f"the day (${self.peak:,.2f} -> ${value:,.2f}).")]
        return []

    def _news(self, rule: NewsRule, view: PriceView, state: LedgerState, since: datetime) -> list[Trigger]:
        tickers = sorted(state.holdings) if rule.tickers == "holdings" else [t.upper() for t in rule.tickers]
        out = []
        assert self.news is not None
        for ticker in tickers:
            for keyword in rule.keywords:
                for item in self.news.search(view.instant, keyword, ticker, limit=20):
                    published = item.visible_from or item.published_at
                    key = f"news about {ticker}: \"{item.title}\""
                    if published is None or published <= since or key in self.fired:
                        continue
                    out.append(Trigger(view.instant, f"event:news:{ticker}", key))
        unique: dict[str, Trigger] = {t.why: t for t in out}
        return list(unique.values())
