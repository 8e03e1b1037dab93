"""The one interface every model back end implements: given the conversation and the tools, take a turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

FINISH_SIGNAL = "<FINISH_SIGNAL>"


class ModelError(RuntimeError):
    """A model call that failed for good (after retries); the message is one line and never holds an API key."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: Any  # normally a JSON string; some providers send an object, some send garbage


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ModelTurn:
    """One assistant turn: text, tool calls to run, tokens used, and the message to put back in the conversation."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = Usage()
    retries: int = 0

    @property
    def finished(self) -> bool:
        return not self.tool_calls or FINISH_SIGNAL in (self.content or "")

    def as_message(self) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": self.content if self.tool_calls else (self.content or "")}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.arguments if isinstance(call.arguments, str) else _dump(call.arguments),
                    },
                }
                for call in self.tool_calls
            ]
        return message


def _dump(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


class ModelBackend(Protocol):
    """A model: `label` for outputs, `is_baseline` so every output can mark built-in strategies as such."""

    label: str
    is_baseline: bool

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn: ...

    async def aclose(self) -> None: ...
