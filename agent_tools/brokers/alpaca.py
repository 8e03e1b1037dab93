"""Orders into an Alpaca account through alpaca-py's TradingClient (a paper account unless the config says otherwise).

One order's life: validate the quantity ourselves (the SDK accepts `qty=-1`), write it to the order journal, send a
market order with a deterministic client_order_id, follow it until it is filled, canceled, rejected or expired,
cancel it at the order timeout or at the session's deadline (whichever comes first) and follow the cancel to a final
state, then report the quantity really filled and its average price (a partial fill is reported as such).

Whatever goes wrong on the way, the order is looked up by its client_order_id before anything is reported: a network
error, a 5xx after the order was created, an answer alpaca-py cannot parse, a poll slower than the timeout. An
order found under our id is ours only if its symbol, side and quantity are the ones we sent; anything else is an
error, never someone else's fill. When Alpaca never confirms a final state, the report says so ("unknown", never
"nothing filled") and the journal keeps the order for the next session start, which books its real fill.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest
from urllib3.exceptions import NewConnectionError

from agent_tools.alpaca_http import Backoff, configure_client, describe_api_error, is_transient, with_retries
from agent_tools.alpaca_http import set_http_timeout as set_http_timeout
from agent_tools.brokers.base import BrokerAccount, BrokerError, Fill
from agent_tools.brokers.order_journal import OrderJournal, SentOrder
from agent_tools.risk.base import OrderContext

ALPACA_ID_MAX = 48  # Alpaca's limit on client_order_id
TERMINAL = frozenset({"filled", "canceled", "expired", "rejected", "done_for_day", "replaced"})
ZERO = Decimal("0")
MAX_DECIMALS = 9  # Alpaca accepts fractional quantities to 9 decimals
CLOCK_MARGIN = timedelta(seconds=5)  # our clock against Alpaca's: an order created within it counts as this send's


def alpaca_client_order_id(client_order_id: str) -> str:
    """Our id as is when Alpaca takes it, else a deterministic hash of it (same input, same id: resends dedupe)."""
    if len(client_order_id) <= ALPACA_ID_MAX and client_order_id.isascii() and client_order_id.isprintable():
        return client_order_id
    digest = hashlib.sha256(client_order_id.encode("utf-8")).hexdigest()[:32]
    prefix = re.sub(r"[^A-Za-z0-9._-]", "", client_order_id.split("@", 1)[0])[: ALPACA_ID_MAX - 33]
    return f"{prefix}-{digest}" if prefix else digest


def _created_before(order: Any, moment: datetime | None) -> bool:
    """Whether Alpaca created the order clearly before `moment` (our clock; CLOCK_MARGIN allows for skew). An
    order without a creation time, or created since, counts as the one being sent now."""
    created = getattr(order, "created_at", None)
    if moment is None or not isinstance(created, datetime):
        return False
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    return created < moment - CLOCK_MARGIN


def _value(field: Any) -> str:
    return str(getattr(field, "value", field) or "")


def _status(order: Any) -> str:
    return _value(getattr(order, "status", ""))


def _decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


def _never_sent(exc: BaseException) -> bool:
    """The connection was never made (refused, connect timeout): the request cannot have arrived."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError)
    return False


@dataclass(frozen=True)
class Wanted:
    """What we asked for: an order found under our client_order_id must be exactly this to be ours."""

    symbol: str
    side: str
    quantity: Decimal

    def describe(self) -> str:
        return f"{self.side} {self.quantity.normalize():f} {self.symbol}"


class AlpacaBroker:
    """Market orders through TradingClient; `account()` is Alpaca's cash and positions (the truth for reconciling)."""

    name = "alpaca"
    execution_note = "market orders fill at Alpaca's own prices (partial fills possible); Alpaca charges no commission"

    def __init__(self, client: TradingClient, *, order_timeout: float = 30.0, poll_interval: float = 0.5,
                 submit_attempts: int = 3, retry: Backoff | None = None, key_env: str = "APCA_API_KEY_ID",
                 journal: OrderJournal | None = None, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.order_timeout = order_timeout
        self.poll_interval = poll_interval
        self.submit_attempts = max(1, submit_attempts)
        self.retry = retry or Backoff(base=poll_interval)
        self.key_env = key_env
        self.journal = journal
        self._monotonic = monotonic
        self._sleep = sleep

    # -- account ---------------------------------------------------------------------------------------------
    def account(self) -> BrokerAccount:
        """Alpaca's cash and positions (short positions negative); transient failures are retried with backoff."""
        try:
            account = with_retries(self.client.get_account, self.retry, self._sleep)
            positions = with_retries(self.client.get_all_positions, self.retry, self._sleep)
        except APIError as exc:
            if is_transient(exc):
                raise BrokerError(f"cannot reach Alpaca to read the account after {self.retry.attempts} tries "
                                  f"({describe_api_error(exc)})") from None
            raise BrokerError(f"cannot read the Alpaca account ({describe_api_error(exc)}){self._key_hint(exc)}") from None
        except Exception as exc:
            raise BrokerError(f"cannot reach Alpaca to read the account after {self.retry.attempts} tries "
                              f"({describe_api_error(exc)})") from None
        holdings: dict[str, Decimal] = {}
        prices: dict[str, Decimal] = {}
        for position in positions:  # type: ignore[union-attr]
            qty = _decimal(position.qty)
            holdings[position.symbol] = -abs(qty) if _value(position.side) == "short" else qty
            if _decimal(getattr(position, "current_price", None)) > 0:
                prices[position.symbol] = _decimal(position.current_price)
        return BrokerAccount(_decimal(account.cash), {s: q for s, q in holdings.items() if q}, prices)  # type: ignore[union-attr]

    def open_orders(self) -> list[Any]:
        """Every order still open at Alpaca (with retries)."""
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        try:
            return list(with_retries(lambda: self.client.get_orders(request), self.retry, self._sleep))
        except Exception as exc:
            raise BrokerError(f"cannot list the open orders at Alpaca ({describe_api_error(exc)})") from None

    def _key_hint(self, exc: APIError) -> str:
        return f"; check the key in {self.key_env}" if exc.status_code in (401, 403) else ""

    # -- orders ----------------------------------------------------------------------------------------------
    def execute(self, order: OrderContext, client_order_id: str, deadline: float | None = None) -> Fill:
        if not order.market_open:
            raise BrokerError("the market is closed; market orders are sent only in market hours")
        quantity = self._checked_quantity(order)
        if deadline is not None and self._monotonic() >= deadline:
            raise BrokerError("the session's time limit is reached; the order was not sent")
        coid = alpaca_client_order_id(client_order_id)
        want = Wanted(order.symbol, order.side, quantity)
        sent_before = self.journal is not None and self.journal.was_sent(client_order_id)
        sending_at = datetime.now(UTC)
        if self.journal is not None and not sent_before:  # before it leaves: a crash from here on is found later
            self.journal.sent(SentOrder(client_order_id, coid, client_order_id.rsplit("#", 1)[0], order.side,
                                        order.symbol, quantity, datetime.now(UTC).isoformat(timespec="seconds")))
        try:
            placed = self._submit(want, coid, unknown_earlier=self.journal is not None and not sent_before,
                                  sending_at=sending_at)
        except ForeignOrder:
            self._final(client_order_id, "not_ours", ZERO)
            raise
        except NotPlaced:
            self._final(client_order_id, "not_placed", ZERO)
            raise
        if isinstance(placed, Fill):
            if placed.status != "unknown":  # an unconfirmed order stays open in the journal, to be followed later
                self._final(client_order_id, placed.status, ZERO)
            return placed
        final, note = self._follow(placed, coid, deadline)
        fill = self._fill(final, want, coid, note)
        if _status(final) in TERMINAL:
            self._final(client_order_id, _status(final), fill.quantity)
        return fill

    def follow_up(self, sent: SentOrder) -> Fill | None:
        """An order an earlier process sent (from the journal): find it, check it is ours, follow it to a final
        state (canceling it at the order timeout) and say what filled. None when it never reached Alpaca or the
        id belongs to another order."""
        want = Wanted(sent.symbol, sent.side, sent.quantity)
        found = self._lookup(sent.broker_order_id)
        if found is None:
            self._final(sent.client_order_id, "not_placed", ZERO)
            return None
        try:
            self._ours(found, want, sent.broker_order_id)
        except ForeignOrder:
            self._final(sent.client_order_id, "not_ours", ZERO)
            return None
        final, note = self._follow(found, sent.broker_order_id, None)
        fill = self._fill(final, want, sent.broker_order_id, note)
        if _status(final) in TERMINAL:
            self._final(sent.client_order_id, _status(final), fill.quantity)
        return fill

    def _final(self, client_order_id: str, status: str, filled: Decimal) -> None:
        if self.journal is not None:
            self.journal.final(client_order_id, status, filled)

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

    def _submit(self, want: Wanted, coid: str, unknown_earlier: bool = False,
                sending_at: datetime | None = None) -> Any:
        """Send, resending after failures with the same id; returns our order at Alpaca, or a Fill when refused.

        After any failure the order is looked up by client_order_id first: if it arrived (a lost answer, a 5xx after
        creation, an unreadable answer) it is followed, never sent twice. `unknown_earlier`: our journal never sent
        this id, so an order Alpaca already holds under it at the first try, created well before this send, came
        from a process without a journal; its fill is in the positions reconciled at session start, so it is
        reported, not booked again. One created by this very send (Alpaca answered "client_order_id must be
        unique" to a request it had carried out: alpaca-py's own retry of a 504, a proxy's replay) is followed and
        booked like any order of ours.
        """
        request = MarketOrderRequest(symbol=want.symbol, qty=float(want.quantity),
                                     side=OrderSide.BUY if want.side == "buy" else OrderSide.SELL,
                                     time_in_force=TimeInForce.DAY, client_order_id=coid)
        failures: list[BaseException] = []
        confirmed_absent = False
        for attempt in range(self.submit_attempts):
            try:
                return self._ours(self.client.submit_order(request), want, coid)
            except ForeignOrder:
                raise
            except APIError as exc:
                if exc.status_code == 401:
                    raise BrokerError(f"Alpaca refused the API key (HTTP 401){self._key_hint(exc)}") from None
                failure: BaseException = exc
            except Exception as exc:  # network, timeout, an unreadable answer: the order may have arrived
                failure = exc
            failures.append(failure)
            found, reached = self._lookup_quietly(coid)
            if found is not None and attempt == 0 and unknown_earlier and isinstance(failure, APIError) \
                    and failure.status_code == 422 and _created_before(found, sending_at):
                self._ours(found, want, coid)
                return Fill("already_sent", ZERO, ZERO, ZERO, order_id=str(found.id), message=(
                    f"order {coid} had already been sent before a restart (Alpaca: {_status(found)}, "
                    f"{_decimal(found.filled_qty)} filled); its effect is in the positions reconciled at session "
                    "start, so it was not sent again"))
            if found is not None:
                return self._ours(found, want, coid)
            confirmed_absent = reached
            if isinstance(failure, APIError) and not is_transient(failure):
                return Fill("rejected", ZERO, ZERO, ZERO, message=f"Alpaca refused the order: {describe_api_error(failure)}")
            if attempt + 1 < self.submit_attempts:
                self._sleep(self.retry.wait(attempt))
        last = describe_api_error(failures[-1])
        if all(_never_sent(f) for f in failures):
            raise NotPlaced(f"could not reach Alpaca to send order {coid} ({last}); it was not placed")
        if confirmed_absent:
            raise NotPlaced(f"Alpaca failed {len(failures)} times ({last}) and holds no order {coid}; it was not placed")
        return Fill("unknown", ZERO, ZERO, ZERO, message=(
            f"Alpaca did not confirm order {coid} ({last}); it may have arrived: it is looked up again at the next "
            "session start and booked with its real fill; do not send it again"))

    def _ours(self, order: Any, want: Wanted, coid: str) -> Any:
        """The order under our client_order_id, if it is the one we sent (symbol, side, quantity); else an error."""
        got = Wanted(str(getattr(order, "symbol", "")), _value(getattr(order, "side", "")),
                     _decimal(getattr(order, "qty", None)))
        if got != want:
            raise ForeignOrder(
                f"client_order_id {coid} is taken at Alpaca by another order ({got.describe()}, "
                f"{_status(order) or 'unknown status'}), not the {want.describe()} sent now; it is not ours, so "
                "nothing was booked and nothing was sent")
        return order

    def _lookup(self, coid: str) -> Any | None:
        """GET /v2/orders:by_client_order_id (with retries): Alpaca's order under our id, None if there is none."""
        try:
            return with_retries(lambda: self.client.get_order_by_client_id(coid), self.retry, self._sleep)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise BrokerError(f"cannot look up order {coid} at Alpaca ({describe_api_error(exc)})") from None
        except Exception as exc:
            raise BrokerError(f"cannot reach Alpaca to look up order {coid} ({describe_api_error(exc)})") from None

    def _lookup_quietly(self, coid: str) -> tuple[Any | None, bool]:
        """One look-up after a failure: (the order or None, whether Alpaca answered)."""
        try:
            return self.client.get_order_by_client_id(coid), True
        except APIError as exc:
            return None, exc.status_code == 404
        except Exception:
            return None, False

    def _refresh(self, order: Any) -> Any:
        try:
            return self.client.get_order_by_id(order.id)
        except Exception:
            return order  # a transient failure or an unreadable answer: keep the last known state, poll again

    def _follow(self, order: Any, coid: str, deadline: float | None) -> tuple[Any, str]:
        """Poll until a final state; at the order timeout or the session's deadline cancel, then follow the cancel
        (bounded) and, if the polls never said, look the order up by client_order_id before giving up."""
        limit = self._monotonic() + self.order_timeout
        cut_by_session = deadline is not None and deadline < limit
        if cut_by_session:
            limit = deadline  # type: ignore[assignment]
        while _status(order) not in TERMINAL and self._monotonic() < limit:
            self._sleep(max(0.0, min(self.poll_interval, limit - self._monotonic())))
            order = self._refresh(order)
        if _status(order) in TERMINAL:
            return order, ""
        try:
            self.client.cancel_order_by_id(order.id)
        except Exception:
            pass  # filled meanwhile (not cancelable) or a network error: the polls below tell which
        why = "the session's time limit" if cut_by_session else f"the {self.order_timeout:g} s order timeout"
        note = f"the rest was canceled at {why}"
        settle = self._monotonic() + max(self.poll_interval * 5, min(self.order_timeout, 5.0))
        order = self._refresh(order)
        while _status(order) not in TERMINAL and self._monotonic() < settle:
            self._sleep(self.poll_interval)
            order = self._refresh(order)
        if _status(order) not in TERMINAL:
            found, _reached = self._lookup_quietly(coid)
            if found is not None and str(found.id) == str(order.id):
                order = found
        if _status(order) not in TERMINAL:
            note = (f"Alpaca has not confirmed a final state after the cancel at {why}; what fills later is booked "
                    "at the next session start")
        return order, note

    def _fill(self, order: Any, want: Wanted, coid: str, note: str) -> Fill:
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
        if status not in TERMINAL and filled <= 0:
            return Fill("unknown", ZERO, ZERO, ZERO, order_id=str(order.id), message=(
                f"order {coid} is still {status or 'unconfirmed'} at Alpaca; {message}; do not send it again"))
        if 0 < filled < want.quantity and status in ("filled", "partially_filled"):
            status = "partially_filled"
        return Fill(status, filled, price, ZERO, order_id=str(order.id), message=message)


class ForeignOrder(BrokerError):
    """Our client_order_id is taken at Alpaca by an order that is not the one we sent."""


class NotPlaced(BrokerError):
    """The order certainly did not reach Alpaca."""


def trading_client(key: str, secret: str, *, paper: bool, url: str | None, http_timeout: float) -> TradingClient:
    """A TradingClient with a request timeout; `url` overrides the base URL (a proxy, or a fake server in tests)."""
    client = TradingClient(key, secret, paper=paper, url_override=url)
    configure_client(client, http_timeout)
    return client
