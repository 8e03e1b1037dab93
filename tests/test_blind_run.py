"""`run --blind`: aliases for tickers, prices rebased to 100, names stripped from news; the report translates blind
ledgers back and shows the named-versus-blind gap. And the repeats layout (`<out>/repeat-<k>/<signature>`)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_tools.news import LocalNewsSource
from agent_tools.point_in_time import MarketView
from arena.blind import BlindNews, blind_market_data, make_map
from arena.config import load_config
from arena.run_loop import run_replay
from main import cli
from reports.build import build_report
from reports.text import blind_and_repeat_lines

BASE = date(2025, 9, 30)


@pytest.fixture(scope="module")
def blind(market):
    return make_map(market.data, list(market.data.universe), BASE, seed=0)


def test_blind_market_has_aliases_only_and_every_close_at_100_on_the_base_day(market, blind) -> None:
    data = blind_market_data(market.data, blind)
    assert set(data.universe) == set(blind.aliases.values()) and not set(data.universe) & set(market.data.universe)
    for real, alias in blind.aliases.items():
        real_bars, alias_bars = market.data.daily[real], data.daily[alias]
        i = alias_bars.index_of_day(BASE)
        assert alias_bars.bars[i].close == pytest.approx(100.0, abs=1e-3)
        j = real_bars.index_of_day(date(2025, 10, 15))
        real_return = real_bars.bars[j].close / real_bars.bars[i].close
        assert alias_bars.bars[j].close / alias_bars.bars[i].close == pytest.approx(real_return, rel=1e-4)
    view = MarketView(data, datetime.fromisoformat("2025-10-02T10:00-04:00"), market.calendar)
    alias = blind.aliases["NVDA"]
    assert view.quote(alias).symbol == alias and view.daily_history(alias, 3)[-1]["partial"] == "open only"


def test_blind_news_replaces_names_and_tickers_with_aliases(tmp_path: Path, blind) -> None:
    corpus = tmp_path / "news.jsonl"
    corpus.write_text(json.dumps({"published_at": "2025-10-01T12:00:00Z", "title": "Apple (AAPL) and Nvidia's chips",
                                  "summary": "Analysts say NVDA and Microsoft lead; Apple's iPhone sales rose.",
                                  "url": "https://example.com/aapl", "source": "wire",
                                  "tickers": ["AAPL", "NVDA", "XYZ"]}) + "\n", encoding="utf-8")
    news = BlindNews(LocalNewsSource(corpus), blind)
    apple, nvidia, msft = blind.aliases["AAPL"], blind.aliases["NVDA"], blind.aliases["MSFT"]
    [item] = news.search(datetime.fromisoformat("2025-10-02T10:00-04:00"), ticker=apple)
    assert item.title == f"{apple} ({apple}) and {nvidia} chips"
    assert item.summary == f"Analysts say {nvidia} and {msft} lead; {apple} {apple} sales rose."
    assert item.tickers == (apple, nvidia) and item.url == ""
    for real in ("AAPL", "NVDA", "Apple", "Nvidia", "Microsoft", "iPhone"):
        assert real not in json.dumps(item.compact())


def ledger(out: Path, signature: str) -> list[dict]:
    return [json.loads(line) for line in (out / signature / "position" / "position.jsonl").read_text().splitlines()]


def test_run_blind_trades_aliases_and_the_report_shows_the_named_vs_blind_gap(tmp_path: Path, default_config,
                                                                              write_config) -> None:
    out = tmp_path / "runs"
    runner = CliRunner()
    for extra in ([], ["--blind"], ["--blind"]):  # the second blind run resumes with the same aliases
        done = runner.invoke(cli, ["run", "--out", str(out), "--end", "2025-10-08", "--models",
                                   "baseline-buy-and-hold-qqq,baseline-momentum", *extra])
        assert done.exit_code == 0, done.output
    saved = json.loads((out / "blind" / "blind.json").read_text())
    qqq = saved["aliases"]["QQQ"]
    blind_records = ledger(out / "blind", "baseline-buy-and-hold-qqq")
    assert blind_records[1]["this_action"]["symbol"] == qqq and "QQQ" not in blind_records[1]["positions"]
    log = (out / "blind" / "baseline-momentum" / "log" / "2025-10-06" / "log.jsonl").read_text()
    facts = next(json.loads(line)["content"] for line in log.splitlines() if json.loads(line)["type"] == "user")
    assert not any(f" {real}:" in facts or f" {real} " in facts for real in default_config.universe)

    fast = load_config(write_config(report={"bootstrap_reps": 100, "random_traders": 0}))
    report = build_report(fast, out, [], None, None)
    rows = {r["label"]: r for r in report.rows()}
    named, blind = rows["baseline-buy-and-hold-qqq [runs]"], rows["baseline-buy-and-hold-qqq [blind]"]
    assert blind["blind"] is True and named["blind"] is False
    assert named["named_minus_blind"] == pytest.approx(named["cumulative_return"] - blind["cumulative_return"])
    assert abs(named["named_minus_blind"]) < 0.005  # QQQ is QQQ under any name: only share rounding differs
    assert blind["trades"] == 1 and blind["final_value"] == pytest.approx(named["final_value"], rel=0.005)


def test_report_reads_the_repeats_layout_and_gives_the_mean_and_interval_across_repeats(write_config, market,
                                                                                       tmp_path: Path) -> None:
    out = tmp_path / "runs"
    for k in (1, 2, 3):
        model = {"signature": "rnd", "kind": "baseline", "strategy": "random", "params": {"seed": k, "turnover": 0.3}}
        config = load_config(write_config(f"c{k}.json", models=[model]))
        asyncio.run(run_replay(config, market, config.enabled_models(), out / f"repeat-{k}", date(2025, 10, 1),
                               date(2025, 10, 8), parallel=1))
    config = load_config(write_config("r.json", report={"bootstrap_reps": 100, "random_traders": 0}))
    report = build_report(config, out, [], None, None)
    rows = [r for r in report.rows() if not r["benchmark"]]
    assert sorted(r["label"] for r in rows) == ["rnd [repeat-1]", "rnd [repeat-2]", "rnd [repeat-3]"]
    returns = [r["cumulative_return"] for r in rows]
    assert len(set(returns)) == 3  # three seeds, three different runs
    for row in rows:
        assert row["repeats"] == 3 and row["repeats_mean_return"] == pytest.approx(sum(returns) / 3, abs=1e-7)
        low, high = row["repeats_return_ci"]
        assert low < row["repeats_mean_return"] < high
    assert "Repeats (rnd): 3 runs" in "\n".join(blind_and_repeat_lines(report))
