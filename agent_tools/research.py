"""The read-only tools: prices, daily history and news, all seen from the session's instant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from agent_tools.context import SessionContext
from agent_tools.errors import ToolInputError
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.news import NewsError, NewsSource
from agent_tools.point_in_time import PriceView, Quote, ViewError
from agent_tools.tool_bounds import MAX_HISTORY_DAYS, MAX_PRICE_SYMBOLS


@dataclass
class Research:
    ctx: SessionContext
    view: PriceView
    news: NewsSource
    now: Callable[[], str]

    def quote(self, symbol: str) -> Quote:
        try:
            return self.view.quote(symbol)
        except ViewError as exc:
            raise ToolInputError(str(exc)) from None

    def get_price(self, symbols: list[str]) -> dict:
        if isinstance(symbols, str):
            symbols = [s for s in symbols.replace(",", " ").split() if s]
        if not symbols:
            raise ToolInputError("give at least one symbol, e.g. [\"AAPL\", \"NVDA\"]")
        if len(symbols) > MAX_PRICE_SYMBOLS:
            raise ToolInputError(f"at most {MAX_PRICE_SYMBOLS} symbols per call, got {len(symbols)}")
        prices = {}
        for symbol in symbols:
            quote = self.quote(symbol)
            prices[quote.symbol] = {"price": quote.price, "as_of": quote.as_of.astimezone(MARKET_TZ).isoformat(),
                                    "basis": quote.basis}
        return {"time": self.now(), "prices": prices}

    def get_history(self, symbol: str, days: int = 20, end_date: str | None = None) -> dict:
        end_day = None
        if end_date:
            try:
                end_day = date.fromisoformat(end_date)
            except ValueError:
                raise ToolInputError(f"end_date must be YYYY-MM-DD, got {end_date!r}") from None
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
            raise ToolInputError(f"days must be a whole number from 1 to {MAX_HISTORY_DAYS}, got {days!r}")
        try:
            clean = self.view.check_symbol(symbol)
            bars = self.view.daily_history(clean, days, end_day)
        except ViewError as exc:
            raise ToolInputError(str(exc)) from None
        return {"symbol": clean, "time": self.now(), "bars": bars}

    def search_news(self, query: str = "", ticker: str | None = None, limit: int = 5) -> dict:
        if ticker:
            try:
                ticker = self.view.check_symbol(ticker)
            except ViewError as exc:
                raise ToolInputError(str(exc)) from None
        cutoff = self.news_cutoff()
        try:
            items = self.news.search(cutoff, query=query, ticker=ticker, limit=limit)
        except NewsError as exc:
            raise ToolInputError(str(exc)) from None
        return {"time": self.now(), "news_up_to": cutoff.astimezone(MARKET_TZ).isoformat(), "source": self.news.name,
                "count": len(items), "items": [i.compact() for i in items]}

    def news_cutoff(self) -> datetime:
        """News stops where the prices stop: the view's instant (the time of the price orders fill at), never later
        than the session's own instant."""
        return min(self.ctx.instant, self.view.instant)
