"""Equity, windows, benchmarks and the edge cases of issue 4 on a tiny hand-made market (values checked by hand)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arena.config import load_config
from reports import ReportError
from reports.build import Entry, Report, build_report
from tests.report_support import record, tiny_config, write_jsonl, write_ledger


def holder_records() -> list[dict]:
    """Buys 10 AAA on 10-01 @ 10 (fee 1), sells 5 on 10-06 @ 9.5 (fee 1)."""
    return [
        record("2025-10-01", 1000, session="h1"),
        record("2025-10-01", 899, "buy", "AAA", 10, price=10.0, fee=1.0, session="h1", AAA=10),
        record("2025-10-02", 899, "no_trade", session="h2", AAA=10),
        record("2025-10-06", 945.5, "sell", "AAA", 5, price=9.5, fee=1.0, session="h4", AAA=5),
        record("2025-10-08", 945.5, "no_trade", session="h6", AAA=5),
    ]


HOLDER_EQUITY = [1000, 1009, 1019, 989, 995.5, 1005.5, 1005.5]  # base 09-30, then 10-01 .. 10-08 closes


def idle_records() -> list[dict]:
    return [record("2025-10-01", 1000, session="i1")] + [
        record(day, 1000, "no_trade", session=f"i{n}") for n, day in enumerate(("2025-10-02", "2025-10-08"), 2)
    ]


def late_records() -> list[dict]:
    """Starts on 10-03 and buys 10 AAA @ 12."""
    return [
        record("2025-10-03", 1000, session="l1"),
        record("2025-10-03", 880, "buy", "AAA", 10, price=12.0, fee=0.0, session="l1", AAA=10),
        record("2025-10-08", 880, "no_trade", session="l4", AAA=10),
    ]


def entry(report: Report, signature: str) -> Entry:
    return next(e for e in report.entries if e.signature == signature)


def entry_row(report: Report, signature: str) -> dict:
    return next(r for r in report.rows() if r["signature"] == signature)


@pytest.fixture
def config(tmp_path: Path, write_config):
    return load_config(tiny_config(tmp_path, write_config))


def test_equity_is_marked_at_each_close_from_a_base_point_of_initial_cash(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "holder", holder_records())
    report = build_report(config, tmp_path / "run", [], None, None)
    holder = entry(report, "holder")
    assert list(holder.curve.equity) == pytest.approx(HOLDER_EQUITY)
    assert holder.curve.equity.index[0] == date(2025, 9, 30)
    assert (report.start, report.end, report.trading_days) == (date(2025, 10, 1), date(2025, 10, 8), 6)
    assert holder.perf.final_value == pytest.approx(1005.5)
    assert holder.perf.cumulative_return == pytest.approx(0.0055)


def test_trades_fees_turnover_win_rate_and_exposure_come_from_the_ledger(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "holder", holder_records())
    report = build_report(config, tmp_path / "run", [], None, None)
    row = next(r for r in report.rows() if r["signature"] == "holder")
    assert (row["trades"], row["fees"]) == (2, 2.0)
    assert row["turnover"] == pytest.approx((100 + 47.5) / (sum(HOLDER_EQUITY) / 7))
    # sold 5 @ 9.5 - fee 1 against an average cost of 10.10: a loss
    assert (row["win_rate"], row["closed_trades"]) == (0.0, 1)
    held = [110 / 1009, 120 / 1019, 90 / 989, 50 / 995.5, 60 / 1005.5, 60 / 1005.5]
    assert row["average_exposure"] == pytest.approx(sum(held) / 6)


def test_a_model_without_trades_has_flat_equity_and_undefined_ratios(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "idle", idle_records())
    row = entry_row(build_report(config, tmp_path / "run", [], None, None), "idle")
    assert (row["final_value"], row["cumulative_return"], row["trades"], row["fees"]) == (1000.0, 0.0, 0, 0.0)
    assert (row["sharpe"], row["sortino"], row["calmar"], row["win_rate"]) == (None, None, None, None)
    assert (row["max_drawdown"], row["max_drawdown_peak"], row["average_exposure"]) == (0.0, None, 0.0)


def test_a_held_symbol_without_a_close_carries_the_last_close_and_warns_once(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "bbb", [
        record("2025-10-01", 1000, session="b1"),
        record("2025-10-01", 800, "buy", "BBB", 10, price=20.0, fee=0.0, session="b1", BBB=10),
        record("2025-10-08", 800, "no_trade", session="b6", BBB=10),
    ])
    report = build_report(config, tmp_path / "run", [], None, None)
    # BBB has no bar on 10-03 and 10-06: both use the 10-02 close of 22
    assert list(entry(report, "bbb").curve.equity) == pytest.approx([1000, 1000, 1020, 1020, 1020, 1010, 1040])
    carried = [n for n in report.notes if n.startswith("BBB has no close")]
    assert len(carried) == 1 and "2025-10-03" in carried[0]


def test_a_model_that_started_later_sets_the_common_range_and_the_report_says_so(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "holder", holder_records())
    write_ledger(tmp_path / "run", "late", late_records())
    report = build_report(config, tmp_path / "run", [], None, None)
    assert (report.start, report.end, report.base_day) == (date(2025, 10, 3), date(2025, 10, 8), date(2025, 10, 2))
    assert any("common range 2025-10-03..2025-10-08" in n for n in report.notes)
    late, holder = entry(report, "late"), entry(report, "holder")
    assert list(late.curve.equity) == pytest.approx([1000, 970, 980, 1000, 1000])
    # the earlier model is measured from its own equity at the close before the common range
    assert holder.perf.initial_value == pytest.approx(1019)
    assert holder.perf.cumulative_return == pytest.approx(1005.5 / 1019 - 1)
    assert len(holder.trades) == 1  # the 10-01 buy is before the window


def test_start_and_end_restrict_the_window_and_its_trades_and_sessions(tmp_path: Path, config) -> None:
    folder = write_ledger(tmp_path / "run", "holder", holder_records())
    write_jsonl(folder / "sessions.jsonl", [
        {"session_id": f"h{i}", "date": day, "status": "finished", "prompt_tokens": 10, "completion_tokens": 1,
         "cost": 0.01} for i, day in enumerate(["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06"], 1)
    ])
    report = build_report(config, tmp_path / "run", [], date(2025, 10, 2), date(2025, 10, 7))
    row = entry_row(report, "holder")
    assert (row["start"], row["end"], row["trading_days"]) == ("2025-10-02", "2025-10-07", 4)
    assert row["initial_value"] == pytest.approx(1009) and row["final_value"] == pytest.approx(1005.5)
    assert (row["trades"], row["fees"], row["sessions"], row["prompt_tokens"]) == (1, 1.0, 3, 30)


def test_start_before_the_data_is_clipped_with_a_note(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "holder", holder_records())
    report = build_report(config, tmp_path / "run", [], date(2025, 9, 1), None)
    assert report.start == date(2025, 10, 1)
    assert any("--start 2025-09-01" in n for n in report.notes)


def test_end_before_start_is_an_error(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "holder", holder_records())
    with pytest.raises(ReportError, match="before --start"):
        build_report(config, tmp_path / "run", [], date(2025, 10, 7), date(2025, 10, 2))


def test_runs_without_a_common_day_are_an_error_naming_their_ranges(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "a", "early", [record("2025-10-01", 1000), record("2025-10-02", 1000, "no_trade")])
    write_ledger(tmp_path / "b", "late", [record("2025-10-06", 1000), record("2025-10-08", 1000, "no_trade")])
    with pytest.raises(ReportError, match="share no trading day.*early 2025-10-01..2025-10-02"):
        build_report(config, tmp_path / "a", [tmp_path / "b"], None, None)


def test_sessions_tokens_and_cost_use_the_last_line_per_session(tmp_path: Path, config) -> None:
    folder = write_ledger(tmp_path / "run", "holder", holder_records())
    write_jsonl(folder / "sessions.jsonl", [
        {"session_id": "h1", "date": "2025-10-01", "status": "finished", "prompt_tokens": 100,
         "completion_tokens": 10, "cached_tokens": 0, "cost": 0.01},
        {"session_id": "h2", "date": "2025-10-02", "status": "failed", "prompt_tokens": 1, "completion_tokens": 1,
         "cost": 0.005},
        {"session_id": "h2", "date": "2025-10-02", "status": "finished", "prompt_tokens": 200,
         "completion_tokens": 20, "cost": 0.02},
        {"session_id": "h3", "date": "2025-10-03", "status": "failed", "prompt_tokens": 50, "completion_tokens": 5,
         "cost": 0.001, "error": "model timed out"},
    ])
    row = entry_row(build_report(config, tmp_path / "run", [], None, None), "holder")
    assert (row["sessions"], row["failed_sessions"]) == (3, 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (350, 35)
    assert row["cost"] == pytest.approx(0.031) and row["cost_per_day"] == pytest.approx(0.031 / 6)


def test_ai_trader_ledgers_are_priced_at_the_open_and_marked_at_our_closes(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "ours", "holder", holder_records())
    write_ledger(tmp_path / "theirs", "their-model", [
        record("2025-10-01", 1000),
        record("2025-10-02", 798, "buy", "QQQ", 2, QQQ=2),  # AI-Trader filled at the 10-02 open of 101
        record("2025-10-08", 798, "no_trade", QQQ=2),
    ])
    report = build_report(config, tmp_path / "ours", [tmp_path / "theirs"], None, None)
    theirs = entry(report, "their-model")
    assert theirs.source == "ai-trader" and not theirs.has_sessions
    assert theirs.trades[0].price == 101 and theirs.trades[0].fee == 0
    assert list(theirs.curve.equity) == pytest.approx([1000, 1000, 1002, 998, 1004, 1006, 1002])
    row = entry_row(report, "their-model")
    assert (row["sessions"], row["prompt_tokens"], row["cost"]) == (None, None, None)


def test_benchmarks_buy_at_the_first_open_and_hold_on_the_same_dates(tmp_path: Path, config) -> None:
    write_ledger(tmp_path / "run", "holder", holder_records())
    report = build_report(config, tmp_path / "run", [], None, None)
    qqq = entry(report, "benchmark-qqq-buy-and-hold")
    # 10,000 / open 100 = 100 shares; closes 101 102 100 103 104 102
    assert list(qqq.curve.equity) == pytest.approx([10000, 10100, 10200, 10000, 10300, 10400, 10200])
    ew = entry(report, "benchmark-equal-weight-universe")
    # 5,000 in AAA at 10 (500 shares), 5,000 in BBB at 20 (250 shares), QQQ excluded; BBB carried on 10-03/10-06
    assert list(ew.curve.equity) == pytest.approx([10000, 10500, 11500, 10000, 10500, 11250, 12000])
    assert qqq.benchmark and qqq.rank is None and list(qqq.curve.equity.index) == list(
        entry(report, "holder").curve.equity.index)


def test_reasons_come_from_the_ledger_the_tool_arguments_or_the_assistant_message(tmp_path: Path, config) -> None:
    records = holder_records()
    records[3]["reason"] = "ledger says: trim the loser"
    folder = write_ledger(tmp_path / "run", "holder", records)
    write_jsonl(folder / "log" / "2025-10-01" / "log.jsonl", [
        {"type": "session_start", "session_id": "h1"},
        {"type": "assistant", "step": 1, "content": "AAA fell on no news; buying the dip. <FINISH_SIGNAL>",
         "tool_calls": [{"id": "c1", "name": "buy", "arguments": "{\"symbol\": \"AAA\", \"amount\": 10}"}]},
        {"type": "tool", "step": 1, "id": "c1", "name": "buy", "arguments": {"symbol": "AAA", "amount": 10},
         "result": "{\"status\":\"filled\",\"ledger_id\":1}", "is_error": False},
    ])
    trades = entry(build_report(config, tmp_path / "run", [], None, None), "holder").trades
    assert [t.reason for t in trades] == ["AAA fell on no news; buying the dip.", "ledger says: trim the loser"]


def test_every_close_marked_at_once_is_the_per_symbol_sum_to_the_last_bit_or_left_to_it(config) -> None:
    from agent_tools.market_calendar import MarketCalendar
    from agent_tools.market_data import load_market_data
    from reports.equity import Marker, added
    from reports.notes import Notes

    data = load_market_data(config.path(config.data.daily_prices), None, tuple(config.universe), MarketCalendar(),
                            members=config.membership)
    marker = Marker(data, Notes())
    days = data.trading_days()[1:]  # 10-01, 10-02, 10-03, 10-06 (no BBB bar on these two), 10-07, 10-08
    # on 10-07 (closes 12, 21, 104) the terms are 2**54, -2**54 and 1: added in another order, the 1 is lost
    aaa, bbb, qqq = 2.0**54 / 12, -(2.0**54) / 21, 1 / 104
    assert (aaa * 12 + bbb * 21) + qqq * 104 != (qqq * 104 + bbb * 21) + aaa * 12
    full = {"AAA": aaa, "BBB": bbb, "QQQ": qqq}
    held = [{"AAA": aaa, "QQQ": qqq}, {"BBB": bbb, "QQQ": qqq}, {}, full, full, {"QQQ": qqq, "ZZZ": 2.0}]
    total, exact = marker.invested(held, days)
    # marked here: the days whose held symbols all have a bar that day (ZZZ has no price at all)
    assert exact.tolist() == [True, True, True, False, True, False]
    for holdings, day, value, done in zip(held, days, total.tolist(), exact.tolist(), strict=True):
        if done:
            assert value == added(q * marker.close(s, day) for s, q in holdings.items())  # same float
    assert total[4] == 1.0
    assert marker.notes.as_list() == []  # the days left to `close` say their notes there, once, in order
    # two orders of the same symbols: the one listed second is left to `close`
    total, exact = marker.invested([{"AAA": aaa, "BBB": bbb}, {"BBB": bbb, "AAA": aaa}], days[:2])
    assert exact.tolist() == [True, False] and total[0] == aaa * 11 + bbb * 20


def test_the_garbage_collector_is_paused_only_while_the_report_is_assembled(tmp_path: Path, config, monkeypatch) -> None:
    import gc

    import reports.build as build

    write_ledger(tmp_path / "run", "holder", holder_records())
    seen = []
    monkeypatch.setattr(build, "attach_statistics", lambda *args: seen.append(gc.isenabled()))
    build_report(config, tmp_path / "run", [], None, None)
    assert seen == [True] and gc.isenabled()  # the statistics run with it, and it is on again afterwards
    with pytest.raises(ReportError):
        build_report(config, tmp_path / "run", [], date(2025, 10, 7), date(2025, 10, 2))
    assert gc.isenabled()


def test_a_day_marked_one_symbol_at_a_time_adds_its_values_as_the_days_marked_at_once(tmp_path: Path, config,
                                                                                          monkeypatch) -> None:
    """A close is the held values added in the holdings' order, left to right, both where numpy marks every close at
    once and on the days marked one symbol at a time (BBB has no bar on 10-03 and 10-06). Not with `sum()`: from
    Python 3.12 it compensates for rounding (as `math.fsum` does here), which would set those days apart."""
    import math

    import reports.benchmarks as benchmarks
    import reports.equity as equity
    from agent_tools.market_calendar import MarketCalendar
    from agent_tools.market_data import load_market_data
    from reports.equity import Marker, model_curve
    from reports.notes import Notes
    from reports.runs import load_runs

    for module in (equity, benchmarks):
        monkeypatch.setattr(module, "sum", math.fsum, raising=False)  # what Python 3.12's sum() makes of these terms
    shares = {"AAA": 2.0**53 / 9, "BBB": 0.04, "QQQ": 0.008}  # AAA's value has a last place of 2, the others are < 1
    data = load_market_data(config.path(config.data.daily_prices), None, tuple(config.universe), MarketCalendar(),
                            members=config.membership)
    marker = Marker(data, Notes())
    trading_days = data.trading_days()
    days = trading_days[1:]

    def left_to_right(day: date) -> float:
        total = 0.0
        for symbol, quantity in shares.items():
            total += quantity * marker.close(symbol, day)
        return total

    missing = date(2025, 10, 6)
    assert math.fsum(q * marker.close(s, missing) for s, q in shares.items()) != left_to_right(missing)
    expected = [left_to_right(day) for day in days]
    basket = benchmarks.hold(shares, 0.0, trading_days[0], days, 1.0, marker, "basket")
    assert basket.equity.tolist()[1:] == expected
    write_ledger(tmp_path / "run", "basket", [record("2025-10-01", 0.0, session="b1", **shares),
                                             record("2025-10-08", 0.0, "no_trade", session="b2", **shares)])
    run = load_runs(tmp_path / "run", [], Notes())[0]
    curve = model_curve(run, trading_days, marker, MarketCalendar())
    assert curve.value is not None and curve.value.tolist()[1:] == expected
