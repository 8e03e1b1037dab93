"""The one interface every model back end implements: given the conversation and the tools, take a turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

FINISH_SIGNAL = "<FINISH_SIGNAL>"
# No single chat completion reads or writes more tokens than this (the largest context windows are ~2M tokens);
# a provider reporting more, or a negative figure, is reporting garbage and that figure is not counted.
MAX_TOKENS_PER_CALL = 10_000_000


class ModelError(RuntimeError):
    """A model call that failed for good (after retries); the message is one line and never holds an API key."""


@dataclass(frozen=True)
class ToolCall:
    id: str  # as the back end gave it ("" when the provider sent none); the session makes it session-unique
    name: str
    arguments: Any  # normally a JSON string; some providers send an object, some send garbage
    provider_id: str | None = None  # the provider's own id, kept for the log when the session replaced it


@dataclass(frozen=True)
class Usage:
    """Token figures as the provider reported them (possibly negative or absurd; see `counted`)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def counted(self) -> tuple[Usage, list[str]]:
        """The figures that count toward tokens, budget and cost, and a flag for each one that does not.

        A negative figure, or one beyond MAX_TOKENS_PER_CALL, counts as 0; cached tokens count at most the prompt's.
        """
        flags: list[str] = []
        values: dict[str, int] = {}
        for name in ("prompt_tokens", "completion_tokens", "cached_tokens"):
            value = getattr(self, name)
            if value < 0 or value > MAX_TOKENS_PER_CALL:
                flags.append(f"{name} {value} ({'negative' if value < 0 else 'absurd'}), not counted")
                value = 0
            values[name] = value
        values["cached_tokens"] = min(values["cached_tokens"], values["prompt_tokens"])
        return Usage(**values), flags

    @classmethod
    def from_log(cls, raw: Any) -> Usage:
        """The usage an `assistant` log event recorded (unreadable figures count as 0)."""
        if not isinstance(raw, dict):
            return cls()
        return cls(**{k: token_count(raw.get(k)) for k in ("prompt_tokens", "completion_tokens", "cached_tokens")})


def token_count(value: Any) -> int:
    """A reported token figure as an int (negative or huge ones too: see `Usage.counted`), 0 if unreadable."""
    try:
        return int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0


@dataclass(frozen=True)
class ModelTurn:
    """One assistant turn: text, tool calls to run, tokens used, and the message to put back in the conversation."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = Usage()
    retries: int = 0
    served_model: str | None = None  # the model id the provider says answered (`response.model`)
    system_fingerprint: str | None = None  # the provider's backend configuration, where it says one

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
    """A model: `label` for outputs, `is_baseline` so every output can mark built-in strategies as such.

    A back end may set `call_ids_name_orders = True` when its tool-call ids name the order itself (the baselines'
    `b2_buy_AAPL`): a rerun re-sends a missing order under the same id, so the broker can de-duplicate it. Any
    other back end's ids are made unique over every attempt of a session.
    """

    label: str
    is_baseline: bool

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn: ...

    async def aclose(self) -> None: ...


class SessionAware(Protocol):
    """Optional hooks of a back end that records its calls (arena/cassettes.py); the session calls them when present:
    which session the next calls belong to (the cassettes file them per day), and that its time limit cut off the
    call in flight (recorded, so a replay times out at the same step)."""

    def begin_session(self, session_id: str, day: str) -> None: ...

    def timed_out(self) -> None: ...
