"""`tradearena serve-tools`: the same MCP tools over stdio, bound to one account and one instant.

Any signature works: one the config names uses that model's limits and cash; any other gets the config's defaults.

A replay server answers `initialize` and `list_tools` before its market data is loaded: the tools are described by
the session context alone, the data (prices, calendar, news) and the desk over it are built in a worker thread
started once the tools are listed (or at the first tool call), and each tool call waits for that desk. A failure to
build it (a broken price file, a ledger written after `--at`) is one line on stderr and the error of every tool
call. `--live` builds its desk first (it reconciles with the broker before serving).
"""

from __future__ import annotations

import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent_tools.server import PendingDesk, ToolServer, build_tool_server
from arena.config import ArenaConfig, ConfigError, ModelSettings
from arena.errors import is_expected
from arena.session_context import session_context

if TYPE_CHECKING:
    from agent_tools.context import SessionContext
    from agent_tools.trading_desk import TradingDesk


class DeskUnavailable(RuntimeError):
    """The desk of `serve-tools` could not be built; the message is the one line every tool call answers."""


def settings_for(config: ArenaConfig, signature: str) -> ModelSettings:
    """The model's own settings, or for a signature the config does not name (any MCP client's account) the
    config's defaults: global limits, initial cash and live settings."""
    known = {m.signature: m for m in config.models}
    if signature in known:
        return known[signature]
    try:
        return ModelSettings(signature=signature, kind="scripted", enabled=False)
    except ValueError:
        raise ConfigError(f"--signature {signature!r} cannot name a ledger folder: use only letters, digits, "
                          "'-', '_' and '.'") from None


def tool_server(config: ArenaConfig, signature: str, instant: datetime | None, out_dir: Path,
                live: bool = False) -> ToolServer:
    """The MCP server for one account (`signature`) at one instant (or now, live), its desk built before it returns."""
    from arena.desk_factory import build_desk, load_market

    model = settings_for(config, signature)
    market = load_market(config)
    if live:
        from arena.live import live_desk

        desk = live_desk(config, model, out_dir, market)
    else:
        assert instant is not None
        desk = build_desk(config, session_context(config, model, instant, out_dir), market)
    return build_tool_server(desk)


def pending_desk(config: ArenaConfig, ctx: SessionContext) -> PendingDesk:
    """A replay desk to be built in a worker thread (not started): market data, calendar and news, then the desk."""

    def build() -> TradingDesk:
        try:
            from arena.desk_factory import build_desk, load_market

            return build_desk(config, ctx, load_market(config))
        except Exception as exc:
            expected = is_expected(exc)
            line = f"serve-tools cannot serve {ctx.signature} at {ctx.instant.isoformat()}: {exc}"
            if not expected:
                traceback.print_exc(file=sys.stderr)
                line = f"serve-tools cannot serve {ctx.signature}: unexpected {type(exc).__name__}: {exc}"
            print(f"error: {line}", file=sys.stderr, flush=True)
            raise DeskUnavailable(line) from exc

    return PendingDesk(ctx, build)


def serve_stdio(config: ArenaConfig, signature: str, instant: datetime | None, out_dir: Path, live: bool = False) -> None:
    if live:
        tool_server(config, signature, instant, out_dir, live=True).run()
        return
    assert instant is not None
    pending = pending_desk(config, session_context(config, settings_for(config, signature), instant, out_dir))
    server = build_tool_server(pending)  # starts building the desk once it has listed its tools
    try:
        server.run()
    finally:
        pending.join()
