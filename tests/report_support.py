"""Helpers for the report tests: a tiny hand-made market whose values can be checked by hand, ledgers written
line by line, and one real replay run shared by every test module in the process (it takes a few seconds)."""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT_DIR, PYTHON, subprocess_env

# (open, close) per day; BBB has no bar on 10-03 and 10-06 (a held symbol without a price those days).
TINY_PRICES: dict[str, dict[str, tuple[float, float]]] = {
    "QQQ": {"2025-09-30": (99, 100), "2025-10-01": (100, 101), "2025-10-02": (101, 102), "2025-10-03": (102, 100),
            "2025-10-06": (100, 103), "2025-10-07": (103, 104), "2025-10-08": (104, 102)},
    "AAA": {"2025-09-30": (10, 10), "2025-10-01": (10, 11), "2025-10-02": (11, 12), "2025-10-03": (12, 9),
            "2025-10-06": (9, 10), "2025-10-07": (10, 12), "2025-10-08": (12, 12)},
    "BBB": {"2025-09-30": (20, 20), "2025-10-01": (20, 20), "2025-10-02": (20, 22),
            "2025-10-07": (21, 21), "2025-10-08": (21, 24)},
}
TINY_DAYS = ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"]


def write_tiny_prices(path: Path) -> Path:
    lines = ["date,symbol,open,high,low,close,volume"]
    for symbol, bars in TINY_PRICES.items():
        for day, (o, c) in bars.items():
            lines.append(f"{day},{symbol},{o},{max(o, c) + 1},{min(o, c) - 1},{c},1000")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_config(tmp_path: Path, write_config: Any, **report: Any) -> Path:
    """A config over the tiny market (universe AAA, BBB, QQQ; initial cash 10,000 for benchmarks)."""
    prices = write_tiny_prices(tmp_path / "tiny_prices.csv")
    sections: dict[str, Any] = {"data": {"daily_prices": str(prices), "hourly_prices": None},
                                "universe": ["AAA", "BBB", "QQQ"],
                                "run": {"start": "2025-10-01", "end": "2025-10-08"}}
    if report:
        sections["report"] = report
    return write_config("tiny_config.json", **sections)


def position(cash: float, **holdings: float) -> dict:
    return {"AAA": holdings.get("AAA", 0), "BBB": holdings.get("BBB", 0), "QQQ": holdings.get("QQQ", 0), "CASH": cash}


def record(day: str, cash: float, action: str | None = None, symbol: str = "", amount: float = 0,
           price: float | None = None, fee: float | None = None, session: str | None = None, **extra: Any) -> dict:
    """One ledger line (id added by write_ledger); `extra` holds the holdings and optional fields like reason."""
    holdings = {k: v for k, v in extra.items() if k in ("AAA", "BBB", "QQQ")}
    rec: dict[str, Any] = {"date": day}
    if action:
        rec["this_action"] = {"action": action, "symbol": symbol, "amount": amount}
    rec["positions"] = position(cash, **holdings)
    if price is not None:
        rec["price"] = price
    if fee is not None:
        rec["fee"] = fee
    if session:
        rec["session_id"] = session
    rec.update({k: v for k, v in extra.items() if k not in holdings})
    return rec


def write_ledger(run_dir: Path, signature: str, records: list[dict]) -> Path:
    folder = run_dir / signature
    (folder / "position").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, rec in enumerate(records):
        rec = {"date": rec["date"], "id": i, **{k: v for k, v in rec.items() if k != "date"}}
        lines.append(json.dumps(rec))
    (folder / "position" / "position.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


_REAL_RUN: Path | None = None


def real_run() -> Path:
    """`python main.py run` (3 baselines over Oct 2025) into a temporary folder, once per test process."""
    global _REAL_RUN
    if _REAL_RUN is None:
        root = Path(tempfile.mkdtemp(prefix="report-real-run-"))
        atexit.register(shutil.rmtree, root, True)
        out = root / "run"
        done = subprocess.run([PYTHON, "main.py", "run", "--out", str(out)], cwd=PROJECT_DIR, env=subprocess_env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        _REAL_RUN = out
    return _REAL_RUN


AI_TRADER_RUNS = PROJECT_DIR / "data" / "interop" / "ai_trader_2025-10"
