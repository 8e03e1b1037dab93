"""The news lint and the stamp rules: text that may be newer than its stamp is found, dated items stay dated."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest

from agent_tools.market_calendar import MARKET_TZ, parse_instant
from agent_tools.news import LocalNewsSource, parse_alpha_vantage_stamp
from agent_tools.news_lint import lint_news_file
from arena.config import load_config
from arena.desk_factory import build_news
from tests.conftest import PROJECT_DIR

BUNDLED = PROJECT_DIR / "data" / "news" / "news_sample.jsonl"
# The bundled line 39 as it was shipped: a CNBC live-updates page created Thursday evening, its headline rewritten
# through Friday's sell-off (QQQ -3.6% on 2025-10-10).
LIVE_PAGE = {"published_at": "2025-10-09T22:06:15Z", "title": "Dow drops almost 900 points, S&P 500 declines the most "
             "since April after Trump's new China tariff threat", "summary": "The Trump post sparked a rapid sell-off "
             "in stocks Friday.", "url": "https://www.cnbc.com/2025/10/09/stock-market-today-live-updates.html",
             "source": "cnbc.com", "tickers": []}


def write(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def item(title: str, published_at: str = "2025-10-08T15:00:00Z", **extra) -> dict:
    return {"title": title, "published_at": published_at, "url": "https://example.test/a", **extra}


def rules(path: Path) -> list[tuple[int | None, str]]:
    return [(f.line, f.rule) for f in lint_news_file(path)]


def test_the_bundled_corpus_lints_clean():
    assert lint_news_file(BUNDLED) == []


def test_a_planted_live_updates_page_is_found_by_file_and_line(tmp_path):
    path = tmp_path / "news.jsonl"
    lines = BUNDLED.read_text(encoding="utf-8").splitlines()
    lines.insert(10, json.dumps(LIVE_PAGE))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    findings = [str(f) for f in lint_news_file(path)]

    assert findings and all(f.startswith(f"{path}:11: ") for f in findings)
    assert any(": live-page: " in f and "after the close of 2025-10-10" in f for f in findings)
    assert any(": weekday-after-stamp: " in f and "names Friday" in f for f in findings)


def test_a_live_page_with_the_time_of_its_final_version_is_clean_and_visible_only_from_then(tmp_path):
    path = write(tmp_path, [{**LIVE_PAGE, "updated_at": "2025-10-10"}])

    assert rules(path) == []
    source = LocalNewsSource(path)
    assert source.search(parse_instant("2025-10-10T10:00-04:00")) == []
    assert source.search(parse_instant("2025-10-11T00:00-04:00"))[0].compact()["updated_at"] == "2025-10-10"


@pytest.mark.parametrize(("title", "url"), [
    ("Stock Market Today: Dow slides 400 points (Live Coverage)", "https://example.test/markets/1"),
    ("Stocks edge up", "https://example.test/2025/10/08/markets-live-updates.html"),
])
def test_live_coverage_is_recognised_by_url_or_title(tmp_path, title, url):
    assert rules(write(tmp_path, [item(title, url=url)])) == [(1, "live-page")]


def test_midnight_utc_is_a_date_without_a_time_visible_after_that_new_york_day(tmp_path):
    path = write(tmp_path, [item("Outlook", "2025-10-10T00:00:00Z")])
    source = LocalNewsSource(path)

    assert rules(path) == [(1, "midnight-utc")]
    assert source.items[0].visible_from == datetime(2025, 10, 11, tzinfo=MARKET_TZ)
    assert source.search(parse_instant("2025-10-10T15:00-04:00")) == []  # not at 20:00 ET the evening before either
    assert source.search(parse_instant("2025-10-11T00:00-04:00"))[0].compact()["published_at"] == "2025-10-10"


def test_a_date_alone_is_visible_after_that_new_york_day_and_lints_clean(tmp_path):
    path = write(tmp_path, [item("Outlook", "2025-10-10")])

    assert rules(path) == []
    assert LocalNewsSource(path).items[0].visible_from == datetime(2025, 10, 11, tzinfo=MARKET_TZ)


def test_a_weekday_after_the_stamp_is_found_unless_it_looks_ahead(tmp_path):
    path = write(tmp_path, [
        item("Stocks fell sharply Thursday", "2025-10-08T22:00:00Z"),            # a Wednesday evening: leak
        item("Futures steady ahead of Thursday's CPI report", "2025-10-08T22:00:00Z"),
        item("Stocks fell Monday", "2025-10-10T22:00:00Z"),                       # Friday naming last Monday
        item("Stocks close higher Wednesday", "2025-10-08T22:00:00Z"),
    ])

    assert rules(path) == [(1, "weekday-after-stamp")]


def test_a_date_after_the_stamp_is_found_unless_it_looks_ahead(tmp_path):
    path = write(tmp_path, [
        item("Market Quick Take - 1 October 2025", "2024-12-11T07:15:29Z"),
        item("Should You Buy AMD Stock Before Nov. 4?", "2025-10-27T19:33:20Z"),
        item("Week Ahead Economic Preview: Week of 6 October 2025", "2025-10-03"),
        item("Best Stocks To Buy Now For October 2025", "2025-10-08T10:00:00Z"),
        item("Earnings recap", "2025-10-08T10:00:00Z", url="https://example.test/2025/10/09/recap.html"),
    ])

    assert rules(path) == [(1, "date-after-stamp"), (5, "date-after-stamp")]


def test_a_fed_decision_reported_before_it_was_announced_is_found(tmp_path):
    path = write(tmp_path, [
        item("Fed lowers rates, but Powell suggests move may be the last of 2025", "2025-10-29T05:02:25Z"),
        item("Fed expected to cut rates on Wednesday", "2025-10-28T12:00:00Z"),
        item("Fed lowers rates again", "2025-10-29T18:30:00Z"),  # 14:30 ET, after the 14:00 statement
        item("What's next", "2025-10-27T21:10:51Z", summary="The Fed recently lowered interest rates."),
    ])

    assert rules(path) == [(1, "outcome-before-event")]


def test_loading_a_corpus_warns_about_each_finding(write_config, tmp_path, caplog):
    path = write(tmp_path, [LIVE_PAGE])
    config = load_config(write_config(news={"source": "local", "path": str(path)}))

    with caplog.at_level(logging.WARNING, logger="tradearena.news"):
        build_news(config)

    assert [r.getMessage() for r in caplog.records if "live-page" in r.getMessage()] == [
        next(f"news lint: {f}" for f in lint_news_file(path) if f.rule == "live-page")]


def test_min_age_minutes_holds_items_back_by_that_lag(write_config, tmp_path):
    path = write(tmp_path, [item("Fresh", "2025-10-08T13:50:00Z")])  # 09:50 ET
    config = load_config(write_config(news={"source": "local", "path": str(path), "min_age_minutes": 15}))
    source = build_news(config)

    assert source.search(parse_instant("2025-10-08T10:00-04:00")) == []
    assert [i.title for i in source.search(parse_instant("2025-10-08T10:05-04:00"))] == ["Fresh"]


# -- stamps that cannot be trusted are unusable, one item at a time -----------------------------------------------------
@pytest.mark.parametrize("stamp", ["20251010T1059", "20251010T10", "20251010", "20251301T100000", "00010101T000000",
                                   "2025-10-10T10:59:00", " 20251010T105900"])
def test_an_alpha_vantage_stamp_that_is_not_a_full_timestamp_is_unusable(stamp):
    assert parse_alpha_vantage_stamp(stamp) is None


def test_a_full_alpha_vantage_stamp_is_new_york_time():
    assert parse_alpha_vantage_stamp("20251010T105900").moment == datetime(2025, 10, 10, 10, 59, tzinfo=MARKET_TZ)


def test_an_impossible_date_makes_one_item_unusable_and_search_still_answers(tmp_path):
    path = write(tmp_path, [item("year one", "0001-01-01T00:00:00Z"), item("february 30", "2025-02-30T10:00:00Z"),
                            item("bad update", updated_at="2025-13-01"), item("fine", "2025-10-01T12:00:00Z")])
    source = LocalNewsSource(path)

    results = source.search(parse_instant("2025-10-10T10:00-04:00"), limit=20)

    assert [i.title for i in results] == ["fine"]
    assert source.undated == 3
    assert [r.compact()["title"] for r in results] == ["fine"]
