"""Sessions against an OpenAI-compatible endpoint: a fake server of our own on 127.0.0.1, the real `openai` SDK."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from arena.config import load_config
from arena.run_loop import run_replay
from tests.fakes.fake_openai import assistant, tool_call

SECRET = "sk-test-SECRET-0123456789"
DAY = date(2025, 10, 2)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", SECRET)


def llm(signature: str, base_url: str, **extra) -> dict:
    model = {
        "signature": signature, "kind": "openai", "model": signature, "base_url": base_url,
        "api_key_env": "FAKE_LLM_KEY", "timeout": 5, "max_retries": 3, "params": {"backoff_base": 0.01},
        "price": {"prompt_per_million": 1.0, "completion_per_million": 2.0},
    }
    model.update(extra)
    return model


def replay(write_config, market, tmp_path: Path, models: list[dict], start: date = DAY, end: date = DAY, **sections):
    path = write_config(models=models, **sections)
    config = load_config(path)
    out = tmp_path / "out"
    chosen = config.enabled_models()
    progress = asyncio.run(run_replay(config, market, chosen, out, start, end, parallel=4))
    return out, {p.signature: p for p in progress}


def ledger_lines(out: Path, signature: str) -> list[dict]:
    path = out / signature / "position" / "position.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def session_lines(out: Path, signature: str) -> list[dict]:
    return [json.loads(line) for line in (out / signature / "sessions.jsonl").read_text().splitlines()]


def finish(text: str = "Done. <FINISH_SIGNAL>") -> dict:
    return assistant(text)


def test_scripted_session_searches_buys_sells_and_finishes(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "search_news", {"query": "nvidia"}), tool_call("c2", "get_price", {"symbols": ["NVDA"]})]),
        assistant("Buying on strength.", [tool_call("c3", "buy", {"symbol": "NVDA", "amount": 5, "reason": "AI demand"})]),
        assistant(None, [tool_call("c4", "sell", {"symbol": "NVDA", "amount": 2})]),
        finish("Bought 5 NVDA, trimmed 2. <FINISH_SIGNAL>"),
    ])
    out, progress = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    actions = [r["this_action"] for r in ledger_lines(out, "trader") if "this_action" in r]
    assert actions == [{"action": "buy", "symbol": "NVDA", "amount": 5}, {"action": "sell", "symbol": "NVDA", "amount": 2}]
    session = session_lines(out, "trader")[-1]
    assert (session["status"], session["steps"], session["trades"]) == ("finished", 4, 2)
    assert (session["prompt_tokens"], session["completion_tokens"]) == (400, 80)
    assert session["cost"] == pytest.approx((400 * 1.0 + 80 * 2.0) / 1e6)
    assert progress["trader"].failures == 0


def test_tool_results_go_back_as_tool_messages_with_their_call_ids(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "get_price", {"symbols": ["AAPL"]}), tool_call("c2", "get_portfolio", {})]),
        finish(),
    ])
    replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    second = fake.requests_for("trader")[1]["messages"]
    tool_messages = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2"]
    assert json.loads(tool_messages[0]["content"])["prices"]["AAPL"]["basis"] == "open of the 10:00 hourly bar"
    assert second[-3]["role"] == "assistant" and second[-3]["tool_calls"][0]["id"] == "c1"
    assert {t["function"]["name"] for t in fake.requests_for("trader")[0]["tools"]} == {
        "get_price", "get_history", "get_portfolio", "search_news", "buy", "sell", "set_exit"}


@pytest.mark.parametrize("failure", [
    {"status": 429, "error": "rate limited", "headers": {"retry-after-ms": "10"}},
    {"status": 500, "error": "upstream exploded"},
    {"status": 503, "error": "overloaded"},
    {"drop": True},
], ids=["429", "500", "503", "dropped-connection"])
def test_transient_errors_are_retried_then_the_session_succeeds(fake, write_config, market, tmp_path, failure):
    fake.script("trader", [failure, failure, finish()])
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    session = session_lines(out, "trader")[-1]
    assert session["status"] == "finished"
    assert len(fake.requests_for("trader")) == 3


def test_a_timed_out_model_call_is_retried(fake, write_config, market, tmp_path):
    fake.script("trader", [{"delay": 1.0, **finish()}, finish()])
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url, timeout=0.3)])

    assert session_lines(out, "trader")[-1]["status"] == "finished"
    assert len(fake.requests_for("trader")) == 2


def test_persistent_failure_fails_the_session_keeps_its_trades_and_the_run_goes_on(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 3})]),
        *[{"status": 500, "error": "down"}] * 4,
        finish(),  # next day's session
    ])
    out, progress = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)], end=date(2025, 10, 3))

    first, second = session_lines(out, "trader")
    assert first["status"] == "failed" and "after 4 attempts" in first["error"] and "\n" not in first["error"]
    assert second["status"] == "finished"
    actions = [r["this_action"]["action"] for r in ledger_lines(out, "trader") if "this_action" in r]
    assert actions == ["buy", "no_trade"]  # the failed session's buy stands; the failed day writes no no_trade
    assert progress["trader"].failures == 1


def test_a_provider_that_rejects_tools_gives_an_error_naming_the_model(fake, write_config, market, tmp_path):
    fake.script("trader", [{"status": 400, "error": "tools are not supported by this model"}])
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    session = session_lines(out, "trader")[-1]
    assert session["status"] == "failed"
    assert "'trader'" in session["error"] and "rejected the tools" in session["error"]
    assert len(fake.requests_for("trader")) == 1  # a 400 is not retried


@pytest.mark.parametrize("bad_arguments", ["{\"symbol\": \"AAPL\", amount: 2", "[1, 2]", "\"AAPL\""],
                         ids=["not-json", "json-array", "json-string"])
def test_malformed_tool_arguments_come_back_as_a_tool_error_and_the_model_can_retry(
        fake, write_config, market, tmp_path, bad_arguments):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "buy", bad_arguments)]),
        assistant(None, [tool_call("c2", "buy", {"symbol": "AAPL", "amount": 2})]),
        finish(),
    ])
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    error = next(m for m in fake.requests_for("trader")[1]["messages"] if m["role"] == "tool")
    assert error["tool_call_id"] == "c1" and error["content"].startswith("ERROR: buy: arguments")
    actions = [r["this_action"] for r in ledger_lines(out, "trader") if "this_action" in r]
    assert actions == [{"action": "buy", "symbol": "AAPL", "amount": 2}]


def test_arguments_sent_as_an_object_instead_of_a_string_are_accepted(fake, write_config, market, tmp_path):
    raw_call = {"id": "c1", "type": "function", "function": {"name": "buy", "arguments": {"symbol": "AAPL", "amount": 1}}}
    fake.script("trader", [assistant(None, [raw_call]), finish()])
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    actions = [r["this_action"] for r in ledger_lines(out, "trader") if "this_action" in r]
    assert actions == [{"action": "buy", "symbol": "AAPL", "amount": 1}]


def test_a_model_that_never_stops_is_cut_off_at_max_steps(fake, write_config, market, tmp_path):
    fake.script("trader", [assistant(None, [tool_call("c", "get_portfolio", {})])], repeat_last=True)
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url, session={"max_steps": 4})])

    session = session_lines(out, "trader")[-1]
    assert (session["status"], session["steps"]) == ("max_steps", 4)
    assert len(fake.requests_for("trader")) == 4
    assert ledger_lines(out, "trader")[-1]["this_action"]["action"] == "no_trade"


def test_the_token_budget_ends_the_session(fake, write_config, market, tmp_path):
    step = assistant(None, [tool_call("c", "get_portfolio", {})], prompt_tokens=1500, completion_tokens=500)
    fake.script("trader", [step], repeat_last=True)
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url, session={"max_tokens": 5000})])

    session = session_lines(out, "trader")[-1]
    assert (session["status"], session["steps"]) == ("token_budget", 3)
    assert session["prompt_tokens"] + session["completion_tokens"] == 6000


def test_the_wall_clock_timeout_ends_the_session(fake, write_config, market, tmp_path):
    fake.script("trader", [{"delay": 2.0, **finish()}])
    out, _ = replay(write_config, market, tmp_path,
                    [llm("trader", fake.base_url, session={"timeout_seconds": 0.5}, max_retries=0)])

    assert session_lines(out, "trader")[-1]["status"] == "timeout"


def test_reaching_the_trade_limit_ends_the_session(fake, write_config, market, tmp_path):
    buys = [tool_call(f"c{i}", "buy", {"symbol": s, "amount": 1}) for i, s in enumerate(["AAPL", "MSFT", "NVDA"])]
    fake.script("trader", [assistant(None, buys)], repeat_last=True)
    out, _ = replay(write_config, market, tmp_path,
                    [llm("trader", fake.base_url, limits={"max_trades_per_session": 2})])

    session = session_lines(out, "trader")[-1]
    assert (session["status"], session["trades"]) == ("max_trades", 2)
    assert len([r for r in ledger_lines(out, "trader") if "this_action" in r]) == 2


def test_two_models_run_at_once_each_in_its_own_ledger(fake, write_config, market, tmp_path):
    for name, symbol in (("alpha", "AAPL"), ("beta", "MSFT")):
        fake.script(name, [
            {"delay": 0.3, **assistant(None, [tool_call("c1", "buy", {"symbol": symbol, "amount": 1})])},
            {"delay": 0.3, **finish()},
        ])
    out, progress = replay(write_config, market, tmp_path, [llm("alpha", fake.base_url), llm("beta", fake.base_url)])

    assert fake.max_in_flight == 2
    assert [r["this_action"]["symbol"] for r in ledger_lines(out, "alpha") if "this_action" in r] == ["AAPL"]
    assert [r["this_action"]["symbol"] for r in ledger_lines(out, "beta") if "this_action" in r] == ["MSFT"]
    assert progress["alpha"].failures == progress["beta"].failures == 0


def test_the_api_key_never_appears_in_any_output(fake, write_config, market, tmp_path):
    fake.script("trader", [{"status": 401, "error": f"Incorrect API key provided: {SECRET}"}])
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url)])

    assert fake.headers[0]["authorization"] == f"Bearer {SECRET}"  # it was really sent to the provider
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and not any(SECRET in p.read_text(errors="replace") for p in written)
    assert "refused the API key" in session_lines(out, "trader")[-1]["error"]


def test_a_rerun_skips_finished_sessions(fake, write_config, market, tmp_path):
    fake.script("trader", [finish(), finish()])
    path = write_config(models=[llm("trader", fake.base_url)])
    config = load_config(path)
    out = tmp_path / "out"
    asyncio.run(run_replay(config, market, config.enabled_models(), out, DAY, DAY, parallel=1))
    progress = asyncio.run(run_replay(config, market, config.enabled_models(), out, DAY, DAY, parallel=1))

    assert len(fake.requests_for("trader")) == 1
    assert progress[0].skipped == 1 and len(session_lines(out, "trader")) == 1


def test_a_failed_latest_session_is_retried_on_rerun_and_told_what_it_already_did(fake, write_config, market, tmp_path):
    fake.script("trader", [
        assistant(None, [tool_call("c1", "buy", {"symbol": "AAPL", "amount": 3})]),
        *[{"status": 500, "error": "down"}] * 4,
        finish("Already bought. <FINISH_SIGNAL>"),
    ])
    config = load_config(write_config(models=[llm("trader", fake.base_url)]))
    out = tmp_path / "out"
    asyncio.run(run_replay(config, market, config.enabled_models(), out, DAY, DAY, parallel=1))
    asyncio.run(run_replay(config, market, config.enabled_models(), out, DAY, DAY, parallel=1))

    retry_prompt = fake.requests_for("trader")[-1]["messages"][1]["content"]
    assert "resuming; already done in it: buy 3 AAPL" in retry_prompt
    assert [s["status"] for s in session_lines(out, "trader")] == ["failed", "finished"]
    actions = [r["this_action"]["action"] for r in ledger_lines(out, "trader") if "this_action" in r]
    assert actions == ["buy"]


def test_a_provider_that_returns_garbage_fails_with_a_clear_line(fake, write_config, market, tmp_path):
    fake.script("trader", [{"raw": "<html>502 bad gateway</html>"}], repeat_last=True)
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url, max_retries=1)])

    session = session_lines(out, "trader")[-1]
    assert session["status"] == "failed"
    assert "'trader'" in session["error"] and "not JSON" in session["error"] and "\n" not in session["error"]
    assert len(fake.requests_for("trader")) == 2  # retried once, like any transient failure


def test_an_empty_answer_from_the_provider_fails_the_session_without_a_traceback(fake, write_config, market, tmp_path):
    fake.script("trader", [{"raw": "{\"choices\": []}"}], repeat_last=True)
    out, _ = replay(write_config, market, tmp_path, [llm("trader", fake.base_url, max_retries=0)])

    session = session_lines(out, "trader")[-1]
    assert (session["status"], session["error"]) == (
        "failed", "model 'trader' (trader) answered 200 without a completion; the body was '{\"choices\": []}'")


def test_on_session_failure_stop_ends_the_run_at_the_first_failure(fake, write_config, market, tmp_path):
    fake.script("trader", [{"status": 500, "error": "down"}], repeat_last=True)
    out, progress = replay(write_config, market, tmp_path, [llm("trader", fake.base_url, max_retries=0)],
                           end=date(2025, 10, 6), run={"on_session_failure": "stop"})

    assert [s["status"] for s in session_lines(out, "trader")] == ["failed"]
    assert progress["trader"].failures == 1 and len(progress["trader"].results) == 1
