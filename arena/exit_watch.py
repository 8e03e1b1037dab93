"""Exit rules in a replay: checked on every intraday bar of every position with levels, without a model.

At each price point of the day, in time order: a bar that ended then is checked inside (a level crossed fills at
the level, stamped at the bar's end, the instant the data shows it), and a bar that opens then is checked at its
open (a gap through the level fills at that open). Days without intraday bars use the daily bar: its open at the
open, its range at the close. The sell pays slippage and fees as any order and is a ledger record with
`this_action.action: "sell"` and `trigger: stop_loss | take_profit | trailing_stop`; it has a line of its own in
`sessions.jsonl` (`kind: "exit"`, no tokens).

Exactly once: the exit's order id is `<signature>@<instant>#exit:<symbol>`; a rerun finds it in the ledger and
books nothing twice (and writes its sessions.jsonl line if a crash came between the two).
"""

from __future__ import annotations

import bisect
from datetime import date, datetime
from decimal import Decimal

from agent_tools.exits import ExitBook, ExitHit, ExitLevels, check_bar
from agent_tools.fills import FeeModel, FillModel, build_fee_model, build_fill_model
from agent_tools.ledger import LedgerState, PositionLedger, record_time
from agent_tools.market_calendar import MARKET_TZ, TradingSession
from agent_tools.market_data import Bar, MarketData
from agent_tools.order_desk import fill_record
from arena.config import ArenaConfig, ModelSettings
from arena.desk_factory import exit_defaults
from arena.session_log import append_session_record, read_session_records

EXIT_MODEL = "exit rules"


def exit_id(signature: str, instant: datetime, symbol: str) -> str:
    return f"{signature}@{instant.isoformat(timespec='minutes')}#exit:{symbol}"


def exit_session_line(session_id: str, signature: str, day: date, at: datetime, mode: str, rule: str, symbol: str,
                      price: object, level: object) -> dict:
    """The sessions.jsonl line of an exit sold without the model (replay or live): one trade, no tokens, no cost."""
    return {"session_id": session_id, "signature": signature, "date": day.isoformat(), "trigger_time": at.isoformat(),
            "mode": mode, "model": EXIT_MODEL, "baseline": False, "kind": "exit", "trigger": rule,
            "status": "finished", "steps": 0, "tool_calls": 0, "trades": 1, "rejections": 0, "prompt_tokens": 0,
            "completion_tokens": 0, "cached_tokens": 0, "cost": 0.0, "symbol": symbol, "price": price,
            "level": level}


def _day_bars(series, day: date) -> list[Bar]:
    if series is None:
        return []
    lo, hi = series.day_range(day)
    return series.bars[lo:hi]


class ReplayExits:
    """One model's exit rules over one replay."""

    def __init__(self, config: ArenaConfig, model: ModelSettings, data: MarketData, out_dir,
                 recorded: dict[str, dict] | None = None):
        """`recorded`: the model's sessions.jsonl lines by session id, if the caller has read them already."""
        self.signature = model.signature
        self.model_dir = out_dir / model.signature
        self.data = data
        self.book = ExitBook(self.model_dir, exit_defaults(config, model.signature))
        ex = config.execution
        self.fill: FillModel = build_fill_model(ex.slippage_bps)
        self.fee: FeeModel = build_fee_model(ex.fee_model, ex.per_share, ex.fee_minimum, ex.fee_bps)
        self.entries: dict[str, datetime] | None = None  # when each held position was opened (trailing stops)
        self.seen: dict[str, object] = {}
        self._intraday_days: dict[str, set[date]] = {}  # per symbol: the days its trailing-stop peak reads hourly
        lines = recorded.values() if recorded is not None else read_session_records(self.model_dir)
        self.logged = {r["session_id"] for r in lines if r.get("kind") == "exit"}
        self.booked: list[dict] = []

    @property
    def active(self) -> bool:
        """Any exit rule at all: config defaults or a level set by the model."""
        return self.book.defaults.any or self.book.path.exists()

    # -- entries and peaks (trailing stops) ------------------------------------------------------------------------
    def _entries(self, ledger: PositionLedger) -> dict[str, datetime]:
        if self.entries is None:
            self.entries, held = {}, {}
            for record, _state in ledger.replay():
                moment = record_time(record.get("time"))
                for symbol, qty in (record.get("positions") or {}).items():
                    if symbol == "CASH":
                        continue
                    if qty and not held.get(symbol) and moment is not None:
                        self.entries[symbol] = moment
                    held[symbol] = qty
        for symbol in list(self.entries):
            if ledger.state.quantity(symbol) <= 0:
                del self.entries[symbol]
        for symbol in ledger.state.holdings:
            self.entries.setdefault(symbol, ledger.state.last_time or datetime.min.replace(tzinfo=MARKET_TZ))
        return self.entries

    def _peak(self, symbol: str, since: datetime, before: datetime) -> Decimal | None:
        """The highest price of completed bars that started at or after `since` and ended by `before` (a daily bar
        only on a day without intraday bars). Read from the bar columns: this runs at every price point of every
        held symbol with a trailing stop, however long ago the position was opened."""
        series = self.data.hourly.get(symbol)
        daily = self.data.daily.get(symbol)
        highs: list[float] = []
        if series is not None:
            highs += series.high[bisect.bisect_left(series.starts, since):bisect.bisect_right(series.ends, before)]
        if daily is not None:
            intraday = self._intraday_days.get(symbol)
            if intraday is None:
                intraday = self._intraday_days[symbol] = set(series.days) if series is not None else set()
            lo, hi = bisect.bisect_left(daily.starts, since), bisect.bisect_right(daily.ends, before)
            highs += (daily.high[i] for i in range(lo, hi) if daily.days[i] not in intraday)
        return Decimal(str(max(highs))) if highs else None

    # -- the check ------------------------------------------------------------------------------------------------
    def at(self, ledger: PositionLedger, session: TradingSession, point: datetime) -> list[dict]:
        """Check every position with levels at `point`; book each exit. Returns the ledger records written."""
        state = ledger.state
        if not state.holdings or not self.active:
            return []
        if state.last_time is not None and state.last_time > point:
            return []  # history past this point is written already (a rerun walking the day again)
        written = []
        costs = state.average_costs()
        for symbol in sorted(state.holdings):
            levels = self.book.levels(symbol, at=point)
            cost = costs.get(symbol)
            if not levels.any or cost is None:
                continue
            hit = self._hit(ledger, session, symbol, levels, cost, point)
            if hit is not None:
                record = self._book(ledger, session, symbol, hit, point)
                if record is not None:
                    written.append(record)
        return written

    def _hit(self, ledger: PositionLedger, session: TradingSession, symbol: str, levels: ExitLevels,
             cost: Decimal, point: datetime) -> ExitHit | None:
        bars = _day_bars(self.data.hourly.get(symbol), session.day)
        checks: list[tuple[Bar, bool]] = []  # (bar, at its open only)
        if bars:
            checks += [(b, False) for b in bars if b.end == point]
            checks += [(b, True) for b in bars if b.start == point]
        daily = _day_bars(self.data.daily.get(symbol), session.day)
        if daily and point == session.open and daily[0].opened == session.open:
            checks.append((daily[0], True))  # the day's first price: the open after the night (a bar built from
            # hourly bars has no 09:30 price: its open is the first hourly bar's, checked at that bar's start)
        if daily and not bars and point == session.close:
            checks.append((daily[0], False))
        for bar, open_only in checks:
            peak = None
            if levels.trailing_stop:
                since = self._entries(ledger).get(symbol, point)
                peak = self._peak(symbol, since, bar.start)
            prices = levels.prices(cost, peak)
            hit = (check_bar(prices, bar.open, bar.open, bar.open) if open_only
                   else check_bar(prices, bar.open, bar.high, bar.low))
            if hit is not None:
                return hit
        return None

    def _book(self, ledger: PositionLedger, session: TradingSession, symbol: str, hit: ExitHit,
              point: datetime) -> dict | None:
        order_id = exit_id(self.signature, point, symbol)
        stamp = point.astimezone(MARKET_TZ).isoformat()
        outcome: dict = {}

        def build(state: LedgerState) -> dict | None:
            if order_id in state.order_fills:
                outcome["recorded"] = state.order_fills[order_id]
                return None
            quantity = state.quantity(symbol)
            if quantity <= 0 or (state.last_time is not None and state.last_time > point):
                return None
            price = self.fill.fill_price("sell", hit.price)
            fee = self.fee.fee(quantity, price)
            how = "gapped through it at the open" if hit.gapped else "crossed it"
            return fill_record(ledger, state, day=session.day.isoformat(), side="sell", symbol=symbol,
                               quantity=quantity, price=price, fee=fee, time=stamp, session_id=order_id,
                               extra={"client_order_id": order_id, "trigger": hit.rule, "level": float(hit.level),
                                      "reason": f"{hit.rule} at {hit.level}: the price {how}"})

        record = ledger.append(build)
        if record is None and "recorded" not in outcome:
            return None
        if order_id not in self.logged:
            first = record or outcome["recorded"][0]
            append_session_record(self.model_dir, exit_session_line(
                order_id, self.signature, session.day, point, "replay", first.get("trigger", hit.rule), symbol,
                first.get("price"), first.get("level")))
            self.logged.add(order_id)
        if record is not None:
            self.booked.append(record)
        return record
