"""Orders into an Alpaca account through alpaca-py's TradingClient (a paper account unless the config says otherwise).

One order's life: validate the quantity ourselves (the SDK accepts `qty=-1`), send a market order with a
deterministic client_order_id, poll until it is filled, canceled, rejected or expired, cancel it at the timeout,
and report the quantity really filled and its average price (a partial fill is reported as such). A network error
on submit is followed by a resend with the same client_order_id, which Alpaca de-duplicates; when Alpaca answers
the resend with an error we look the order up by client_order_id, so a resend can never buy twice.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from requests.adapters import HTTPAdapter

from agent_tools.brokers.base import BrokerAccount, BrokerError, Fill
from agent_tools.live_view import describe_api_error
from agent_tools.risk.base import OrderContext

ALPACA_ID_MAX = 48  # Alpaca's limit on client_order_id
TERMINAL = frozenset({"filled", "canceled", "expired", "rejected", "done_for_day", "replaced"})
ZERO = Decimal("0")
MAX_DECIMALS = 9  # Alpaca accepts fractional quantities to 9 decimals


class _TimeoutAdapter(HTTPAdapter):
    """requests waits forever by default; a hung connection must become an error we can resend after."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def set_http_timeout(client: RESTClient, seconds: float) -> None:
    """Give an alpaca-py client a per-request timeout (it has no option for one)."""
    adapter = _TimeoutAdapter(seconds)
    session = client._session  # alpaca-py exposes no other way to set a timeout
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def alpaca_client_order_id(client_order_id: str) -> str:
    """Our id as is when Alpaca takes it, else a deterministic hash of it (same input, same id: resends dedupe)."""
    if len(client_order_id) <= ALPACA_ID_MAX and client_order_id.isascii() and client_order_id.isprintable():
        return client_order_id
    digest = hashlib.sha256(client_order_id.encode("utf-8")).hexdigest()[:32]
    prefix = re.sub(r"[^A-Za-z0-9._-]", "", client_order_id.split("@", 1)[0])[: ALPACA_ID_MAX - 33]
    return f"{prefix}-{digest}" if prefix else digest


def _status(order: Any) -> str:
    status = getattr(order, "status", "")
    return str(getattr(status, "value", status))


def _decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


class AlpacaBroker:
    """Market orders through TradingClient; `account()` is Alpaca's cash and positions (the truth for reconciling)."""

    name = "alpaca"
    execution_note = "market orders fill at Alpaca's own prices (partial fills possible); Alpaca charges no commission"

    def __init__(self, client: TradingClient, *, order_timeout: float = 30.0, poll_interval: float = 0.5,
                 submit_attempts: int = 3, resend_wait: float | None = None, key_env: str = "APCA_API_KEY_ID",
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.order_timeout = order_timeout
        self.poll_interval = poll_interval
        self.submit_attempts = max(1, submit_attempts)
        self.resend_wait = poll_interval if resend_wait is None else resend_wait
        self.key_env = key_env
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: set[str] = set()  # client_order_ids this process has sent: a conflict on these is our own order

    # -- account ---------------------------------------------------------------------------------------------
    def account(self) -> BrokerAccount:
        """Alpaca's cash and positions (short positions negative); a couple of tries on network errors."""
        last: Exception | None = None
        for _ in range(3):
            try:
                account = self.client.get_account()
                positions = self.client.get_all_positions()
            except requests.RequestException as exc:
                last = exc
                self._sleep(self.resend_wait)
                continue
            except APIError as exc:
                raise BrokerError(f"cannot read the Alpaca account ({describe_api_error(exc)}){self._key_hint(exc)}") from None
            holdings: dict[str, Decimal] = {}
            for position in positions:  # type: ignore[union-attr]
                qty = _decimal(position.qty)
                side = str(getattr(position.side, "value", position.side))
                holdings[position.symbol] = -abs(qty) if side == "short" else qty
            return BrokerAccount(_decimal(account.cash), {s: q for s, q in holdings.items() if q})  # type: ignore[union-attr]
        raise BrokerError(f"cannot reach Alpaca to read the account ({describe_api_error(last or OSError())})")

    def _key_hint(self, exc: APIError) -> str:
        return f"; check the key in {self.key_env}" if exc.status_code in (401, 403) else ""

    # -- orders ----------------------------------------------------------------------------------------------
    def execute(self, order: OrderContext, client_order_id: str) -> Fill:
        if not order.market_open:
            raise BrokerError("the market is closed; market orders are sent only in market hours")
        quantity = self._checked_quantity(order)
        coid = alpaca_client_order_id(client_order_id)
        placed = self._submit(order, quantity, coid)
        if isinstance(placed, Fill):
            return placed
        final, note = self._wait(placed)
        return self._fill(final, quantity, note)

    def _checked_quantity(self, order: OrderContext) -> Decimal:
        """Alpaca-py would send a negative or absurd quantity; refuse it here, before anything leaves."""
        qty = order.quantity
        if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0:
            raise BrokerError(f"quantity must be a positive number of shares, got {qty!r}")
        if not order.limits.fractional and qty != qty.to_integral_value():
            raise BrokerError(f"quantity must be whole shares, got {qty}")
        if qty != qty.quantize(Decimal(1).scaleb(-MAX_DECIMALS)):
            raise BrokerError(f"quantity {qty} has more than {MAX_DECIMALS} decimals")
        if order.side not in ("buy", "sell") or not order.symbol:
            raise BrokerError(f"not an order: side {order.side!r}, symbol {order.symbol!r}")
        return qty

    def _submit(self, order: OrderContext, quantity: Decimal, coid: str) -> Any:
        """Send, resending after network errors with the same id; returns Alpaca's order, or a Fill when settled."""
        request = MarketOrderRequest(symbol=order.symbol, qty=float(quantity),
                                     side=OrderSide.BUY if order.side == "buy" else OrderSide.SELL,
                                     time_in_force=TimeInForce.DAY, client_order_id=coid)
        last: Exception | None = None
        for attempt in range(self.submit_attempts):
            resend = coid in self._sent
            self._sent.add(coid)
            try:
                return self.client.submit_order(request)
            except requests.RequestException as exc:  # the order may or may not have arrived: resend, Alpaca dedupes
                last = exc
                if attempt + 1 < self.submit_attempts:
                    self._sleep(self.resend_wait)
                continue
            except APIError as exc:
                if exc.status_code == 401:
                    raise BrokerError(f"Alpaca refused the API key (HTTP 401){self._key_hint(exc)}") from None
                existing = self._lookup(coid)
                if existing is None:
                    return Fill("rejected", ZERO, ZERO, ZERO, message=f"Alpaca refused the order: {describe_api_error(exc)}")
                if resend:
                    return existing  # our own first send did arrive: follow that order
                filled = _decimal(existing.filled_qty)
                return Fill("already_sent", ZERO, ZERO, ZERO, order_id=str(existing.id), message=(
                    f"order {coid} had already been sent before a restart (Alpaca: {_status(existing)}, {filled} filled); "
                    "its effect is in the positions reconciled at session start, so it was not sent again"))
        failure = describe_api_error(last or OSError())
        try:
            existing = self._lookup(coid)
        except BrokerError:
            raise BrokerError(f"could not reach Alpaca to send order {coid} ({failure}); if it arrived after all, "
                              "the reconciliation after the session records its fill") from None
        if existing is not None:
            return existing
        raise BrokerError(f"could not reach Alpaca after {self.submit_attempts} attempts ({failure}); "
                          f"order {coid} was not placed")

    def _lookup(self, coid: str) -> Any | None:
        """GET /v2/orders:by_client_order_id: the order Alpaca holds under our id, or None if there is none."""
        for _ in range(2):
            try:
                return self.client.get_order_by_client_id(coid)
            except APIError as exc:
                if exc.status_code == 404:
                    return None
                raise BrokerError(f"cannot look up order {coid} at Alpaca ({describe_api_error(exc)})") from None
            except requests.RequestException:
                self._sleep(self.resend_wait)
        raise BrokerError(f"cannot reach Alpaca to look up order {coid}; the reconciliation after the session "
                          "records any fill")

    def _refresh(self, order: Any) -> Any:
        try:
            return self.client.get_order_by_id(order.id)
        except (requests.RequestException, APIError):
            return order  # a transient failure: keep the last known state and poll again

    def _wait(self, order: Any) -> tuple[Any, str]:
        """Poll until a final state; at the timeout cancel, then wait (bounded) for the cancel to settle."""
        deadline = self._monotonic() + self.order_timeout
        while _status(order) not in TERMINAL and self._monotonic() < deadline:
            self._sleep(self.poll_interval)
            order = self._refresh(order)
        if _status(order) in TERMINAL:
            return order, ""
        try:
            self.client.cancel_order_by_id(order.id)
        except (requests.RequestException, APIError):
            pass  # filled meanwhile (not cancelable) or a network error: the polls below tell which
        note = f"the rest was canceled at the {self.order_timeout:g} s order timeout"
        settle = self._monotonic() + max(self.poll_interval * 5, min(self.order_timeout, 5.0))
        order = self._refresh(order)
        while _status(order) not in TERMINAL and self._monotonic() < settle:
            self._sleep(self.poll_interval)
            order = self._refresh(order)
        if _status(order) not in TERMINAL:
            note = ("Alpaca has not confirmed the cancel yet; a later fill is picked up by the next reconciliation")
        return order, note

    def _fill(self, order: Any, requested: Decimal, note: str) -> Fill:
        status = _status(order)
        filled = _decimal(order.filled_qty)
        price = _decimal(order.filled_avg_price) if filled > 0 else ZERO
        if status == "filled":
            message = ""
        elif status == "rejected":
            message = "Alpaca rejected the order"
        elif status in ("canceled", "expired", "done_for_day") and not note:
            message = f"Alpaca reports the order {status}"
        else:
            message = note
        if 0 < filled < requested and status == "filled":
            status = "partially_filled"
        return Fill(status, filled, price, ZERO, order_id=str(order.id), message=message)


def trading_client(key: str, secret: str, *, paper: bool, url: str | None, http_timeout: float) -> TradingClient:
    """A TradingClient with a request timeout; `url` overrides the base URL (a proxy, or a fake server in tests)."""
    client = TradingClient(key, secret, paper=paper, url_override=url)
    set_http_timeout(client, http_timeout)
    return client
