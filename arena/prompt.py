"""The session prompt: a stable prefix (rules, costs, limits) that providers can cache, then today's facts.

Tokens cost money, so the market summary is compact: a few closes for QQQ and the holdings, and the universe's
biggest movers; the model asks the tools for anything else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from agent_tools.context import SessionContext
from agent_tools.ledger import LedgerState
from agent_tools.market_calendar import MARKET_TZ
from agent_tools.point_in_time import PriceView, ViewError
from arena.models.base import FINISH_SIGNAL

STATIC_RULES = """You are a disciplined portfolio manager trading US stocks (the NASDAQ-100 and QQQ) for one account.
You act only through the tools: get_price, get_history, get_portfolio, search_news, buy, sell, set_exit.
Rules of this market:
- You see only what was known at the current time: no later prices, no later news.
- Orders fill at the price get_price shows (it says what time that price is from) plus slippage, and pay a
  commission. News is cut at that same time.
- Long only: no short selling, no margin. Risk limits are checked before every order; a rejected order says
  what would be allowed.
- Think about risk and costs: every trade pays fees; doing nothing is a valid decision.
When you are done for this session, reply with one sentence summarising what you did and why, followed by {finish}.
"""


def system_prompt(ctx: SessionContext, execution_note: str) -> str:
    """Identical for every session of a model (no dates in it), so the provider can cache it."""
    limits = ctx.limits
    lines = [STATIC_RULES.format(finish=FINISH_SIGNAL).strip(), "", f"Costs: {execution_note}.", "Limits:"]
    lines.append(f"- quantities: {'fractional shares allowed (4 decimals)' if limits.fractional else 'whole shares only'}")
    if limits.max_position_weight is not None:
        lines.append(f"- one symbol may be at most {limits.max_position_weight:.0%} of the account after a buy")
    if limits.max_order_value is not None:
        lines.append(f"- one order may be worth at most ${limits.max_order_value:,.0f}")
    if limits.max_trades_per_session is not None:
        lines.append(f"- at most {limits.max_trades_per_session} trades per session")
    if limits.max_drawdown is not None:
        lines.append(f"- beyond a {limits.max_drawdown:.0%} drawdown from peak equity, only sells are accepted")
    return "\n".join(lines)


def _closes(view: PriceView, symbol: str, days: int) -> list[float]:
    try:
        return [b.close for b in view.recent_daily_bars(symbol, days)]
    except ViewError:
        return []


def market_summary(view: PriceView, state: LedgerState, history_days: int, movers: int = 5) -> str:
    """Cash, holdings and a compact market picture at the view's instant."""
    lines: list[str] = []
    total = state.cash
    held_lines = []
    for symbol, qty in sorted(state.holdings.items()):
        try:
            price = Decimal(str(view.quote(symbol).price))
        except ViewError:
            held_lines.append(f"  {symbol}: {qty} (no price now)")
            continue
        value = qty * price
        total += value
        held_lines.append(f"  {symbol}: {qty} x ${price} = ${value:,.2f}")
    lines.append(f"Cash: ${state.cash:,.2f}. Total value: ${total:,.2f}.")
    lines.append("Holdings:" if held_lines else "Holdings: none.")
    lines.extend(held_lines)

    watch = ["QQQ", *sorted(state.holdings)]
    lines.append(f"Recent closes (last {history_days} sessions) and the latest price:")
    for symbol in dict.fromkeys(watch):
        closes = _closes(view, symbol, history_days)
        try:
            quote = view.quote(symbol)
            now = f" | now {quote.price} ({quote.basis})"
        except ViewError:
            now = ""
        if closes:
            lines.append(f"  {symbol}: {' '.join(f'{c:g}' for c in closes)}{now}")

    changes = []
    for symbol in view.universe:
        closes = _closes(view, symbol, history_days + 1)
        if len(closes) >= 2 and closes[0] > 0:
            changes.append((closes[-1] / closes[0] - 1, symbol))
    if changes:
        changes.sort()
        best = ", ".join(f"{s} {c:+.1%}" for c, s in reversed(changes[-movers:]))
        worst = ", ".join(f"{s} {c:+.1%}" for c, s in changes[:movers])
        lines.append(f"Biggest moves over {history_days} sessions: up {best}; down {worst}.")
    return "\n".join(lines)


def information_note(ctx: SessionContext, view: PriceView) -> str:
    """One sentence on the time of the prices and the news cut-off (the same instant in a replay)."""
    seen = view.instant.astimezone(MARKET_TZ)
    if ctx.mode == "live":
        return (f"Prices are the latest known at {seen:%H:%M %Z}, each with its time; news up to "
                f"{min(seen, ctx.instant.astimezone(MARKET_TZ)):%H:%M %Z}.")
    try:
        basis = f" ({view.quote('QQQ').basis})" if "QQQ" in view.universe else ""
    except ViewError:
        basis = ""
    note = f"Prices and news are as of {seen:%H:%M %Z}{basis}"
    if seen < ctx.instant:
        note += f": the data has no later price before {ctx.instant.astimezone(MARKET_TZ):%H:%M}"
    return note + "; orders fill at those prices plus slippage."


LATE_AFTER = timedelta(minutes=1)


def time_line(ctx: SessionContext, clock: datetime) -> str:
    """The session's time. A live session running away from its trigger (a rerun at 15:30 of the 10:00 trigger)
    says both: the trigger it belongs to and the clock that prices and orders follow."""
    trigger = ctx.instant.astimezone(MARKET_TZ)
    now = clock.astimezone(MARKET_TZ)
    if ctx.mode != "live" or abs(now - trigger) < LATE_AFTER:
        return f"Now: {trigger:%A %Y-%m-%d %H:%M %Z} ({ctx.mode} session)."
    minutes = round(abs(now - trigger).total_seconds() / 60)
    gap = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return (f"Now: {now:%A %Y-%m-%d %H:%M %Z} ({ctx.mode} session). This session belongs to the "
            f"{trigger:%H:%M %Z} trigger of {trigger:%Y-%m-%d} but runs {gap} {'after' if now > trigger else 'before'} "
            f"it: prices and orders are as of now ({now:%H:%M}), not {trigger:%H:%M}.")


def opening_messages(ctx: SessionContext, view: PriceView, state: LedgerState, execution_note: str,
                     history_days: int, note: str | None = None) -> list[dict]:
    """`note`: a fact the harness must tell the model first (live: a reconciliation with the broker).

    The clock is the view's instant: the trigger in a replay, the real (or pinned) time in a live session.
    """
    today = (
        f"{time_line(ctx, view.instant)} {information_note(ctx, view)}\n"
        + (f"{note}\n" if note else "")
        + f"{market_summary(view, state, history_days)}\n"
        "Use the tools to research and trade, then finish."
    )
    return [
        {"role": "system", "content": system_prompt(ctx, execution_note)},
        {"role": "user", "content": today},
    ]
