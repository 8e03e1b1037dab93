"""OpenAI-compatible chat completions through the `openai` SDK: OpenAI, OpenRouter, DeepSeek, vLLM, Ollama.

Retries are ours (the SDK's are switched off) so that every retry is counted and logged: 429, 5xx, timeouts,
dropped connections and garbage answers (a 200 whose body is HTML, `[]`, `{"error": ...}` or has no message) are
retried with exponential backoff (honouring Retry-After); anything else fails at once with a one-line message naming
the model, and garbage that persists fails with a line showing what came back. The API key is read from the
environment variable the config names and never appears in a message. Every call is recorded on the stream's tape
(arena/cassettes.py) as it ends, and a replay answers from a recorded run's tape first.

Everything the provider says is cleaned here, where it enters (lone surrogates, NUL): text, tool names, arguments.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from typing import Any

import openai

from agent_tools.clean_text import clean_data, clean_text, one_line
from arena.cassettes import Tape
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
    """`tape` (arena/cassettes.py) records every call, and when replaying answers from a recorded run first;
    `offline` (strict replay) builds no client at all, so nothing can reach the network and no key is needed."""

    is_baseline = False

    def __init__(self, *, label: str, model: str, base_url: str, api_key_env: str, timeout: float = 60.0,
                 max_retries: int = 3, temperature: float | None = None, parallel_tool_calls: bool = True,
                 extra_body: dict[str, Any] | None = None, backoff_base: float = 0.5, backoff_cap: float = 8.0,
                 seed: int | None = None, tape: Tape | None = None, offline: bool = False):
        self.label = label
        self.model = model
        self.max_retries = max_retries
        self.temperature = temperature
        self.seed = seed
        self.parallel_tool_calls = parallel_tool_calls
        self.extra_body = extra_body or {}
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.tape = tape
        self.client: openai.AsyncOpenAI | None = None
        if offline:
            return
        api_key = os.environ.get(api_key_env, "")
        if not api_key:
            raise ModelError(f"model {label!r}: environment variable {api_key_env} is not set")
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    def begin_session(self, session_id: str, day: str) -> None:
        if self.tape is not None:
            self.tape.begin_session(session_id, day)

    def timed_out(self) -> None:
        """The session's time limit cut off the call in flight (the tape records it)."""
        if self.tape is not None:
            self.tape.timed_out()

    def request(self, messages: list[dict], tools: list[dict]) -> dict[str, Any]:
        """The request body's parameters, as sent (and as a cassette keys it)."""
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            request["tools"] = tools
            request["parallel_tool_calls"] = self.parallel_tool_calls
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.seed is not None:
            request["seed"] = self.seed
        if self.extra_body:
            request["extra_body"] = self.extra_body
        return request

    async def complete(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        request = self.request(messages, tools)
        take = self.tape.take(request) if self.tape is not None else None  # a strict miss raises here
        if take is not None and take.recorded is not None:
            if take.recorded.get("timeout"):
                raise TimeoutError  # the session's deadline cut this call off when it was recorded
            if take.recorded.get("error") is not None or take.recorded.get("response") is None:
                raise ModelError(str(take.recorded.get("error") or f"model {self.label!r}: recorded call failed"))
            return self._turn(take.recorded["response"], int(take.recorded.get("retries") or 0))
        if self.client is None:
            raise ModelError(f"model {self.label!r}: offline (strict replay) and no recorded answer")
        attempt = 0
        failures: list[str] = []
        while True:
            try:
                body = await self._completion(request)
                turn = self._turn(body, attempt)
            except (openai.APIError, GarbageAnswer) as exc:
                if not _is_transient(exc) or attempt >= self.max_retries:
                    message = self._failure(exc, attempt)
                    if take is not None and self.tape is not None:
                        self.tape.record(take, error=message, retries=attempt, failures=failures)
                    raise ModelError(message) from None
                failures.append(_describe(exc) if not isinstance(exc, GarbageAnswer) else f"garbage: {exc.shown}")
                delay = _retry_after(exc)
                if delay is None:
                    delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.75 + random.random() / 2)
                attempt += 1
                await asyncio.sleep(min(delay, 60.0))
                continue
            if take is not None and self.tape is not None:
                self.tape.record(take, response=body, retries=attempt, failures=failures, usage=turn.usage)
            return turn

    async def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request; the body as JSON. A 200 that is not a chat completion with a message raises GarbageAnswer."""
        assert self.client is not None
        raw = await self.client.chat.completions.with_raw_response.create(**request)
        try:
            body = json.loads(raw.text)
        except ValueError:  # not JSON at all: a proxy's error page
            raise GarbageAnswer(_shown(raw.text), not_json=True) from None
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict) \
                or not isinstance(choices[0].get("message"), dict):
            raise GarbageAnswer(_shown(raw.text), not_json=False)
        return body

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
        if status == 400 and "seed" in text.lower():
            return (f"model {self.label!r} ({self.model}) rejected the seed parameter: {text}; set "
                    "\"send_seed\": false for this model")
        if status == 400 and "tool" in text.lower():
            return f"model {self.label!r} ({self.model}) rejected the tools: {text}; use a model that supports tool calling"
        if status in (401, 403):
            return f"model {self.label!r}: the provider refused the API key ({text}); check the key's variable"
        if status == 404:
            return f"model {self.label!r}: model {self.model!r} or its endpoint was not found ({text}); check model and base_url"
        return f"model {self.label!r} ({self.model}) failed{tries}: {text}"

    def _turn(self, body: dict[str, Any], retries: int) -> ModelTurn:
        """The turn from a response body (live or recorded: one path), cleaned; tool-call ids as sent ("" when
        missing: the session gives every call a unique id)."""
        message = body["choices"][0]["message"]
        calls = []
        for call in message.get("tool_calls") or []:
            call = call if isinstance(call, dict) else {}
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            calls.append(ToolCall(clean_text(str(call.get("id") or "")), clean_text(str(function.get("name") or "")),
                                  clean_data(function.get("arguments"))))
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
        content = message.get("content")
        served = body.get("model")
        fingerprint = body.get("system_fingerprint")
        return ModelTurn(
            content=clean_text(content) if isinstance(content, str) else None,
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=token_count(usage.get("prompt_tokens", 0)),
                completion_tokens=token_count(usage.get("completion_tokens", 0)),
                cached_tokens=token_count(details.get("cached_tokens", 0)),
            ),
            retries=retries,
            served_model=clean_text(served) if isinstance(served, str) and served else None,
            system_fingerprint=clean_text(fingerprint) if isinstance(fingerprint, str) and fingerprint else None,
        )

    async def aclose(self) -> None:
        if self.tape is not None:
            self.tape.close()
        if self.client is not None:
            await self.client.close()
