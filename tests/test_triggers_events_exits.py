"""Event triggers and exit rules in a replay over the bundled hourly window: a 2% price move of QQQ on 2025-10-10
(-3.6% open to close) calls the model between its 10:00 and 15:00 sessions, a 1% stop-loss sells inside a bar at
the level, a take-profit gapped through at the open sells at the open, the daily cap and minimum interval hold,
and a rerun repeats nothing."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from agent_tools.exits import check_bar
from agent_tools.market_calendar import at_market_time
from tests.conftest import PROJECT_DIR
from tests.test_triggers_replay import config_with, ledger, replay, sessions

SLIP = 0.0005  # the default 5 bps


def buy(symbol: str, amount: int) -> dict:
    return {"name": "buy", "arguments": {"symbol": symbol, "amount": amount}}


def scripted(plan: list[list[dict]]) -> list[dict]:
    return [{"signature": "s", "kind": "scripted", "params": {"plan": plan}}]


@pytest.fixture(scope="module")
def october_10(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("events")
    config = config_with(tmp, {"decision_times": ["10:00", "15:00"], "events": [
        {"type": "price_move", "threshold": 0.02, "symbols": ["QQQ"], "reference": "open"}]},
        models=scripted([[buy("QQQ", 2)]]), exits={"stop_loss": 0.01})
    out = tmp / "out"
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    return config, out


def test_a_price_move_calls_the_model_between_scheduled_times_and_says_why(october_10):
    _, out = october_10
    lines = sessions(out, "s")
    assert [(s["session_id"][2:], s["trigger"]) for s in lines if s.get("kind") != "exit"] == [
        ("2025-10-09T10:00-04:00", "scheduled"), ("2025-10-09T15:00-04:00", "scheduled"),
        ("2025-10-10T10:00-04:00", "scheduled"), ("2025-10-10T13:00-04:00", "event:price_move:QQQ"),
        ("2025-10-10T15:00-04:00", "scheduled")]
    log = (out / "s" / "log" / "2025-10-10" / "log.jsonl").read_text()
    prompt = next(json.loads(line)["content"] for line in log.splitlines()
                  if '"type": "user"' in line and "triggered by an event" in line)
    assert "QQQ moved -2.6% from the open ($611.4 -> $595.64) by 13:00 EDT" in prompt


def test_a_stop_hit_inside_a_bar_sells_at_the_level_without_the_model(october_10):
    _, out = october_10
    records = ledger(out, "s")
    exits = [r for r in records if r.get("trigger")]
    first = exits[0]
    assert (first["this_action"]["action"], first["this_action"]["symbol"], first["trigger"]) == (
        "sell", "QQQ", "stop_loss")
    assert first["time"] == "2025-10-10T12:00:00-04:00"  # the end of the 11:00 bar, whose low crossed the level
    assert first["price"] == pytest.approx(first["level"] * (1 - SLIP), abs=0.01)
    assert first["fee"] > 0 and first["positions"]["QQQ"] == 0
    [line] = [s for s in sessions(out, "s") if s["session_id"] == first["session_id"]]
    assert (line["kind"], line["trigger"], line["prompt_tokens"], line["cost"]) == ("exit", "stop_loss", 0, 0.0)


def test_a_rerun_repeats_no_session_and_no_exit(october_10, tmp_path):
    config, done = october_10
    out = tmp_path / "again"
    shutil.copytree(done, out)
    before = (out / "s" / "sessions.jsonl").read_text(), (out / "s" / "position" / "position.jsonl").read_text()
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    assert ((out / "s" / "sessions.jsonl").read_text(), (out / "s" / "position" / "position.jsonl").read_text()) \
        == before


def test_a_crash_after_an_event_session_wrote_the_ledger_resumes_that_session(october_10, tmp_path):
    config, done = october_10
    out = tmp_path / "crashed"
    shutil.copytree(done, out)
    path = out / "s" / "sessions.jsonl"
    lines = path.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if "event:price_move" in line)
    ledger_path = out / "s" / "position" / "position.jsonl"
    records = ledger_path.read_text().splitlines()
    keep = next(i for i, r in enumerate(records) if "T13:00" in json.loads(r).get("session_id", "")) + 1
    path.write_text("\n".join(lines[:cut]) + "\n")  # killed inside the 13:00 event session, after its fill
    ledger_path.write_text("\n".join(records[:keep]) + "\n")
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    assert [json.loads(line)["session_id"] for line in path.read_text().splitlines()] == \
        [json.loads(line)["session_id"] for line in lines]
    assert ledger_path.read_text() == (done / "s" / "position" / "position.jsonl").read_text()


def test_a_take_profit_gapped_through_at_the_open_sells_at_that_open(tmp_path):
    plan = [[buy("QQQ", 2)], [{"name": "set_exit", "arguments": {"symbol": "QQQ", "take_profit": 0.005}}],
            [{"name": "get_portfolio", "arguments": {}}]]
    config = config_with(tmp_path, {"decision_time": "15:00"}, models=scripted(plan))
    out = tmp_path / "out"
    replay(config, out, date(2025, 10, 10), date(2025, 10, 13))
    [exit_] = [r for r in ledger(out, "s") if r.get("trigger")]
    assert (exit_["trigger"], exit_["time"]) == ("take_profit", "2025-10-13T09:30:00-04:00")
    assert exit_["price"] == pytest.approx(599.68 * (1 - SLIP), abs=0.01)  # QQQ opened 2025-10-13 at 599.68
    assert exit_["level"] < 599.68
    portfolio = [json.loads(line) for line in (out / "s" / "log" / "2025-10-10" / "log.jsonl").read_text().splitlines()
                 if '"name": "get_portfolio"' in line and '"type": "tool"' in line]
    shown = json.loads(portfolio[-1]["result"])["holdings"]["QQQ"]["exits"]["take_profit"]
    assert shown["fraction"] == 0.005 and shown["price"] == exit_["level"]


@pytest.mark.parametrize(("interval", "expected"), [(60, ["10:00", "11:00", "12:00", "13:00", "15:00"]),
                                                    (120, ["10:00", "12:00", "15:00"])])
def test_the_daily_cap_and_minimum_interval_hold_across_scheduled_and_event_sessions(tmp_path, interval, expected):
    movers = ["QQQ", "NVDA", "AAPL", "MSFT", "AMZN", "META", "TSLA", "AMD"]
    config = config_with(tmp_path, {"decision_times": ["10:00", "15:00"], "max_sessions_per_day": 5,
                                    "min_interval_minutes": interval, "events": [
        {"type": "price_move", "threshold": 0.0001, "symbols": movers, "reference": "last_session"}]},
        models=scripted([]))
    out = tmp_path / "out"
    replay(config, out, date(2025, 10, 10), date(2025, 10, 10))
    times = [s["trigger_time"][11:16] for s in sessions(out, "s")]
    assert times == expected


def test_check_bar_gap_and_inside_and_stop_first():
    levels = {"stop_loss": Decimal("95"), "take_profit": Decimal("110")}
    gap = check_bar(levels, 93, 96, 92)
    assert (gap.rule, gap.price, gap.gapped) == ("stop_loss", Decimal("93"), True)
    inside = check_bar(levels, 100, 101, 94)
    assert (inside.rule, inside.price, inside.gapped) == ("stop_loss", Decimal("95"), False)
    assert check_bar(levels, 100, 111, 94).rule == "stop_loss"  # both in one bar: the worse case
    assert check_bar(levels, 112, 113, 111).price == Decimal("112")
    assert check_bar(levels, 100, 109, 96) is None


def test_the_report_shows_each_trigger_type_and_exit_trades_apart(october_10):
    from reports.build import build_report
    from reports.text import table_text

    config, out = october_10
    config = config.model_copy(update={"report": config.report.model_copy(
        update={"random_traders": 0, "bootstrap_reps": 50})})
    report = build_report(config, out, [], None, None)
    [row] = [r for r in report.rows() if r["signature"] == "s"]
    assert row["sessions"] == 5 and row["exit_trades"] == 2
    assert row["by_trigger"]["event:price_move"]["sessions"] == 1
    assert row["by_trigger"]["exit:stop_loss"] == {"sessions": 0, "trades": 2, "cost": 0.0, "tokens": 0}
    assert sum(v["trades"] for v in row["by_trigger"].values()) == row["trades"]
    text = table_text(report)
    assert "By trigger" in text and "exit:stop_loss" in text and "event:price_move" in text


def test_an_exit_book_sees_levels_another_book_over_the_same_file_set_later(tmp_path):
    """The replay's exit watcher and each session's desk hold their own book over one exits.jsonl."""
    from agent_tools.exits import ExitBook, ExitLevels

    watcher, desk = ExitBook(tmp_path, ExitLevels()), ExitBook(tmp_path, ExitLevels())
    assert watcher.levels("QQQ").stop_loss is None
    desk.set("QQQ", "2025-10-01T10:00:00-04:00", "s@1", stop_loss=0.05)
    assert watcher.levels("QQQ").stop_loss == 0.05
    desk.set("QQQ", "2025-10-02T10:00:00-04:00", "s@2", stop_loss=0.10)
    assert watcher.levels("QQQ").stop_loss == 0.10


def test_a_trailing_stop_sells_at_its_level_below_the_highest_high_since_the_entry(tmp_path):
    config = config_with(tmp_path, {}, models=scripted([[buy("QQQ", 2)]]), exits={"trailing_stop": 0.01})
    out = tmp_path / "out"
    replay(config, out, date(2025, 10, 9), date(2025, 10, 10))
    records = ledger(out, "s")
    entry = datetime.fromisoformat(next(r for r in records if r.get("this_action", {}).get("action") == "buy")["time"])
    first = next(r for r in records if r.get("trigger"))
    assert (first["this_action"]["action"], first["trigger"]) == ("sell", "trailing_stop")
    crossed_in = datetime.fromisoformat(first["time"]) - timedelta(hours=1)  # hit inside the bar ending then
    highs = [float(row["high"]) for row in csv.DictReader((PROJECT_DIR / config.data.hourly_prices).open())
             if row["symbol"] == "QQQ"
             and entry <= at_market_time(*_day_and_time(row["timestamp"])) <= crossed_in - timedelta(hours=1)]
    assert first["level"] == pytest.approx(max(highs) * 0.99, abs=0.006)  # every completed bar since the entry
    assert first["price"] == pytest.approx(first["level"] * (1 - SLIP), abs=0.01)


def _day_and_time(stamp: str) -> tuple[date, time]:
    moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    return moment.date(), moment.time()
