"""Scale benchmark (issue 11), run by `scripts/bench.py` (or alone): a generated N-year replay of 4 models
(scripted with 6 trades a session, equal weight, momentum, buy and hold) in one process, its per-session time at
sessions 100 and 2,500, its peak RSS and that of `report` on it; `buy`/`get_portfolio` p50/p99 on its long ledger,
in-process and over stdio; start-up of `--help`, `run` and `serve-tools`; 1/10/50 models over 60 days with
`--workers 1` and the default. Every figure is min/median/max over `--reps` runs (`--heavy-reps` for the replays and the workers figure).

    python scripts/bench_scale.py --json scale.json
    python scripts/bench_scale.py --years 2 --reps 1 --heavy-reps 1     # a quick look
    python scripts/bench_scale.py --only workers                         # only the 1/10/50 models x 60 days part
    python scripts/bench_scale.py --only serve-tools                     # only serve-tools start-up (bundled, long)

Processes are measured from outside (wall time; peak RSS from wait4), so the figures are what a user sees.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIX_TRADES = [[{"name": "buy", "arguments": {"symbol": s, "amount": 1}} for s in ("AAPL", "MSFT", "NVDA")],
              [{"name": "sell", "arguments": {"symbol": s, "amount": 1}} for s in ("AAPL", "MSFT", "NVDA")]]
BUNDLED_AT = "2025-10-02T10:00-04:00"  # a session of the bundled data (serve-tools start-up on it)
ZERO_PLAN = [[{"name": "get_portfolio", "arguments": {}}, {"name": "get_price", "arguments": {"symbols": ["AAPL"]}}],
             [{"name": "buy", "arguments": {"symbol": "AAPL", "amount": 1}}]]
LONG_MODELS = [
    {"signature": "scripted-6", "kind": "scripted", "params": {"plan": SIX_TRADES}},
    {"signature": "equal-weight", "kind": "baseline", "strategy": "equal_weight"},
    {"signature": "momentum", "kind": "baseline", "strategy": "momentum"},
    {"signature": "buy-and-hold", "kind": "baseline", "strategy": "buy_and_hold", "params": {"symbol": "QQQ"},
     "limits": {"max_position_weight": 1.0}},
]


def spread3(values: list[float], digits: int = 3) -> dict[str, float]:
    return {"min": round(min(values), digits), "median": round(statistics.median(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def peak_rss(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, reaped with wait4 so the RSS is this process tree's."""
    t0 = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:4])}... exited {child.returncode}: {err.decode()[-800:]}")
    return wall, usage.ru_maxrss / 1024


def main_py(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def write_config(base: Path, models: list[dict], name: str, **run: Any) -> Path:
    raw = json.loads(base.read_text(encoding="utf-8"))
    raw["models"] = models
    raw["run"] = {**raw["run"], **run}
    path = base.with_name(name)
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return path


def session_ms(model_dir: Path, at: int, window: int = 10) -> float:
    """Median session time (ms, as the session recorded it) of sessions at-window..at+window (1-based)."""
    rows = [json.loads(line) for line in (model_dir / "sessions.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("status") == "finished"]
    picked = rows[max(0, at - 1 - window): at + window]
    return statistics.median(r["duration_s"] for r in picked) * 1000


# -- tool calls on the long ledger ---------------------------------------------------------------------------------
async def tool_calls(config_path: Path, out: Path, signature: str, instant: str, n: int) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    from agent_tools.market_calendar import parse_instant
    from agent_tools.server import build_tool_server
    from arena.config import load_config
    from arena.desk_factory import build_desk, load_market, session_context

    async def measure(client: Any) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"buy": [], "get_portfolio": []}
        for _ in range(n):
            for name, arguments in (("get_portfolio", {}), ("buy", {"symbol": "AAPL", "amount": 1})):
                t0 = time.perf_counter()
                result = await client.call_tool(name, arguments)
                times[name].append(time.perf_counter() - t0)
                if result.is_error and name == "get_portfolio":
                    raise RuntimeError(f"{name} failed: {result.content}")
        return times

    def pcts(values: list[float]) -> dict[str, float]:
        ms = sorted(v * 1000 for v in values)
        return {"p50": round(statistics.median(ms), 3), "p99": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3)}

    config = load_config(config_path)
    at = parse_instant(instant)
    market = load_market(config, at.date(), at.date())
    model = next(m for m in config.models if m.signature == signature)
    desk = build_desk(config, session_context(config, model, at, out), market)
    async with Client(build_tool_server(desk)) as client:
        inproc = await measure(client)
    params = StdioServerParameters(command=sys.executable, args=main_py(
        "serve-tools", "--signature", signature, "--at", instant, "--config", str(config_path), "--out", str(out))[1:],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    async with Client(params) as client:
        stdio = await measure(client)
    return {"in_process": {k: pcts(v) for k, v in inproc.items()}, "stdio": {k: pcts(v) for k, v in stdio.items()},
            "calls_each": n}


async def serve_tools_ready(config_path: Path, out: Path, instant: str) -> tuple[float, float]:
    """Seconds from spawning `serve-tools` to its first answer (initialize + list_tools: ready), and to the answer of
    its first `get_price` (which waits for the market data, loaded after the server starts answering)."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=main_py(
        "serve-tools", "--signature", "scripted-6", "--at", instant, "--config", str(config_path), "--out",
        str(out))[1:], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    t0 = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        ready = time.perf_counter() - t0
        result = await client.call_tool("get_price", {"symbols": ["AAPL"]})
        if result.is_error:
            raise RuntimeError(f"serve-tools get_price failed: {result.content}")
        return ready, time.perf_counter() - t0


def serve_figures(reps: int, tmp: Path, long_cfg: Path, instant: str) -> dict[str, Any]:
    """`serve-tools` ready and first `get_price`, on the bundled data and on the long synthetic data."""
    from arena.config import DEFAULT_CONFIG

    figures: dict[str, Any] = {}
    for label, config, at in (("bundled", DEFAULT_CONFIG, BUNDLED_AT), ("long", long_cfg, instant)):
        times = [asyncio.run(serve_tools_ready(config, tmp / f"serve-{label}", at)) for _ in range(reps)]
        figures[label] = {"ready_s": spread3([t[0] for t in times]), "first_price_s": spread3([t[1] for t in times])}
    return figures


# -- the run -------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from synthetic_data import generate

    from agent_tools.market_calendar import MarketCalendar

    results: dict[str, Any] = {"years": args.years, "reps": args.reps, "heavy_reps": args.heavy_reps,
                               "cores": len(os.sched_getaffinity(0))}
    base = generate(tmp / "synth", years=args.years)
    raw = json.loads(base.read_text())
    first, last = date.fromisoformat(raw["run"]["start"]), date.fromisoformat(raw["run"]["end"])
    days = MarketCalendar().trading_days(first, last)
    long_cfg = write_config(base, LONG_MODELS, "long.json", parallel=1)
    if args.only == "serve-tools":
        results["serve_tools_s"] = serve_figures(args.reps, tmp, long_cfg, session_after(last))
        return results
    if args.only != "workers":
        results.update(long_figures(args, tmp, long_cfg, days, last))
    results["models_60_days_s"] = workers_figures(args, tmp, base, days, results["cores"])
    return results


def session_after(last: date) -> str:
    """10:00 New York time of the session after the data's last day (the long run's next session)."""
    from datetime import time as wall_clock

    from agent_tools.market_calendar import MarketCalendar, at_market_time

    next_day = MarketCalendar().trading_days(last, date(last.year + 1, 1, 1))[1]
    return at_market_time(next_day, wall_clock(10)).isoformat(timespec="minutes")


def long_figures(args: argparse.Namespace, tmp: Path, long_cfg: Path, days: list[date], last: date) -> dict[str, Any]:
    """Figures 1-4: the long replay, report on it, tool calls on its ledger, start-up."""

    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    results: dict[str, Any] = {}
    say(f"[1/5] {args.years}-year replay, 4 models, --workers 1 ({len(days)} days) x {args.heavy_reps}")
    walls, rss, at100, at_end, ew100, ew_end = [], [], [], [], [], []
    for k in range(args.heavy_reps):
        out = tmp / f"long-{k}"
        wall, peak = peak_rss(main_py("run", "--config", str(long_cfg), "--out", str(out), "--workers", "1"))
        walls.append(wall)
        rss.append(peak)
        end_at = min(2500, len(days) - 10)
        at100.append(session_ms(out / "scripted-6", 100))
        at_end.append(session_ms(out / "scripted-6", end_at))
        ew100.append(session_ms(out / "equal-weight", 100))
        ew_end.append(session_ms(out / "equal-weight", end_at))
    long_out = tmp / "long-0"
    records = sum(1 for _ in (long_out / "equal-weight" / "position" / "position.jsonl").open())
    results["long_replay"] = {
        "days": len(days), "sessions": 4 * len(days), "equal_weight_ledger_records": records,
        "wall_s": spread3(walls, 1), "peak_rss_mb": spread3(rss, 0), "late_session": end_at,
        "scripted6_ms_at_100": spread3(at100, 2), "scripted6_ms_at_late": spread3(at_end, 2),
        "equal_weight_ms_at_100": spread3(ew100, 2), "equal_weight_ms_at_late": spread3(ew_end, 2),
    }

    report_reps = max(args.reps, args.heavy_reps)  # seconds each: as many as the cheap figures, whatever the replays
    say(f"[2/5] report on it x {report_reps}")
    rep_walls, rep_rss = [], []
    for _ in range(report_reps):
        wall, peak = peak_rss(main_py("report", "--config", str(long_cfg), "--out", str(long_out), "--format", "json",
                                      "--output", str(tmp / "report.json")))
        rep_walls.append(wall)
        rep_rss.append(peak)
    results["report"] = {"runs": report_reps, "wall_s": spread3(rep_walls, 2), "peak_rss_mb": spread3(rep_rss, 0)}

    say("[3/5] buy and get_portfolio on the long ledger, in-process and over stdio")
    instant = session_after(last)
    results["tools_on_long_ledger"] = asyncio.run(tool_calls(long_cfg, long_out, "scripted-6", instant, args.calls))

    say(f"[4/5] start-up x {args.reps}")
    helps, runs = [], []
    bundled_one = tmp / "startup-run"
    for k in range(args.reps):
        helps.append(peak_rss(main_py("--help"))[0])
        runs.append(peak_rss(main_py("run", "--models", "baseline-buy-and-hold-qqq", "--start", "2025-10-01", "--end",
                                     "2025-10-01", "--out", str(bundled_one / str(k)), "--workers", "1"))[0])
    results["startup_s"] = {"help": spread3(helps), "run_one_session_bundled": spread3(runs)}
    results["serve_tools_s"] = serve_figures(args.reps, tmp, long_cfg, instant)
    return results


def workers_figures(args: argparse.Namespace, tmp: Path, base: Path, days: list[date], cores: int) -> dict[str, Any]:
    """Figure 5: 1/10/50 scripted models over the last 60 days, `--workers 1` against the default (every core)."""
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    say(f"[5/5] 1/10/50 models x 60 days, --workers 1 and default ({cores}) x {args.heavy_reps}")
    window = days[-61:-1]
    workers: dict[str, Any] = {}
    for n in (1, 10, 50):
        models = [{"signature": f"s{i:02d}", "kind": "scripted", "params": {"plan": ZERO_PLAN}} for i in range(n)]
        cfg = write_config(base, models, f"models-{n}.json", start=window[0].isoformat(), end=window[-1].isoformat(),
                           parallel=6)
        for label, extra in (("workers_1", ["--workers", "1"]), ("default", [])):
            walls = []
            for k in range(args.heavy_reps):
                out = tmp / f"m{n}-{label}-{k}"
                walls.append(peak_rss(main_py("run", "--config", str(cfg), "--out", str(out), *extra))[0])
            workers.setdefault(str(n), {})[label] = spread3(walls, 2)
        workers[str(n)]["speedup"] = round(workers[str(n)]["workers_1"]["median"] / workers[str(n)]["default"]["median"], 2)
    return workers


def render(r: dict[str, Any]) -> str:
    def m(x: dict[str, float], unit: str = "") -> str:
        return f"{x['median']:g}{unit} ({x['min']:g}-{x['max']:g})"

    lines = [f"scale: {r['years']}-year synthetic data, median (min-max) of {r['heavy_reps']} (replays, workers) / "
             f"{r['reps']} (start-up); {r['cores']} cores"]
    if "long_replay" in r:
        lines = long_lines(r, m)
    if "serve_tools_s" in r:
        lines += [f"  serve-tools on the {label} data: ready (first list_tools) {m(row['ready_s'], ' s')}, first get_price "
                  f"{m(row['first_price_s'], ' s')}" for label, row in r["serve_tools_s"].items()]
    for n, row in r.get("models_60_days_s", {}).items():
        lines.append(f"  {n} model(s) x 60 days: --workers 1 {m(row['workers_1'], ' s')}, default "
                     f"{m(row['default'], ' s')}: x{row['speedup']}")
    return "\n".join(lines)


def long_lines(r: dict[str, Any], m: Any) -> list[str]:
    lr, rep, st, tl = r["long_replay"], r["report"], r["startup_s"], r["tools_on_long_ledger"]
    return [f"scale: {r['years']}-year synthetic replay, median (min-max) of {r['heavy_reps']} (replays) / "
             f"{r['reps']} (start-up); {r['cores']} cores",
             f"  replay 4 models x {lr['days']} days, --workers 1: {m(lr['wall_s'], ' s')}, peak RSS {m(lr['peak_rss_mb'], ' MB')}"
             f" (equal-weight ledger: {lr['equal_weight_ledger_records']} records)",
             f"  ms per session, scripted 6 trades: at 100 {m(lr['scripted6_ms_at_100'])}, at {lr['late_session']} "
             f"{m(lr['scripted6_ms_at_late'])}",
             f"  ms per session, equal weight:      at 100 {m(lr['equal_weight_ms_at_100'])}, at {lr['late_session']} "
             f"{m(lr['equal_weight_ms_at_late'])}",
             f"  report on it (x{rep.get('runs', r['heavy_reps'])}): {m(rep['wall_s'], ' s')}, "
             f"peak RSS {m(rep['peak_rss_mb'], ' MB')}",
             f"  on the long ledger ({tl['calls_each']} calls each), p50/p99 ms: "
             + ", ".join(f"{t} {k} {v['p50']:g}/{v['p99']:g}" for t in ("in_process", "stdio") for k, v in tl[t].items()),
             f"  start-up: --help {m(st['help'], ' s')}; run (1 session) {m(st['run_one_session_bundled'], ' s')}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3, help="runs of each cheap figure (start-up, report)")
    parser.add_argument("--heavy-reps", type=int, default=3, help="runs of each replay and worker figure")
    parser.add_argument("--calls", type=int, default=100, help="buy and get_portfolio calls on the long ledger")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", choices=["workers", "serve-tools"],
                        help="run only this part (workers: 1/10/50 models x 60 days; serve-tools: its start-up)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tradearena-scale-"))
    try:
        results = run(args, tmp)
    finally:
        if args.keep:
            print(f"outputs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
