"""TradeArena command line: `run` (replay), `report`, `live` (the 10:00 ET cron job), `serve-tools`, `repair-ledger`,
`probe-memory`."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_tools.market_calendar import parse_day, parse_instant
from arena.errors import ConfigError, is_expected

if TYPE_CHECKING:
    from arena.config import ArenaConfig

# Imports are lazy: `--help` and the live market-day guard import neither pandas nor pydantic.


def load_config(path: str | None) -> ArenaConfig:
    from arena.config import load_config as load

    return load(path)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Expected failures print one line and exit 2; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("interrupted: finished sessions are kept; rerun to resume", err=True)
            sys.exit(130)
        except Exception as exc:
            if not is_expected(exc):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def quiet_logging() -> None:
    """Libraries (mcp, httpx, openai) log at INFO by default; keep the console for our own output."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("mcp", "httpx", "httpx2", "openai", "alpaca"):
        logging.getLogger(name).setLevel(logging.WARNING)


def out_dir_for(config: ArenaConfig | None, out: str | None) -> Path:
    """--out as given, else the config's run.out_dir (a config is needed only then)."""
    if out:
        return Path(out).resolve()
    assert config is not None
    return config.path(config.run.out_dir)


def parse_models(models: str | None) -> list[str] | None:
    return [m.strip() for m in models.split(",") if m.strip()] if models else None


class OneLineErrors(click.Group):
    """Usage errors (a bad flag or option value) print one `error:` line and exit 2, like every expected failure."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # no command at all: the help, as click prints it
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message().rstrip('.')} (see --help)", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Put LLM trading agents on a real market, fairly: point-in-time replays and live sessions over MCP tools."""
    quiet_logging()


@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default configs/default_config.json).")
@click.option("--start", help="First trading day, YYYY-MM-DD (default run.start).")
@click.option("--end", help="Last trading day, YYYY-MM-DD (default run.end).")
@click.option("--models", help="Comma-separated signatures to run (default: every enabled model).")
@click.option("--parallel", type=click.IntRange(1, 64), help="Models run at once (default run.parallel).")
@click.option("--out", help="Output folder (default run.out_dir).")
@click.option("--fresh", is_flag=True, help="Move old output aside (to <out>.old-<time>) and start over.")
@click.option("--blind", is_flag=True, help="Diagnostic: aliases for tickers, prices rebased to 100, names stripped "
              "from news; output in <out>/blind.")
@click.option("--repeats", type=click.IntRange(1, 100), help="Run every model N times, into <out>/repeat-1..N, each "
              "with its own seed (run.seed + k - 1).")
@click.option("--replay-from", "replay_from", type=click.Path(file_okay=False),
              help="Answer every model call from this recorded run's cassettes: no API calls (default config: its "
              "run_config.json; default output: DIR-replay).")
@click.option("--on-miss", "on_miss", type=click.Choice(["stop", "call"]),
              help="With --replay-from: a request with no recorded answer stops its model (stop, the default) or "
              "goes to the provider and is recorded (call).")
@click.option("--allow-changed", is_flag=True, help="Rerun into an output folder whose manifest differs (the "
              "manifest keeps both).")
@click.option("--workers", type=click.IntRange(1, 256), help="Processes the model streams are spread over (default: "
              "the number of cores); the outputs are the same as with 1.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="ray: each model stream a Ray task (optional extra: pip install -e '.[ray]').")
@click.option("--ray-address", "ray_address", help="With --executor ray: a cluster to join (auto, or "
              "ray://HOST:10001); default a local Ray instance.")
@friendly_errors
def run(config_path: str | None, start: str | None, end: str | None, models: str | None, parallel: int | None,
        out: str | None, fresh: bool, blind: bool, repeats: int | None, replay_from: str | None,
        on_miss: str | None, allow_changed: bool, workers: int | None, executor: str, ray_address: str | None) -> None:
    """Replay trading days for every enabled model; rerun to resume where it stopped."""
    from arena.config import check_api_keys
    from arena.desk_factory import load_market
    from arena.executors import default_workers
    from arena.manifest import run_inputs, settle_manifest
    from arena.progress import run_with_progress
    from arena.run_loop import (
        Replay,
        check_ledgers,
        check_output_folder,
        check_replay_source,
        fresh_start,
        trading_days,
    )

    if ray_address and executor != "ray":
        raise ConfigError("--ray-address works with --executor ray")
    if on_miss and not replay_from:
        raise ConfigError("--on-miss works with --replay-from DIR (what to do when DIR has no recorded answer)")
    replay = Replay(Path(replay_from).resolve(), on_miss or "stop") if replay_from else None  # type: ignore[arg-type]
    if replay is not None and config_path is None:
        config_path = recorded_config(replay.source)
        if out is None:  # the recorded config names the recorded run's folder: never replay into it
            out = f"{replay.source}-replay"
            click.echo(f"output: {out} (--out to choose another)", err=True)
    config = load_config(config_path)
    first = parse_day(start) if start else config.run.start
    last = parse_day(end) if end else config.run.end
    if last < first:
        raise ConfigError(f"--end {last} is before --start {first}")
    chosen = config.enabled_models(parse_models(models))
    if not chosen:
        raise ConfigError("no enabled models: set \"enabled\": true on a model or pass --models")
    if replay is None or not replay.strict:
        check_api_keys(config, chosen)  # a strict replay sends nothing: it needs no key
    out_dir = out_dir_for(config, out)
    if replay is not None:
        check_replay_source(replay, chosen, repeats, out_dir)
    check_output_folder(out_dir)
    market = load_market(config, first, last)
    days = trading_days(config, market, first, last)  # a bad range fails before --fresh moves anything
    note_unpriced_days(config, market, days)
    if blind:
        from arena.blind import blind_run

        config, market, out_dir = blind_run(config, market, out_dir, first)
        chosen = config.enabled_models(parse_models(models))  # baselines' symbols are aliases now
    if fresh:
        moved = fresh_start(out_dir, chosen)  # under the run locks: never from under a running replay
        if moved:
            click.echo(f"old output moved to {moved}")
    else:
        check_ledgers(out_dir, chosen, repeats)  # a broken ledger is named now, not left off the leaderboard at the end
    inputs = run_inputs(config, market, first, last, replay.source if replay else None)
    if replay is not None:
        note_replay_inputs(replay.source, inputs)
    allowed = settle_manifest(out_dir, inputs, allow_changed)
    if allowed:
        click.echo(f"note: inputs changed since this folder's last run ({'; '.join(allowed)}); --allow-changed: the "
                   "manifest keeps both", err=True)
    code = run_with_progress(config, market, chosen, out_dir, first, last, parallel or config.run.parallel,
                             config_path, repeats=repeats, replay=replay, workers=workers or default_workers(),
                             executor=executor, ray_address=ray_address)
    sys.exit(code)


def recorded_config(source: Path) -> str | None:
    """A replay's default config: the recorded run's own run_config.json (a repeat's, under --repeats)."""
    for candidate in (source / "run_config.json", source / "repeat-1" / "run_config.json"):
        if candidate.is_file():
            click.echo(f"config: {candidate} (the recorded run's; --config to use another)", err=True)
            return str(candidate)
    return None


def note_replay_inputs(source: Path, inputs: dict) -> None:
    """Say so when the recorded run had other inputs than this replay (a changed prompt or data: expect misses)."""
    from arena.manifest import changes, read_manifest

    recorded = read_manifest(source)
    if recorded is None:
        return
    differ = [c for c in changes(recorded["inputs"], inputs) if not c.startswith("responses")]
    if differ:
        click.echo(f"note: {source} was recorded with other inputs ({'; '.join(differ)}); a request that "
                   "changed is a miss", err=True)


def note_unpriced_days(config: ArenaConfig, market: Any, days: list) -> None:
    """Say so when the data cannot price the decision time on some days (their sessions see an earlier instant).
    With several decision times a day, or event triggers, intraday bars are required: a one-line error."""
    from arena.lookahead import decision_shortfalls
    from arena.replay_plan import check_intraday

    check_intraday(config, market, days)
    short = decision_shortfalls(market.data, market.calendar, days, config.run.decision_time)
    if short:
        seen = sorted({f"{s:%H:%M}" for _, s in short})
        span = f"{short[0][0]}" if len(short) == 1 else f"{short[0][0]}..{short[-1][0]}"
        click.echo(f"note: on {len(short)} of {len(days)} days ({span}) the data has no price at "
                   f"{config.run.decision_time:%H:%M}: those sessions trade at, and read news up to, "
                   f"{'/'.join(seen)}; `main.py audit` says what data would fix it", err=True)


@cli.command("serve-tools")
@click.option("--signature", required=True, help="The account's signature (its ledger folder); any name, a model in the config uses its own limits.")
@click.option("--at", "at", help="The simulated instant, ISO 8601 (New York time when no offset).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--out", help="Output folder (default run.out_dir).")
@click.option("--live", is_flag=True, help="Real time: the instant is now and prices come from the live market data.")
@friendly_errors
def serve_tools(signature: str, at: str | None, config_path: str | None, out: str | None, live: bool) -> None:
    """Serve the trading tools over MCP stdio, bound to one account and one instant."""
    from arena.serve import serve_stdio

    config = load_config(config_path)
    if live and at:
        raise ConfigError("--live uses the current time; drop --at")
    if not live and not at:
        raise ConfigError("give the simulated instant with --at, e.g. --at 2025-10-02T10:00-04:00 (or --live)")
    out_dir = Path(out).resolve() if out else config.path(config.live.out_dir if live else config.run.out_dir)
    serve_stdio(config, signature, parse_instant(at) if at else None, out_dir, live=live)


@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--out", help="Run folder to report on (default run.out_dir).")
@click.option("--runs", "runs", multiple=True, help="More run folders (ours or AI-Trader's) to compare; repeatable.")
@click.option("--start", help="First day of the comparison, YYYY-MM-DD.")
@click.option("--end", help="Last day of the comparison, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "html"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@click.option("--post-cutoff", is_flag=True, help="Rank only on days after every model's knowledge_cutoff.")
@click.option("--wide", is_flag=True, help="Table: every column, as wide as it takes (about 300 columns).")
@friendly_errors
def report(config_path: str | None, out: str | None, runs: tuple[str, ...], start: str | None, end: str | None,
           fmt: str, output: str | None, post_cutoff: bool, wide: bool) -> None:
    """Leaderboard with intervals, significance, a random null and benchmarks; table, csv, json or a tearsheet HTML."""
    from reports.beside import can_fork, gc_paused
    from reports.cli import run_report, without_pyarrow
    from reports.runs import start_loading

    extra = [Path(r) for r in runs]
    # With --out the ledgers start loading now, beside the config's and the report's imports (reports/cli.py), when
    # a second process reads them: read inline, they would only delay what checking the config has to say.
    loading = start_loading(out_dir_for(None, out), extra) if out and can_fork() else None
    with gc_paused():  # pydantic's modules and the config: nothing for the garbage collector to find
        config = load_config(config_path)
    out_dir = out_dir_for(config, out)
    without_pyarrow(config)  # before pandas is imported: CSV prices need none of it (40-80 MB of RSS)
    run_report(config, out_dir, extra, parse_day(start) if start else None, parse_day(end) if end else None, fmt,
               Path(output) if output else None, post_cutoff=post_cutoff, wide=wide,
               loading=loading or start_loading(out_dir, extra))


@cli.command("probe-memory")
@click.option("--model", "signature", required=True, help="Signature of an LLM model in the config.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--start", help="First day to ask about, YYYY-MM-DD (default: the first day with prices).")
@click.option("--end", help="Last day to ask about, YYYY-MM-DD (default: the last day with prices).")
@click.option("--symbols", help="Comma-separated symbols to ask about (default: the universe).")
@click.option("--samples", type=click.IntRange(1, 5000), default=60, show_default=True, help="Questions to ask.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampled symbols and days.")
@click.option("--max-cost-usd", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Refuse to start above this estimate; stop before passing it.")
@click.option("--out", help="Folder for <signature>.json and .png (default <run.out_dir>/probe-memory).")
@friendly_errors
def probe_memory(signature: str, config_path: str | None, start: str | None, end: str | None, symbols: str | None,
                 samples: int, seed: int, max_cost_usd: float, out: str | None) -> None:
    """Ask a model, with no tools and no context, for past closing prices: where does its recall stop?"""
    import os

    from agent_tools.market_data import load_market_data
    from arena.config import check_api_keys
    from arena.memory_probe import (
        ProbeError,
        model_for,
        run_probe,
        sample_questions,
        table_lines,
        write_outputs,
    )

    config = load_config(config_path)
    model = model_for(config, signature)
    check_api_keys(config, [model])
    data = load_market_data(config.path(config.data.daily_prices), None, tuple(config.universe))
    chosen = [s.strip().upper() for s in symbols.split(",")] if symbols else list(config.universe)
    unknown = [s for s in chosen if s not in data.daily]
    if unknown:
        raise ConfigError(f"--symbols: {', '.join(unknown)} not in the universe with prices")
    first = parse_day(start) if start else data.first_day
    last = parse_day(end) if end else data.last_day
    try:
        questions = sample_questions(data, chosen, first, last, samples, seed)
        result = run_probe(config, model, data, questions, max_cost_usd, click.echo,
                           os.environ.get(model.api_key_env or "", ""))
    except ProbeError as exc:
        raise ConfigError(str(exc)) from None
    for line in table_lines(result):
        click.echo(line)
    folder = Path(out).resolve() if out else config.path(config.run.out_dir) / "probe-memory"
    data_path, chart_path = write_outputs(result, folder)
    click.echo(f"wrote {data_path} and {chart_path}")


@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--out", help="Output folder (default live.out_dir: runs/live, apart from replays).")
@click.option("--now", "now", help="Pin the clock (ISO 8601) for tests and drills.")
@click.option("--dry-run", is_flag=True, help="Run sessions without sending orders.")
@click.option("--models", help="Comma-separated signatures (default: every enabled model).")
@click.option("--retry-failed", is_flag=True, help="Run this trigger's session again if it failed (a finished one never reruns).")
@click.option("--cron", is_flag=True, help="Set by the installed cron entries (one per UTC offset of New York): a fire "
                                         "an hour off the trigger is the other offset's entry and does nothing.")
@click.option("--daemon", is_flag=True, help="Run as one long-lived scheduler: every decision time in New York time, "
                                           "event triggers polled in between; SIGTERM stops it.")
@friendly_errors
def live(config_path: str | None, out: str | None, now: str | None, dry_run: bool, models: str | None,
         retry_failed: bool, cron: bool, daemon: bool) -> None:
    """One live session per enabled model for this trigger (cron: weekdays 10:00 New York time)."""
    from agent_tools.market_calendar import MarketCalendar
    from arena.live.guard import gate, wall_clock

    if now and not has_time(now):
        raise ConfigError(f"--now {now!r} has no time of day; give one, e.g. --now {now.strip()}T10:00 "
                          "(New York time unless an offset is given)")
    if out:
        from arena.run_loop import check_output_folder

        check_output_folder(Path(out).resolve())
    if daemon:
        if dry_run or cron or retry_failed:
            raise ConfigError("--daemon runs real sessions on its own schedule; drop --dry-run, --cron and "
                              "--retry-failed")
        from arena.live.daemon import run_daemon

        sys.exit(run_daemon(config_path, out, parse_models(models), parse_instant(now) if now else None))
    # The market-day guard first, on light imports only: a weekend or holiday cron fire costs a few milliseconds.
    verdict = gate(parse_instant(now) if now else wall_clock(), config_path, cron, MarketCalendar())
    if not verdict.go:
        click.echo(verdict.line)
        sys.exit(0)
    from arena.live import run_live

    sys.exit(run_live(config_path, out, parse_instant(now) if now else None, dry_run, parse_models(models),
                      retry_failed=retry_failed, cron=cron))


def has_time(text: str) -> bool:
    """An ISO instant with a time of day (`2025-10-02T10:00`, `2025-10-02 10:00`), not a bare date."""
    return len(text.strip()) > 10 and text.strip()[10] in "T t"


@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default configs/default_config.json).")
@click.option("--out", "out", help="A finished run folder: check its fills and session logs too.")
@friendly_errors
def audit(config_path: str | None, out: str | None) -> None:
    """Look-ahead audit: the config's prices and news, and a finished run's fills and tool results. Exit 1 on any finding."""
    from arena.lookahead import audit as run_audit

    config = load_config(config_path)
    run_dir = Path(out).resolve() if out else None
    if run_dir is not None and not run_dir.is_dir():
        raise ConfigError(f"--out {out}: no such run folder")
    result = run_audit(config, run_dir)
    for line in result.findings:
        click.echo(line)
    click.echo(result.summary(), err=bool(result.findings))
    sys.exit(1 if result.findings else 0)


@cli.group()
def data() -> None:
    """Market data: fetch fresh bars and news into local Parquet datasets."""


@data.command("fetch")
@click.option("--start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last day, YYYY-MM-DD (sessions not yet closed are left for later).")
@click.option("--timeframe", type=click.Choice(["day", "hour", "minute"]), default="hour", show_default=True,
              help="Bars to fetch; hour and minute fetch the daily bars too.")
@click.option("--symbols", help="Comma-separated tickers (default: the config's universe).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--dest", help="Folder of the datasets, one per timeframe (default data/fetched in the project).")
@click.option("--no-news", is_flag=True, help="Bars only.")
@click.option("--refetch", is_flag=True, help="Fetch the range again even where it was fetched (re-adjusts it).")
@friendly_errors
def data_fetch(start: str, end: str, timeframe: str, symbols: str | None, config_path: str | None, dest: str | None,
               no_news: bool, refetch: bool) -> None:
    """Fetch what is missing of a range from Alpaca (incremental, resumable), stored as Parquet for replays."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from arena.data_fetch import FetchError, fetch

    config = load_config(config_path)
    first, last = parse_day(start), parse_day(end)
    if last < first:
        raise ConfigError(f"--end {last} is before --start {first}")
    chosen = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else list(config.universe)
    unknown = [s for s in chosen if s not in config.universe]
    if unknown:  # a typo would fetch nothing, silently; a symbol outside the universe no replay would read
        raise ConfigError(f"--symbols: {', '.join(unknown)} not in the config's universe; --symbols narrows the "
                          "universe (add a new symbol to `universe` first)")
    target = Path(dest).resolve() if dest else config.path("data/fetched")
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            kind = label.split()[0]
            if kind not in tasks:
                tasks[kind] = bar.add_task(kind, total=max(total, 1))
            bar.update(tasks[kind], description=f"{label}", completed=done - (0 if "done" in label else 1),
                       total=max(total, 1))

        try:
            report = fetch(config, first, last, timeframe, chosen, target, with_news=not no_news, refetch=refetch,
                           progress=progress)
        except FetchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    for frame, count in report.bars.items():
        click.echo(f"{frame}: {count} bar(s) written to {target / frame} ({report.skipped.get(frame, 0)} "
                   "symbol-month(s) already there)")
    if not no_news:
        click.echo(f"news: {report.news} new item(s) in {target / 'news'}")
    intraday = "" if timeframe == "day" else f', "intraday_prices": "{target / timeframe}"'
    click.echo(f'replay it with "data": {{"daily_prices": "{target / "day"}"{intraday}}}'
               + ("" if no_news else f' and "news": {{"source": "local", "path": "{target / "news" / "alpaca_news.jsonl"}"}}'))


@cli.command("repair-ledger")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@friendly_errors
def repair_ledger(path: str) -> None:
    """Move a torn last line (left by a crash) out of a ledger into <ledger>.torn."""
    from agent_tools.ledger import repair_torn_tail

    click.echo(repair_torn_tail(Path(path)))


if __name__ == "__main__":
    cli()
