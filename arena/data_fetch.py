"""`main.py data fetch`: fresh bars (and news) from Alpaca into local Parquet datasets a replay reads like the CSVs.

Through alpaca-py's StockHistoricalDataClient (bars split-adjusted as of the end date, `asof` that date) and its
NewsClient. Incremental: each dataset's manifest says which days were fetched for which symbol, and only the rest is
asked for, a month at a time, so a fetch that stops (Ctrl-C, network, rate limit) resumes where it stopped. Intraday
bars that start outside the NYSE session (Alpaca's pre- and post-market) are dropped: the replay trades in session.
Fetching hour or minute bars fetches the daily bars too (a replay needs both).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.news import NewsClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import NewsRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from agent_tools.brokers.alpaca import set_http_timeout
from agent_tools.live_view import describe_api_error
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from agent_tools.parquet_store import PRICE_COLUMNS, Dataset, month_chunks, subtract
from arena.config import ArenaConfig, ConfigError

ALPACA_TIMEFRAMES = {"day": TimeFrame.Day, "hour": TimeFrame.Hour, "minute": TimeFrame.Minute}
NEWS_FILE = "alpaca_news.jsonl"
SYMBOLS_PER_REQUEST = 50


class FetchError(RuntimeError):
    """A request failed for good; what was fetched before it is kept and a rerun resumes. One line, no secrets."""


@dataclass
class FetchReport:
    bars: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # chunks already fetched
    news: int = 0
    dropped_outside_session: int = 0


def clients(config: ArenaConfig) -> tuple[StockHistoricalDataClient, NewsClient]:
    settings = config.live
    key, secret = os.environ.get(settings.api_key_env, ""), os.environ.get(settings.secret_key_env, "")
    missing = [n for n, v in ((settings.api_key_env, key), (settings.secret_key_env, secret)) if not v]
    if missing:
        raise ConfigError(f"data fetch needs Alpaca API keys: set the environment variable(s) {' and '.join(missing)} "
                          "(a free Alpaca account's key id and secret), or name others in live.api_key_env / "
                          "live.secret_key_env")
    bars = StockHistoricalDataClient(key, secret, url_override=settings.data_url)
    news = NewsClient(key, secret, url_override=settings.data_url)
    for client in (bars, news):
        set_http_timeout(client, settings.http_timeout_seconds)
    return bars, news


def last_complete_day(calendar: MarketCalendar, now: datetime) -> date:
    """The last session that has closed by `now`: a day still trading is never stored as fetched."""
    day = now.astimezone(MARKET_TZ).date()
    session = calendar.session_on(day)
    if session is not None and session.close <= now:
        return day
    previous = calendar.previous_session(day)
    return previous.day if previous else day - timedelta(days=1)


def _frames(barset: object, timeframe: str, calendar: MarketCalendar, report: FetchReport) -> dict[str, pd.DataFrame]:
    """Per symbol, the bars as stored: `date` for daily bars, `timestamp` (UTC) for intraday bars in session."""
    out: dict[str, pd.DataFrame] = {}
    for symbol, bars in getattr(barset, "data", {}).items():
        rows = []
        for bar in bars:
            moment = bar.timestamp.astimezone(MARKET_TZ)
            if timeframe == "day":
                key: object = moment.date()
            else:
                session = calendar.session_on(moment.date())
                if session is None or not session.contains(moment):
                    report.dropped_outside_session += 1
                    continue
                key = pd.Timestamp(bar.timestamp).tz_convert("UTC")
            rows.append({"key": key, "open": float(bar.open), "high": float(bar.high), "low": float(bar.low),
                         "close": float(bar.close), "volume": float(bar.volume)})
        column = "date" if timeframe == "day" else "timestamp"
        frame = pd.DataFrame(rows, columns=["key", *PRICE_COLUMNS]).rename(columns={"key": column})
        if column == "date":
            frame[column] = pd.to_datetime(frame[column]).dt.date
        out[symbol] = frame
    return out


def _chunks_by_symbols(dataset: Dataset, symbols: list[str], start: date, end: date,
                       refetch: bool) -> list[tuple[tuple[date, date], list[str]]]:
    """The month chunks still to fetch, each with the symbols that need it (one request serves them all)."""
    wanted: dict[tuple[date, date], list[str]] = {}
    for symbol in symbols:
        gaps = [(start, end)] if refetch else dataset.missing(symbol, start, end)
        for gap_start, gap_end in gaps:
            for chunk in month_chunks(gap_start, gap_end):
                wanted.setdefault(chunk, []).append(symbol)
    return sorted(wanted.items())


def fetch(config: ArenaConfig, start: date, end: date, timeframe: str, symbols: list[str], dest: Path,
          with_news: bool = True, refetch: bool = False, now: datetime | None = None,
          progress: Callable[[str, int, int], None] | None = None,
          stock_client: StockHistoricalDataClient | None = None, news_client: NewsClient | None = None) -> FetchReport:
    """Fetch what is missing of start..end; raises FetchError after keeping everything fetched before the failure."""
    calendar = MarketCalendar()
    end = min(end, last_complete_day(calendar, now or datetime.now(UTC)))
    if end < start:
        raise ConfigError(f"nothing to fetch: no session between {start} and {end} has closed yet")
    if stock_client is None or news_client is None:
        stock_client, news_client = clients(config)
    feed = DataFeed(config.live.data_feed)
    report = FetchReport()
    for frame in dict.fromkeys(["day", timeframe]):
        dataset = Dataset(Path(dest) / frame, frame)
        todo = _chunks_by_symbols(dataset, symbols, start, end, refetch)
        report.skipped[frame] = sum(len(month_chunks(start, end)) for _ in symbols) - sum(len(s) for _, s in todo)
        report.bars.setdefault(frame, 0)
        for i, ((chunk_start, chunk_end), chunk_symbols) in enumerate(todo, start=1):
            if progress:
                progress(f"{frame} {chunk_start:%Y-%m}", i, len(todo))
            for offset in range(0, len(chunk_symbols), SYMBOLS_PER_REQUEST):
                batch = chunk_symbols[offset:offset + SYMBOLS_PER_REQUEST]
                request = StockBarsRequest(
                    symbol_or_symbols=batch, timeframe=ALPACA_TIMEFRAMES[frame], feed=feed,
                    start=datetime.combine(chunk_start, time(0), tzinfo=MARKET_TZ),
                    end=datetime.combine(chunk_end, time(23, 59), tzinfo=MARKET_TZ),
                    adjustment=Adjustment.SPLIT, asof=end.isoformat())
                barset = _call(f"{frame} bars {chunk_start:%Y-%m} for {len(batch)} symbol(s)",
                               lambda r=request: stock_client.get_stock_bars(r))
                report.requests += 1
                frames = _frames(barset, frame, calendar, report)
                report.bars[frame] += dataset.write_chunk(frames, batch, chunk_start, chunk_end,
                                                          {"source": "alpaca", "feed": feed.value,
                                                           "adjustment": "split", "asof": end.isoformat()})
        if progress:
            progress(f"{frame} done", len(todo), len(todo))
    if with_news:
        report.news = fetch_news(news_client, Path(dest) / "news", symbols, start, end, refetch, report, progress)
    return report


def fetch_news(client: NewsClient, folder: Path, symbols: list[str], start: date, end: date, refetch: bool,
               report: FetchReport, progress: Callable[[str, int, int], None] | None = None) -> int:
    """News for the symbols into a JSONL corpus (`published_at` = created, `updated_at` = the version we hold)."""
    manifest_path = folder / "_coverage.json"
    try:
        covered = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        covered = {"symbols": {}}
    corpus = folder / NEWS_FILE
    items: dict[str, dict] = {}
    if corpus.exists():
        for line in corpus.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                items[str(item.get("id"))] = item
    wanted: dict[tuple[date, date], list[str]] = {}
    for symbol in symbols:
        ranges = [(date.fromisoformat(r["start"]), date.fromisoformat(r["end"]))
                  for r in covered["symbols"].get(symbol, [])]
        gaps = [(start, end)] if refetch else subtract(start, end, sorted(ranges))
        for gap in gaps:
            for chunk in month_chunks(*gap):
                wanted.setdefault(chunk, []).append(symbol)
    added = 0
    for i, ((chunk_start, chunk_end), chunk_symbols) in enumerate(sorted(wanted.items()), start=1):
        if progress:
            progress(f"news {chunk_start:%Y-%m}", i, len(wanted))
        request = NewsRequest(symbols=",".join(chunk_symbols), include_content=False, sort="asc",
                              start=datetime.combine(chunk_start, time(0), tzinfo=MARKET_TZ),
                              end=datetime.combine(chunk_end, time(23, 59, 59), tzinfo=MARKET_TZ))
        newsset = _call(f"news {chunk_start:%Y-%m}", lambda r=request: client.get_news(r))
        report.requests += 1
        for article in getattr(newsset, "data", {}).get("news", []):
            key = str(article.id)
            added += key not in items
            items[key] = {"id": article.id, "published_at": article.created_at.astimezone(UTC).isoformat(),
                          "updated_at": article.updated_at.astimezone(UTC).isoformat(), "title": article.headline,
                          "summary": article.summary or "", "url": article.url or "", "source": article.source,
                          "tickers": list(article.symbols)}
        lines = sorted(items.values(), key=lambda i: (i["published_at"], str(i["id"])))
        folder.mkdir(parents=True, exist_ok=True)
        _write_text(corpus, "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in lines))
        for symbol in chunk_symbols:
            covered["symbols"].setdefault(symbol, []).append({"start": chunk_start.isoformat(),
                                                              "end": chunk_end.isoformat()})
        _write_text(manifest_path, json.dumps(covered, indent=1) + "\n")
    if progress:
        progress("news done", len(wanted), len(wanted))
    return added


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _call(what: str, fn: Callable[[], object]) -> object:
    import requests

    try:
        return fn()
    except (APIError, requests.RequestException) as exc:
        raise FetchError(f"Alpaca market data: {what} failed ({describe_api_error(exc)}); what was fetched before is "
                         "kept: run the same command again to resume") from None
