"""Spending caps: `run.max_cost_usd` for the whole run, `models[].max_cost_usd` per model.

Money spent is what live model calls cost; answers replayed from cassettes cost nothing. What earlier invocations
spent is read back from every model folder's `spend.jsonl` (arena/cassettes.py) when a run starts, so a rerun or a
resumed run knows it. Before each session a stream checks that what its caps have left covers the session,
estimated from the stream's own average spend per paid session (a stream without any runs its first session while
something is left). Sessions running at once reserve their estimate, so concurrent streams do not together overshoot
a shared cap. A session is never cut off mid-way: `session.max_tokens` bounds one session.

The tally is per process: streams split over several worker processes each see what was spent before they started
plus their own spending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arena.cassettes import read_spend
from arena.config import ArenaConfig
from arena.repeats import repeat_dirs, repeat_number


@dataclass
class Pool:
    """One cap and what has been spent and reserved against it."""

    name: str
    cap: float | None
    spent: float = 0.0
    reserved: float = 0.0

    def left(self) -> float | None:
        return None if self.cap is None else self.cap - self.spent - self.reserved


@dataclass
class StreamSpend:
    """What one stream (a model in one run folder) spent, per session id, and the caps it draws on."""

    label: str
    pools: list[Pool]
    sessions: dict[str, float] = field(default_factory=dict)
    spent_now: float = 0.0  # by this invocation
    reserved: float = 0.0

    @property
    def spent(self) -> float:
        return sum(self.sessions.values())

    def average(self) -> float | None:
        paid = [usd for usd in self.sessions.values() if usd > 0]
        return sum(paid) / len(paid) if paid else None


def model_folders(out_dir: Path, signature: str | None = None) -> list[Path]:
    """Every model folder of a run (its own and its repeats'), or one signature's."""
    runs = [out_dir, *repeat_dirs(out_dir)]
    if signature is not None:
        return [run / signature for run in runs if (run / signature).is_dir()]
    return [d for run in runs if run.is_dir() for d in run.iterdir() if d.is_dir() and repeat_number(d) is None]


def _spent_in(folders: list[Path]) -> float:
    return sum(sum(read_spend(folder).values()) for folder in folders)


class Budget:
    """The run's caps and what its streams spend against them."""

    def __init__(self, config: ArenaConfig, out_dir: Path):
        self.config = config
        self.out_dir = Path(out_dir)
        self.run = Pool("run.max_cost_usd", config.run.max_cost_usd, _spent_in(model_folders(self.out_dir)))
        self.models = {m.signature: Pool(f"models[{m.signature}].max_cost_usd", m.max_cost_usd,
                                         _spent_in(model_folders(self.out_dir, m.signature)))
                       for m in config.models}
        self.streams: dict[tuple[Path, str], StreamSpend] = {}

    def reread(self) -> None:
        """Spend as the folders now say (after other processes ran the streams)."""
        fresh = Budget(self.config, self.out_dir)
        self.run, self.models = fresh.run, fresh.models

    def stream(self, run_dir: Path, signature: str, label: str) -> StreamSpend:
        key = (Path(run_dir), signature)
        if key not in self.streams:
            pools = [self.run, self.models.get(signature) or Pool(f"models[{signature}].max_cost_usd", None)]
            self.streams[key] = StreamSpend(label, pools, read_spend(Path(run_dir) / signature))
        return self.streams[key]

    def on_spend(self, stream: StreamSpend) -> Callable[[str, float], None]:
        """The tape's callback: a paid call of `stream`."""

        def spend(session_id: str, usd: float) -> None:
            stream.sessions[session_id] = stream.sessions.get(session_id, 0.0) + usd
            stream.spent_now += usd
            for pool in stream.pools:
                pool.spent += usd
        return spend

    def before_session(self, stream: StreamSpend, day: str) -> str | None:
        """Why `stream` must stop before this session (a cap it cannot afford), else None and its estimate is reserved."""
        estimate = stream.average()
        for pool in stream.pools:
            left = pool.left()
            if left is None:
                continue
            if left <= 0 or (estimate is not None and estimate > left):
                spent = f"spent ${pool.spent:,.4f}" + (f", ${pool.reserved:,.4f} reserved by running sessions"
                                                     if pool.reserved else "")
                need = (f"a session costs about ${estimate:,.4f} (its average)" if estimate is not None
                        else "nothing is left")
                return (f"stopped before {day}: {pool.name} ${pool.cap:,.2f} has ${max(left, 0):,.4f} left "
                        f"({spent}); {need}; raise the cap and rerun to resume from {day}")
        stream.reserved = estimate or 0.0
        for pool in stream.pools:
            pool.reserved += stream.reserved
        return None

    def after_session(self, stream: StreamSpend) -> None:
        for pool in stream.pools:
            pool.reserved = max(0.0, pool.reserved - stream.reserved)
        stream.reserved = 0.0

    @property
    def capped(self) -> bool:
        return self.run.cap is not None or any(p.cap is not None for p in self.models.values())

    def summary(self, signatures: list[str]) -> list[str]:
        """One line per cap: spend against it (the end-of-run table's companion)."""
        lines = []
        pools = [self.run] + [self.models[s] for s in signatures if s in self.models]
        for pool in pools:
            if pool.cap is not None:
                share = pool.spent / pool.cap if pool.cap else 1.0
                lines.append(f"{pool.name}: spent ${pool.spent:,.4f} of ${pool.cap:,.2f} ({share:.0%})")
        return lines
