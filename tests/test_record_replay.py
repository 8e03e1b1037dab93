"""Record, replay, repeat: cassettes of every model call, strict replays with zero requests, repeats with seeds, the
run manifest and spending caps; against the fake OpenAI-compatible server on 127.0.0.1, through the real SDK."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena.cassettes import full_requests
from arena.config import load_config
from arena.run_loop import Replay, run_replay
from main import cli
from reports.notes import Notes
from reports.runs import load_runs
from tests.fakes.fake_openai import FakeOpenAI, assistant, tool_call
from tests.test_sessions_openai import SECRET, llm

DAYS = (date(2025, 10, 1), date(2025, 10, 3))
ONE_DAY = ["--start", "2025-10-01", "--end", "2025-10-01"]
BUY_AND_HOLD = "baseline-buy-and-hold-qqq"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", SECRET)


def trader(body: dict) -> dict:
    """A deterministic trader: price, buy one AAPL (its reason quotes the API key, which must never be recorded),
    then finish; ids repeat across days, as some providers' do."""
    steps = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if steps == 0:
        return assistant(None, [tool_call("c1", "get_price", {"symbols": ["AAPL"]})], 1000, 50)
    if steps == 1:
        return assistant("Buying.", [tool_call("c2", "buy", {"symbol": "AAPL", "amount": 1,
                                                            "reason": f"key {SECRET}"})], 1200, 60)
    return assistant("Bought one AAPL. <FINISH_SIGNAL>", None, 1400, 30)


def record(fake: FakeOpenAI, write_config, market, out: Path, days=DAYS, name="config.json", **model) -> dict:
    fake.script("trader", [trader], repeat_last=True)
    config = load_config(write_config(name, models=[llm("trader", fake.base_url, **model)]))
    progress = asyncio.run(run_replay(config, market, config.enabled_models(), out, *days, parallel=1))
    return {p.label: p for p in progress}


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def without_durations(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "duration_s"} for line in text(path).splitlines()]


def test_a_recorded_run_replays_offline_to_the_same_ledger_and_sessions_with_zero_requests(
        write_config, market, tmp_path, monkeypatch):
    recorded, replayed = tmp_path / "recorded", tmp_path / "replayed"
    with FakeOpenAI() as fake:
        record(fake, write_config, market, recorded)
        sent = len(fake.requests)
    assert sent == 9  # three sessions of three calls; the server is stopped now
    cassette = text(recorded / "trader" / "cassettes" / "2025-10-02.jsonl")
    assert len(cassette.splitlines()) == 3 and SECRET not in cassette and "authorization" not in cassette.lower()
    lines = [json.loads(line)["request"] for line in cassette.splitlines()]
    assert [(r["messages_from"], "tools" in r) for r in lines] == [(0, True), (2, False), (4, False)]  # compact
    as_sent = json.loads(json.dumps(fake.requests[3:6]).replace(SECRET, "***"))  # the key redacted, nothing else
    assert full_requests(recorded / "trader" / "cassettes" / "2025-10-02.jsonl") == as_sent

    monkeypatch.delenv("FAKE_LLM_KEY")  # a strict replay needs no key: it sends nothing
    config = load_config(tmp_path / "config.json")
    progress = asyncio.run(run_replay(config, market, config.enabled_models(), replayed, *DAYS, parallel=1,
                                      replay=Replay(recorded)))

    assert (progress[0].replayed, progress[0].called, progress[0].spent, progress[0].stopped) == (9, 0, 0.0, None)
    assert text(replayed / "trader" / "position" / "position.jsonl") == text(recorded / "trader" / "position" / "position.jsonl")
    assert without_durations(replayed / "trader" / "sessions.jsonl") == without_durations(recorded / "trader" / "sessions.jsonl")
    assert not (replayed / "trader" / "spend.jsonl").exists() and (recorded / "trader" / "spend.jsonl").exists()
    copied = [json.loads(line) for line in text(replayed / "trader" / "cassettes" / "2025-10-02.jsonl").splitlines()]
    assert [(c["replayed"], c["spent_usd"]) for c in copied] == [(True, 0.0)] * 3
    reports = [CliRunner().invoke(cli, ["report", "--config", str(tmp_path / "config.json"), "--out", str(folder),
                                        "--format", "json"]).stdout for folder in (recorded, replayed)]
    rows = [[{k: v for k, v in r.items() if k != "run"} for r in json.loads(out)] for out in reports]
    assert rows[0] == rows[1] and any(r["signature"] == "trader" for r in rows[0])  # the same report, folder aside


def run_cli(*args: str):
    return CliRunner().invoke(cli, ["run", *args])


def test_a_changed_prompt_is_a_strict_miss_that_stops_the_model_naming_session_and_step(write_config, tmp_path):
    recorded, replayed = tmp_path / "recorded", tmp_path / "replayed"
    with FakeOpenAI() as fake:
        fake.script("trader", [trader], repeat_last=True)
        path = write_config(models=[llm("trader", fake.base_url)])
        assert run_cli("--config", str(path), "--out", str(recorded), *ONE_DAY).exit_code == 0
        sent = len(fake.requests)
        changed = write_config("changed.json", models=[llm("trader", fake.base_url)], limits={"max_position_weight": 0.2})
        result = run_cli("--config", str(changed), "--replay-from", str(recorded), "--out", str(replayed), *ONE_DAY)
        assert len(fake.requests) == sent  # strict: nothing was sent

    assert result.exit_code == 1, result.output
    stops = [line for line in result.output.splitlines() if "no recorded answer" in line]
    assert stops[0].startswith("2025-10-01 trader: stopped: no recorded answer for session "
                               "trader@2025-10-01T10:00-04:00 step 1 in ")
    assert "--on-miss call" in stops[0]
    assert re.search(r"recorded with other inputs \(config \w+ -> \w+; prompt_prefix\.trader", result.output)
    assert "Replayed 0 model call(s)" in result.output
    report = CliRunner().invoke(cli, ["report", "--config", str(changed), "--out", str(replayed)]).output
    recorded_hash = json.loads(text(recorded / "manifest.json"))["sha256"][:12]
    assert f"(replayed from the cassettes of {recorded_hash}: no API calls" in report


def test_on_miss_call_asks_the_provider_only_for_what_is_missing_and_records_it(write_config, market, tmp_path):
    recorded, filled, again = tmp_path / "recorded", tmp_path / "filled", tmp_path / "again"
    with FakeOpenAI() as fake:
        record(fake, write_config, market, recorded, days=(date(2025, 10, 1), date(2025, 10, 2)))
        sent = len(fake.requests)
        config = load_config(tmp_path / "config.json")
        progress = asyncio.run(run_replay(config, market, config.enabled_models(), filled, *DAYS, parallel=1,
                                          replay=Replay(recorded, "call")))
        assert len(fake.requests) == sent + 3  # only 2025-10-03 went to the provider
    assert (progress[0].replayed, progress[0].called) == (6, 3)
    day3 = [json.loads(line) for line in text(filled / "trader" / "cassettes" / "2025-10-03.jsonl").splitlines()]
    assert [c["replayed"] for c in day3] == [False] * 3 and all(c["spent_usd"] > 0 for c in day3)
    assert len(text(filled / "trader" / "spend.jsonl").splitlines()) == 3

    # the filled folder is complete: it replays strictly, all three days, with the server gone
    progress = asyncio.run(run_replay(config, market, config.enabled_models(), again, *DAYS, parallel=1,
                                      replay=Replay(filled)))
    assert (progress[0].replayed, progress[0].called, progress[0].stopped) == (9, 0, None)
    assert text(again / "trader" / "position" / "position.jsonl") == text(filled / "trader" / "position" / "position.jsonl")


def test_repeats_send_their_own_seeds_record_what_served_them_resume_apart_and_report(write_config, tmp_path):
    out = tmp_path / "out"
    with FakeOpenAI() as fake:
        fake.script("trader", [trader], repeat_last=True)
        path = write_config(models=[llm("trader", fake.base_url, temperature=0.7)], run={"seed": 41})
        days = ["--start", "2025-10-01", "--end", "2025-10-02"]
        assert run_cli("--config", str(path), "--out", str(out), "--repeats", "2", *days).exit_code == 0
        assert sorted({r["seed"] for r in fake.requests}) == [41, 42]

        repeat_2 = out / "repeat-2" / "trader" / "sessions.jsonl"
        lines = text(repeat_2).splitlines()
        repeat_2.write_text(lines[0] + "\n")  # repeat-2 lost its last session; repeat-1 is complete
        sent = len(fake.requests)
        assert run_cli("--config", str(path), "--out", str(out), "--repeats", "2", *days).exit_code == 0
        assert len(fake.requests) == sent + 3 and {r["seed"] for r in fake.requests[sent:]} == {42}

    # the server is gone: the repeats replay strictly, each from its own cassettes (the sample index keys them)
    replayed = run_cli("--replay-from", str(out), "--out", str(tmp_path / "replayed"), "--repeats", "2", *days)
    assert replayed.exit_code == 0 and "Replayed 12 model call(s)" in replayed.output, replayed.output
    ledger = Path("repeat-1") / "trader" / "position" / "position.jsonl"  # repeat-2's recording ran a day twice
    assert text(tmp_path / "replayed" / ledger) == text(out / ledger)

    for k, seed in ((1, 41), (2, 42)):
        session = json.loads(text(out / f"repeat-{k}" / "trader" / "sessions.jsonl").splitlines()[-1])
        assert (session["seed"], session["temperature"]) == (seed, 0.7)
        assert (session["served_models"], session["system_fingerprints"]) == (["trader"], ["fp_fake_1"])
    runs = load_runs(out, [], Notes())
    assert sorted((r.repeat, r.signature) for r in runs) == [(1, "trader"), (2, "trader")]
    rows = json.loads(CliRunner().invoke(cli, ["report", "--config", str(path), "--out", str(out),
                                               "--format", "json"]).stdout)
    manifest = json.loads(text(out / "manifest.json"))
    assert {(r["repeat"], r["manifest"]) for r in rows if r["signature"] == "trader"} == {
        (1, manifest["sha256"]), (2, manifest["sha256"])}


def test_a_rerun_with_other_inputs_names_what_changed_and_stops_unless_allowed(write_config, tmp_path):
    out = tmp_path / "out"
    news = tmp_path / "news.jsonl"
    news.write_text(text(Path(__file__).parent.parent / "data" / "news" / "news_sample.jsonl"))
    path = write_config(news={"path": str(news)})
    assert run_cli("--config", str(path), "--out", str(out), "--models", BUY_AND_HOLD, *ONE_DAY).exit_code == 0
    first = text(out / "manifest.json")
    assert run_cli("--config", str(path), "--out", str(out), "--models", "baseline-momentum", "--end",
                   "2025-10-02").exit_code == 0  # more days, another model: the same inputs
    assert json.loads(text(out / "manifest.json"))["sha256"] == json.loads(first)["sha256"]

    news.write_text(text(news).replace("Nvidia", "NVIDIA"))  # the corpus was edited in place
    changed = write_config("changed.json", news={"path": str(news)}, execution={"slippage_bps": 9})
    result = run_cli("--config", str(changed), "--out", str(out), "--models", BUY_AND_HOLD, "--end", "2025-10-02")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert re.match(rf"error: {re.escape(str(out))} was run with other inputs \(config \w+ -> \w+; data\.{re.escape(str(news))} "
                    r"\w+ -> \w+; prompt_prefix\.", result.output)
    assert "--allow-changed" in result.output
    assert len(text(out / BUY_AND_HOLD / "sessions.jsonl").splitlines()) == 1  # nothing ran

    allowed = run_cli("--config", str(changed), "--out", str(out), "--models", BUY_AND_HOLD, "--end", "2025-10-02",
                      "--allow-changed")
    assert allowed.exit_code == 0, allowed.output
    manifest = json.loads(text(out / "manifest.json"))
    assert [e["sha256"] for e in manifest["earlier"]] == [json.loads(first)["sha256"]]
    assert manifest["sha256"] != json.loads(first)["sha256"]


def test_a_spending_cap_stops_a_stream_before_a_session_it_cannot_afford(write_config, tmp_path):
    out = tmp_path / "out"
    with FakeOpenAI() as fake:
        fake.script("trader", [trader], repeat_last=True)
        path = write_config(models=[llm("trader", fake.base_url, max_cost_usd=0.01), llm("other", fake.base_url)])
        fake.script("other", [trader], repeat_last=True)
        result = run_cli("--config", str(path), "--out", str(out), "--start", "2025-10-01", "--end", "2025-10-03")

    # a session costs 3600 prompt tokens at $1/M and 140 completion tokens at $2/M: $0.00388
    assert result.exit_code == 1, result.output
    assert [s["date"] for s in map(json.loads, text(out / "trader" / "sessions.jsonl").splitlines())] == [
        "2025-10-01", "2025-10-02"]
    assert len(text(out / "other" / "sessions.jsonl").splitlines()) == 3  # the other model went on
    stop = [line for line in result.output.splitlines() if line.startswith("trader: stopped")][0]
    assert stop == ("trader: stopped before 2025-10-03: models[trader].max_cost_usd $0.01 has $0.0022 left (spent "
                    "$0.0078); a session costs about $0.0039 (its average); raise the cap and rerun to resume from "
                    "2025-10-03")
    assert re.search(r"│ trader +│.*│ \$0\.0078 of \$0\.01 │", result.output)
    assert "models[trader].max_cost_usd: spent $0.0078 of $0.01 (78%)" in result.output

    baseline = {"signature": BUY_AND_HOLD, "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
                "limits": {"max_position_weight": 1.0}}
    spent_up = write_config("spent.json", models=[llm("trader", "http://127.0.0.1:9/v1"), baseline],
                            run={"max_cost_usd": 0})
    result = run_cli("--config", str(spent_up), "--out", str(tmp_path / "none"), *ONE_DAY)
    assert "trader: stopped before 2025-10-01: run.max_cost_usd $0.00 has $0.0000 left" in result.output
    assert (tmp_path / "none" / BUY_AND_HOLD / "sessions.jsonl").exists()  # a baseline costs nothing: caps pass it


def test_a_live_session_records_its_model_calls_too(alpaca, tmp_path):
    from agent_tools.market_calendar import parse_instant
    from arena.live import run_live
    from tests.fakes.fake_alpaca import OPEN_INSTANT, live_config

    with FakeOpenAI() as fake:
        fake.script("trader", [trader], repeat_last=True)
        config = live_config(tmp_path / "c.json", alpaca, broker="paper",
                             models=[llm("trader", fake.base_url, enabled=True)])
        assert run_live(str(config), str(tmp_path / "out"), parse_instant(OPEN_INSTANT), False, None) == 0
        sent = len(fake.requests)
    calls = [json.loads(line) for line in text(tmp_path / "out" / "trader" / "cassettes" / "2025-11-26.jsonl")
             .splitlines()]
    assert sent == 3 and [(c["step"], c["replayed"]) for c in calls] == [(1, False), (2, False), (3, False)]
    assert all(c["response"]["choices"] and SECRET not in json.dumps(c) for c in calls)


def test_a_call_cut_off_by_the_session_time_limit_replays_as_the_same_timeout(write_config, market, tmp_path):
    def slow_second_step(body: dict) -> dict:
        step = trader(body)
        return {"delay": 4.0, **step} if any(m["role"] == "assistant" for m in body["messages"]) else step

    recorded, replayed = tmp_path / "recorded", tmp_path / "replayed"
    one_day = (date(2025, 10, 1), date(2025, 10, 1))
    with FakeOpenAI() as fake:
        fake.script("trader", [slow_second_step], repeat_last=True)
        config = load_config(write_config(models=[llm("trader", fake.base_url)], session={"timeout_seconds": 2}))
        asyncio.run(run_replay(config, market, config.enabled_models(), recorded, *one_day, parallel=1))
    calls = [json.loads(line) for line in text(recorded / "trader" / "cassettes" / "2025-10-01.jsonl").splitlines()]
    assert [(c["step"], c.get("timeout", False)) for c in calls] == [(1, False), (2, True)]

    progress = asyncio.run(run_replay(config, market, config.enabled_models(), replayed, *one_day, parallel=1,
                                      replay=Replay(recorded)))
    assert (progress[0].replayed, progress[0].called, progress[0].stopped) == (2, 0, None)
    sessions = without_durations(replayed / "trader" / "sessions.jsonl")
    assert sessions == without_durations(recorded / "trader" / "sessions.jsonl") and sessions[0]["status"] == "timeout"


def test_a_call_that_failed_when_recorded_fails_the_same_way_on_replay(write_config, market, tmp_path):
    recorded, replayed = tmp_path / "recorded", tmp_path / "replayed"
    one_day = (date(2025, 10, 1), date(2025, 10, 1))
    with FakeOpenAI() as fake:
        fake.script("trader", [{"status": 400, "error": "context too long"}])
        config = load_config(write_config(models=[llm("trader", fake.base_url)]))
        asyncio.run(run_replay(config, market, config.enabled_models(), recorded, *one_day, parallel=1))
    progress = asyncio.run(run_replay(config, market, config.enabled_models(), replayed, *one_day, parallel=1,
                                      replay=Replay(recorded)))
    assert (progress[0].replayed, progress[0].called, progress[0].stopped) == (1, 0, None)
    sessions = without_durations(replayed / "trader" / "sessions.jsonl")
    assert sessions == without_durations(recorded / "trader" / "sessions.jsonl")
    assert sessions[0]["status"] == "failed" and "context too long" in sessions[0]["error"]


def test_repeats_of_the_random_baseline_are_different_random_traders(write_config, tmp_path):
    out = tmp_path / "out"
    path = write_config()
    assert run_cli("--config", str(path), "--out", str(out), "--models", "baseline-random", "--repeats", "2",
                   *ONE_DAY).exit_code == 0
    ledgers = [text(out / f"repeat-{k}" / "baseline-random" / "position" / "position.jsonl") for k in (1, 2)]
    seeds = [int(re.findall(r"random: seed (\d+)", ledger)[0]) for ledger in ledgers]
    assert ledgers[0] != ledgers[1] and seeds[1] == seeds[0] + 1  # repeat k draws with params.seed + k - 1
