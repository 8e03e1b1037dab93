"""Reading a ledger fast gives what reading it plainly gives: the same state, digest and one-line errors.

The reference for the holdings of a line is a fresh `LedgerState` (no previous line, so the plain loop converts every
quantity); for a report's day ends it is a digest settled after every record (each record's holdings made from the
previous record's, as before day ends were made lazily).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from agent_tools import json_lines
from agent_tools.ledger import LedgerCorrupted, LedgerState, read_ledger
from reports.ledger_digest import LedgerDigest, digest_ledger

BASE = {"AAA": 1, "BBB": 0, "CCC": 2.5, "CASH": 100.0}


def streamed(lines: list[dict]) -> list[list[tuple[str, str]]]:
    """Each line's holdings as a state reading them in turn has them (key order and exact Decimal text)."""
    state, out = LedgerState(), []
    for n, positions in enumerate(lines):
        state.take(state.check({"id": n, "date": "2025-10-01", "positions": positions}, f"line {n + 1}", n - 1))
        out.append([(s, str(q)) for s, q in state.holdings.items()])
    return out


def alone(lines: list[dict]) -> list[list[tuple[str, str]]]:
    """Each line's holdings read by a fresh state: the plain loop, nothing reused."""
    return [[(s, str(q)) for s, q in LedgerState()._holdings(p).items()] for p in lines]


LINE_AFTER_BASE = {
    "the same quantity written as a float": {**BASE, "AAA": 1.0},
    "a float quantity written as an int": {**BASE, "CCC": 3, "CASH": 90.0},
    "a symbol bought between two held ones": {**BASE, "BBB": 4, "CASH": 50.0},
    "a symbol sold out": {**BASE, "AAA": 0, "CASH": 120.0},
    "a zero written as a float": {**BASE, "AAA": 0.0},
    "a negative zero": {**BASE, "CCC": -0.0},
    "only cash changed": {**BASE, "CASH": 99.5},
    "nothing changed": dict(BASE),
    "the symbols in another order": {"CCC": 2.5, "CASH": 100.0, "BBB": 0, "AAA": 1},
    "a new symbol in the middle": {"AAA": 1, "ZZZ": 7, "BBB": 0, "CCC": 2.5, "CASH": 100.0},
    "a symbol left out": {"AAA": 1, "CCC": 2.5, "CASH": 100.0},
    "a quantity as text": {**BASE, "AAA": "1"},
    "a zero as text": {**BASE, "AAA": "0"},
    "a NaN quantity": {**BASE, "CCC": math.nan},
    "an infinite quantity": {**BASE, "BBB": math.inf},
    "an integer beyond 64 bits": {**BASE, "AAA": 10**30},
    "a tiny float": {**BASE, "BBB": 1e-300},
}


@pytest.mark.parametrize("line", LINE_AFTER_BASE.values(), ids=LINE_AFTER_BASE.keys())
def test_holdings_of_a_line_read_after_another_equal_that_line_read_alone(line):
    lines = [BASE, line, dict(BASE), line, {**line, "CASH": 1.0}]

    assert streamed(lines) == alone(lines)


def test_a_long_run_of_changing_lines_reads_as_each_line_alone():
    lines, positions = [], {f"S{i:02d}": 0 for i in range(30)} | {"CASH": 1000.0}
    for n in range(300):  # buys, sells, int/float switches, symbols appearing anywhere in the order
        symbol = f"S{(n * 7) % 30:02d}"
        positions = {**positions, symbol: (n % 5) * (1.5 if n % 3 else 1), "CASH": 1000.0 - n}
        lines.append(positions)

    assert streamed(lines) == alone(lines)


def test_the_fast_path_answers_a_line_with_the_same_symbols_and_plain_numbers():
    state = LedgerState()
    state.take(state.check({"id": 0, "date": "2025-10-01", "positions": BASE}, "line 1", -1))

    holdings = state._changed_holdings({**BASE, "BBB": 2})

    assert holdings == {"AAA": Decimal("1"), "BBB": Decimal("2"), "CCC": Decimal("2.5")}
    assert list(holdings) == ["AAA", "BBB", "CCC"]


@pytest.mark.parametrize("bad", [True, None, "lots", [1], {"n": 1}], ids=["bool", "None", "text", "list", "object"])
def test_a_bad_quantity_after_good_lines_gives_the_plain_loops_message(bad):
    line = {**BASE, "CCC": bad}
    with pytest.raises(LedgerCorrupted) as plain:
        LedgerState().check({"id": 5, "date": "2025-10-01", "positions": line}, "line 6", 4)
    state = LedgerState()
    for n in range(5):
        state.take(state.check({"id": n, "date": "2025-10-01", "positions": BASE}, f"line {n + 1}", n - 1))

    with pytest.raises(LedgerCorrupted) as fast:
        state.check({"id": 5, "date": "2025-10-01", "positions": line}, "line 6", 4)
    assert str(fast.value) == str(plain.value)


def test_a_bad_line_after_good_ones_in_a_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "position.jsonl"
    lines = [{"date": "2025-10-01", "id": n, "positions": BASE} for n in range(3)]
    lines.append({"date": "2025-10-02", "id": 3, "positions": {**BASE, "AAA": True}})
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")

    with pytest.raises(LedgerCorrupted) as info:
        read_ledger(path)
    assert str(info.value) == (f"{path} line 4: not a ledger record (TypeError: not a number: True); "
                               "fix or remove that line")


# -- JSON: orjson where it gives what json gives, json everywhere else ---------------------------------------------
JSON_TEXTS = {
    "a ledger line": b'{"date": "2025-10-01", "id": 1, "positions": {"AAA": 1, "BBB": 2.5, "CASH": 10.0}}',
    "NaN and Infinity": b'{"a": NaN, "b": -Infinity}',
    "an integer beyond 64 bits": b'{"a": 123456789012345678901234567890}',
    "a negative integer just beyond 64 bits": b'{"a": -9223372036854775809}',
    "an integer beyond unsigned 64 bits": b'{"a": 18446744073709551616}',
    "a number beyond a double": b'{"a": 1e400}',
    "a lone surrogate escape": b'{"a": "\\ud83d"}',
    "a lone surrogate as bytes": b'{"a": "\xed\xa0\xbd"}',
    "a byte-order mark": b'\xef\xbb\xbf{"a": 1}',
    "a repeated key": b'{"a": 1, "b": 2, "a": 3}',
    "a 19-digit run inside text": b'{"a": "1234567890123456789", "b": 0.1}',
}


def outcome(parse, text: bytes | str) -> tuple:
    try:
        return ("loaded", repr(parse(text)))
    except ValueError as exc:
        return ("raised", type(exc), str(exc))


@pytest.mark.parametrize("text", JSON_TEXTS.values(), ids=JSON_TEXTS.keys())
def test_json_lines_loads_what_json_loads_from_bytes_and_from_text(text):
    assert outcome(json_lines.loads, text) == outcome(json.loads, text)
    as_text = text.decode("utf-8", "surrogatepass")
    assert outcome(json_lines.loads, as_text) == outcome(json.loads, as_text)


def test_an_integer_beyond_64_bits_stays_an_exact_integer():
    assert json_lines.loads(b'[18446744073709551617]') == [18446744073709551617]


@pytest.mark.parametrize("text", [b"", b"{half", b'{"a": 1}x', b"\xff", b'{"a": "\x01"}', b"[1,]"],
                         ids=["empty", "torn", "trailing text", "bad utf-8", "control character", "trailing comma"])
def test_json_lines_raises_what_json_raises(text):
    assert outcome(json_lines.loads, text)[0] == "raised"
    assert outcome(json_lines.loads, text) == outcome(json.loads, text)


def test_a_ledger_line_only_json_reads_loads_as_json_reads_it(tmp_path):
    path = tmp_path / "position.jsonl"
    path.write_bytes(b'{"date": "2025-10-01", "id": 0, "positions": {"AAA": 18446744073709551617, "CASH": 5.0},'
                     b' "reason": "half an emoji \\ud83d"}\n'
                     b'{"date": "2025-10-02", "id": 1, "positions": {"AAA": NaN, "CASH": 5.0}}\n')

    ledger = read_ledger(path)
    assert ledger.state.first_position == (Decimal("5.0"), {"AAA": Decimal("18446744073709551617")})
    assert str(ledger.state.holdings["AAA"]) == "NaN"


# -- the digest: day ends made once per day equal those made record by record --------------------------------------
def day_by_record(records: list[dict]) -> LedgerDigest:
    digest = LedgerDigest()
    for record in records:
        digest(record)
        digest.days  # noqa: B018 -- settles the day after every record: each record's holdings made at once
    return digest


def summary(digest: LedgerDigest) -> list:
    return [(d, list(d.holdings)) for d in digest.days] + [digest.base, digest.fills, digest.last_day]


def test_day_ends_equal_those_made_record_by_record_even_when_the_symbols_change_order(tmp_path):
    a_b = {"AAA": 1, "BBB": 2, "CASH": 10.0}
    b_a = {"BBB": 2, "AAA": 1, "CASH": 10.0}
    days = [("2025-10-01", a_b), ("2025-10-02", b_a),  # the same holdings listed B first: A stays first
            ("2025-10-03", {**b_a, "AAA": 0}), ("2025-10-03", {**b_a, "AAA": 3}),  # sold, bought back: B first
            ("2025-10-06", {**a_b, "BBB": 0}), ("2025-10-06", {**a_b, "BBB": 4, "CASH": 2.0}),
            ("2025-10-07", {**a_b, "AAA": 1.0}), ("2025-10-07", {**a_b, "ZZZ": 5, "CASH": 1.0})]
    records = [{"date": d, "id": n, "positions": p, "this_action": {"action": "buy", "symbol": "AAA", "amount": 1},
                "price": 10.0 + n} for n, (d, p) in enumerate(days)]
    path = tmp_path / "position.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    lazy = digest_ledger(path)
    assert summary(lazy) == summary(day_by_record(records))
    assert [list(d.holdings) for d in lazy.days][2] == ["BBB", "AAA"]


def test_day_ends_of_a_long_ledger_equal_those_made_record_by_record(tmp_path):
    positions = {f"S{i:02d}": 0 for i in range(20)} | {"CASH": 1000.0}
    records = []
    for n in range(400):
        symbol = f"S{(n * 7) % 20:02d}"
        positions = {**positions, symbol: (n % 4) * (1.5 if n % 3 else 1), "CASH": 1000.0 - n}
        if n % 50 == 49:  # now and then a line lists its symbols the other way round
            positions = dict(reversed(positions.items()))
        records.append({"date": f"2025-{1 + n // 28 % 12:02d}-{1 + n // 4 % 28:02d}", "id": n, "positions": positions,
                        "this_action": {"action": "sell" if n % 2 else "buy", "symbol": symbol, "amount": 1},
                        "price": 5.0, "cash_flow": 1.0 if n % 9 == 0 else 0})
    path = tmp_path / "position.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    assert summary(digest_ledger(path)) == summary(day_by_record(records))
