"""News behind one interface: the bundled JSONL corpus, or Alpha Vantage NEWS_SENTIMENT for users with a key.

Whatever the source, only items whose text was known at or before the instant come back, newest first, compact and
bounded. When the text was known (`visible_from`) is the later of the item's publish time and its `updated_at` (the
version we hold), plus the configured safety lag (`news.min_age_minutes`). A stamp that is only a date (`2025-10-03`,
or exactly midnight UTC, which is how a date without a time usually arrives) is visible only once that New York day
has ended. An item without a usable time (missing, unparseable, without a zone, impossible) is never returned: we
cannot prove it is not from the future.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from agent_tools.clean_text import clean_text
from agent_tools.market_calendar import MARKET_TZ, require_aware

MAX_RESULTS = 20
SUMMARY_CHARS = 280
UTC = ZoneInfo("UTC")
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ALPHA_VANTAGE_STAMP = re.compile(r"^\d{8}T\d{6}$")
SANE_YEARS = range(1971, 2200)  # outside: a placeholder (year 1) or garbage, never a publish time


class NewsError(ValueError):
    """The news source is unusable or the query is malformed; the message says how to fix it."""


@dataclass(frozen=True)
class Stamp:
    """A parsed publish or update time. A date without a time is known only once that New York day has ended."""

    moment: datetime
    date_only: bool = False
    midnight_utc: bool = False

    @property
    def day(self) -> date:
        """The New York date the stamp names (for a date-only stamp: that date, not the day after)."""
        return (self.moment - timedelta(microseconds=1)).date() if self.date_only else self.moment.date()


def end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=MARKET_TZ)


def parse_stamp(value: object) -> Stamp | None:
    """An ISO time with a zone, or a date alone; None when missing, unparseable, naive or impossible."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            return Stamp(end_of_day(day), date_only=True) if day.year in SANE_YEARS else None
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None or parsed.utcoffset() is None or parsed.year not in SANE_YEARS:
            return None
        moment = parsed.astimezone(MARKET_TZ)
    except (ValueError, OverflowError):
        return None
    if parsed.utcoffset() == timedelta(0) and parsed.time() == time(0):
        # exactly midnight UTC: a date without a time, visible only after that (New York) day ends
        return Stamp(end_of_day(parsed.date()), date_only=True, midnight_utc=True)
    return Stamp(moment)


def parse_published(value: object) -> datetime | None:
    """The instant a stamp makes an item visible (see parse_stamp), or None when it is unusable."""
    stamp = parse_stamp(value)
    return stamp.moment if stamp else None


@dataclass(frozen=True)
class NewsItem:
    """One item. `visible_from` is when the text we hold was known: the later of its published and updated stamps."""

    published: Stamp | None
    title: str
    summary: str
    url: str
    source: str
    tickers: tuple[str, ...]
    sentiment: str | None = None
    updated: Stamp | None = None
    visible_from: datetime | None = None
    line: int | None = None
    raw_published: str | None = None

    @property
    def published_at(self) -> datetime | None:
        return self.published.moment if self.published else None

    @property
    def updated_at(self) -> datetime | None:
        return self.updated.moment if self.updated else None

    def __post_init__(self) -> None:
        """Every source's text is cleaned here, where it enters (a lone surrogate would break every writer)."""
        for name in ("title", "summary", "url", "source", "sentiment"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, clean_text(value))
        object.__setattr__(self, "tickers", tuple(clean_text(str(t)) for t in self.tickers))

    def compact(self) -> dict:
        summary = self.summary if len(self.summary) <= SUMMARY_CHARS else self.summary[: SUMMARY_CHARS - 1] + "…"
        out = {"title": self.title, "source": self.source, "published_at": _show(self.published), "summary": summary,
               "url": self.url}
        if self.updated is not None and self.updated.moment > (self.published_at or self.updated.moment):
            out["updated_at"] = _show(self.updated)
        if self.tickers:
            out["tickers"] = list(self.tickers[:8])
        if self.sentiment:
            out["sentiment"] = self.sentiment
        return out


def _show(stamp: Stamp | None) -> str | None:
    if stamp is None:
        return None
    return stamp.day.isoformat() if stamp.date_only else stamp.moment.astimezone(MARKET_TZ).isoformat()


def make_item(*, published: object, updated: object = None, title: str, summary: str = "", url: str = "",
              source: str = "", tickers: tuple[str, ...] = (), sentiment: str | None = None,
              line: int | None = None) -> NewsItem:
    """Build an item from raw stamps. An item whose update time is given but unusable is unusable itself: we
    would not know when the text we hold was written."""
    pub = parse_stamp(published)
    upd = parse_stamp(updated) if updated not in (None, "") else None
    visible = None
    if pub is not None and (upd is not None or updated in (None, "")):
        visible = max(pub.moment, upd.moment) if upd else pub.moment
    return NewsItem(published=pub, title=title, summary=summary, url=url, source=source, tickers=tickers,
                    sentiment=sentiment, updated=upd, visible_from=visible, line=line,
                    raw_published=published if isinstance(published, str) else None)


class NewsSource(Protocol):
    """Search news visible at an instant. Implementations must never return items known only after it."""

    name: str

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]: ...


def _check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_RESULTS:
        raise NewsError(f"limit must be a whole number from 1 to {MAX_RESULTS}, got {limit!r}")
    return limit


def visible(items: list[NewsItem], instant: datetime, min_age: timedelta = timedelta(0)) -> list[NewsItem]:
    """Items whose text was known at least `min_age` before the instant, newest first; unusable items are dropped."""
    cutoff = require_aware(instant, "news instant") - min_age
    dated = [i for i in items if i.visible_from is not None and i.visible_from <= cutoff]
    return sorted(dated, key=lambda i: i.visible_from, reverse=True)  # type: ignore[arg-type, return-value]


def _terms(query: str | None) -> list[str]:
    return [t for t in re.split(r"\W+", (query or "").lower()) if t]


class LocalNewsSource:
    """A JSONL corpus: loaded once, searched by keywords (all must match) and ticker.

    A line is `{"published_at", "title", "summary", "url", "source", "tickers", "updated_at"?, "sentiment"?}`;
    `updated_at` is when the version of the text in the file was written (a page edited after publication).
    """

    name = "local"

    def __init__(self, path: Path, min_age_minutes: float = 0.0):
        self.path = Path(path)
        self.min_age = timedelta(minutes=min_age_minutes)
        self.items = self._load(self.path)
        self.undated = sum(1 for i in self.items if i.visible_from is None)

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
                items.append(make_item(
                    published=raw.get("published_at"), updated=raw.get("updated_at"), title=raw["title"].strip(),
                    summary=str(raw.get("summary") or "").strip(), url=str(raw.get("url") or ""),
                    source=str(raw.get("source") or ""),
                    tickers=tuple(str(t).upper() for t in tickers if isinstance(t, str)) if isinstance(tickers, list) else (),
                    sentiment=raw.get("sentiment") if isinstance(raw.get("sentiment"), str) else None, line=number,
                ))
        return items

    def search(self, instant: datetime, query: str = "", ticker: str | None = None, limit: int = 5) -> list[NewsItem]:
        limit = _check_limit(limit)
        terms = _terms(query)
        out = []
        for item in visible(self.items, instant, self.min_age):
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


def parse_alpha_vantage_stamp(value: object) -> Stamp | None:
    """Alpha Vantage's `time_published`, strictly `YYYYMMDDTHHMMSS`, read as New York time.

    Anything else (a truncated `20251010T1059`, an impossible date) is unusable: read leniently, a truncated stamp
    becomes an earlier time (10:05:09), which is how the future leaks.
    """
    if not isinstance(value, str) or not ALPHA_VANTAGE_STAMP.match(value):
        return None
    try:
        moment = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=MARKET_TZ)
    except ValueError:
        return None
    return Stamp(moment) if moment.year in SANE_YEARS else None


class AlphaVantageNewsSource:
    """Alpha Vantage NEWS_SENTIMENT with `time_to` set to the instant; results are filtered again locally.

    Alpha Vantage gives `time_published` as YYYYMMDDTHHMMSS without a zone. We read it as New York time: if it
    is really UTC that hides an item for a few hours, the safe direction; the other reading could leak the future.
    """

    name = "alphavantage"

    def __init__(self, api_key_env: str = "ALPHAVANTAGE_API_KEY", base_url: str = "https://www.alphavantage.co/query",
                 timeout: float = 15.0, min_age_minutes: float = 0.0):
        self.api_key_env = api_key_env
        self.base_url = base_url
        self.timeout = timeout
        self.min_age = timedelta(minutes=min_age_minutes)

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
            "time_to": (instant - self.min_age).astimezone(MARKET_TZ).strftime("%Y%m%dT%H%M"),
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
        feed = body["feed"] if isinstance(body["feed"], list) else []
        items = [self._item(raw) for raw in feed if isinstance(raw, dict)]
        terms = _terms(query)
        matched = [i for i in visible(items, instant, self.min_age)
                   if all(t in f"{i.title} {i.summary}".lower() for t in terms)]
        return matched[:limit]

    @staticmethod
    def _item(raw: dict) -> NewsItem:
        stamp = parse_alpha_vantage_stamp(raw.get("time_published"))
        tickers = tuple(str(t.get("ticker", "")) for t in raw.get("ticker_sentiment") or [] if isinstance(t, dict))
        sentiment = raw.get("overall_sentiment_label")
        return NewsItem(
            published=stamp,
            title=str(raw.get("title") or "").strip(),
            summary=str(raw.get("summary") or "").strip(),
            url=str(raw.get("url") or ""),
            source=str(raw.get("source") or ""),
            tickers=tickers,
            sentiment=sentiment if isinstance(sentiment, str) else None,
            visible_from=stamp.moment if stamp else None,
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
