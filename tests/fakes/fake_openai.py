"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, driven through the real `openai` SDK in tests.

Each model name has its own script: a list of steps consumed one per request. A step is a dict:
  {"message": {...assistant message...}, "usage": {...}}   -> 200 with that message
  {"status": 429, "error": "slow down", "headers": {...}}   -> that HTTP error
  {"delay": 1.5, ...}                                       -> wait before answering (to trigger client timeouts)
  {"drop": True}                                            -> close the connection without answering
  {"raw": "<html>oops</html>"}                              -> 200 with exactly this body (HTML, `[]`, `{"error": ...}`)
Text may hold lone surrogates ("\\ud83d"): they go out as JSON escapes, as a provider sends half an emoji. A tool
call's id may be None (left out, as some providers do) or repeat across turns.
  {"served_model": "m-2025-10-01", "system_fingerprint": "fp_x", ...}  -> what the answer says served it
A callable step `fn(request_body) -> step` computes the answer; the last step repeats when `repeat_last` is set.
Every request body is recorded for assertions, with the in-flight high-water mark (to prove concurrency).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Step = dict[str, Any] | Callable[[dict], dict[str, Any]]


def tool_call(call_id: str | None, name: str, arguments: Any) -> dict:
    """A tool call as a provider sends it; `call_id=None` leaves the id out."""
    call = {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments if not isinstance(arguments, dict) else json.dumps(arguments)}}
    if call_id is None:
        del call["id"]
    return call


def assistant(content: str | None = None, calls: list[dict] | None = None, prompt_tokens: int = 100,
              completion_tokens: int = 20) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"message": message, "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                          "total_tokens": prompt_tokens + completion_tokens}}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away mid-answer (a timeout, Ctrl-C): expected in these tests, not an error
        super().handle_error(request, client_address)


class FakeOpenAI:
    def __init__(self) -> None:
        self.scripts: dict[str, list[Step]] = {}
        self.repeat_last: set[str] = set()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fingerprint = "fp_fake_1"  # what every answer says served it, unless a step says otherwise
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    step = fake._next(body.get("model", ""))
                    fake._arrived.notify_all()
                try:
                    if callable(step):
                        step = step(body)
                    if step.get("delay"):
                        time.sleep(step["delay"])
                    if step.get("drop"):
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if "raw" in step:  # a body that is not what the API promises
                        data = step["raw"].encode()
                        self.send_response(200)
                        self.send_header("content-type", "application/json")
                        self.send_header("content-length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    if "status" in step:
                        payload = {"error": {"message": step.get("error", "error"), "type": "fake", "code": step["status"]}}
                        self._send(step["status"], payload, step.get("headers", {}))
                        return
                    payload = {
                        "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion", "created": 0,
                        "model": step.get("served_model", body.get("model", "")),
                        "system_fingerprint": step.get("system_fingerprint", fake.fingerprint),
                        "choices": [{"index": 0, "message": step["message"],
                                     "finish_reason": "tool_calls" if step["message"].get("tool_calls") else "stop"}],
                        "usage": step.get("usage", {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}),
                    }
                    self._send(200, payload, {})
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _send(self, status: int, payload: dict, headers: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _next(self, model: str) -> Step:
        script = self.scripts.get(model)
        if not script:
            return {"status": 404, "error": f"model {model} not found"}
        if len(script) == 1 and model in self.repeat_last:
            return script[0]
        return script.pop(0)

    def script(self, model: str, steps: list[Step], repeat_last: bool = False) -> None:
        self.scripts[model] = list(steps)
        if repeat_last:
            self.repeat_last.add(model)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def requests_for(self, model: str) -> list[dict]:
        return [r for r in self.requests if r.get("model") == model]

    def wait_for_requests(self, model: str, count: int, timeout: float = 60) -> bool:
        """Block until `count` requests for `model` have arrived (an event, not a poll); False on timeout."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests_for(model)) >= count, timeout)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
