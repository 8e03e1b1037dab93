"""A fake Alpaca market-data history server on 127.0.0.1, for `main.py data fetch` through the real alpaca-py.

Serves `/v2/stocks/bars` for any range and timeframe (1Day, 1Hour, 1Min), paginated with `limit` and
`next_page_token` as Alpaca does, and `/v1beta1/news`. Prices are a deterministic function of symbol, day and
minute (`price`), so a test can compute what a replay on the fetched data must show. Hourly and minute bars include
the pre-market (an hourly bar starting 09:00, minute bars from 09:00) as Alpaca's do; the fetcher must drop what
starts outside the session. `fail_after(n)` makes every request after the n-th answer HTTP 500 (a dropped fetch).
Built on FakeAlpaca (same keys, lifetime and request log); trading routes are FakeAlpaca's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from agent_tools.market_calendar import MARKET_TZ
from tests.fakes.fake_alpaca import FakeAlpaca, base_price, iso, parse_time

STEPS = {"1Day": None, "1Hour": timedelta(hours=1), "1Min": timedelta(minutes=1)}


def price(symbol: str, day: date, minute: int) -> float:
    """The price `minute` minutes after 09:00 New York time on `day` (two decimals)."""
    drift = 1 + 0.001 * (day.toordinal() % 17) + 0.0001 * minute
    return round(float(base_price(symbol)) * drift, 2)


class FakeMarketData(FakeAlpaca):
    def __init__(self, *args: Any, news: list[dict] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.news = news or []
        self._fail_after: int | None = None
        self._served = 0

    def fail_after(self, requests: int | None) -> None:
        self._fail_after = requests
        self._served = 0

    @property
    def bar_requests(self) -> list[dict]:
        return [c["query"] for c in self.calls if c["path"] == "/v2/stocks/bars"]

    # -- bars ------------------------------------------------------------------------------------------------------
    def _bar_json(self, symbol: str, start: datetime, day: date, first: int, last: int) -> dict:
        prices = [price(symbol, day, m) for m in range(first, last + 1)]
        return {"t": iso(start), "o": prices[0], "h": max(prices), "l": min(prices), "c": prices[-1],
                "v": 1000 * (last - first + 1), "n": 10, "vw": prices[0]}

    def _bars_for(self, symbol: str, timeframe: str, start: datetime, end: datetime) -> list[dict]:
        rows = []
        day = start.astimezone(MARKET_TZ).date()
        while day <= end.astimezone(MARKET_TZ).date():
            session = self._calendar.session_on(day)
            if session is not None:
                nine = datetime.combine(day, time(9), tzinfo=MARKET_TZ)
                close_minute = int((session.close - nine).total_seconds() // 60) - 1
                if timeframe == "1Day":
                    midnight = datetime.combine(day, time(0), tzinfo=MARKET_TZ)
                    if start <= midnight <= end:
                        rows.append(self._bar_json(symbol, midnight, day, 30, close_minute))
                else:
                    step = STEPS[timeframe]
                    t = nine
                    while t < session.close:
                        first = int((t - nine).total_seconds() // 60)
                        last = min(first + int(step.total_seconds() // 60) - 1, close_minute)
                        if start <= t <= end:
                            rows.append(self._bar_json(symbol, t, day, first, last))
                        t += step
            day += timedelta(days=1)
        return rows

    def _history(self, query: dict[str, str]) -> tuple[int, Any]:
        symbols = query["symbols"].split(",")
        start = parse_time(query["start"])
        end = parse_time(query.get("end") or iso(datetime.now(UTC)))
        timeframe = query.get("timeframe", "1Day")
        if timeframe not in STEPS:
            return 422, {"code": 42210000, "message": f"unsupported timeframe {timeframe}"}
        flat = [(s, bar) for s in symbols for bar in self._bars_for(s, timeframe, start, end)]
        offset = int(query.get("page_token") or 0)
        limit = int(query.get("limit") or 10000)
        page = flat[offset:offset + limit]
        bars: dict[str, list] = {}
        for symbol, bar in page:
            bars.setdefault(symbol, []).append(bar)
        token = str(offset + limit) if offset + limit < len(flat) else None
        return 200, {"bars": bars, "next_page_token": token}

    # -- news ------------------------------------------------------------------------------------------------------
    def _news(self, query: dict[str, str]) -> tuple[int, Any]:
        start, end = parse_time(query["start"]), parse_time(query["end"])
        wanted = set(query["symbols"].split(",")) if query.get("symbols") else None
        items = [n for n in self.news if start <= parse_time(n["created_at"]) <= end
                 and (wanted is None or wanted & set(n["symbols"]))]
        offset = int(query.get("page_token") or 0)
        limit = int(query.get("limit") or 50)
        token = str(offset + limit) if offset + limit < len(items) else None
        return 200, {"news": items[offset:offset + limit], "next_page_token": token}

    def _route(self, method: str, path: str, query: dict[str, str], body: dict | None) -> tuple[int, Any]:
        if path in ("/v2/stocks/bars", "/v1beta1/news"):
            self._served += 1
            if self._fail_after is not None and self._served > self._fail_after:
                return 500, {"code": 50010000, "message": "internal server error"}
            return self._history(query) if path == "/v2/stocks/bars" else self._news(query)
        return super()._route(method, path, query, body)


def news_item(n: int, created: str, updated: str | None = None, symbols: tuple[str, ...] = ("AAPL",)) -> dict:
    return {"id": n, "headline": f"Story {n}", "author": "Fake Wire", "created_at": created,
            "updated_at": updated or created, "summary": f"Summary {n}", "content": "", "url": f"https://example.test/{n}",
            "images": [], "symbols": list(symbols), "source": "fakewire"}
