"""Time the statistics phase of `report` (`reports.build.attach_statistics`: bootstraps, comparison, random null).

    .venv/bin/python scripts/bench_statistics.py --config <synth>/long.json --out <run> [--output r.json]

Runs `main.py report --format json` once and prints, on stderr, the phase's wall time and this process's CPU time,
the pieces each process ran (`Claims.run`: front = the second process, back = this one, or everything in this process
with TRADEARENA_REPORT_INLINE=1) and the load average before and after. Times only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: time another checkout with it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--output", default=os.devnull)
    args = parser.parse_args()
    start = time.perf_counter()
    load = os.getloadavg()[0]

    import reports.beside as beside
    import reports.build as build

    def phase(*a, **k):
        wall, cpu = time.perf_counter(), time.process_time()
        done = attach(*a, **k)
        print(f"statistics: {wall - start:.3f} -> {time.perf_counter() - start:.3f} s, {time.perf_counter() - wall:.3f} s "
              f"wall, {time.process_time() - cpu:.3f} s CPU in this process", file=sys.stderr)
        return done

    def claims_run(self, pieces, from_back=False):
        wall, cpu = time.perf_counter(), time.process_time()
        done = run(self, pieces, from_back)
        print(f"  [{os.getpid()}] {'back ' if from_back else 'front'} {wall - start:.3f} -> "
              f"{time.perf_counter() - start:.3f} s, {time.process_time() - cpu:.3f} s CPU, pieces {sorted(done)}",
              file=sys.stderr)
        return done

    attach, run = build.attach_statistics, getattr(beside.Claims, "run", None)
    build.attach_statistics = phase
    if run is not None:  # code from before the statistics were shared in pieces has no Claims.run
        beside.Claims.run = claims_run
    import main as cli

    sys.argv = ["main.py", "report", "--config", args.config, "--out", args.out, "--format", "json", "--output",
                args.output]
    try:
        cli.cli()
    except SystemExit:
        pass
    print(f"total {time.perf_counter() - start:.3f} s; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after",
          file=sys.stderr)


if __name__ == "__main__":
    main()
