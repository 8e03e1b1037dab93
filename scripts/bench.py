"""TradeArena benchmark: tool-call latency, harness overhead per session, replay wall time, concurrency, memory.

    python scripts/bench.py            # full run, about 100 s on 2 cores (88 s of it is simulated model latency)
    python scripts/bench.py --quick    # fewer calls, 5 days instead of 22: about 25 s
    python scripts/bench.py --json bench.json
    python scripts/bench.py --scale              # then the scale benchmark (scripts/bench_scale.py): a generated
                                                 # 10-year replay, report, start-up, --workers; about 25 min on 2 cores
    python scripts/bench.py --only-scale --heavy-reps 1

Everything runs offline on the bundled data with scripted models (a fixed plan of tool calls through the same MCP
tools as any model); outputs go to a temporary folder that is removed at the end (--keep keeps it). No network:
the stdio case spawns `main.py serve-tools` as a child process and talks to it over its stdin/stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mcp import Client, StdioServerParameters  # noqa: E402

from agent_tools.ledger import PositionLedger  # noqa: E402
from agent_tools.market_calendar import at_market_time  # noqa: E402
from agent_tools.server import build_tool_server  # noqa: E402
from arena.config import DEFAULT_CONFIG, ArenaConfig  # noqa: E402
from arena.desk_factory import Market, build_desk, load_market, session_context  # noqa: E402
from arena.models.base import ModelTurn  # noqa: E402
from arena.models.scripted import ScriptedModel  # noqa: E402
from arena.run_loop import run_model_session, run_replay, trading_days  # noqa: E402

START, END = date(2025, 10, 1), date(2025, 10, 30)  # the October 2025 sessions in the bundled data: 22 days
N_MODELS = 6

# Zero-latency plan (harness overhead, zero-latency replay): 2 tool-calling turns + the finishing turn.
OVERHEAD_PLAN: list[list[dict]] = [
    [{"name": "get_portfolio", "arguments": {}}, {"name": "get_price", "arguments": {"symbols": ["QQQ", "AAPL"]}}],
    [{"name": "buy", "arguments": {"symbol": "AAPL", "amount": 1, "reason": "bench"}}],
]
# Latency plan (concurrency): 1 tool-calling turn + the finishing turn = 2 model calls of `latency` s per session.
LATENCY_PLAN: list[list[dict]] = [
    [{"name": "get_portfolio", "arguments": {}}, {"name": "get_price", "arguments": {"symbols": ["QQQ", "AAPL"]}},
     {"name": "buy", "arguments": {"symbol": "AAPL", "amount": 1, "reason": "bench"}}],
]

TARGETS = {"inproc_get_price_p50_ms": 0.5, "overhead_mean_ms": 10.0, "concurrency_ratio": 1.25}


# -- helpers ---------------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": round(statistics.median(ms), 3), "p95": round(pct(ms, 95), 3),
            "mean": round(statistics.fmean(ms), 3), "max": round(max(ms), 3)}


def bench_config(*, latency: float = 0.0, plan: list[list[dict]] | None = None, n_models: int = N_MODELS) -> ArenaConfig:
    """The default config (universe, data, limits, bounds) with only scripted models."""
    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["run"] = {**raw["run"], "start": START.isoformat(), "end": END.isoformat(), "parallel": n_models}
    raw["models"] = [
        {"signature": f"bench-{i}", "kind": "scripted", "params": {"plan": plan or OVERHEAD_PLAN, "latency": latency}}
        for i in range(n_models)
    ]
    return ArenaConfig.model_validate(raw)


def rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class TimedModel:
    """Wraps a model back end and adds up the time spent inside it (subtracted from the session's wall time)."""

    def __init__(self, inner: ScriptedModel):
        self.inner = inner
        self.label = inner.label
        self.is_baseline = inner.is_baseline
        self.spent = 0.0

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        t0 = time.perf_counter()
        try:
            return await self.inner.complete(messages, tools)
        finally:
            self.spent += time.perf_counter() - t0

    async def aclose(self) -> None:
        await self.inner.aclose()


async def time_calls(call: Callable[[], Awaitable[Any]], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = await call()
        out.append(time.perf_counter() - t0)
        if result.is_error:
            raise RuntimeError(f"tool call failed during the benchmark: {result.content}")
    return out


async def measure_client(client: Client, n_price: int, n_portfolio: int, warmup: int) -> dict[str, Any]:
    async def price() -> Any:
        return await client.call_tool("get_price", {"symbols": ["AAPL"]})

    async def portfolio() -> Any:
        return await client.call_tool("get_portfolio", {})

    return {"get_price": summary_ms(await time_calls(price, n_price, warmup)),
            "get_portfolio": summary_ms(await time_calls(portfolio, n_portfolio, warmup))}


# -- 1. tool-call latency ----------------------------------------------------------------------------------------
async def bench_tools(config: ArenaConfig, config_path: Path, market: Market, tmp: Path, days: list[date],
                      n_price: int, n_portfolio: int, warmup: int) -> dict[str, Any]:
    model = config.models[0]
    instant = at_market_time(days[len(days) // 2], config.run.decision_time)
    ctx = session_context(config, model, instant, tmp / "tools-inproc")
    server = build_tool_server(build_desk(config, ctx, market))
    async with Client(server) as client:
        inproc = await measure_client(client, n_price, n_portfolio, warmup)

    params = StdioServerParameters(
        command=sys.executable,
        args=[str(ROOT / "main.py"), "serve-tools", "--signature", model.signature, "--at", instant.isoformat(),
              "--config", str(config_path), "--out", str(tmp / "tools-stdio")],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(ROOT),
    )
    t0 = time.perf_counter()
    async with Client(params) as client:
        spawn = time.perf_counter() - t0
        stdio = await measure_client(client, n_price, n_portfolio, warmup)
    return {"in_process": inproc, "stdio": stdio, "stdio_spawn_and_connect_ms": round(spawn * 1000, 1)}


# -- 2. harness overhead per session -----------------------------------------------------------------------------
async def bench_overhead(config: ArenaConfig, market: Market, tmp: Path, days: list[date]) -> dict[str, Any]:
    """One model, one session per day, in order, as run_replay does: wall time of run_model_session minus model time."""
    model = config.models[0]

    async def sessions(out: Path, run_days: list[date]) -> tuple[list[float], list[float], list[float], list[str]]:
        backend = TimedModel(ScriptedModel(model.signature, OVERHEAD_PLAN, 0.0))
        ledger = PositionLedger.for_signature(out, model.signature, tuple(config.universe))
        overheads, inner, cpu, statuses = [], [], [], []
        for day in run_days:
            before = backend.spent
            c0, t0 = time.process_time(), time.perf_counter()
            outcome = await run_model_session(config, model, backend, at_market_time(day, config.run.decision_time),
                                              out, market, ledger)
            wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
            overheads.append(wall - (backend.spent - before))
            cpu.append(cpu_s)
            inner.append(outcome.result.duration_s)
            statuses.append(outcome.result.status)
        return overheads, inner, cpu, statuses

    cold, _, _, _ = await sessions(tmp / "overhead-warmup", days[:2])  # the first sessions pay lazy imports and caches
    overheads, inner, cpu, statuses = await sessions(tmp / "overhead", days)
    if set(statuses) != {"finished"}:
        raise RuntimeError(f"unexpected session statuses in the overhead benchmark: {sorted(set(statuses))}")
    stats = summary_ms(overheads)
    setup = [o - i for o, i in zip(overheads, inner, strict=True)]
    return {"sessions": len(overheads), "mean_ms": stats["mean"], "p50_ms": stats["p50"], "p95_ms": stats["p95"],
            "max_ms": stats["max"], "warmup_first_session_ms": round(cold[0] * 1000, 1),
            "session_run_mean_ms": round(statistics.fmean(inner) * 1000, 2),
            "setup_mean_ms": round(statistics.fmean(setup) * 1000, 2),
            "cpu_mean_ms": round(statistics.fmean(cpu) * 1000, 2)}


# -- 3. replay wall time and concurrency -------------------------------------------------------------------------
async def timed_replay(config: ArenaConfig, market: Market, out: Path, days: list[date]) -> tuple[float, int]:
    t0 = time.perf_counter()
    progress = await run_replay(config, market, list(config.models), out, days[0], days[-1], config.run.parallel)
    wall = time.perf_counter() - t0
    results = [r for p in progress for r in p.results]
    bad = [r for r in results if r.status != "finished"]
    if bad:
        raise RuntimeError(f"{len(bad)} replay session(s) did not finish: {bad[0].status} {bad[0].error}")
    return wall, len(results)


async def bench_replays(market: Market, tmp: Path, days: list[date], latency: float) -> dict[str, Any]:
    zero6, n_zero6 = await timed_replay(bench_config(), market, tmp / "replay-zero-6", days)
    zero1, _ = await timed_replay(bench_config(n_models=1), market, tmp / "replay-zero-1", days)
    slow_one, _ = await timed_replay(bench_config(latency=latency, plan=LATENCY_PLAN, n_models=1), market,
                                     tmp / "replay-slow-1", days)
    slow_all, n_slow = await timed_replay(bench_config(latency=latency, plan=LATENCY_PLAN), market,
                                          tmp / "replay-slow-6", days)
    calls_per_session = len(LATENCY_PLAN) + 1
    return {
        "days": len(days), "models": N_MODELS,
        "zero_latency": {"wall_s": round(zero6, 3), "sessions": n_zero6, "ms_per_session": round(zero6 / n_zero6 * 1000, 2),
                         "one_model_wall_s": round(zero1, 3)},
        "latency": {"latency_s": latency, "model_calls_per_session": calls_per_session,
                    "ideal_s": round(len(days) * calls_per_session * latency, 1),
                    "one_model_wall_s": round(slow_one, 3), "all_models_wall_s": round(slow_all, 3),
                    "sessions": n_slow, "ratio": round(slow_all / slow_one, 4)},
    }


async def bench_tracemalloc(market: Market, tmp: Path, days: list[date]) -> float:
    """Peak Python allocations during a zero-latency N-model replay (the market is already loaded)."""
    gc.collect()
    tracemalloc.start()
    try:
        await timed_replay(bench_config(), market, tmp / "replay-tracemalloc", days)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return round(peak / 1e6, 1)


# -- report -------------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "cpu": cpu, "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISS"


def render(r: dict[str, Any]) -> str:
    t, o, rp, m = r["tools"], r["overhead"], r["replay"], r["memory"]
    rows: list[tuple[str, str, str]] = []
    for transport, label in (("in_process", "in-process"), ("stdio", "stdio")):
        for tool in ("get_price", "get_portfolio"):
            s = t[transport][tool]
            target = ""
            if transport == "in_process" and tool == "get_price":
                target = f"p50 <= {TARGETS['inproc_get_price_p50_ms']} ms: {verdict(s['p50'], TARGETS['inproc_get_price_p50_ms'])}"
            rows.append((f"{tool} {label}, p50 / p95 (n={s['n']})", f"{s['p50']:.3f} / {s['p95']:.3f} ms", target))
    rows.append(("stdio server spawn + connect", f"{t['stdio_spawn_and_connect_ms']:.0f} ms", ""))
    rows.append((f"harness overhead per session, mean / p95 (n={o['sessions']})", f"{o['mean_ms']:.2f} / {o['p95_ms']:.2f} ms",
                 f"mean <= {TARGETS['overhead_mean_ms']:.0f} ms: {verdict(o['mean_ms'], TARGETS['overhead_mean_ms'])}"))
    rows.append(("  CPU time per session (all threads), mean", f"{o['cpu_mean_ms']:.2f} ms", ""))
    rows.append(("  of which desk + server + connect, mean", f"{o['setup_mean_ms']:.2f} ms", ""))
    rows.append(("  of which Session.run (prompt, loop, logs, ledger)", f"{o['session_run_mean_ms']:.2f} ms", ""))
    z, lat = rp["zero_latency"], rp["latency"]
    rows.append((f"replay {rp['days']} days x {rp['models']} models, zero latency",
                 f"{z['wall_s']:.2f} s ({z['ms_per_session']:.1f} ms/session)", ""))
    rows.append((f"replay {rp['days']} days x 1 model, zero latency", f"{z['one_model_wall_s']:.2f} s", ""))
    rows.append((f"replay {rp['days']} days x 1 model, {lat['latency_s']:g} s/model call",
                 f"{lat['one_model_wall_s']:.2f} s (ideal {lat['ideal_s']:g} s)", ""))
    rows.append((f"replay {rp['days']} days x {rp['models']} models, {lat['latency_s']:g} s/model call",
                 f"{lat['all_models_wall_s']:.2f} s", ""))
    rows.append((f"concurrency ratio ({rp['models']} models / 1 model)", f"{lat['ratio']:.3f}",
                 f"< {TARGETS['concurrency_ratio']}: {'ok' if lat['ratio'] < TARGETS['concurrency_ratio'] else 'MISS'}"))
    rows.append(("market data load (once per process)", f"{r['market_load_s'] * 1000:.0f} ms", ""))
    rows.append(("peak RSS, bench process (ru_maxrss)", f"{m['rss_self_mb']:.1f} MB", ""))
    rows.append(("peak RSS, stdio server child (ru_maxrss)", f"{m['rss_children_mb']:.1f} MB", ""))
    if m.get("tracemalloc_peak_mb") is not None:
        rows.append((f"tracemalloc peak, {rp['models']}-model zero-latency replay", f"{m['tracemalloc_peak_mb']:.1f} MB", ""))
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    mc = r["machine"]
    lines = [f"TradeArena bench ({'quick' if r['quick'] else 'full'}): {mc['nproc']} CPUs ({mc['cpu']}), "
             f"Python {mc['python']}, load average at start {mc['load_average_at_start']}, {r['total_s']:.0f} s total",
             f"{'metric':<{w0}}  {'value':<{w1}}  target", f"{'-' * w0}  {'-' * w1}  {'-' * 22}"]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    lines.append(f"latency case: {lat['model_calls_per_session']} model calls per session "
                 f"(plan: 1 turn get_portfolio + get_price + buy, then the finishing turn)")
    return "\n".join(lines)


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    started = time.perf_counter()
    config = bench_config()
    config_path = tmp / "bench_config.json"
    config_path.write_text(json.dumps(config.model_dump(mode="json"), indent=2), encoding="utf-8")
    t0 = time.perf_counter()
    market = load_market(config)
    market_load = time.perf_counter() - t0
    days = trading_days(config, market, START, END)
    if args.quick:
        days = days[:5]
    n_price, n_portfolio, warmup = (300, 100, 50) if args.quick else (1000, 300, 100)

    results: dict[str, Any] = {"quick": args.quick, "machine": machine(), "market_load_s": round(market_load, 3)}
    print(f"[1/4] tool-call latency ({n_price} get_price + {n_portfolio} get_portfolio per transport)", file=sys.stderr)
    results["tools"] = await bench_tools(config, config_path, market, tmp, days, n_price, n_portfolio, warmup)
    print(f"[2/4] harness overhead ({len(days)} sessions, zero-latency model)", file=sys.stderr)
    results["overhead"] = await bench_overhead(config, market, tmp, days)
    print(f"[3/4] replays ({len(days)} days; the {args.latency:g} s latency cases take about "
          f"{2 * len(days) * (len(LATENCY_PLAN) + 1) * args.latency:.0f} s)", file=sys.stderr)
    results["replay"] = await bench_replays(market, tmp, days, args.latency)
    print("[4/4] memory", file=sys.stderr)
    results["memory"] = {
        "rss_self_mb": rss_mb(),
        "rss_children_mb": rss_mb(resource.RUSAGE_CHILDREN),
        "tracemalloc_peak_mb": None if args.no_tracemalloc else await bench_tracemalloc(market, tmp, days),
    }
    results["total_s"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, 5 days instead of 22 (about 30 s)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--latency", type=float, default=1.0, help="simulated model latency per call, s (default 1)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--keep", action="store_true", help="keep the temporary output folder")
    parser.add_argument("--scale", action="store_true", help="also run the scale benchmark (scripts/bench_scale.py)")
    parser.add_argument("--only-scale", action="store_true", help="run only the scale benchmark")
    parser.add_argument("--years", type=int, default=10, help="scale: years of generated data (default 10)")
    parser.add_argument("--reps", type=int, default=3, help="scale: runs of each start-up and report figure (default 3)")
    parser.add_argument("--heavy-reps", type=int, default=3, help="scale: runs of each replay and workers figure "
                        "(default 3)")
    args = parser.parse_args(argv)
    if args.scale or args.only_scale:
        import bench_scale

        scale_args = ["--years", str(args.years), "--reps", str(args.reps), "--heavy-reps", str(args.heavy_reps)]
        if args.json:
            scale_args += ["--json", str(Path(args.json).with_suffix(".scale.json"))]
        if args.only_scale:
            return bench_scale.main(scale_args + (["--keep"] if args.keep else []))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("mcp", "httpx", "httpx2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)

    tmp = Path(tempfile.mkdtemp(prefix="tradearena-bench-"))
    try:
        results = asyncio.run(run(args, tmp))
    finally:
        if args.keep:
            print(f"outputs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.stderr.flush()
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.scale:
        return bench_scale.main(scale_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
