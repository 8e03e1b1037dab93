"""The ledger's running state: what the tools ask about is kept record by record, equals what a walk over every record
gives, and holds no records (so a session costs the same on a ten-year ledger as on a new one)."""

from __future__ import annotations

import hashlib
import json
import random
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal

from agent_tools import ledger as ledger_module
from agent_tools.ledger import CASH, TRADE_ACTIONS, PositionLedger, read_ledger
from agent_tools.portfolio import PeakTracker

SYMBOLS = ("AAA", "BBB", "CCC")


def _positions(cash: Decimal, holdings: dict[str, Decimal]) -> dict:
    return {**{s: float(holdings.get(s, 0)) for s in SYMBOLS}, CASH: float(cash)}


def random_ledger(path, seed: int, sessions: int = 40) -> list[dict]:
    """A ledger of random sessions (trades, passes, reconciliations, deposits); returns the records written."""
    rng = random.Random(seed)
    ledger = PositionLedger(path, universe=SYMBOLS)
    cash, holdings = Decimal("10000"), {s: Decimal("0") for s in SYMBOLS}
    day = date(2025, 1, 2)
    ledger.append_record({"date": day.isoformat(), "positions": _positions(cash, holdings)})
    for n in range(sessions):
        day += timedelta(days=1)
        sid = f"m@{day.isoformat()}"
        kind = rng.choice(["trades", "trades", "pass", "reconcile", "deposit"])
        if kind == "reconcile":
            cash -= Decimal("3")
            ledger.append_record({"date": day.isoformat(), "this_action": {"action": "reconcile"}, "session_id": sid,
                                  "positions": _positions(cash, holdings)})
        if kind == "deposit":
            cash += Decimal("500")
            ledger.append_record({"date": day.isoformat(), "this_action": {"action": "deposit", "amount": 500},
                                  "cash_flow": 500, "session_id": sid, "positions": _positions(cash, holdings)})
        if kind == "pass":
            ledger.append_record({"date": day.isoformat(), "this_action": {"action": "no_trade"}, "session_id": sid,
                                  "positions": _positions(cash, holdings)})
            continue
        for k in range(rng.randint(1, 3)):
            symbol = rng.choice(SYMBOLS)
            price = Decimal(str(round(rng.uniform(10, 50), 2)))
            fee = Decimal("1.25")
            side = "sell" if holdings[symbol] > 0 and rng.random() < 0.4 else "buy"
            amount = Decimal(rng.randint(1, int(holdings[symbol]))) if side == "sell" else Decimal(rng.randint(1, 5))
            cash += (-amount * price if side == "buy" else amount * price) - fee
            holdings[symbol] += amount if side == "buy" else -amount
            ledger.append_record({"date": day.isoformat(), "this_action": {"action": side, "symbol": symbol,
                                  "amount": int(amount)}, "price": float(price), "fee": float(fee), "session_id": sid,
                                  "client_order_id": f"{sid}#call_{k}", "positions": _positions(cash, holdings)})
        if n == sessions - 1 and kind == "trades":  # the last session writes a record of another session in between
            ledger.append_record({"date": day.isoformat(), "this_action": {"action": "reconcile"}, "session_id": "other",
                                  "positions": _positions(cash, holdings)})
    return [json.loads(line) for line in path.read_text().splitlines()]


def walked_average_costs(records: list[dict]) -> dict[str, Decimal]:
    books: dict[str, list[Decimal]] = {}
    for r in records:
        action = r.get("this_action") or {}
        if action.get("action") not in TRADE_ACTIONS:
            continue
        book = books.setdefault(action["symbol"], [Decimal("0"), Decimal("0")])
        amount = Decimal(str(action["amount"]))
        if action["action"] == "buy":
            book[1] += amount * Decimal(str(r["price"])) + Decimal(str(r["fee"]))
            book[0] += amount
        elif book[0] > 0:
            book[1] -= book[1] * amount / book[0]
            book[0] -= amount
    return {s: c / q for s, (q, c) in books.items() if q > 0}


def walked_session_start(records: list[dict], session_id: str) -> tuple[Decimal, dict[str, Decimal]]:
    """The position before the session's first trade, walking back no further than another session's last trade."""
    first = None
    for i in range(len(records) - 1, -1, -1):
        action = (records[i].get("this_action") or {}).get("action")
        if records[i].get("session_id") == session_id:
            if action in TRADE_ACTIONS:
                first = i
            continue
        if action in TRADE_ACTIONS or action == "no_trade":
            break
    positions = records[-1 if first in (None, 0) else first - 1]["positions"]
    return Decimal(str(positions[CASH])), {s: Decimal(str(q)) for s, q in positions.items() if s != CASH and q}


def test_the_state_kept_while_appending_equals_a_walk_over_every_record(tmp_path):
    for seed in range(6):
        path = tmp_path / f"{seed}.jsonl"
        records = random_ledger(path, seed)
        written = PositionLedger(path, universe=SYMBOLS)  # loads in one pass
        for state in (written.state, read_ledger(path).state):
            assert state.average_costs() == walked_average_costs(records)
            for sid in {r.get("session_id") for r in records[-8:] if r.get("session_id")}:
                assert state.position_at_session_start(sid) == walked_session_start(records, sid), (seed, sid)
            last_sid = records[-1].get("session_id")
            assert state.session(last_sid).trades == sum(
                1 for r in records if r.get("session_id") == last_sid and r["this_action"]["action"] in TRADE_ACTIONS)
            assert state.flows_total == sum(Decimal(str(r.get("cash_flow", 0))) for r in records)
            fills = [r for r in records if r.get("client_order_id")]
            assert sum(len(v) for v in state.order_fills.values()) == len(fills)
            assert all("positions" not in f for v in state.order_fills.values() for f in v)


def test_a_rerun_of_the_latest_session_starts_from_before_its_first_trade(tmp_path):
    path = tmp_path / "position.jsonl"
    ledger = PositionLedger(path, universe=SYMBOLS)
    start = _positions(Decimal("1000"), {})
    ledger.append_record({"date": "2025-01-02", "positions": start})
    ledger.append_record({"date": "2025-01-03", "this_action": {"action": "buy", "symbol": "AAA", "amount": 2},
                          "price": 10, "fee": 0, "session_id": "s1", "positions": _positions(Decimal("980"), {"AAA": Decimal(2)})})

    assert ledger.state.position_at_session_start("s1") == (Decimal("1000"), {})
    assert read_ledger(path).state.position_at_session_start("s2") == (Decimal("980"), {"AAA": Decimal("2")})


def test_the_drawdown_peak_counts_every_past_close_and_the_money_moved_since(tmp_path):
    path = tmp_path / "position.jsonl"
    ledger = PositionLedger(path, universe=("AAA",))
    closes = {date(2025, 1, 2): 10.0, date(2025, 1, 3): 30.0, date(2025, 1, 6): 5.0}
    ledger.append_record({"date": "2025-01-02", "positions": {"AAA": 0, CASH: 100.0}})
    ledger.append_record({"date": "2025-01-02", "this_action": {"action": "buy", "symbol": "AAA", "amount": 10},
                          "price": 10, "fee": 0, "positions": {"AAA": 10, CASH: 0.0}})
    ledger.append_record({"date": "2025-01-03", "this_action": {"action": "no_trade"}, "positions": {"AAA": 10, CASH: 0.0}})

    class Closes:
        def close_on(self, symbol, day):
            return closes.get(day)

    tracker = PeakTracker.on(ledger, Closes())  # replays the file once
    assert tracker.peak(date(2025, 1, 3), Decimal("50")) == Decimal("100")  # Jan 2: 10 x 10
    assert tracker.peak(date(2025, 1, 6), Decimal("50")) == Decimal("300")  # Jan 3 has closed: 10 x 30
    ledger.append_record({"date": "2025-01-06", "this_action": {"action": "withdrawal", "amount": 200},
                          "cash_flow": -200, "positions": {"AAA": 10, CASH: -200.0}})
    # the best close (300) less the 200 taken out since: a withdrawal is not a drawdown
    assert tracker.peak(date(2025, 1, 7), Decimal("50")) == Decimal("100")


def test_a_loaded_ledger_keeps_no_records(tmp_path):
    """Memory held after a load does not grow with the number of records (AI-Trader-style lines, 100 symbols)."""
    universe = tuple(f"S{i:03d}" for i in range(100))

    def held_after_loading(n: int) -> int:
        path = tmp_path / f"{n}.jsonl"
        with path.open("w") as out:
            for i in range(n):
                positions = {s: (i % 7 if s == "S001" else 0) for s in universe} | {CASH: 1000.0 - i}
                out.write(json.dumps({"date": f"2025-01-{1 + i % 28:02d}", "id": i, "positions": positions}) + "\n")
        tracemalloc.start()
        ledger = read_ledger(path)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert ledger.state.records == n
        return held

    small, large = held_after_loading(100), held_after_loading(2100)
    assert large - small < 100_000  # a kept record would cost several KB each: 2,000 of them at least 4 MB


def test_a_checkpoint_beside_the_ledger_gives_the_same_state_and_is_rebuilt_when_the_ledger_disagrees(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_module, "CHECKPOINT_EVERY", 10)
    path = tmp_path / "position.jsonl"
    random_ledger(path, seed=3, sessions=30)
    full = read_ledger(path, watchers=[lambda record, state: None]).state  # watchers: always the whole file

    opened = PositionLedger(path, universe=SYMBOLS)  # writes the checkpoint
    checkpoint = path.with_name("position.jsonl.checkpoint")
    assert checkpoint.exists() and opened.state == full
    random_ledger_tail = {"date": "2025-03-01", "this_action": {"action": "no_trade"}, "session_id": "late",
                          "positions": json.loads(path.read_text().splitlines()[-1])["positions"]}
    opened.append_record(random_ledger_tail)

    resumed = PositionLedger(path, universe=SYMBOLS)  # from the checkpoint, then the line after it
    assert resumed.state == read_ledger(path, watchers=[lambda record, state: None]).state
    assert resumed.state.session("late").records == 1
    saved = json.loads(checkpoint.read_text())
    saved["state"]["flows_total"] = "12345"  # a checkpoint that matches the ledger is what a load starts from
    checkpoint.write_text(json.dumps(saved))
    assert PositionLedger(path, universe=SYMBOLS).state.flows_total == Decimal("12345")

    # the ledger edited inside the checkpointed part (same length): the checkpoint no longer matches, nothing of it
    # is used
    text = path.read_bytes()
    edited = text.replace(b'"CASH": 10000.0', b'"CASH": 90000.0', 1)
    assert edited != text and len(edited) == len(text)
    path.write_bytes(edited)
    assert PositionLedger(path, universe=SYMBOLS).state == read_ledger(path, watchers=[lambda r, s: None]).state
    assert PositionLedger(path, universe=SYMBOLS).state.first_position[0] == Decimal("90000.0")
    rewritten = json.loads(checkpoint.read_text())  # a checkpoint that no longer matched is replaced at once
    assert rewritten["sha256"] == hashlib.sha256(edited[:rewritten["length"]]).hexdigest()
