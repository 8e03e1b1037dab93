"""A scripted model: a fixed plan of tool calls, optionally with a simulated latency per step.

For benchmarks (harness overhead with a zero-latency model; concurrency with a 1 s model) and for drills.
It acts only through the same MCP tools as any model.
"""

from __future__ import annotations

import asyncio
import json

from arena.models.base import FINISH_SIGNAL, ModelTurn, ToolCall, Usage

DEFAULT_PLAN: list[list[dict]] = [
    [{"name": "get_portfolio", "arguments": {}}, {"name": "get_price", "arguments": {"symbols": ["QQQ", "AAPL"]}}],
    [{"name": "buy", "arguments": {"symbol": "AAPL", "amount": 1, "reason": "scripted plan"}}],
]


class ScriptedModel:
    is_baseline = True
    call_ids_name_orders = True  # `s<step>_<n>` names a step of the plan: a rerun re-sends that order under its id

    def __init__(self, label: str = "scripted", plan: list[list[dict]] | None = None, latency: float = 0.0,
                 tokens_per_step: int = 0):
        self.label = label
        self.plan = plan if plan is not None else DEFAULT_PLAN
        self.latency = latency
        self.tokens_per_step = tokens_per_step

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        if self.latency:
            await asyncio.sleep(self.latency)
        step = sum(1 for m in messages if m["role"] == "assistant")
        usage = Usage(self.tokens_per_step, self.tokens_per_step // 10)
        if step >= len(self.plan):
            return ModelTurn(f"Plan complete. {FINISH_SIGNAL}", usage=usage)
        calls = [ToolCall(f"s{step}_{i}", c["name"], json.dumps(c["arguments"])) for i, c in enumerate(self.plan[step])]
        return ModelTurn(None, calls, usage)

    async def aclose(self) -> None:
        return None
