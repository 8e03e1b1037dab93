"""News behind one interface: the bundled JSONL corpus, or Alpha Vantage NEWS_SENTIMENT for users with a key.

Whatever the source, only items published at or before the instant come back, newest first, compact and bounded.
An item without a usable publish time is never returned in a replay: we cannot prove it is not from the future.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from agent_tools.market_calendar import MARKET_TZ, require_aware

MAX_RESULTS = 20
SUMMARY_CHARS = 280
UTC = ZoneInfo("UTC")


class NewsError(ValueError):
    """The news source is unusable or the query is malformed; the message says how to fix it."""


@dataclass(frozen=True)
class NewsItem:
    published_at: datetime | None
    title: str
    summary: str
    url: str
    source: str
    tickers: tuple[str, ...]
    sentiment: str | None = None

    def compact(self) -> dict:
        summary = self.summary if len(self.summary) <= SUMMARY_CHARS else self.summary[: SUMMARY_CHARS - 1] + "…"
        out = {
            "title": self.title,
            "source": self.source,
            "published_at": self.published_at.astimezone(MARKET_TZ).isoformat() if self.published_at else None,
            "summary": summary,
            "url": self.url,
        }
        if self.tickers:
            out["tickers"] = list(self.tickers[:8])
        if self.sentiment:
            out["sentiment"] = self.sentiment
        return out


class NewsSource(Protocol):
    """Search news visible at an instant. Implementations must never return items published after it."""

    name: str

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]: ...


def parse_published(value: object) -> datetime | None:
    """An ISO time with a zone, or None when it is missing, unparseable or naive (we will not guess a zone)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_RESULTS:
        raise NewsError(f"limit must be a whole number from 1 to {MAX_RESULTS}, got {limit!r}")
    return limit


def visible(items: list[NewsItem], instant: datetime) -> list[NewsItem]:
    """Items published at or before the instant, newest first; undated items are dropped."""
    instant = require_aware(instant, "news instant")
    dated = [i for i in items if i.published_at is not None and i.published_at <= instant]
    return sorted(dated, key=lambda i: i.published_at, reverse=True)  # type: ignore[arg-type, return-value]


class LocalNewsSource:
    """The bundled JSONL corpus: loaded once, searched by keywords (all must match) and ticker."""

    name = "local"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.items = self._load(self.path)
        self.undated = sum(1 for i in self.items if i.published_at is None)

    @staticmethod
    def _load(path: Path) -> list[NewsItem]:
        if not path.exists():
            raise NewsError(f"{path}: news file not found; set 'news.path' in the config or use 'news.source': 'none'")
        items = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    raise NewsError(f"{path} line {number}: not valid JSON; fix or remove that line") from None
                if not isinstance(raw, dict) or not isinstance(raw.get("title"), str):
                    raise NewsError(f"{path} line {number}: an item needs at least a 'title' string")
                tickers = raw.get("tickers") or []
                items.append(
                    NewsItem(
                        published_at=parse_published(raw.get("published_at")),
                        title=raw["title"].strip(),
                        summary=str(raw.get("summary") or "").strip(),
                        url=str(raw.get("url") or ""),
                        source=str(raw.get("source") or ""),
                        tickers=tuple(str(t).upper() for t in tickers if isinstance(t, str)),
                        sentiment=raw.get("sentiment") if isinstance(raw.get("sentiment"), str) else None,
                    )
                )
        return items

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]:
        limit = _check_limit(limit)
        terms = [t for t in re.split(r"\W+", (query or "").lower()) if t]
        out = []
        for item in visible(self.items, instant):
            haystack = f"{item.title} {item.summary} {item.source}".lower()
            if terms and not all(term in haystack for term in terms):
                continue
            if ticker:
                symbol = ticker.upper()
                if symbol not in item.tickers and not re.search(rf"\b{re.escape(symbol)}\b", item.title):
                    continue
            out.append(item)
            if len(out) >= limit:
                break
        return out


class AlphaVantageNewsSource:
    """Alpha Vantage NEWS_SENTIMENT with `time_to` set to the instant; results are filtered again locally.

    Alpha Vantage gives `time_published` as YYYYMMDDTHHMMSS without a zone. We read it as New York time: if it
    is really UTC that hides an item for a few hours, the safe direction; the other reading could leak the future.
    """

    name = "alphavantage"

    def __init__(self, api_key_env: str = "ALPHAVANTAGE_API_KEY", base_url: str = "https://www.alphavantage.co/query",
                 timeout: float = 15.0):
        self.api_key_env = api_key_env
        self.base_url = base_url
        self.timeout = timeout

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise NewsError(f"news source 'alphavantage' needs an API key: set the environment variable {self.api_key_env}")
        return key

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]:
        limit = _check_limit(limit)
        instant = require_aware(instant, "news instant")
        params = {
            "function": "NEWS_SENTIMENT",
            "time_to": instant.astimezone(MARKET_TZ).strftime("%Y%m%dT%H%M"),
            "sort": "LATEST",
            "limit": "50",
            "apikey": self._api_key(),
        }
        if ticker:
            params["tickers"] = ticker.upper()
        url = f"{self.base_url}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - URL built from config
                body = json.loads(response.read().decode("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise NewsError(f"Alpha Vantage news request failed: {type(exc).__name__}") from None
        if not isinstance(body, dict) or "feed" not in body:
            note = body.get("Information") or body.get("Note") or body.get("Error Message") if isinstance(body, dict) else None
            raise NewsError(f"Alpha Vantage returned no news feed{': ' + str(note)[:160] if note else ''}")
        items = [self._item(raw) for raw in body["feed"] if isinstance(raw, dict)]
        terms = [t for t in re.split(r"\W+", (query or "").lower()) if t]
        matched = [i for i in visible(items, instant) if all(t in f"{i.title} {i.summary}".lower() for t in terms)]
        return matched[:limit]

    @staticmethod
    def _item(raw: dict) -> NewsItem:
        published = None
        stamp = raw.get("time_published")
        if isinstance(stamp, str):
            try:
                published = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=MARKET_TZ)
            except ValueError:
                published = None
        tickers = tuple(t.get("ticker", "") for t in raw.get("ticker_sentiment") or [] if isinstance(t, dict))
        return NewsItem(
            published_at=published,
            title=str(raw.get("title") or "").strip(),
            summary=str(raw.get("summary") or "").strip(),
            url=str(raw.get("url") or ""),
            source=str(raw.get("source") or ""),
            tickers=tickers,
            sentiment=raw.get("overall_sentiment_label"),
        )


class NoNews:
    """For runs configured without news: an empty answer, said plainly."""

    name = "none"

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]:
        _check_limit(limit)
        return []


class NotAfterClock:
    """Live: news up to the earlier of the session's instant and the clock.

    A live session is bound to its trigger (10:00), but a drill pinned earlier (`--now 09:45`) or a run that starts
    early must not read news from between its clock and the trigger.
    """

    def __init__(self, source: NewsSource, clock: Callable[[], datetime]):
        self.source = source
        self.clock = clock
        self.name = source.name

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]:
        return self.source.search(min(require_aware(instant), require_aware(self.clock())), query, ticker, limit)
