"""OpenAI-compatible chat completions through the `openai` SDK: OpenAI, OpenRouter, DeepSeek, vLLM, Ollama.

Retries are ours (the SDK's are switched off) so that every retry is counted and logged: 429, 5xx, timeouts,
dropped connections and garbage answers (a 200 whose body is HTML, `[]`, `{"error": ...}` or has no message) are
retried with exponential backoff (honouring Retry-After); anything else fails at once with a one-line message naming
the model, and garbage that persists fails with a line showing what came back. The API key is read from the
environment variable the config names and never appears in a message.

Everything the provider says is cleaned here, where it enters (lone surrogates, NUL): text, tool names, arguments.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import openai

from agent_tools.clean_text import clean_data, clean_text, one_line
from arena.models.base import ModelError, ModelTurn, ToolCall, Usage, token_count

TRANSIENT_STATUS = {408, 409, 429}
SHOWN_CHARS = 160  # how much of a garbage body a failure line shows


class GarbageAnswer(ValueError):
    """A 200 that is not a chat completion; `shown` is the start of what came back, `not_json` if it was not JSON."""

    def __init__(self, shown: str, not_json: bool):
        super().__init__(shown)
        self.shown = shown
        self.not_json = not_json


def _shown(body: str) -> str:
    text = one_line(body or "", SHOWN_CHARS)
    return repr(text) if text else "an empty body"


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(header)
        if value:
            try:
                return float(value) / divisor
            except ValueError:
                return None
    return None


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | GarbageAnswer):
        return True  # a garbled body (a proxy's error page) may well be right the next time
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in TRANSIENT_STATUS or status >= 500)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    detail = ""
    if isinstance(body, dict):
        err = body.get("error", body)
        detail = str(err.get("message") if isinstance(err, dict) else err)[:200]
    kind = type(exc).__name__
    return f"{kind}{f' {status}' if status else ''}{f': {detail}' if detail else ''}"


class OpenAIChatModel:
    is_baseline = False

    def __init__(self, *, label: str, model: str, base_url: str, api_key_env: str, timeout: float = 60.0,
                 max_retries: int = 3, temperature: float | None = None, parallel_tool_calls: bool = True,
                 extra_body: dict[str, Any] | None = None, backoff_base: float = 0.5, backoff_cap: float = 8.0):
        self.label = label
        self.model = model
        self.max_retries = max_retries
        self.temperature = temperature
        self.parallel_tool_calls = parallel_tool_calls
        self.extra_body = extra_body or {}
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        api_key = os.environ.get(api_key_env, "")
        if not api_key:
            raise ModelError(f"model {label!r}: environment variable {api_key_env} is not set")
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            request["tools"] = tools
            request["parallel_tool_calls"] = self.parallel_tool_calls
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.extra_body:
            request["extra_body"] = self.extra_body
        attempt = 0
        while True:
            try:
                return self._turn(await self._completion(request), attempt)
            except (openai.APIError, GarbageAnswer) as exc:
                if not _is_transient(exc) or attempt >= self.max_retries:
                    raise ModelError(self._failure(exc, attempt)) from None
                delay = _retry_after(exc)
                if delay is None:
                    delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.75 + random.random() / 2)
                attempt += 1
                await asyncio.sleep(min(delay, 60.0))

    async def _completion(self, request: dict[str, Any]) -> Any:
        """One request; a 200 that is not a chat completion with a message raises GarbageAnswer showing the body."""
        raw = await self.client.chat.completions.with_raw_response.create(**request)
        try:
            response = raw.parse()
        except ValueError:  # not JSON at all: a proxy's error page
            raise GarbageAnswer(_shown(raw.text), not_json=True) from None
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices or getattr(choices[0], "message", None) is None:
            raise GarbageAnswer(_shown(raw.text), not_json=False)
        return response

    def _failure(self, exc: Exception, attempt: int) -> str:
        tries = f" after {attempt + 1} attempts" if attempt else ""
        if isinstance(exc, GarbageAnswer):
            if exc.not_json:
                return (f"model {self.label!r} ({self.model}) answered with a body that is not JSON{tries}: "
                        f"{exc.shown}; is base_url an OpenAI-compatible endpoint (usually ending in /v1)?")
            return (f"model {self.label!r} ({self.model}) answered 200 without a completion{tries}; "
                    f"the body was {exc.shown}")
        text = _describe(exc)
        status = getattr(exc, "status_code", None)
        if status == 400 and "tool" in text.lower():
            return f"model {self.label!r} ({self.model}) rejected the tools: {text}; use a model that supports tool calling"
        if status in (401, 403):
            return f"model {self.label!r}: the provider refused the API key ({text}); check the key's variable"
        if status == 404:
            return f"model {self.label!r}: model {self.model!r} or its endpoint was not found ({text}); check model and base_url"
        return f"model {self.label!r} ({self.model}) failed{tries}: {text}"

    def _turn(self, response: Any, retries: int) -> ModelTurn:
        """The turn, cleaned; tool-call ids as sent ("" when missing: the session gives every call a unique id)."""
        message = response.choices[0].message
        calls = []
        for call in getattr(message, "tool_calls", None) or []:
            if isinstance(call, dict):  # a provider that sends shapes the SDK did not parse
                function = call.get("function") or {}
                call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments")
            else:
                function = getattr(call, "function", None)
                call_id = getattr(call, "id", None)
                name = getattr(function, "name", "") if function is not None else ""
                arguments = getattr(function, "arguments", None) if function is not None else None
            calls.append(ToolCall(clean_text(str(call_id or "")), clean_text(str(name or "")), clean_data(arguments)))
        usage = getattr(response, "usage", None)
        details = getattr(usage, "prompt_tokens_details", None)
        content = getattr(message, "content", None)
        return ModelTurn(
            content=clean_text(content) if isinstance(content, str) else None,
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=token_count(getattr(usage, "prompt_tokens", 0)),
                completion_tokens=token_count(getattr(usage, "completion_tokens", 0)),
                cached_tokens=token_count(getattr(details, "cached_tokens", 0)) if details is not None else 0,
            ),
            retries=retries,
        )

    async def aclose(self) -> None:
        await self.client.close()
