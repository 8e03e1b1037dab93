"""What every Alpaca client of ours shares: a per-request timeout, one retry policy with backoff for transient
failures (429, 5xx, timeouts, dropped connections, an answer that cannot be parsed), and short secret-free
descriptions of failures.

alpaca-py retries 429 and 504 itself with fixed 3 s sleeps and no other code; we switch that off (`_retry = 0`)
so that one policy, ours, applies to every request and its waits are configurable (`live.retry_*`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from pydantic import ValidationError
from requests.adapters import HTTPAdapter

T = TypeVar("T")


class _TimeoutAdapter(HTTPAdapter):
    """requests waits forever by default; a hung connection must become an error we can act on."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def configure_client(client: RESTClient, http_timeout: float) -> None:
    """A per-request timeout (alpaca-py has no option for one) and no SDK-side retries (ours apply instead)."""
    adapter = _TimeoutAdapter(http_timeout)
    session = client._session  # alpaca-py exposes no other way to set a timeout
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    client._retry = 0


set_http_timeout = configure_client  # the older name


def unreadable(exc: BaseException) -> bool:
    """An answer alpaca-py could not turn into its model: not JSON, or JSON of the wrong shape."""
    return isinstance(exc, requests.JSONDecodeError | ValidationError | ValueError | KeyError | TypeError) \
        and not isinstance(exc, APIError)


def is_transient(exc: BaseException) -> bool:
    """Worth another try: rate limits, server errors, timeouts, dropped connections, unreadable answers."""
    if isinstance(exc, APIError):
        status = exc.status_code
        return status is None or status in (408, 429) or status >= 500
    return isinstance(exc, requests.RequestException) or unreadable(exc)


def describe_api_error(exc: BaseException) -> str:
    """A short, secret-free description of an alpaca-py or requests failure."""
    if isinstance(exc, APIError):
        try:
            message = str(exc.message)
        except (ValueError, KeyError, TypeError):
            message = "an answer that is not JSON"
        return f"HTTP {exc.status_code}: {message[:200]}"
    if isinstance(exc, requests.Timeout):
        return f"{type(exc).__name__} (no answer in time)"
    if isinstance(exc, requests.ConnectionError):
        return f"{type(exc).__name__} (network)"
    if unreadable(exc):
        return f"an answer that could not be read ({type(exc).__name__})"
    return f"{type(exc).__name__} (network)"


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries in all; the waits between them double from `base` seconds up to `cap`."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0

    def wait(self, attempt: int) -> float:
        return min(self.cap, self.base * (2 ** attempt))


def with_retries(fn: Callable[[], T], policy: Backoff, sleep: Callable[[float], None] = time.sleep,
                 transient: Callable[[BaseException], bool] = is_transient) -> T:
    """Call `fn`; on a transient failure wait and try again, up to the policy's attempts; then raise the last."""
    for attempt in range(max(1, policy.attempts)):
        try:
            return fn()
        except Exception as exc:
            if not transient(exc) or attempt + 1 >= policy.attempts:
                raise
            sleep(policy.wait(attempt))
    raise AssertionError("unreachable")
