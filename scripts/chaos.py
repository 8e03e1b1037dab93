"""Chaos drill: kill, garble and fault TradeArena from the outside, then check that no trade was repeated, lost or
misbooked and that no secret leaked.

    .venv/bin/python scripts/chaos.py [--kills 20] [--seed 0] [--work DIR]
    .venv/bin/python scripts/chaos.py --audit DIR      # recheck a finished drill's files (nothing is run)

What it does, all on 127.0.0.1 with fake servers of its own (tests/fakes: an OpenAI-compatible chat server and a
stateful Alpaca server with fault injection), driving the real `tradearena` command in child processes:

1. Reference: a multi-model replay (two LLMs through the fake OpenAI server, the three built-in baselines) and live
   sessions on several triggers (an LLM on the `alpaca` broker against a fake Alpaca account, an LLM and a baseline
   on the `paper` broker), each run once, without faults or kills.
2. Chaos: the same runs again from scratch while it kills the processes at random points (after they start
   writing, `--kills` in all, seeded by `--seed`; every fourth as Ctrl-C, SIGINT, the rest SIGKILL) and reruns
   each command until it is done. The fake OpenAI server
   answers some requests with an HTML 200 body, `[]`, `{"error": ...}`, a 500, a 429 or a dropped connection; the
   fake Alpaca answers some requests with a 5xx after creating the order, a body alpaca-py cannot parse, a poll
   slower than the client's timeout, "client_order_id must be unique" for an order it created, a 503 on the account
   and a 429 on market data. The LLMs' text and trade reasons always carry lone UTF-16 surrogates, tool-call ids
   repeat across turns (one model) or are missing (the other), and a planted API key is written into some reasons.
3. Audit, from the files alone: every ledger against its reference (duplicate, missing and misbooked trades; every
   record's positions and cash follow from the one before), the `alpaca` ledger against the fake broker's account
   and orders, and every output file (ledgers, logs, sessions, the processes' stdout and stderr) grepped for the
   planted keys. The LLM policy is a deterministic function of the date and the holdings it is shown, so a crashed
   and resumed session must end with exactly the reference's trades.

Prints one line of figures and exits 1 on any defect (0 when clean, 2 on bad arguments).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_tools.brokers.alpaca import alpaca_client_order_id  # noqa: E402
from arena.config import DEFAULT_CONFIG  # noqa: E402
from arena.models.base import FINISH_SIGNAL  # noqa: E402
from arena.session_log import read_log_events  # noqa: E402
from tests.fakes.fake_alpaca import FakeAlpaca  # noqa: E402
from tests.fakes.fake_openai import FakeOpenAI, assistant, tool_call  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META"]
TRADES = ("buy", "sell")
LLM_KEY_ENV = "CHAOS_LLM_API_KEY"
REPLAY_LLMS = {"llm-repeat-ids": "repeat", "llm-no-ids": "missing"}  # signature -> how it sends tool-call ids
LIVE_ALPACA, LIVE_PAPER, LIVE_BASELINE = "llm-alpaca", "llm-paper", "baseline-paper"
CTRL_C_EVERY = 4  # the 2nd, 6th, 10th... kill is a SIGINT (sessions end `interrupted` and are resumed), the rest SIGKILL
LIVE_TRIGGERS = ["2025-11-24T10:00-05:00", "2025-11-25T10:00-05:00", "2025-11-26T10:00-05:00"]
PROVIDER_FAULTS: dict[str, dict] = {
    "html_200": {"raw": "<html><body><h1>502 Bad Gateway</h1></body></html>"},
    "empty_list_200": {"raw": "[]"},
    "error_body_200": {"raw": '{"error": {"message": "upstream overloaded"}}'},
    "http_500": {"status": 500, "error": "upstream failed"},
    "http_429": {"status": 429, "error": "slow down", "headers": {"retry-after": "0"}},
    "dropped": {"drop": True},
}
BROKER_FAULTS: dict[str, tuple[str, dict]] = {  # name -> (which fake, fault arguments)
    "5xx_after_create": ("account", {"kind": "error_after", "method": "POST", "path": "/v2/orders", "status": 500}),
    "unparseable_answer": ("account", {"kind": "garble", "method": "POST", "path": "/v2/orders"}),
    "slow_poll": ("account", {"kind": "slow", "method": "GET", "path": "/v2/orders/", "delay": 1.6}),
    "duplicate_client_order_id": ("account", {"kind": "error_after", "method": "POST", "path": "/v2/orders",
                                              "status": 422, "message": "client_order_id must be unique"}),
    "account_503": ("account", {"kind": "error", "method": "GET", "path": "/v2/account", "status": 503}),
    "market_data_429": ("data", {"kind": "error", "method": "GET", "path": "/v2/stocks/bars", "status": 429}),
}


def planted_secrets(seed: int) -> dict[str, str]:
    """Fake keys (variable -> value) the drill plants; derived from the seed so `--audit` can grep for them."""
    def token(name: str) -> str:
        return hashlib.sha256(f"chaos-{seed}-{name}".encode()).hexdigest()[:28]
    return {LLM_KEY_ENV: f"sk-chaos-{token('llm')}",
            "CHAOS_APCA_KEY_A": f"PKCHAOSA{token('ka')[:16].upper()}", "CHAOS_APCA_SECRET_A": f"chaosA{token('sa')}",
            "CHAOS_APCA_KEY_B": f"PKCHAOSB{token('kb')[:16].upper()}", "CHAOS_APCA_SECRET_B": f"chaosB{token('sb')}"}


# -- the fake LLM: a deterministic rebalancing policy, plus provider faults ------------------------------------------
def targets(model: str, day: str) -> dict[str, int]:
    """Today's target holdings of three symbols, a pure function of model and day."""
    rng = random.Random(f"{model}|{day}")
    return {symbol: rng.randint(0, 3) for symbol in rng.sample(SYMBOLS, 3)}


def orders_for(model: str, day: str, holdings: dict[str, float]) -> list[tuple[str, str, int]]:
    """What it takes to reach today's targets from what the model is shown it holds: sells first."""
    orders = []
    for symbol, target in targets(model, day).items():
        held = int(holdings.get(symbol, 0))
        if held != target:
            orders.append(("sell" if held > target else "buy", symbol, abs(held - target)))
    return sorted(orders, key=lambda o: o[0] != "sell")


class Policy:
    """The fake server's answer to every chat request: get_portfolio, then the orders to reach the day's targets
    (reasons with half an emoji, some with the API key in them), then finish. Faults, when on, replace an answer
    now and then, never twice in a row for one model (so the product's retries always get through)."""

    def __init__(self, secret: str, id_styles: dict[str, str], seed: int, latency: float = 0.0):
        self.secret, self.id_styles, self.latency = secret, id_styles, latency
        self.rng = random.Random(seed)
        self.faults_on = False
        self.fault_rate = 0.25
        self.injected: Counter[str] = Counter()
        self._last_faulted: dict[str, bool] = {}
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> dict:
        model = body.get("model", "")
        with self._lock:
            if self.faults_on and not self._last_faulted.get(model) and self.rng.random() < self.fault_rate:
                kind = self.rng.choice(sorted(PROVIDER_FAULTS))
                self.injected[kind] += 1
                self._last_faulted[model] = True
                return PROVIDER_FAULTS[kind]
            self._last_faulted[model] = False
        return {**self.answer(model, body.get("messages", [])), "delay": self.latency}

    def _id(self, model: str, n: int) -> str | None:
        return None if self.id_styles.get(model) == "missing" else f"call_{n}"  # "repeat": the same ids every turn

    def answer(self, model: str, messages: list[dict]) -> dict:
        opening = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
        found = re.search(r"Now: \w+ (\d{4}-\d{2}-\d{2})", opening)
        day = found.group(1) if found else "unknown"
        turns = sum(1 for m in messages if m.get("role") == "assistant")
        if turns == 0:
            return assistant("Checking the book \ud83d first.", [tool_call(self._id(model, 0), "get_portfolio", {})])
        if turns > 1:
            return assistant(f"Done for {day} \udc00. {FINISH_SIGNAL}")
        try:
            shown = json.loads(next(m["content"] for m in reversed(messages) if m.get("role") == "tool"))
            holdings = {s: row.get("quantity", 0) for s, row in shown.get("holdings", {}).items()}
        except (StopIteration, TypeError, ValueError, AttributeError):
            return assistant(f"I cannot read my portfolio; stopping. {FINISH_SIGNAL}")
        calls = []
        for n, (side, symbol, qty) in enumerate(orders_for(model, day, holdings)):
            reason = f"rebalance {symbol} \ud83d toward {targets(model, day)[symbol]}"
            if n % 2 == 0:
                reason += f" (debug: my key is {self.secret})"  # a model leaking its key: must never be written
            calls.append(tool_call(self._id(model, n), side, {"symbol": symbol, "amount": qty, "reason": reason}))
        if not calls:
            return assistant(f"Already at target \ud83d. {FINISH_SIGNAL}")
        return assistant("Rebalancing \udc00 now.", calls)


# -- configs ---------------------------------------------------------------------------------------------------------
def llm_model(signature: str, base_url: str, **extra: Any) -> dict:
    return {"signature": signature, "enabled": True, "kind": "openai", "model": signature, "base_url": base_url,
            "api_key_env": LLM_KEY_ENV, "timeout": 5, "max_retries": 3, "params": {"backoff_base": 0.01},
            "price": {"prompt_per_million": 1.0, "completion_per_million": 2.0}, **extra}


def replay_config(path: Path, base_url: str, start: str, end: str) -> Path:
    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["run"].update({"start": start, "end": end, "parallel": 6})
    raw["data"] = {k: str(ROOT / v) for k, v in raw["data"].items()}
    raw["news"]["path"] = str(ROOT / raw["news"]["path"]) if raw["news"].get("path") else None
    raw["news"] = {k: v for k, v in raw["news"].items() if v is not None}
    baselines = [m for m in raw["models"] if m.get("kind") == "baseline" and m.get("enabled", True)]
    raw["models"] = baselines + [llm_model(sig, base_url) for sig in REPLAY_LLMS]
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return path


def live_config(path: Path, base_url: str, account: FakeAlpaca, data: FakeAlpaca) -> Path:
    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["data"] = {k: str(ROOT / v) for k, v in raw["data"].items()}
    raw["universe"] = [*SYMBOLS, "QQQ"]
    raw["news"] = {"source": "none"}
    raw["live"] = {"broker": "paper", "data_url": data.url, "trading_url": data.url, "api_key_env": "CHAOS_APCA_KEY_B",
                   "secret_key_env": "CHAOS_APCA_SECRET_B", "order_timeout_seconds": 3, "poll_interval_seconds": 0.05,
                   "http_timeout_seconds": 1, "retry_backoff_seconds": 0.05}
    on_account = {"broker": "alpaca", "data_url": account.url, "trading_url": account.url,
                  "api_key_env": "CHAOS_APCA_KEY_A", "secret_key_env": "CHAOS_APCA_SECRET_A"}
    raw["models"] = [llm_model(LIVE_ALPACA, base_url, live=on_account), llm_model(LIVE_PAPER, base_url),
                     {"signature": LIVE_BASELINE, "kind": "baseline", "strategy": "equal_weight"}]
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return path


# -- running and killing ---------------------------------------------------------------------------------------------
def tree_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def session_lines(out: Path) -> int:
    return sum(len(p.read_text(encoding="utf-8", errors="replace").splitlines()) for p in out.glob("*/sessions.jsonl"))


@dataclass
class Stage:
    """One pass over every phase: the reference (no kills, no faults) or the chaos pass."""

    name: str
    folder: Path
    env: dict[str, str]
    rng: random.Random | None = None  # kill points; None: no kills
    kills_left: int = 0
    kills: int = 0
    ctrl_c: int = 0  # how many of the kills were SIGINT (Ctrl-C) rather than SIGKILL
    runs: int = 0
    history: list[dict] = field(default_factory=list)  # every run: what stopped it, its exit code
    unfinished: list[str] = field(default_factory=list)  # commands that never exited 0
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, label: str, command: list[str], out: Path, expected_sessions: int, window: float,
            kills_here: int) -> None:
        """Run `command` until it exits 0, killing it up to `kills_here` times at random points of its work.

        `window` is how long the reference run of this command wrote session output; a kill comes at a uniform
        point of an even share of what is left of it (so each kill still finds work), counted from the moment the
        process starts writing."""
        logs = self.folder / "process-output"
        logs.mkdir(parents=True, exist_ok=True)
        failures = 0
        first = session_lines(out) if out.exists() else 0
        while True:
            self.runs += 1
            kill_after, how = None, signal.SIGKILL
            if self.rng is not None and kills_here > 0 and self.kills_left > 0:
                how = signal.SIGINT if self.kills % CTRL_C_EVERY == 1 else signal.SIGKILL
                done = session_lines(out) if out.exists() else 0
                remaining = max(0.1, (expected_sessions - done) / max(1, expected_sessions - first))
                # spread over the work left, so that every kill of this command still finds some work
                kill_after = self.rng.uniform(0.0, max(0.05, 2 * window * remaining / (kills_here + 1)))
            base = logs / f"{self.runs:03d}-{label}"
            with open(f"{base}.out", "w") as stdout, open(f"{base}.err", "w") as stderr:
                proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=stdout, stderr=stderr)
                killed, writing = watch(proc, out, kill_after, how)
                rc = proc.wait(timeout=900)
            self.history.append({"run": base.name, "stopped_by": how.name if killed else None, "exit": rc})
            if killed:
                self.ctrl_c += how == signal.SIGINT
                self.kills += 1
                self.kills_left -= 1
                kills_here -= 1
                continue
            self.timings.setdefault(label, writing)
            if rc == 0:
                return
            failures += 1
            if failures >= 3:
                self.unfinished.append(f"{label} (exit {rc}, see {base}.err)")
                return


def session_output(out: Path) -> int:
    """Bytes of session output (ledgers, logs, sessions, journals): files inside the model folders."""
    if not out.exists():
        return 0
    return sum(tree_size(d) for d in out.iterdir() if d.is_dir())


def watch(proc: subprocess.Popen, out: Path, kill_after: float | None,
          how: signal.Signals = signal.SIGKILL) -> tuple[bool, float]:
    """Follow the process's session output; stop it with `how` `kill_after` seconds after it starts writing (None:
    never). SIGKILL: no handler, no cleanup, the way a crash or an OOM kill ends a process; SIGINT: Ctrl-C (a process
    that has not exited a minute later is SIGKILLed). Returns whether it was stopped and how long it wrote."""
    size = session_output(out)
    began = last = None
    while proc.poll() is None:
        now = time.monotonic()
        grown = session_output(out)
        if grown != size:
            size, last = grown, now
            began = began if began is not None else now
        if kill_after is not None and began is not None and now - began >= kill_after:
            proc.send_signal(how)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return True, now - began
        time.sleep(0.005 if kill_after is not None else 0.02)
    return False, (last - began) if began is not None and last is not None else 0.0


def python_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def inject_broker_faults(rng: random.Random, fakes: dict[str, FakeAlpaca], injected: list) -> None:
    """Two faults for the next live invocation, each answered once: whichever requests meet them first."""
    for name in rng.sample(sorted(BROKER_FAULTS), 2):
        which, spec = BROKER_FAULTS[name]
        spec = dict(spec)
        injected.append((name, fakes[which].fault(spec.pop("kind"), **spec)))


def run_stage(stage: Stage, args: argparse.Namespace, policy: Policy, base_url: str, seed: int,
              reference: dict[str, float] | None, fault_rng: random.Random | None) -> dict:
    """Each live trigger, then the replay; returns what the audit needs of the fake brokers. About half the kills
    go to the live triggers; a kill that did not land (the process was done first) passes to the next command, and
    the replay, with the most work, takes what is left."""
    secrets = planted_secrets(seed)
    account = FakeAlpaca(secrets["CHAOS_APCA_KEY_A"], secrets["CHAOS_APCA_SECRET_A"], cash="10000", max_lifetime=3600)
    data = FakeAlpaca(secrets["CHAOS_APCA_KEY_B"], secrets["CHAOS_APCA_SECRET_B"], cash="10000", max_lifetime=3600)
    injected: list = []
    with account, data:
        stage.folder.mkdir(parents=True, exist_ok=True)
        replay_out, live_out = stage.folder / "replay", stage.folder / "live"
        rcfg = replay_config(stage.folder / "replay_config.json", base_url, args.start, args.end)
        lcfg = live_config(stage.folder / "live_config.json", base_url, account, data)
        policy.faults_on = fault_rng is not None
        triggers = LIVE_TRIGGERS[: args.live_days]
        live_kills = stage.kills_left // 2
        for i, trigger in enumerate(triggers):
            if fault_rng is not None:
                inject_broker_faults(fault_rng, {"account": account, "data": data}, injected)
            used = stage.kills
            share = -(-live_kills // (len(triggers) - i)) if live_kills > 0 else 0
            label = f"live-{trigger[:10]}"
            stage.run(label, python_command("live", "--config", str(lcfg), "--out", str(live_out), "--now", trigger),
                      live_out, 3 * (i + 1), (reference or {}).get(label, 1.0), share)
            live_kills -= stage.kills - used
        days = len(_trading_days(args.start, args.end))
        stage.run("replay", python_command("run", "--config", str(rcfg), "--out", str(replay_out)), replay_out,
                  days * (3 + len(REPLAY_LLMS)), (reference or {}).get("replay", 2.0), stage.kills_left)
        policy.faults_on = False
        broker = {"state": account.state(),
                  "faults_hit": Counter(name for name, f in injected if f.times == 0)}
    (stage.folder / "broker-account.json").write_text(json.dumps(broker["state"], indent=2), encoding="utf-8")
    return broker


def _trading_days(start: str, end: str) -> list:
    from datetime import date

    from agent_tools.market_calendar import MarketCalendar
    return MarketCalendar().trading_days(date.fromisoformat(start), date.fromisoformat(end))


# -- the audit: from the files alone ---------------------------------------------------------------------------------
@dataclass
class Figures:
    kills: int = 0
    kills_requested: int = 0
    ctrl_c: int = 0
    sessions: int = 0
    reference_sessions: int = 0
    failed_sessions: int = 0
    duplicate: int = 0
    missing: int = 0
    misbooked: int = 0
    broker_mismatches: int = 0
    secret_hits: int = 0
    unlogged_trades: int = 0  # a ledger trade whose tool call is in no log line (a kill must not lose forensics)
    undercounted_sessions: int = 0  # a session's tokens below the reference's (every attempt's spend counts)
    unfinished_runs: int = 0
    provider_faults: int = 0
    broker_faults: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def defects(self) -> int:
        return (self.duplicate + self.missing + self.misbooked + self.broker_mismatches + self.secret_hits
                + self.unlogged_trades + self.undercounted_sessions + self.failed_sessions + self.unfinished_runs + abs(self.sessions - self.reference_sessions))

    def line(self) -> str:
        verdict = "OK" if not self.defects else f"FAILED ({self.defects} defect(s))"
        kills = f"{self.kills}" + (f" of {self.kills_requested}" if self.kills < self.kills_requested else "")
        kills += f" ({self.ctrl_c} as Ctrl-C)" if self.ctrl_c else ""
        return (f"chaos: kills {kills}, sessions {self.sessions}/{self.reference_sessions}, failed sessions "
                f"{self.failed_sessions}, duplicate trades {self.duplicate}, missing trades {self.missing}, misbooked "
                f"trades {self.misbooked}, ledger-vs-broker mismatches {self.broker_mismatches}, secret hits "
                f"{self.secret_hits}, unlogged trades {self.unlogged_trades}, undercounted sessions "
                f"{self.undercounted_sessions}, faults injected {self.provider_faults} provider / {self.broker_faults} broker: "
                f"{verdict}")


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def action(record: dict) -> str:
    return (record.get("this_action") or {}).get("action") or "open"


def trade_key(record: dict) -> tuple[str, str, str]:
    act = record["this_action"]
    return record["date"], act["action"], act["symbol"]


def chain_errors(records: list[dict]) -> list[str]:
    """Each trade's positions and cash follow from the record before it (a no_trade changes nothing)."""
    errors = []
    for before, record in zip(records, records[1:], strict=False):
        kind = action(record)
        if kind not in (*TRADES, "no_trade"):
            continue  # the broker's truth (reconcile, deposit, withdrawal) sets positions by itself
        expected = {k: Decimal(str(v)) for k, v in before["positions"].items()}
        if kind in TRADES:
            act = record["this_action"]
            qty, price, fee = Decimal(str(act["amount"])), Decimal(str(record["price"])), Decimal(str(record.get("fee", 0)))
            sign = 1 if kind == "buy" else -1
            expected[act["symbol"]] = expected.get(act["symbol"], Decimal(0)) + sign * qty
            expected["CASH"] -= sign * qty * price + fee
        got = {k: Decimal(str(v)) for k, v in record["positions"].items()}
        for symbol in set(expected) | set(got):
            tolerance = Decimal("0.011") if symbol == "CASH" else Decimal("0")
            if abs(expected.get(symbol, Decimal(0)) - got.get(symbol, Decimal(0))) > tolerance:
                errors.append(f"record {record.get('id')}: {symbol} {got.get(symbol)} does not follow from the "
                              f"record before ({expected.get(symbol)})")
                break
    return errors


def compare_ledger(name: str, ref: list[dict], got: list[dict], figures: Figures) -> None:
    ref_trades = [r for r in ref if action(r) in TRADES]
    got_trades = [r for r in got if action(r) in TRADES]
    ref_keys, got_keys = Counter(map(trade_key, ref_trades)), Counter(map(trade_key, got_trades))
    extra, lost = got_keys - ref_keys, ref_keys - got_keys
    order_ids = Counter(r.get("client_order_id") for r in got_trades if r.get("client_order_id"))
    repeated_ids = sum(n - 1 for n in order_ids.values() if n > 1)
    duplicates = max(sum(extra.values()), repeated_ids)
    figures.duplicate += duplicates
    figures.missing += sum(lost.values())
    figures.findings += [f"{name}: extra trade {k} x{n}" for k, n in extra.items()]
    figures.findings += [f"{name}: client_order_id booked {n} times: {k}" for k, n in order_ids.items() if n > 1]
    figures.findings += [f"{name}: missing trade {k} x{n}" for k, n in lost.items()]

    def books(records: list[dict]) -> dict[tuple, list[tuple]]:
        out: dict[tuple, list[tuple]] = {}
        for r in records:
            out.setdefault(trade_key(r), []).append(
                (str(Decimal(str(r["this_action"]["amount"])).normalize()), str(Decimal(str(r["price"])).normalize()),
                 str(Decimal(str(r.get("fee", 0))).normalize())))
        return out
    ref_books, got_books = books(ref_trades), books(got_trades)
    misbooked = 0
    for key in set(ref_books) & set(got_books):
        mismatched = Counter(ref_books[key]) - Counter(got_books[key])
        n = min(sum(mismatched.values()), len(got_books[key]))
        if n:
            misbooked += n
            figures.findings.append(f"{name}: {key} booked as {got_books[key]}, reference {ref_books[key]}")
    reconciles = Counter(action(r) for r in got if action(r) == "reconcile") - Counter(
        action(r) for r in ref if action(r) == "reconcile")
    if reconciles:
        misbooked += sum(reconciles.values())
        figures.findings.append(f"{name}: {sum(reconciles.values())} reconcile record(s) the reference does not have "
                                "(the ledger had drifted from the broker)")
    chain = chain_errors(got)
    misbooked += len(chain)
    figures.findings += [f"{name}: {e}" for e in chain]
    if not misbooked and not duplicates and not lost and ref and got:
        final_ref = {k: v for k, v in ref[-1]["positions"].items() if v}
        final_got = {k: v for k, v in got[-1]["positions"].items() if v}
        if final_ref != final_got:
            misbooked += 1
            figures.findings.append(f"{name}: final positions {final_got} differ from the reference {final_ref}")
    figures.misbooked += misbooked


def compare_broker(name: str, ledger: list[dict], state: dict, ref_state: dict, figures: Figures) -> None:
    """The `alpaca` ledger against the fake account: positions, cash, and every filled order booked once, as filled;
    and the account's orders against the reference account's (an order placed twice is a duplicate trade)."""
    mismatches = []
    last = ledger[-1]["positions"] if ledger else {}
    held = {s: Decimal(str(q)) for s, q in last.items() if s != "CASH" and q}
    broker_held = {s: Decimal(q) for s, q in state["positions"].items() if Decimal(q)}
    if held != broker_held:
        mismatches.append(f"positions: ledger {held}, broker {broker_held}")
    if abs(Decimal(str(last.get("CASH", 0))) - Decimal(state["cash"])) > Decimal("0.01"):
        mismatches.append(f"cash: ledger {last.get('CASH')}, broker {state['cash']}")
    booked = Counter()
    for r in ledger:
        if action(r) in TRADES and r.get("client_order_id"):
            booked[alpaca_client_order_id(r["client_order_id"])] += Decimal(str(r["this_action"]["amount"]))
    filled = Counter({o["client_order_id"]: Decimal(o["filled_qty"]) for o in state["orders"]
                      if Decimal(o["filled_qty"] or "0") > 0})
    for order_id in set(booked) | set(filled):
        if booked.get(order_id, 0) != filled.get(order_id, 0):
            mismatches.append(f"order {order_id}: booked {booked.get(order_id, 0)}, filled {filled.get(order_id, 0)}")
    figures.broker_mismatches += len(mismatches)
    figures.findings += [f"{name} vs broker: {m}" for m in mismatches]

    def placed(s: dict) -> Counter:
        return Counter((o["client_order_id"].split("#")[0], o["side"], o["symbol"], o["filled_qty"])
                       for o in s["orders"] if Decimal(o["filled_qty"] or "0") > 0)
    extra, lost = placed(state) - placed(ref_state), placed(ref_state) - placed(state)
    figures.duplicate += sum(extra.values())
    figures.missing += sum(lost.values())
    figures.findings += [f"{name} at the broker: extra filled order {k}" for k in extra]
    figures.findings += [f"{name} at the broker: missing filled order {k}" for k in lost]


def unlogged_trades(name: str, model_dir: Path, figures: Figures) -> None:
    """Every trade in the ledger has its tool call in its session's log.jsonl (written before the call runs)."""
    logged: dict[str, set[str]] = {}
    for record in read_jsonl(model_dir / "position" / "position.jsonl"):
        order_id = record.get("client_order_id")
        if action(record) not in TRADES or not order_id:
            continue
        session_id, call_id = order_id.rsplit("#", 1)
        if record["date"] not in logged:
            ids: set[str] = set()
            for event in read_log_events(model_dir / "log" / record["date"] / "log.jsonl"):
                if event.get("type") == "assistant":
                    ids.update(str(c.get("id")) for c in event.get("tool_calls") or [])
                elif event.get("type") == "tool":
                    ids.add(str(event.get("id")))
            logged[record["date"]] = ids
        if call_id not in logged[record["date"]]:
            figures.unlogged_trades += 1
            figures.findings.append(f"{name}: trade {order_id} (ledger id {record.get('id')}) is in no log line")


def secret_hits(folder: Path, secrets: list[str], figures: Figures) -> None:
    needles = [s.encode() for s in secrets]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle in needles:
            n = data.count(needle)
            if n:
                figures.secret_hits += n
                figures.findings.append(f"secret {needle[:10].decode()}... in {path.relative_to(folder)} ({n}x)")


def audit(work: Path) -> Figures:
    drill = json.loads((work / "drill.json").read_text(encoding="utf-8"))
    figures = Figures(kills=drill["kills"], kills_requested=drill["args"]["kills"], ctrl_c=drill.get("ctrl_c", 0), unfinished_runs=len(drill["unfinished"]),
                      provider_faults=drill["provider_faults"], broker_faults=drill["broker_faults"])
    figures.findings += [f"run never finished: {u}" for u in drill["unfinished"]]
    ref, chaos = work / "reference", work / "chaos"
    for phase in ("replay", "live"):
        for model_dir in sorted(p for p in (ref / phase).iterdir() if p.is_dir() and (p / "position").exists()):
            sig = model_dir.name
            ledger_path = Path("position") / "position.jsonl"
            compare_ledger(f"{phase}/{sig}", read_jsonl(model_dir / ledger_path),
                           read_jsonl(chaos / phase / sig / ledger_path), figures)
            ref_sessions = {r["session_id"]: r for r in read_jsonl(model_dir / "sessions.jsonl")}
            got_sessions = {r["session_id"]: r for r in read_jsonl(chaos / phase / sig / "sessions.jsonl")}
            figures.reference_sessions += len(ref_sessions)
            figures.sessions += len(got_sessions)
            failed = [s for s, r in got_sessions.items() if r.get("status") == "failed"]
            for session_id, ref_record in ref_sessions.items():
                spent = got_sessions.get(session_id, {})
                tokens = spent.get("prompt_tokens", 0) + spent.get("completion_tokens", 0)
                if spent and tokens < ref_record.get("prompt_tokens", 0) + ref_record.get("completion_tokens", 0):
                    figures.undercounted_sessions += 1
                    figures.findings.append(f"{phase}/{sig}: {session_id} counts {tokens} tokens over "
                                            f"{spent.get('attempts')} attempt(s), fewer than the reference's")
            unlogged_trades(f"{phase}/{sig}", chaos / phase / sig, figures)
            figures.failed_sessions += len(failed)
            figures.findings += [f"{phase}/{sig}: session {s} failed: {got_sessions[s].get('error')}" for s in failed]
    ref_state = json.loads((ref / "broker-account.json").read_text(encoding="utf-8"))
    chaos_state = json.loads((chaos / "broker-account.json").read_text(encoding="utf-8"))
    compare_broker(f"chaos live/{LIVE_ALPACA}", read_jsonl(chaos / "live" / LIVE_ALPACA / "position" / "position.jsonl"),
                   chaos_state, ref_state, figures)
    reference_check = Figures()
    compare_broker(f"reference live/{LIVE_ALPACA}", read_jsonl(ref / "live" / LIVE_ALPACA / "position" / "position.jsonl"),
                   ref_state, ref_state, reference_check)
    figures.broker_mismatches += reference_check.broker_mismatches
    figures.findings += reference_check.findings
    secret_hits(work, list(planted_secrets(drill["seed"]).values()), figures)
    return figures


# -- the drill -------------------------------------------------------------------------------------------------------
def drill(args: argparse.Namespace, work: Path) -> Figures:
    secrets = planted_secrets(args.seed)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(secrets, PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    policy = Policy(secrets[LLM_KEY_ENV], {**REPLAY_LLMS, LIVE_ALPACA: "repeat", LIVE_PAPER: "missing"}, args.seed,
                    args.latency)
    with FakeOpenAI() as llm:
        for model in policy.id_styles:
            llm.script(model, [policy], repeat_last=True)
        reference = Stage("reference", work / "reference", env)
        run_stage(reference, args, policy, llm.base_url, args.seed, None, None)
        chaos = Stage("chaos", work / "chaos", env, rng=random.Random(args.seed), kills_left=args.kills)
        broker = run_stage(chaos, args, policy, llm.base_url, args.seed, reference.timings,
                           random.Random(args.seed + 1))
    record = {"seed": args.seed, "kills": chaos.kills, "ctrl_c": chaos.ctrl_c, "runs": chaos.runs,
              "unfinished": reference.unfinished + chaos.unfinished,
              "provider_faults": sum(policy.injected.values()), "provider_fault_kinds": dict(policy.injected),
              "broker_faults": sum(broker["faults_hit"].values()), "broker_fault_kinds": dict(broker["faults_hit"]),
              "reference_timings": reference.timings, "runs_history": chaos.history, "args": {k: v for k, v in vars(args).items() if k != "audit"}}
    (work / "drill.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return audit(work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kill, garble and fault TradeArena; check no trade is repeated, "
                                     "lost or misbooked and no secret leaks. One line of figures; exit 1 on any defect.")
    parser.add_argument("--kills", type=int, default=20,
                        help="kills to deliver, every fourth as Ctrl-C (SIGINT), the rest SIGKILL (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed for kill points and faults (default 0)")
    parser.add_argument("--start", default="2025-10-01", help="first replay day (default 2025-10-01)")
    parser.add_argument("--end", default="2025-10-14", help="last replay day (default 2025-10-14)")
    parser.add_argument("--live-days", type=int, default=3, choices=range(1, len(LIVE_TRIGGERS) + 1),
                        help=f"live triggers to run, from {LIVE_TRIGGERS[0][:10]} (default 3)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake LLM takes per answer (0.05)")
    parser.add_argument("--work", help="folder for the drill's files (default: a new temporary folder)")
    parser.add_argument("--audit", metavar="DIR", help="only recheck the files of a finished drill in DIR")
    parser.add_argument("--verbose", action="store_true", help="list every finding, not only the first ten")
    args = parser.parse_args(argv)
    if args.kills < 0:
        parser.error("--kills must be 0 or more")
    if args.audit:
        work = Path(args.audit)
        if not (work / "drill.json").exists():
            parser.error(f"{work} holds no finished drill (no drill.json)")
        figures = audit(work)
    else:
        work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="tradearena-chaos-"))
        if work.exists() and any(work.iterdir()):
            parser.error(f"--work {work} is not empty; give a new folder")
        work.mkdir(parents=True, exist_ok=True)
        figures = drill(args, work)
        (work / "figures.json").write_text(json.dumps(asdict(figures), indent=2), encoding="utf-8")
    for finding in figures.findings[: None if args.verbose else 10]:
        print(f"  {finding}", file=sys.stderr)
    print(figures.line() + f" [{work}]")
    return 1 if figures.defects else 0


if __name__ == "__main__":
    sys.exit(main())
