"""OpenAI-compatible chat completions through the `openai` SDK: OpenAI, OpenRouter, DeepSeek, vLLM, Ollama.

Retries are ours (the SDK's are switched off) so that every retry is counted and logged: 429, 5xx, timeouts and
dropped connections are retried with exponential backoff (honouring Retry-After); anything else fails at once with
a one-line message naming the model. The API key is read from the environment variable the config names and never
appears in a message.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import openai

from arena.models.base import ModelError, ModelTurn, ToolCall, Usage

TRANSIENT_STATUS = {408, 409, 429}


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
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | ValueError):
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
                response = await self.client.chat.completions.create(**request)
                break
            except (openai.APIError, ValueError) as exc:  # ValueError: a body that is not JSON at all
                if not _is_transient(exc) or attempt >= self.max_retries:
                    raise ModelError(self._failure(exc, attempt)) from None
                delay = _retry_after(exc)
                if delay is None:
                    delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.75 + random.random() / 2)
                attempt += 1
                await asyncio.sleep(min(delay, 60.0))
        return self._turn(response, attempt)

    def _failure(self, exc: Exception, attempt: int) -> str:
        if isinstance(exc, ValueError) and not isinstance(exc, openai.APIError):
            tries = f" after {attempt + 1} attempts" if attempt else ""
            return (f"model {self.label!r} ({self.model}) answered with a body that is not JSON{tries}; "
                    "is base_url an OpenAI-compatible endpoint (usually ending in /v1)?")
        text = _describe(exc)
        status = getattr(exc, "status_code", None)
        if status == 400 and "tool" in text.lower():
            return f"model {self.label!r} ({self.model}) rejected the tools: {text}; use a model that supports tool calling"
        if status in (401, 403):
            return f"model {self.label!r}: the provider refused the API key ({text}); check the key's variable"
        if status == 404:
            return f"model {self.label!r}: model {self.model!r} or its endpoint was not found ({text}); check model and base_url"
        tries = f" after {attempt + 1} attempts" if attempt else ""
        return f"model {self.label!r} ({self.model}) failed{tries}: {text}"

    def _turn(self, response: Any, retries: int) -> ModelTurn:
        choices = getattr(response, "choices", None) or []
        if not choices or getattr(choices[0], "message", None) is None:
            raise ModelError(f"model {self.label!r} returned no message (empty choices)")
        message = choices[0].message
        calls = []
        for i, call in enumerate(getattr(message, "tool_calls", None) or []):
            function = getattr(call, "function", None)
            if isinstance(call, dict):  # a provider that sends shapes the SDK did not parse
                function = call.get("function") or {}
                calls.append(ToolCall(str(call.get("id") or f"call_{i}"), str(function.get("name", "")), function.get("arguments")))
                continue
            name = getattr(function, "name", "") if function is not None else ""
            arguments = getattr(function, "arguments", None) if function is not None else None
            calls.append(ToolCall(str(getattr(call, "id", None) or f"call_{i}"), str(name or ""), arguments))
        usage = getattr(response, "usage", None)
        details = getattr(usage, "prompt_tokens_details", None)
        return ModelTurn(
            content=getattr(message, "content", None),
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                cached_tokens=int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0,
            ),
            retries=retries,
        )

    async def aclose(self) -> None:
        await self.client.close()
