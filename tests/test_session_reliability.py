"""Sessions survive what an adversarial provider sends: bad characters, missing or repeated tool-call ids, garbage
bodies, absurd usage; every attempt is accounted for, every event is on disk as it happens, bounds hold inside a
turn, and a model that keeps failing stops loudly. A fake OpenAI-compatible server on 127.0.0.1, the real SDK."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena.config import load_config
from arena.leaderboard import standings
from arena.run_loop import run_replay
from main import cli
from tests.fakes.fake_openai import assistant, tool_call
from tests.test_sessions_openai import DAY, SECRET, finish, ledger_lines, llm, session_lines

HALF_EMOJI = "\ud83d"  # a lone high surrogate: half of an emoji, as a truncating provider sends it


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", SECRET)


def run(config, market, out: Path, start: date = DAY, end: date = DAY, parallel: int = 4):
    progress = asyncio.run(run_replay(config, market, config.enabled_models(), out, start, end, parallel=parallel))
    return {p.signature: p for p in progress}


def log_events(out: Path, signature: str, day: date = DAY) -> list[dict]:
    path = out / signature / "log" / day.isoformat() / "log.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def audit_events(out: Path, signature: str, day: date = DAY) -> list[dict]:
    path = out / signature / "log" / day.isoformat() / "audit.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def trades(out: Path, signature: str) -> list[dict]:
    return [r["this_action"] for r in ledger_lines(out, signature) if r.get("this_action", {}).get("action") in ("buy", "sell")]


# -- 1. bad characters ---------------------------------------------------------------------------------------------
def test_a_lone_surrogate_in_text_arguments_and_reason_never_fails_the_session_nor_repeats_a_trade(
        fake, write_config, market, tmp_path):
    buy = tool_call("c1", "buy", {"symbol": "AAPL", "amount": 3, "reason": f"to the moon {HALF_EMOJI}"})
    fake.script("trader", [assistant(f"Buying {HALF_EMOJI}", [buy]), finish(f"Done {HALF_EMOJI} <FINISH_SIGNAL>")],
                repeat_last=True)
    config = load_config(write_config(models=[llm("trader", fake.base_url)]))
    out = tmp_path / "out"

    for _ in range(3):
        run(config, market, out)

    assert [s["status"] for s in session_lines(out, "trader")] == ["finished"]
    assert trades(out, "trader") == [{"action": "buy", "symbol": "AAPL", "amount": 3}]
    tool = next(e for e in log_events(out, "trader") if e["type"] == "tool")
    assert tool["arguments"]["reason"] == "to the moon \ufffd" and not tool["is_error"]
    assert [r for r in ledger_lines(out, "trader") if "reason" in r][0]["reason"] == "to the moon \ufffd"
    html = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--format", "html", "--output", str(html)])
    assert result.exit_code == 0, result.output
    assert "to the moon" in html.read_text(encoding="utf-8")


def test_a_report_reads_a_folder_whose_ledger_and_logs_already_hold_lone_surrogates(
        fake, write_config, market, tmp_path):
    fake.script("trader", [assistant(None, [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 1, "reason": "x"})]),
                           finish()])
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)
    ledger = out / "trader" / "position" / "position.jsonl"
    ledger.write_text(ledger.read_text().replace('"reason": "x"', '"reason": "half \\ud83d emoji"'))
    log = out / "trader" / "log" / DAY.isoformat() / "log.jsonl"
    log.write_text(log.read_text().replace('"x"', '"\\udc00"'))

    for fmt in ("html", "json", "table"):
        target = tmp_path / f"report.{fmt}"
        result = CliRunner().invoke(cli, ["report", "--out", str(out), "--format", fmt, "--output", str(target)])
        assert result.exit_code == 0, result.output
        target.read_text(encoding="utf-8")


def test_news_items_and_broker_messages_are_cleaned_where_they_enter(tmp_path):
    from decimal import Decimal

    from agent_tools.brokers.base import Fill
    from agent_tools.market_calendar import parse_instant
    from agent_tools.news import LocalNewsSource

    corpus = tmp_path / "news.jsonl"
    corpus.write_text(json.dumps({"title": f"Chips {HALF_EMOJI} rally", "summary": "\x00ok", "source": "wire",
                                  "published_at": "2025-10-01T09:00:00-04:00", "tickers": ["NVDA"]}) + "\n")
    item = LocalNewsSource(corpus).search(parse_instant("2025-10-02T10:00-04:00"), "chips")[0]
    fill = Fill("rejected", Decimal(0), Decimal(0), Decimal(0), message=f"refused {HALF_EMOJI}")

    assert (item.title, item.summary) == ("Chips \ufffd rally", "ok")
    assert fill.message == "refused \ufffd"
    json.dumps(item.compact(), ensure_ascii=False).encode("utf-8")


# -- 2. session-unique tool-call ids ----------------------------------------------------------------------------------
def test_missing_and_repeated_provider_ids_become_session_unique_and_the_provider_id_is_logged(
        fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call(None, "buy", {"symbol": "AAPL", "amount": 1}),
                         tool_call(None, "buy", {"symbol": "MSFT", "amount": 1})]),
        assistant(None, [tool_call("call_0", "buy", {"symbol": "NVDA", "amount": 1})]),
        assistant(None, [tool_call("call_0", "buy", {"symbol": "AMD", "amount": 1})]),
        finish(),
    ])
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)

    last = fake.requests_for("trader")[-1]["messages"]
    sent_ids = [c["id"] for m in last if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    answered = [m["tool_call_id"] for m in last if m["role"] == "tool"]
    assert len(sent_ids) == len(set(sent_ids)) == 4 and answered == sent_ids
    assert "call_0" in sent_ids  # a provider id is kept while it is unique
    logged = [e for e in log_events(out, "trader") if e["type"] == "tool"]
    assert [e.get("provider_id") for e in logged] == [None, None, "call_0", "call_0"]
    order_ids = [e["client_order_id"] for e in audit_events(out, "trader") if e["type"] == "fill"]
    assert len(order_ids) == len(set(order_ids)) == 4
    assert len(trades(out, "trader")) == 4


def test_a_retried_session_never_reuses_an_order_id_of_its_earlier_attempt(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 2})]),
        *[{"status": 500, "error": "down"}] * 4,
        assistant(None, [tool_call("c1", "sell", {"symbol": "AAPL", "amount": 1})]),  # the same id, another order
        finish(),
    ])
    config = load_config(write_config(models=[llm("trader", fake.base_url)]))
    out = tmp_path / "out"
    run(config, market, out)
    run(config, market, out)

    fills = [e for e in audit_events(out, "trader") if e["type"] == "fill"]
    assert [f["side"] for f in fills] == ["buy", "sell"]
    assert fills[0]["client_order_id"] != fills[1]["client_order_id"]


# -- 4. crash forensics -----------------------------------------------------------------------------------------------
def test_log_and_audit_lines_are_on_disk_as_they_happen(fake, write_config, market, tmp_path):
    out = tmp_path / "out"
    seen: dict[str, list[str]] = {}

    def look(_request: dict) -> dict:
        folder = out / "trader" / "log" / DAY.isoformat()
        for name in ("log.jsonl", "audit.jsonl"):
            path = folder / name
            seen[name] = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return finish()

    fake.script("trader", [assistant("Buying.", [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 1})]), look])
    run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)

    kinds = [json.loads(line)["type"] for line in seen["log.jsonl"]]
    assert kinds[0] == "session_start" and "assistant" in kinds and kinds[-1] == "tool"
    assert [json.loads(line)["type"] for line in seen["audit.jsonl"]] == ["fill"]


# -- 6. provider garbage ----------------------------------------------------------------------------------------------
GARBAGE = {"html": "<html><body>502 Bad Gateway</body></html>", "empty-list": "[]",
           "error-object": '{"error": {"message": "upstream overloaded", "code": 529}}'}


@pytest.mark.parametrize("body", list(GARBAGE.values()), ids=list(GARBAGE))
def test_a_garbage_200_is_retried_like_a_transient_error(fake, write_config, market, tmp_path, body):
    fake.script("trader", [{"raw": body}, {"raw": body}, finish()])
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)

    assert session_lines(out, "trader")[-1]["status"] == "finished"
    assert len(fake.requests_for("trader")) == 3


@pytest.mark.parametrize(("body", "shown"), [(GARBAGE["empty-list"], "[]"),
                                             (GARBAGE["error-object"], "upstream overloaded"),
                                             (GARBAGE["html"], "502 Bad Gateway")], ids=list(GARBAGE)[::-1])
def test_persistent_garbage_fails_with_a_line_saying_what_came_back(fake, write_config, market, tmp_path, body, shown):
    fake.script("trader", [{"raw": body}], repeat_last=True)
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url, max_retries=1)])), market, out)

    session = session_lines(out, "trader")[-1]
    assert session["status"] == "failed" and "\n" not in session["error"]
    assert shown in session["error"] and "'trader'" in session["error"] and "after 2 attempts" in session["error"]
    assert "empty choices" not in session["error"]
    assert len(fake.requests_for("trader")) == 2


def test_negative_or_absurd_usage_is_logged_as_reported_flagged_and_never_counted(fake, write_config, market, tmp_path):
    weird = assistant(None, [tool_call("c1", "get_portfolio", {})], prompt_tokens=-5000, completion_tokens=10**13)
    fake.script("trader", [weird, finish()])
    out = tmp_path / "out"
    config = load_config(write_config(models=[llm("trader", fake.base_url)]))
    run(config, market, out)

    session = session_lines(out, "trader")[-1]
    assert session["status"] == "finished"
    assert (session["prompt_tokens"], session["completion_tokens"]) == (100, 20)  # only the sane second turn
    assert 0 <= session["cost"] < 0.01
    assert any("prompt_tokens -5000" in f for f in session["usage_flags"])
    assert any("completion_tokens 10000000000000" in f for f in session["usage_flags"])
    reported = next(e for e in log_events(out, "trader") if e["type"] == "assistant")["usage"]
    assert (reported["prompt_tokens"], reported["completion_tokens"]) == (-5000, 10**13)


# -- 7. honest accounting ---------------------------------------------------------------------------------------------
def test_tokens_and_cost_are_summed_over_every_attempt_of_a_session(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "get_portfolio", {})], prompt_tokens=1000, completion_tokens=100),
        *[{"status": 500, "error": "down"}] * 4,  # the first attempt fails for good
        assistant(None, [tool_call("c2", "get_portfolio", {})], prompt_tokens=1000, completion_tokens=100),
        {"status": 400, "error": "bad request"},  # the second attempt fails too
        finish(),  # the third attempt: 100 / 20
    ])
    config = load_config(write_config(models=[llm("trader", fake.base_url)]))
    out = tmp_path / "out"
    for _ in range(3):
        run(config, market, out)
    # a crashed attempt (no session line, but its log) also spent money: cut the last line, run once more
    sessions = out / "trader" / "sessions.jsonl"
    sessions.write_text("".join(sessions.read_text().splitlines(keepends=True)[:-1]))
    fake.script("trader", [finish()])
    run(config, market, out)

    last = session_lines(out, "trader")[-1]
    assert last["status"] == "finished" and last["attempts"] == 4
    assert (last["prompt_tokens"], last["completion_tokens"]) == (2200, 240)
    assert last["cost"] == pytest.approx((2200 * 1.0 + 240 * 2.0) / 1e6)


def test_every_refused_trade_call_is_a_rejection_and_is_in_the_audit(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "buy", "{\"symbol\": \"AAPL\", amount: 2"),  # not JSON
                         tool_call("c2", "buy", {"symbol": "AAPL", "amount": "abc"}),  # schema error
                         tool_call("c3", "sell", {"symbol": "AAPL"}),  # missing amount
                         tool_call("c4", "buy", {"symbol": "ZZZZ", "amount": 1}),  # risk rule
                         tool_call("c5", "buy", {"symbol": "AAPL", "amount": 1})]),  # fills
        finish(),
    ])
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)

    session = session_lines(out, "trader")[-1]
    assert (session["trades"], session["rejections"]) == (1, 4)
    audit = audit_events(out, "trader")
    assert [e["type"] for e in audit] == ["rejection"] * 4 + ["fill"]
    assert [e["rule"] for e in audit[:3]] == ["invalid_arguments"] * 3


def test_an_api_key_in_a_trade_reason_is_redacted_in_the_ledger(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 1, "reason": f"my key is {SECRET}"})]),
        finish(),
    ])
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)

    written = [p for p in out.rglob("*") if p.is_file()]
    assert not any(SECRET in p.read_text(errors="replace") for p in written)
    assert any(r.get("reason") == "my key is ***" for r in ledger_lines(out, "trader"))


# -- 8. bounds inside one turn ----------------------------------------------------------------------------------------
def test_the_session_timeout_is_checked_between_the_tool_calls_of_one_turn(fake, write_config, market, tmp_path):
    calls = [tool_call(f"c{i}", "get_price", {"symbols": ["AAPL"]}) for i in range(3000)]
    fake.script("trader", [assistant(None, calls), finish()])
    out = tmp_path / "out"
    run(load_config(write_config(models=[llm("trader", fake.base_url, session={"timeout_seconds": 0.3})])), market, out)

    session = session_lines(out, "trader")[-1]
    assert session["status"] == "timeout"
    assert session["tool_calls"] < 3000
    assert session["duration_s"] < 0.3 + 1.0


# -- 9. circuit breaker -----------------------------------------------------------------------------------------------
def breaker_config(write_config, fake, **run_section):
    return load_config(write_config(models=[llm("down", fake.base_url, max_retries=0), llm("up", fake.base_url)],
                                    run=run_section))


def test_a_model_that_keeps_failing_stops_and_the_others_go_on(fake, write_config, market, tmp_path):
    fake.script("down", [{"status": 503, "error": "unreachable"}], repeat_last=True)
    fake.script("up", [finish()], repeat_last=True)
    out = tmp_path / "out"
    progress = run(breaker_config(write_config, fake), market, out, date(2025, 10, 1), date(2025, 10, 8))

    assert [s["status"] for s in session_lines(out, "down")] == ["failed"] * 3
    assert progress["down"].stopped and "3 consecutive failed sessions" in progress["down"].stopped
    assert len(session_lines(out, "up")) == 6 and not progress["up"].stopped


def test_a_rerun_resumes_a_stopped_model_from_its_first_failed_day(fake, write_config, market, tmp_path):
    fake.script("down", [{"status": 503, "error": "unreachable"}], repeat_last=True)
    fake.script("up", [finish()], repeat_last=True)
    out = tmp_path / "out"
    config = breaker_config(write_config, fake)
    run(config, market, out, date(2025, 10, 1), date(2025, 10, 8))
    fake.script("down", [finish()], repeat_last=True)

    progress = run(config, market, out, date(2025, 10, 1), date(2025, 10, 8))

    assert [r.date for r in progress["down"].results] == ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06",
                                                         "2025-10-07", "2025-10-08"]
    assert not progress["down"].stopped and progress["up"].results == []


def test_a_failed_day_followed_by_a_written_day_is_never_rerun_back_in_time(fake, write_config, market, tmp_path):
    fake.script("down", [
        {"status": 503, "error": "unreachable"},  # 10-01 fails, nothing written
        finish(),  # 10-02 finishes
    ])
    out = tmp_path / "out"
    config = load_config(write_config(models=[llm("down", fake.base_url, max_retries=0)]))
    run(config, market, out, date(2025, 10, 1), date(2025, 10, 2))
    progress = run(config, market, out, date(2025, 10, 1), date(2025, 10, 2))

    assert progress["down"].results == [] and progress["down"].failures == 0
    assert [s["status"] for s in session_lines(out, "down")] == ["failed", "finished"]


def test_the_end_of_run_table_shows_failures_says_why_a_model_stopped_and_exits_non_zero(
        fake, write_config, tmp_path):
    fake.script("down", [{"status": 503, "error": "unreachable"}], repeat_last=True)
    fake.script("up", [finish()], repeat_last=True)
    path = write_config(models=[llm("down", fake.base_url, max_retries=0), llm("up", fake.base_url)])

    result = CliRunner().invoke(cli, ["run", "--config", str(path), "--out", str(tmp_path / "out"),
                                      "--start", "2025-10-01", "--end", "2025-10-08"])

    assert result.exit_code == 1, result.output
    assert "down: stopped after 3 consecutive failed sessions" in result.output
    assert "rerun to resume from 2025-10-01" in result.output
    header = next(line for line in result.output.splitlines() if "final value" in line)
    assert "failed" in header
    row = next(line for line in result.output.splitlines() if "│ down" in line)
    assert " 3 " in row

    report = CliRunner().invoke(cli, ["report", "--out", str(tmp_path / "out"), "--format", "table"])
    assert report.exit_code == 0, report.output
    lines = report.output.splitlines()
    header = next(line for line in lines if "trades" in line and "fail" in line).split()
    down = next(line for line in lines if line.split()[1:2] == ["down"]).split()
    up = next(line for line in lines if line.split()[1:2] == ["up"]).split()
    assert header[-2:] == ["trades", "fail"] and (down[-1], up[-1]) == ("3", "0")  # 100 columns: a short header


# -- 20. one marking for progress and leaderboard ---------------------------------------------------------------------
def test_progress_equity_is_marked_at_the_close_like_the_leaderboard(fake, write_config, market, tmp_path):
    fake.script("trader", [assistant(None, [tool_call("c1", "buy", {"symbol": "NVDA", "amount": 10})]), finish()])
    out = tmp_path / "out"
    progress = run(load_config(write_config(models=[llm("trader", fake.base_url)])), market, out)

    board = standings(out, ["trader"], market.data, DAY, set())
    assert progress["trader"].equity == pytest.approx(board[0].final_value, abs=0.005)
