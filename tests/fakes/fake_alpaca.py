"""A fake Alpaca REST server (trading and market data) on 127.0.0.1, driven through the real `alpaca-py` in tests.

One server answers both base URLs (`/v2/account`, `/v2/orders`, ... and `/v2/stocks/bars`, ...). State is an
account (cash, positions) and its orders; every request is recorded. Behaviours are scripted per symbol:

  "fill"    (default) the order is `new` on submit and `filled` on poll number `after_polls` (default 1)
  "partial" `partially_filled` with `fill_qty` shares on the first poll, never more; a cancel leaves those filled
  "reject"  `new` on submit, `rejected` on the first poll
  "refuse"  the submit itself fails: HTTP 403 "insufficient buying power"
  "open"    stays `new` whatever the polls (an order a crashed run left open); a cancel cancels it

Faults are stateful and consumed in order (`fault(kind, method, path, times=...)`, `path` a prefix):

  "error"        answer `status` (default 503) without doing anything
  "error_after"  do what was asked (e.g. create the order), then answer `status` (default 500); with status 422 and
                 `message="client_order_id must be unique"` the order is created and its answer says it is a duplicate
  "garble"       do what was asked, then answer 200 with a body alpaca-py cannot parse (`body`)
  "drop"         do what was asked, then close the connection without an answer
  "slow"         do what was asked, then wait `delay` seconds before answering (past the client's timeout)

`drop_next_submit()` is `fault("drop", "POST", "/v2/orders")`. `hold(path)` parks the first matching request until
released. A re-used client_order_id gets Alpaca's 422 "client_order_id must be unique". `deposit()` and `reset()`
move money the way Alpaca's dashboard does. Prices are deterministic per symbol. The server shuts itself down after
`max_lifetime` seconds whatever the test does.

Standalone (for drills and scripts): `python -m tests.fakes.fake_alpaca [--port N] [--lifetime S]` prints
`FAKE_ALPACA_URL=http://127.0.0.1:N` and serves until killed; `GET /_fake/state` shows cash, positions and orders,
and `POST /_fake/<fault|behave|deposit|reset|order>` with a JSON body calls the method of that name.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from arena.config import DEFAULT_CONFIG

TERMINAL = {"filled", "canceled", "expired", "rejected"}
FAULT_KINDS = ("error", "error_after", "garble", "drop", "slow")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def base_price(symbol: str) -> Decimal:
    """A stable, symbol-specific price between 50 and 450 (two decimals)."""
    return Decimal(50 + sum(ord(c) * (i + 1) for i, c in enumerate(symbol)) % 400) + Decimal("0.25")


@dataclass
class Fault:
    """One scripted failure of the requests matching `method` and the path prefix, `times` times."""

    kind: str
    method: str
    path: str
    times: int = 1
    status: int = 503
    body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    delay: float = 5.0
    message: str | None = None  # the error's message (e.g. "client_order_id must be unique" with status 422)

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and path.startswith(self.path)


@dataclass
class Gate:
    path: str
    method: str | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class FakeAlpaca:
    def __init__(self, key: str = "fake-key-id-1234", secret: str = "fake-secret-5678", cash: str = "10000",
                 max_lifetime: float = 60.0, latest_bar_time: datetime | None = None, port: int = 0):
        self.key, self.secret = key, secret
        self.cash = Decimal(cash)
        self.positions: dict[str, Decimal] = {}
        self.orders: dict[str, dict] = {}
        self.prices: dict[str, Decimal] = {}
        self.behaviours: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.gates: list[Gate] = []
        self.latest_bar_time = latest_bar_time
        self.extra_daily: dict[str, list[dict]] = {}  # raw daily bars appended to a symbol's answer, as given
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._calendar = MarketCalendar()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._watchdog = threading.Timer(max_lifetime, self.stop)
        self._watchdog.daemon = True
        self._stopped = False
        self._stopping = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAlpaca:
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        for gate in self.gates:
            gate.released.set()
        self._watchdog.cancel()
        self._server.shutdown()
        self._server.server_close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------------------------------
    def price(self, symbol: str) -> Decimal:
        return self.prices.get(symbol, base_price(symbol))

    def behave(self, symbol: str, kind: str, **params: Any) -> None:
        self.behaviours[symbol] = {"kind": kind, **params}

    def fault(self, kind: str, method: str = "POST", path: str = "/v2/orders", times: int = 1,
              **params: Any) -> Fault:
        """Script a failure of the next `times` matching requests (see the module docstring for the kinds)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if kind == "error_after" and "status" not in params:
            params["status"] = 500
        fault = Fault(kind, method.upper(), path, times, **params)
        with self._lock:
            self.faults.append(fault)
        return fault

    def drop_next_submit(self) -> None:
        self.fault("drop", "POST", "/v2/orders")

    def deposit(self, amount: str | int | float) -> None:
        """Money moved into (or, negative, out of) the account: not a trade."""
        with self._lock:
            self.cash += Decimal(str(amount))

    def reset(self, cash: str | int | float = "100000") -> None:
        """The paper dashboard's reset: positions gone, open orders canceled, cash set."""
        with self._lock:
            self.positions.clear()
            for order in self.orders.values():
                if order["status"] not in TERMINAL:
                    order["status"] = "canceled"
            self.cash = Decimal(str(cash))

    def hold(self, path: str, method: str | None = None) -> Gate:
        """Park the first request matching `path` (a prefix) and `method` (any when None) until released."""
        gate = Gate(path, method.upper() if method else None)
        self.gates.append(gate)
        return gate

    def set_position(self, symbol: str, qty: str | int) -> None:
        self.positions[symbol] = Decimal(str(qty))

    def add_order(self, client_order_id: str, symbol: str, qty: int | str, side: str = "buy",
                  status: str = "filled") -> dict:
        """An order that exists already (sent by an earlier process, or by someone else), applied to the account
        if filled; `status="new"` leaves it open, to move along its symbol's behaviour when polled."""
        with self._lock:
            order = self._new_order({"symbol": symbol, "qty": qty, "side": side, "client_order_id": client_order_id})
            if status == "filled":
                self._fill(order, Decimal(str(qty)))
            order["status"] = status
            return order

    def order_by_client_id(self, client_order_id: str) -> dict | None:
        found = [o for o in self.orders.values() if o["client_order_id"] == client_order_id]
        return found[0] if found else None

    def state(self) -> dict:
        """Cash, positions and orders, JSON-ready (for assertions and for `GET /_fake/state`)."""
        with self._lock:
            return {"cash": str(self.cash), "positions": {s: str(q) for s, q in self.positions.items()},
                    "orders": [self._public(o) for o in self.orders.values()]}

    # -- views for assertions ------------------------------------------------------------------------------------
    def requests_to(self, method: str, path: str) -> list[dict]:
        return [c for c in self.calls if c["method"] == method and c["path"] == path]

    @property
    def trading_calls(self) -> list[dict]:
        return [c for c in self.calls if not c["path"].startswith("/v2/stocks")]

    # -- account mechanics ---------------------------------------------------------------------------------------
    def _new_order(self, body: dict) -> dict:
        now = iso(datetime.now(UTC))
        order = {
            "id": str(uuid.uuid4()), "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": now, "updated_at": now, "submitted_at": now, "filled_at": None, "expired_at": None,
            "canceled_at": None, "failed_at": None, "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, body["symbol"])),
            "symbol": body["symbol"], "asset_class": "us_equity", "qty": str(Decimal(str(body["qty"])).normalize()),
            "filled_qty": "0", "filled_avg_price": None, "order_class": "simple", "order_type": "market",
            "type": "market", "side": body.get("side", "buy"), "time_in_force": body.get("time_in_force", "day"),
            "status": "new", "extended_hours": False,
        }
        self.orders[order["id"]] = order
        return order

    def _fill(self, order: dict, qty: Decimal) -> None:
        """Move the order's filled quantity to `qty` and apply the difference to cash and positions."""
        done = Decimal(order["filled_qty"])
        delta = qty - done
        if delta <= 0:
            return
        price = self.price(order["symbol"])
        sign = 1 if order["side"] == "buy" else -1
        self.positions[order["symbol"]] = self.positions.get(order["symbol"], Decimal("0")) + sign * delta
        if not self.positions[order["symbol"]]:
            del self.positions[order["symbol"]]
        self.cash -= sign * delta * price
        order["filled_qty"] = str(qty.normalize())
        order["filled_avg_price"] = str(price)
        order["updated_at"] = iso(datetime.now(UTC))

    def _advance(self, order: dict) -> None:
        """One poll moves a live order along its symbol's scripted behaviour."""
        if order["status"] in TERMINAL:
            return
        behaviour = self.behaviours.get(order["symbol"], {"kind": "fill"})
        kind = behaviour["kind"]
        order["_polls"] = order.get("_polls", 0) + 1
        if kind == "fill" and order["_polls"] >= behaviour.get("after_polls", 1):
            self._fill(order, Decimal(order["qty"]))
            order["status"] = "filled"
            order["filled_at"] = order["updated_at"]
        elif kind == "partial":
            self._fill(order, Decimal(str(behaviour.get("fill_qty", 1))))
            order["status"] = "partially_filled"
        elif kind == "reject":
            order["status"] = "rejected"
            order["failed_at"] = iso(datetime.now(UTC))
        elif kind == "open":
            order["status"] = "new"

    def _public(self, order: dict) -> dict:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    def _account(self) -> dict:
        value = self.cash + sum((q * self.price(s) for s, q in self.positions.items()), Decimal("0"))
        return {"id": "b6a7c1c2-0000-4000-8000-000000000001", "account_number": "PA0FAKE0001", "status": "ACTIVE",
                "currency": "USD", "cash": str(self.cash), "buying_power": str(self.cash),
                "portfolio_value": str(value), "equity": str(value), "pattern_day_trader": False,
                "trading_blocked": False, "account_blocked": False, "shorting_enabled": False}

    def _positions(self) -> list[dict]:
        out = []
        for symbol, qty in sorted(self.positions.items()):
            price = self.price(symbol)
            out.append({"asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), "symbol": symbol, "exchange": "NASDAQ",
                        "asset_class": "us_equity", "avg_entry_price": str(price), "qty": str(qty),
                        "side": "long" if qty > 0 else "short", "market_value": str(qty * price),
                        "cost_basis": str(qty * price), "qty_available": str(qty)})
        return out

    # -- market data ---------------------------------------------------------------------------------------------
    def _bar(self, symbol: str, start: datetime, shift: int = 0) -> dict:
        price = float(self.price(symbol)) * (1 + 0.002 * shift)
        return {"t": iso(start), "o": round(price * 0.998, 2), "h": round(price * 1.01, 2), "l": round(price * 0.99, 2),
                "c": round(price, 2), "v": 100000 + shift, "n": 1000, "vw": round(price, 2)}

    def _daily_bars(self, symbols: list[str], start: datetime, end: datetime) -> dict:
        sessions = self._calendar.sessions_between(start.astimezone(MARKET_TZ).date(), end.astimezone(MARKET_TZ).date())
        bars: dict[str, list] = {}
        for symbol in symbols:
            rows = []
            for i, session in enumerate(sessions):
                if session.open > end:
                    continue
                midnight = datetime.combine(session.day, datetime.min.time(), tzinfo=MARKET_TZ)
                rows.append(self._bar(symbol, midnight, shift=(i % 7) - 3))
            bars[symbol] = rows + self.extra_daily.get(symbol, [])
        return bars

    def _minute_bars(self, symbols: list[str], start: datetime, end: datetime, desc: bool, limit: int | None) -> dict:
        bars: dict[str, list] = {}
        for symbol in symbols:
            session = self._calendar.session_on(end.astimezone(MARKET_TZ).date())
            rows = []
            if session is not None:
                t = max(start, session.open).replace(second=0, microsecond=0)
                last = min(end, session.close - timedelta(minutes=1))
                while t <= last:
                    rows.append(self._bar(symbol, t))
                    t += timedelta(minutes=1)
            if desc:
                rows.reverse()
            bars[symbol] = rows[:limit] if limit else rows
        return bars

    def _latest_bars(self, symbols: list[str]) -> dict:
        moment = self.latest_bar_time or datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        return {s: self._bar(s, moment) for s in symbols}

    # -- HTTP ----------------------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, str], body: dict | None) -> tuple[int, Any]:
        with self._lock:
            if path == "/v2/account" and method == "GET":
                return 200, self._account()
            if path == "/v2/positions" and method == "GET":
                return 200, self._positions()
            if path == "/v2/orders" and method == "POST":
                return self._submit(body or {})
            if path == "/v2/orders" and method == "GET":
                return 200, self._list_orders(query)
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                found = self.order_by_client_id(query.get("client_order_id", ""))
                if found is not None:
                    self._advance(found)
                return (200, self._public(found)) if found else (404, {"code": 40410000, "message": "order not found"})
            if path.startswith("/v2/orders/"):
                order = self.orders.get(path.rsplit("/", 1)[1])
                if order is None:
                    return 404, {"code": 40410000, "message": "order not found"}
                if method == "GET":
                    self._advance(order)
                    return 200, self._public(order)
                if method == "DELETE":
                    if order["status"] in TERMINAL:
                        return 422, {"code": 42210000, "message": "order is not cancelable"}
                    order["status"] = "canceled"
                    order["canceled_at"] = iso(datetime.now(UTC))
                    return 204, None
            if path == "/v2/stocks/bars/latest":
                return 200, {"bars": self._latest_bars(query["symbols"].split(","))}
            if path == "/v2/stocks/bars":
                symbols = query["symbols"].split(",")
                start, end = parse_time(query["start"]), parse_time(query.get("end") or iso(datetime.now(UTC)))
                if query.get("timeframe") == "1Day":
                    bars = self._daily_bars(symbols, start, end)
                else:
                    bars = self._minute_bars(symbols, start, end, query.get("sort") == "desc",
                                             int(query["limit"]) if query.get("limit") else None)
                return 200, {"bars": bars, "next_page_token": None}
            return 404, {"code": 40410000, "message": f"no route {method} {path}"}

    def _list_orders(self, query: dict[str, str]) -> list[dict]:
        """GET /v2/orders: `status` open (default), closed or all; newest first, at most `limit` (default 50)."""
        wanted = query.get("status", "open")
        orders = [o for o in self.orders.values()
                  if wanted == "all" or (o["status"] in TERMINAL) == (wanted == "closed")]
        orders.sort(key=lambda o: o["created_at"], reverse=True)
        return [self._public(o) for o in orders[: int(query.get("limit", 50))]]

    def _submit(self, body: dict) -> tuple[int, Any]:
        coid = body.get("client_order_id")
        if coid and any(o["client_order_id"] == coid for o in self.orders.values()):
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        behaviour = self.behaviours.get(body.get("symbol", ""), {"kind": "fill"})
        if behaviour["kind"] == "refuse":
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        if Decimal(str(body.get("qty", 0))) <= 0:
            return 422, {"code": 40010001, "message": "qty must be > 0"}
        return 200, self._public(self._new_order(body))

    def _control(self, method: str, path: str, body: dict) -> tuple[int, Any]:
        """The standalone server's scripting door: `GET /_fake/state`, `POST /_fake/<method>` with keyword args."""
        name = path.removeprefix("/_fake/")
        if method == "GET" and name == "state":
            return 200, self.state()
        actions = {"fault": self.fault, "behave": self.behave, "deposit": self.deposit, "reset": self.reset,
                   "order": self.add_order}
        if method != "POST" or name not in actions:
            return 404, {"message": f"no control {method} {path}; GET /_fake/state or POST /_fake/{{{','.join(actions)}}}"}
        try:
            result = actions[name](**body)
        except (TypeError, ValueError) as exc:
            return 400, {"message": str(exc)}
        return 200, {"ok": True, **({"order": self._public(result)} if name == "order" else {})}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                if parts.path.startswith("/_fake/"):
                    self._send(*fake._control(method, parts.path, body or {}))
                    return
                with fake._lock:
                    fake.calls.append({"method": method, "path": parts.path, "query": query, "body": body})
                    gates = [g for g in fake.gates if not g.reached.is_set() and parts.path.startswith(g.path)
                             and g.method in (None, method)]
                    if gates:
                        gates[0].reached.set()
                if gates:
                    gates[0].released.wait(timeout=30)
                if (self.headers.get("APCA-API-KEY-ID") != fake.key
                        or self.headers.get("APCA-API-SECRET-KEY") != fake.secret):
                    self._send(401, {"code": 40110000, "message": "request is not authorized"})
                    return
                with fake._lock:
                    fault = next((f for f in fake.faults if f.matches(method, parts.path)), None)
                    if fault is not None:
                        fault.times -= 1
                    if fault is not None and fault.kind == "error":
                        status, payload = fault.status, {"code": fault.status * 100000,
                                                         "message": fault.message or "service unavailable"}
                    else:
                        status, payload = fake._route(method, parts.path, query, body)
                try:
                    if fault is None or fault.kind == "error":
                        self._send(status, payload)
                    elif fault.kind == "drop":  # done; the answer is lost on the way back
                        self.close_connection = True
                        self.connection.shutdown(2)
                    elif fault.kind == "error_after":
                        self._send(fault.status, {"code": fault.status * 100000,
                                                  "message": fault.message or "internal server error"})
                    elif fault.kind == "garble":
                        self._send_raw(200, fault.body.encode(), "text/html")
                    elif fault.kind == "slow":
                        fake._stopping.wait(fault.delay)
                        self._send(status, payload)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the client gave up (a timeout under test): nobody to answer

            def _send(self, status: int, payload: Any) -> None:
                self._send_raw(status, b"" if payload is None else json.dumps(payload).encode(), "application/json")

            def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

        return Handler


# -- helpers for the live tests: configs pointing at the fake, and reading what a live run wrote -----------------------
OPEN_INSTANT = "2025-11-26T10:00-05:00"  # a normal session (the day before Thanksgiving)
SMALL_UNIVERSE = ["AAPL", "MSFT", "NVDA", "QQQ"]


def buy(symbol: str, amount: float) -> dict:
    return {"name": "buy", "arguments": {"symbol": symbol, "amount": amount}}


def scripted_model(signature: str, plan: list[list[dict]], **extra: Any) -> dict:
    return {"signature": signature, "kind": "scripted", "params": {"plan": plan}, **extra}


def live_config(path: Path, fake: FakeAlpaca, plan: list[list[dict]] | None = None, *, broker: str = "alpaca",
                models: list[dict] | None = None, live: dict | None = None) -> Path:
    """The default config with a small universe, no news, scripted model(s) and the live section on the fake."""
    raw = json.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["universe"] = SMALL_UNIVERSE
    raw["news"] = {"source": "none"}
    raw["models"] = models or [scripted_model("scripted-a", plan if plan is not None else [[buy("AAPL", 5)]])]
    raw["live"] = {"broker": broker, "data_url": fake.url, "trading_url": fake.url, "order_timeout_seconds": 2,
                   "poll_interval_seconds": 0.01, **(live or {})}
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return path


def alpaca_env(fake: FakeAlpaca) -> dict[str, str]:
    return {"APCA_API_KEY_ID": fake.key, "APCA_API_SECRET_KEY": fake.secret, "NO_PROXY": "127.0.0.1,localhost"}


def ledger(out: Path, signature: str = "scripted-a") -> list[dict]:
    path = out / signature / "position" / "position.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def sessions(out: Path, signature: str = "scripted-a") -> list[dict]:
    path = out / signature / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def log_events(out: Path, signature: str = "scripted-a", day: str = "2025-11-26") -> list[dict]:
    path = out / signature / "log" / day / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tool_results(out: Path, name: str, signature: str = "scripted-a") -> list[dict]:
    return [e for e in log_events(out, signature) if e["type"] == "tool" and e["name"] == name]


def main(argv: list[str] | None = None) -> int:
    """Serve a fake Alpaca until killed (SIGTERM, Ctrl-C) or `--lifetime` seconds have passed."""
    parser = argparse.ArgumentParser(description="A fake Alpaca REST server on 127.0.0.1 for drills and tests.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--key", default="fake-key-id-1234")
    parser.add_argument("--secret", default="fake-secret-5678")
    parser.add_argument("--cash", default="10000")
    parser.add_argument("--lifetime", type=float, default=3600.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    fake = FakeAlpaca(args.key, args.secret, args.cash, max_lifetime=args.lifetime, port=args.port).start()
    signal.signal(signal.SIGTERM, lambda *_: fake.stop())
    print(f"FAKE_ALPACA_URL={fake.url}", flush=True)
    try:
        fake._stopping.wait()
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
