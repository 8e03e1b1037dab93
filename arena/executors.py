"""Where a replay's streams run: in this process, spread over worker processes (`run --workers N`), or as Ray tasks
(`run --executor ray`). Each stream (a model, or one of its repeats) writes only its own folder, so the outputs are
the same byte for byte wherever it ran; resuming is the stream's own (`pending_days`), so a worker or a Ray task
that is lost and run again continues from what it had written.

Streams that share a spending cap stay together (one process, one task): every paid stream when `run.max_cost_usd`
is set, else each paid model's repeats. Free streams (baselines, scripted) are spread one by one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from arena.budget import Budget
from arena.config import ArenaConfig, ConfigError
from arena.desk_factory import Market, load_market
from arena.run_loop import ModelProgress, Replay, Stream, _run_replay

Sink = Callable[[ModelProgress], None]
RAY_INSTALL = "pip install -e '.[ray]'"


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def stream_groups(config: ArenaConfig, streams: list[Stream]) -> list[list[Stream]]:
    """Streams that must run together (they share a spending cap), in run order."""
    paid = [s for s in streams if s.model.kind == "openai"]
    groups: list[list[Stream]] = []
    if paid and config.run.max_cost_usd is not None:
        groups.append(paid)
    else:
        for signature in dict.fromkeys(s.signature for s in paid):
            groups.append([s for s in paid if s.signature == signature])
    groups += [[s] for s in streams if s.model.kind != "openai"]
    return groups


def spread(groups: list[list[Stream]], workers: int) -> list[list[Stream]]:
    """Groups dealt to `workers` bins, biggest first onto the emptiest bin (deterministic); empty bins dropped."""
    bins: list[list[Stream]] = [[] for _ in range(max(1, workers))]
    for group in sorted(groups, key=len, reverse=True):
        min(bins, key=len).extend(group)
    return [b for b in bins if b]


def run_group(config: ArenaConfig, market: Market | None, streams: list[Stream], days: list[date], parallel: int,
              replay: Replay | None, out_dir: Path, on_progress: Sink | None) -> list[ModelProgress]:
    """Run some streams to the end in this process (a worker's or a Ray task's whole job)."""
    market = market or load_market(config, days[0], days[-1])
    budget = Budget(config, out_dir)
    return asyncio.run(_run_replay(config, market, streams, days, parallel, on_progress, None, replay, budget))


# -- worker processes --------------------------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """End this worker as soon as the run that forked it is gone (killed with SIGKILL: no `finally` ran there).

    An orphaned worker would go on writing its streams' ledgers while a rerun writes them too. On Linux the kernel
    sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG); elsewhere a thread watches the parent's pid."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # 1: PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.05)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the kernel was told
        os._exit(1)


def _worker(messages: Any, config: ArenaConfig, market: Market, streams: list[Stream], days: list[date],
            parallel: int, replay: Replay | None, out_dir: Path, parent: int) -> None:
    """A forked worker: runs its streams, sends each progress (with its latest session only), then the results."""
    _die_with_parent(parent)

    def send(p: ModelProgress) -> None:
        messages.put(("progress", dataclasses.replace(p, results=p.results[-1:]), len(p.results)))

    try:
        messages.put(("done", run_group(config, market, streams, days, parallel, replay, out_dir, send), 0))
    except BaseException as exc:  # sent to the parent, which raises it there
        try:
            messages.put(("error", exc, traceback.format_exc()))
        except Exception:
            messages.put(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), traceback.format_exc()))


def run_in_processes(config: ArenaConfig, market: Market, bins: list[list[Stream]], days: list[date], parallel: int,
                     replay: Replay | None, out_dir: Path, on_progress: Sink | None) -> list[ModelProgress]:
    """One forked process per bin (the market is shared copy-on-write, not loaded again); progress comes back as
    it happens. A worker that dies leaves its streams stopped with the reason; a rerun resumes them."""
    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    workers = [context.Process(target=_worker, args=(messages, config, market, streams, days, parallel, replay,
                                                     out_dir, os.getpid()), daemon=True) for streams in bins]
    for worker in workers:
        worker.start()
    seen: dict[str, ModelProgress] = {}
    finished: dict[int, list[ModelProgress]] = {}
    error: BaseException | None = None
    try:
        while len(finished) < len(workers) and error is None:
            try:
                kind, payload, extra = messages.get(timeout=0.5)
            except queue.Empty:
                for n, worker in enumerate(workers):
                    if n not in finished and not worker.is_alive() and worker.exitcode not in (0, None):
                        finished[n] = _lost(bins[n], seen, days, worker.exitcode)
                continue
            if kind == "progress":
                local = seen.setdefault(payload.label, dataclasses.replace(payload, results=[]))
                results = local.results
                if extra > len(results):
                    results.extend(payload.results)
                local.__dict__.update({**payload.__dict__, "results": results})
                if on_progress:
                    on_progress(local)
            elif kind == "done":
                finished[_bin_of(bins, payload)] = payload
            else:
                error = payload
    finally:
        for worker in workers:
            worker.join(timeout=5 if error is None else 0)
            if worker.is_alive():
                worker.kill()
    if error is not None:
        raise error
    by_label = {p.label: p for ps in finished.values() for p in ps}
    return [by_label[s.label] for b in bins for s in b if s.label in by_label]


def _bin_of(bins: list[list[Stream]], results: list[ModelProgress]) -> int:
    labels = {p.label for p in results}
    return next(n for n, b in enumerate(bins) if {s.label for s in b} == labels)


def _lost(streams: list[Stream], seen: dict[str, ModelProgress], days: list[date], code: int | None) -> list[ModelProgress]:
    out = []
    for s in streams:
        p = seen.get(s.label) or ModelProgress(s.signature, total=len(days), label=s.label, run_dir=s.run_dir)
        p.stopped = f"its worker process died (exit code {code}); what it wrote is kept: rerun to resume"
        out.append(p)
    return out


# -- Ray -----------------------------------------------------------------------------------------------------------
def _ray_task(config: ArenaConfig, streams: list[Stream], days: list[date], parallel: int, replay: Replay | None,
              out_dir: str) -> list[ModelProgress]:
    """One Ray task: load the market on the node and run the streams (resuming from what is already written)."""
    return run_group(config, None, streams, days, parallel, replay, Path(out_dir), None)


def run_on_ray(config: ArenaConfig, groups: list[list[Stream]], days: list[date], parallel: int,
               replay: Replay | None, out_dir: Path, address: str | None, on_progress: Sink | None,
               retries: int = 3) -> list[ModelProgress]:
    """Each group a Ray task (retried when its node is lost); results as tasks finish. `address` None starts a
    local Ray instance; `auto` or `ray://host:10001` joins a cluster whose nodes can reach `out_dir` and the data."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, an optional extra: {RAY_INSTALL} (or pip install 'ray>=2.9'); "
                          "without it, run with the default local executor") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 configure_logging=False)
    try:
        task = ray.remote(max_retries=retries)(_ray_task)
        pending = {task.remote(config, group, days, parallel, replay, str(out_dir)): group for group in groups}
        done: dict[str, ModelProgress] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                group = pending.pop(ref)
                try:
                    results = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    results = _lost(group, {}, days, None)
                    for p in results:
                        p.stopped = f"its Ray task failed ({type(exc).__name__}); what it wrote is kept: rerun to resume"
                for p in results:
                    done[p.label] = p
                    if on_progress:
                        on_progress(p)
    finally:
        if started:
            ray.shutdown()
    return [done[s.label] for g in groups for s in g if s.label in done]
