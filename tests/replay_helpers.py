"""Helpers for the replay-foundation tests: a desk on the bundled market, the ledger it writes, expected rejections."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent_tools.context import SessionContext
from agent_tools.limits import Limits
from agent_tools.market_calendar import parse_instant
from agent_tools.trading_desk import TradeRejected, TradingDesk
from arena.config import ArenaConfig
from arena.desk_factory import Market, build_desk

AT = "2025-10-02T10:00-04:00"
SIGNATURE = "tester"


def desk_at(
    config: ArenaConfig,
    market: Market,
    out_dir: Path,
    at: str = AT,
    *,
    signature: str = SIGNATURE,
    initial_cash: float | str = 10000,
    execution: dict[str, Any] | None = None,
    **limits: Any,
) -> TradingDesk:
    """A desk for one session at `at`, writing under out_dir; `limits` are Limits fields, `execution` patches fees."""
    if execution:
        config = config.model_copy(update={"execution": config.execution.model_copy(update=execution)})
    ctx = SessionContext(
        signature=signature,
        instant=parse_instant(at),
        mode="replay",
        limits=Limits(**limits),
        out_dir=Path(out_dir),
        initial_cash=Decimal(str(initial_cash)),
    )
    return build_desk(config, ctx, market)


def ledger_path(out_dir: Path, signature: str = SIGNATURE) -> Path:
    return Path(out_dir) / signature / "position" / "position.jsonl"


def ledger_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def expect_rejection(desk: TradingDesk, side: str, symbol: str, amount: object, rule: str) -> str:
    """The order is refused by `rule`, the ledger file is byte-for-byte unchanged, the audit trail has the rejection."""
    before = desk.ledger.path.read_bytes()
    audited = len(desk.audit)
    with pytest.raises(TradeRejected) as info:
        desk.trade(side, symbol, amount)
    assert desk.ledger.path.read_bytes() == before
    assert len(desk.audit) == audited + 1
    event = desk.audit[-1]
    assert (event["type"], event["rule"]) == ("rejection", rule)
    assert f"({rule})" in str(info.value)
    return str(info.value)
