"""`tradearena serve-tools`: the same MCP tools over stdio, bound to one account and one instant.

Any signature works: one the config names uses that model's limits and cash; any other gets the config's defaults.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent_tools.server import ToolServer, build_tool_server
from arena.config import ArenaConfig, ConfigError, ModelSettings
from arena.desk_factory import build_desk, load_market, session_context


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
    """The MCP server for one account (`signature`) at one instant (or now, live)."""
    model = settings_for(config, signature)
    market = load_market(config)
    if live:
        from arena.live import live_desk

        desk = live_desk(config, model, out_dir, market)
    else:
        assert instant is not None
        desk = build_desk(config, session_context(config, model, instant, out_dir), market)
    return build_tool_server(desk)


def serve_stdio(config: ArenaConfig, signature: str, instant: datetime | None, out_dir: Path, live: bool = False) -> None:
    tool_server(config, signature, instant, out_dir, live).run()
