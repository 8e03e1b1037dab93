"""News at an instant: never an item published later, never an undated one; local corpus and Alpha Vantage."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from agent_tools.market_calendar import MARKET_TZ, CalendarError, parse_instant
from agent_tools.news import AlphaVantageNewsSource, LocalNewsSource, NewsError, NoNews, NotAfterClock
from tests.conftest import PROJECT_DIR

INSTANT = parse_instant("2025-10-02T10:00-04:00")
BUNDLED = PROJECT_DIR / "data" / "news" / "news_sample.jsonl"


def write_jsonl(tmp_path: Path, items: list[dict | str]) -> Path:
    path = tmp_path / "news.jsonl"
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items), encoding="utf-8")
    return path


def item(title: str, published_at: object = "2025-10-01T12:00:00Z", **extra) -> dict:
    return {"title": title, "published_at": published_at, **extra}


# -- the bundled corpus --------------------------------------------------------------------------------------------
def test_bundled_corpus_has_items_after_the_instant():
    """The premise of the next test: the sample really contains the future."""
    source = LocalNewsSource(BUNDLED)

    assert any(i.published_at > INSTANT for i in source.items if i.published_at)


def test_bundled_corpus_returns_nothing_published_after_the_instant():
    results = LocalNewsSource(BUNDLED).search(INSTANT, limit=20)

    assert len(results) == 20
    assert all(i.published_at <= INSTANT for i in results)
    # the newest visible item is 08:00:09 EDT that morning; the next one in the file (13:04 EDT) is not returned
    assert results[0].published_at == datetime(2025, 10, 2, 8, 0, 9, tzinfo=MARKET_TZ)


def test_bundled_corpus_keyword_search_skips_future_matches():
    """'S&P 500 ... record highs' items exist only after Oct 2, so nothing comes back at Oct 2."""
    source = LocalNewsSource(BUNDLED)

    assert source.search(INSTANT, query="record highs") == []
    assert source.search(parse_instant("2025-10-08T10:00-04:00"), query="record highs") != []


# -- a small corpus ------------------------------------------------------------------------------------------------
def test_item_published_exactly_at_the_instant_is_visible_and_one_second_later_is_not(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [
        item("on time", "2025-10-02T10:00:00-04:00"), item("too late", "2025-10-02T14:00:01Z")]))

    assert [i.title for i in source.search(INSTANT, limit=20)] == ["on time"]


def test_items_without_a_usable_publish_time_are_never_returned(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [
        item("dated"),
        {"title": "no field"},
        item("null", None),
        item("empty", ""),
        item("unparseable", "yesterday morning"),
        item("naive", "2025-10-01T09:00:00"),
        item("number", 1759300000),
    ]))

    assert [i.title for i in source.search(INSTANT, limit=20)] == ["dated"]
    assert source.undated == 6


def test_results_are_newest_first(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [
        item("middle", "2025-09-30T12:00:00Z"), item("newest", "2025-10-01T23:00:00Z"), item("oldest", "2025-09-01T12:00:00Z")]))

    assert [i.title for i in source.search(INSTANT, limit=20)] == ["newest", "middle", "oldest"]


def test_limit_caps_the_number_of_results(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [item(f"story {n}") for n in range(5)]))

    assert len(source.search(INSTANT, limit=2)) == 2


@pytest.mark.parametrize("limit", [0, 21, -1, True, 2.0])
def test_limit_outside_1_to_20_is_refused(tmp_path, limit):
    source = LocalNewsSource(write_jsonl(tmp_path, [item("story")]))

    with pytest.raises(NewsError, match="limit must be a whole number from 1 to 20"):
        source.search(INSTANT, limit=limit)


def test_every_keyword_must_match(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [
        item("Nvidia earnings beat"), item("Nvidia launches a chip"), item("Apple earnings", summary="no chips")]))

    assert [i.title for i in source.search(INSTANT, query="NVIDIA earnings", limit=20)] == ["Nvidia earnings beat"]


def test_keywords_also_match_the_summary(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [item("Quiet day", summary="Tariff talk weighs on chipmakers")]))

    assert [i.title for i in source.search(INSTANT, query="tariff", limit=5)] == ["Quiet day"]


def test_ticker_matches_the_tickers_list_or_the_ticker_as_a_word_in_the_title(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [
        item("Chip stocks rally", tickers=["NVDA", "AMD"], published_at="2025-10-01T15:00:00Z"),
        item("Why NVDA fell", published_at="2025-10-01T14:00:00Z"),
        item("NVDAX is a different fund", published_at="2025-10-01T13:00:00Z"),
        item("Apple news", tickers=["AAPL"], published_at="2025-10-01T12:00:00Z"),
    ]))

    assert [i.title for i in source.search(INSTANT, ticker="nvda", limit=20)] == ["Chip stocks rally", "Why NVDA fell"]


def test_invalid_json_line_is_named(tmp_path):
    path = write_jsonl(tmp_path, [item("fine"), "{not json"])

    with pytest.raises(NewsError, match=rf"{path} line 2: not valid JSON"):
        LocalNewsSource(path)


def test_missing_news_file_is_named(tmp_path):
    with pytest.raises(NewsError, match="news file not found"):
        LocalNewsSource(tmp_path / "absent.jsonl")


def test_naive_instant_is_refused(tmp_path):
    source = LocalNewsSource(write_jsonl(tmp_path, [item("story")]))

    with pytest.raises(CalendarError):
        source.search(datetime(2025, 10, 2, 10, 0))


def test_no_news_source_answers_empty():
    assert NoNews().search(INSTANT) == []


# -- Alpha Vantage against a fake server on 127.0.0.1 ---------------------------------------------------------------
AV_KEY_ENV = "TRADEARENA_TEST_AV_KEY"


class FakeAlphaVantage:
    """A NEWS_SENTIMENT endpoint on a free local port: records each query and answers with `body`."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.body: dict = {"feed": []}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake.queries.append({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})
                payload = json.dumps(fake.body).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/query"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def source(self) -> AlphaVantageNewsSource:
        return AlphaVantageNewsSource(AV_KEY_ENV, self.url, timeout=5)


@pytest.fixture
def alphavantage(monkeypatch):
    monkeypatch.setenv(AV_KEY_ENV, "test-key")
    fake = FakeAlphaVantage()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join()


def av_item(title: str, stamp: str, tickers: tuple[str, ...] = ()) -> dict:
    return {"title": title, "summary": "", "url": "https://example.test/" + title, "source": "Fake Wire",
            "time_published": stamp, "overall_sentiment_label": "Neutral",
            "ticker_sentiment": [{"ticker": t} for t in tickers]}


def test_alphavantage_asks_for_news_up_to_the_instant(alphavantage):
    alphavantage.source().search(datetime.fromisoformat("2025-10-02T14:00:00+00:00"), ticker="nvda")

    (query,) = alphavantage.queries
    assert query["function"] == "NEWS_SENTIMENT"
    assert query["time_to"] == "20251002T1000"
    assert query["tickers"] == "NVDA"
    assert query["apikey"] == "test-key"


def test_alphavantage_drops_future_and_undated_items_from_the_feed(alphavantage):
    alphavantage.body = {"feed": [
        av_item("after", "20251002T100001"),
        av_item("before", "20251002T095959"),
        av_item("undated", "sometime"),
        av_item("earlier", "20251001T160000"),
    ]}

    results = alphavantage.source().search(INSTANT, limit=20)

    assert [i.title for i in results] == ["before", "earlier"]
    assert results[0].published_at == datetime(2025, 10, 2, 9, 59, 59, tzinfo=MARKET_TZ)


def test_alphavantage_applies_keywords_locally(alphavantage):
    alphavantage.body = {"feed": [av_item("Chip rally", "20251001T120000"), av_item("Bank earnings", "20251001T110000")]}

    assert [i.title for i in alphavantage.source().search(INSTANT, query="earnings")] == ["Bank earnings"]


def test_alphavantage_without_a_key_names_the_variable_and_sends_nothing(alphavantage, monkeypatch):
    monkeypatch.delenv(AV_KEY_ENV)

    with pytest.raises(NewsError, match=f"set the environment variable {AV_KEY_ENV}"):
        alphavantage.source().search(INSTANT)
    assert alphavantage.queries == []


def test_alphavantage_answer_without_a_feed_is_an_error_with_its_note(alphavantage):
    alphavantage.body = {"Information": "rate limit reached"}

    with pytest.raises(NewsError, match="no news feed: rate limit reached"):
        alphavantage.source().search(INSTANT)


def test_live_news_never_passes_the_clock_even_when_the_session_instant_is_later():
    source = LocalNewsSource(BUNDLED)
    clock = parse_instant("2025-10-23T09:00-04:00")  # a drill pinned before the 10:00 trigger
    bounded = NotAfterClock(source, lambda: clock)

    items = bounded.search(parse_instant("2025-10-23T10:00-04:00"), limit=20)

    assert items and all(item.published_at <= clock for item in items)
    assert any(item.published_at > clock for item in source.search(parse_instant("2025-10-23T10:00-04:00"), limit=20))
