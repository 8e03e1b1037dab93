"""`main.py audit`: a look-ahead audit of a config's data and news and of a finished run, in the spirit of freqtrade's
lookahead analysis. Nothing here trusts the code that made the run: every check recomputes from the data.

- prices: gaps (a member without a bar on a session inside the data), bars the loader refuses (duplicates, bad
  values), split-sized jumps (an open about 2x, 3x, 1/2... the previous close: an unadjusted split), and the decision
  time on each run day that the data cannot price (the session would see the market only as of an earlier instant);
- news: the news lint (`agent_tools/news_lint.py`), each finding an error naming file and line;
- a run (`--out`): every fill in every ledger equals the price visible at its instant plus the configured slippage,
  and no tool result in the session logs holds a value from after its session's instant.

One line per finding; the caller exits 1 on any finding, 0 with a summary when clean.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent_tools.fills import build_fill_model
from agent_tools.ledger import record_time
from agent_tools.market_calendar import MARKET_TZ, MarketCalendar, at_market_time
from agent_tools.market_data import MarketData, MarketDataError
from agent_tools.news import LocalNewsSource, NewsError, parse_stamp
from agent_tools.news_lint import lint_items
from agent_tools.point_in_time import MarketView, ViewError, information_instant
from arena.config import ArenaConfig
from arena.desk_factory import load_market_data_for

SPLIT_RATIOS = (2, 3, 4, 5, 10, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 10, 3 / 2, 2 / 3)
SPLIT_TOLERANCE = 0.02


@dataclass
class AuditResult:
    findings: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def add(self, line: str) -> None:
        self.findings.append(line)

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def summary(self) -> str:
        done = ", ".join(f"{n} {what}" for what, n in self.checked.items())
        return f"audit clean: {done}" if not self.findings else f"{len(self.findings)} finding(s); checked {done}"


def audit(config: ArenaConfig, run_dir: Path | None = None) -> AuditResult:
    result = AuditResult()
    calendar = MarketCalendar()
    if run_dir is not None:
        config = config_of_run(config, Path(run_dir))
    try:
        data = load_market_data_for(config, calendar)
    except MarketDataError as exc:
        result.add(str(exc))
        data = None
    if data is not None:
        audit_prices(data, calendar, result)
        audit_decision_times(config, data, calendar, result)
    audit_news(config, calendar, result)
    if run_dir is not None and data is not None:
        audit_run(config, data, calendar, Path(run_dir), result)
    return result


def config_of_run(config: ArenaConfig, run_dir: Path) -> ArenaConfig:
    """The data, news, execution and decision time a run used (its run_config.json), on top of `config`."""
    try:
        used = json.loads((run_dir / "run_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return config
    raw = config.model_dump(mode="json", by_alias=True)
    for key in ("data", "news", "execution"):
        if isinstance(used.get(key), dict):
            raw[key] = used[key]
    if isinstance(used.get("run"), dict) and used["run"].get("decision_time"):
        raw["run"]["decision_time"] = used["run"]["decision_time"]
    if isinstance(used.get("run"), dict) and used["run"].get("decision_times"):
        raw["run"]["decision_times"] = used["run"]["decision_times"]
    return ArenaConfig.model_validate(raw)


# -- prices --------------------------------------------------------------------------------------------------------
def _ranges(days: list[date]) -> Iterator[tuple[date, date, int]]:
    """Runs of consecutive items of an ordered list of sessions, as (first, last, count)."""
    start = prev = None
    count = 0
    for day in days:
        if start is None:
            start, count = day, 1
        elif day != prev:
            yield start, prev, count  # type: ignore[misc]
            start, count = day, 1
        prev = day
    if start is not None:
        yield start, prev, count  # type: ignore[misc]


def _span(first: date, last: date, count: int) -> str:
    return f"{first}" if count == 1 else f"{first}..{last} ({count} sessions)"


def audit_prices(data: MarketData, calendar: MarketCalendar, result: AuditResult) -> None:
    sessions = calendar.trading_days(data.first_day, data.last_day)
    members = data.members
    for symbol, series in data.daily.items():
        have = set(series.days)
        member = members.member(symbol) if members else None
        missing = [d for d in sessions if d not in have and (member is None or member.active(d))
                   and series.days[0] <= d]
        # group consecutive missing sessions (consecutive in the calendar, not in dates)
        index = {d: i for i, d in enumerate(sessions)}
        groups: list[list[date]] = []
        for day in missing:
            if groups and index[day] == index[groups[-1][-1]] + 1:
                groups[-1].append(day)
            else:
                groups.append([day])
        for group in groups:
            result.add(f"{data.daily_path}: {symbol} has no daily bar on {_span(group[0], group[-1], len(group))}, "
                       "a session inside the data: fetch it (main.py data fetch) or remove the symbol")
        for prev, bar in zip(series.bars, series.bars[1:], strict=False):
            ratio = bar.open / prev.close
            split = next((r for r in SPLIT_RATIOS if abs(ratio / r - 1) <= SPLIT_TOLERANCE), None)
            if split is not None:
                result.add(f"{data.daily_path}: {symbol} opens {bar.day} at {bar.open:g} after a close of "
                           f"{prev.close:g} on {prev.day} (x{ratio:.2f}): a split-sized jump, the prices look "
                           "unadjusted; use split-adjusted data (main.py data fetch adjusts as of its end date)")
        result.count("daily bars", len(series.bars))
        result.count("of them built from hourly bars", sum(b.from_hourly for b in series.bars))
    if data.hourly:
        labels_by_day: dict[date, set[datetime]] = {}
        for series in data.hourly.values():
            for bar in series.bars:
                labels_by_day.setdefault(bar.day, set()).add(bar.start)
        for symbol, series in data.hourly.items():
            have = {b.start for b in series.bars}
            missing = sorted(t for labels in labels_by_day.values() for t in labels if t not in have)
            if missing:
                shown = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in missing[:3])
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                result.add(f"{data.hourly_path}: {symbol} has no intraday bar at {shown}{more} where other symbols "
                           "have one: it cannot be traded at those times")
            result.count("intraday bars", len(series.bars))


def decision_shortfalls(data: MarketData, calendar: MarketCalendar, days: list[date],
                        decision: time) -> list[tuple[date, datetime]]:
    """(day, instant seen) for the days whose decision time the data cannot price."""
    short = []
    for day in days:
        instant = at_market_time(day, decision)
        session = calendar.session_on(day)
        if session is not None and session.contains(instant):
            seen = information_instant(data, calendar, instant)
            if seen != instant:
                short.append((day, seen))
    return short


def audit_decision_times(config: ArenaConfig, data: MarketData, calendar: MarketCalendar, result: AuditResult) -> None:
    """Run days whose decision time the data cannot price: the session would trade at, and read news up to, an
    earlier instant (the open, with daily bars only)."""
    days = [d for d in calendar.trading_days(config.run.start, config.run.end) if data.first_day <= d <= data.last_day]
    result.count("decision times", len(days) * len(config.run.times))
    for decision in config.run.times:
        _audit_decision_time(decision, data, calendar, days, result)


def _audit_decision_time(decision: time, data: MarketData, calendar: MarketCalendar, days: list[date],
                         result: AuditResult) -> None:
    short = decision_shortfalls(data, calendar, days, decision)
    index = {d: i for i, d in enumerate(days)}
    groups: list[list[tuple[date, datetime]]] = []
    for item in short:
        if groups and index[item[0]] == index[groups[-1][-1][0]] + 1 and item[1].time() == groups[-1][-1][1].time():
            groups[-1].append(item)
        else:
            groups.append([item])
    for group in groups:
        first, last = group[0][0], group[-1][0]
        seen_at = group[0][1]
        timeframe = "minute" if decision.minute not in (0, 30) else "hour"
        result.add(f"run.decision_time {decision:%H:%M} on {_span(first, last, len(group))}: the data has no price "
                   f"between {seen_at:%H:%M} and {decision:%H:%M}, so those sessions trade at and read news up to "
                   f"{seen_at:%H:%M}; fetch intraday bars (main.py data fetch --start {first} --end {last} "
                   f"--timeframe {timeframe}) or set run.decision_time to {seen_at:%H:%M}")


# -- news ----------------------------------------------------------------------------------------------------------
def audit_news(config: ArenaConfig, calendar: MarketCalendar, result: AuditResult) -> None:
    if config.news.source != "local":
        return
    try:
        source = LocalNewsSource(config.path(config.news.path))
    except NewsError as exc:
        result.add(str(exc))
        return
    for finding in lint_items(source.items, source.path, calendar):
        result.add(str(finding))
    result.count("news items", len(source.items))


# -- a finished run -------------------------------------------------------------------------------------------------
def _views(data: MarketData, calendar: MarketCalendar) -> Any:
    cache: dict[datetime, MarketView] = {}

    def at(instant: datetime) -> MarketView:
        if instant not in cache:
            cache[instant] = MarketView(data, instant, calendar)
        return cache[instant]
    return at


def audit_run(config: ArenaConfig, data: MarketData, calendar: MarketCalendar, run_dir: Path,
              result: AuditResult) -> None:
    from arena.blind import blind_market_data
    from arena.blind_map import read_map

    blind = read_map(run_dir)
    if blind is not None:
        data = blind_market_data(data, blind)
    view_at = _views(data, calendar)
    fill = build_fill_model(config.execution.slippage_bps)
    ledgers = sorted(p for p in run_dir.rglob("position/position.jsonl") if "dry-run" not in p.parts)
    if not ledgers:
        result.add(f"{run_dir}: no ledger found (expected <signature>/position/position.jsonl)")
        return
    for ledger in ledgers:
        audit_fills(ledger, data, view_at, fill, result)
        for log in sorted((ledger.parent.parent / "log").glob("*/log.jsonl")):
            audit_log(log, data, view_at, result)


def _in_data(data: MarketData, moment: datetime) -> bool:
    return data.first_day <= moment.date() <= data.last_day


def audit_fills(ledger: Path, data: MarketData, view_at: Any, fill: Any, result: AuditResult) -> None:
    for number, line in enumerate(ledger.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            result.add(f"{ledger}:{number}: not valid JSON (a torn line? main.py repair-ledger)")
            continue
        action = record.get("this_action") or {}
        side, symbol = action.get("action"), action.get("symbol")
        if side not in ("buy", "sell") or record.get("price") is None:
            continue
        moment = _time(record.get("time"))
        if moment is None or not _in_data(data, moment):
            result.count("fills not checked (no time, or outside the data)")
            continue
        try:
            quote = view_at(moment).quote(symbol)
        except ViewError as exc:
            result.add(f"{ledger}:{number}: {side} {symbol} at {moment.isoformat()} has no visible price ({exc})")
            continue
        expected = float(fill.fill_price(side, Decimal(str(quote.price))))
        if abs(float(record["price"]) - expected) > 1e-9:
            result.add(f"{ledger}:{number}: {side} {symbol} filled at {record['price']} at {moment.isoformat()}, "
                       f"but the price visible then was {quote.price} ({quote.basis}), {expected} with slippage")
        result.count("fills")


def _time(value: Any) -> datetime | None:
    moment = record_time(value)
    return moment.astimezone(MARKET_TZ) if moment else None


def audit_log(log: Path, data: MarketData, view_at: Any, result: AuditResult) -> None:
    """Tool results of one session log: no price, bar or news item from after the session's instant."""
    instant: datetime | None = None
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") == "session_start":
            instant = _time(event.get("trigger_time")) or _instant_of(event.get("session_id"))
            continue
        if event.get("type") != "tool" or event.get("is_error") or instant is None or not _in_data(data, instant):
            continue
        try:
            payload = json.loads(event.get("result") or "")
        except ValueError:
            continue
        if not isinstance(payload, dict):
            continue
        view = view_at(instant)
        for problem in _leaks(event.get("name"), payload, view, data):
            result.add(f"{log}:{number}: {event.get('name')}: {problem}")
        result.count("tool results")


def _instant_of(session_id: Any) -> datetime | None:
    return _time(session_id.split("@", 1)[1]) if isinstance(session_id, str) and "@" in session_id else None


def _leaks(name: str | None, payload: dict, view: MarketView, data: MarketData) -> Iterator[str]:
    seen = view.instant
    if name == "get_price":
        for symbol, row in (payload.get("prices") or {}).items():
            as_of = _time(row.get("as_of"))
            if as_of is not None and as_of > seen:
                yield f"{symbol} price as of {as_of.isoformat()}, after the session's instant {seen.isoformat()}"
                continue
            try:
                expected = view.quote(symbol).price
            except ViewError:
                yield f"{symbol} shown at {row.get('price')} but no price was visible at {seen.isoformat()}"
                continue
            if row.get("price") != expected:
                yield f"{symbol} shown at {row.get('price')}, but the price visible at {seen.isoformat()} was {expected}"
    elif name == "get_history":
        session = view.session
        for row in payload.get("bars") or []:
            day = date.fromisoformat(str(row.get("date")))
            if day > seen.date():
                yield f"{payload.get('symbol')} bar of {day}, after the session's day {seen.date()}"
            elif day == seen.date() and session is not None and seen < session.close and (
                    {"high", "low", "close", "volume"} & set(row)):
                yield f"{payload.get('symbol')} {day} shows {sorted({'high', 'low', 'close', 'volume'} & set(row))} " \
                      f"before that session closed"
    elif name == "search_news":
        for item in payload.get("items") or []:
            for key in ("published_at", "updated_at"):
                stamp = parse_stamp(item.get(key)) if item.get(key) else None
                if stamp is not None and stamp.moment > seen:
                    yield f"'{str(item.get('title'))[:60]}' has {key} {item.get(key)}, after {seen.isoformat()}"
