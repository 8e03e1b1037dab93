"""Synthetic daily prices for long replays: every universe symbol on every NYSE session of N years, and a config.

    python scripts/synthetic_data.py --out /tmp/synth              # 10 years ending 2025-10-30, 102 symbols
    python scripts/synthetic_data.py --out /tmp/synth --years 2 --seed 7

Writes `<out>/daily_prices.csv` (the bundled file's columns: date,symbol,open,high,low,close,volume) and
`<out>/config.json`: the default config's universe, execution and limits on those prices, no hourly bars (sessions
fill at the day's open), no news, and $1,000,000 of initial cash so a model trading every day for ten years never
runs dry. Prices follow a seeded geometric random walk (same seed, same file), so replays and benchmarks on it are
reproducible. The config's `run.start`..`run.end` covers every session but the last, so a benchmark can replay the
range and then resume one more day on the long ledger (`--end <last>`).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_tools.market_calendar import MarketCalendar  # noqa: E402

DEFAULT_END = date(2025, 10, 30)


def universe_symbols(raw_config: dict) -> list[str]:
    return [u if isinstance(u, str) else u["symbol"] for u in raw_config["universe"]]


def write_prices(path: Path, symbols: list[str], days: list[date], seed: int) -> None:
    """One bar per symbol and session: a random walk with a little drift; open, high, low and close consistent."""
    rng = random.Random(seed)
    prices = {s: rng.uniform(20, 400) for s in symbols}
    vols = {s: rng.uniform(0.012, 0.03) for s in symbols}
    with path.open("w", encoding="utf-8") as out:
        out.write("date,symbol,open,high,low,close,volume\n")
        for day in days:
            stamp = day.isoformat()
            for symbol in symbols:
                vol = vols[symbol]
                previous = prices[symbol]
                open_ = previous * math.exp(rng.gauss(0, vol / 3))
                close = open_ * math.exp(rng.gauss(0.0003, vol))
                high = max(open_, close) * (1 + abs(rng.gauss(0, vol / 2)))
                low = min(open_, close) * (1 - abs(rng.gauss(0, vol / 2)))
                prices[symbol] = close
                out.write(f"{stamp},{symbol},{open_:.4f},{high:.4f},{low:.4f},{close:.4f},{rng.randint(10**5, 10**7)}\n")


def generate(out: Path, years: int = 10, end: date = DEFAULT_END, seed: int = 11) -> Path:
    """Write the prices and the config; return the config's path."""
    out.mkdir(parents=True, exist_ok=True)
    raw = json.loads((ROOT / "configs" / "default_config.json").read_text(encoding="utf-8"))
    calendar = MarketCalendar()
    days = calendar.trading_days(date(end.year - years, end.month, end.day), end)
    symbols = universe_symbols(raw)
    prices = out / "daily_prices.csv"
    write_prices(prices, symbols, days, seed)
    raw["run"] = {**raw["run"], "start": days[1].isoformat(), "end": days[-2].isoformat(),
                  "initial_cash": 1_000_000.0, "out_dir": str(out / "runs")}
    raw["data"] = {"daily_prices": str(prices), "hourly_prices": None}
    raw["news"] = {"source": "none"}
    config = out / "config.json"
    config.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for daily_prices.csv and config.json")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--end", default=DEFAULT_END.isoformat(), help="last session, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    config = generate(Path(args.out).resolve(), args.years, date.fromisoformat(args.end), args.seed)
    print(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
