"""`main.py serve-tools`: the same MCP tools over stdio, bound to one account and one instant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent_tools.server import build_tool_server
from arena.config import ArenaConfig, ConfigError
from arena.desk_factory import build_desk, load_market, session_context


def serve_stdio(config: ArenaConfig, signature: str, instant: datetime | None, out_dir: Path, live: bool = False) -> None:
    known = {m.signature: m for m in config.models}
    if signature not in known:
        raise ConfigError(f"--signature {signature!r} is not a model in the config; known: {', '.join(known)}")
    model = known[signature]
    market = load_market(config)
    if live:
        from arena.live import live_desk

        desk = live_desk(config, model, out_dir, market)
    else:
        assert instant is not None
        desk = build_desk(config, session_context(config, model, instant, out_dir), market)
    build_tool_server(desk).run()
