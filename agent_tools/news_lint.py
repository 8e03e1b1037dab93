"""A lint for news corpora: items whose text may hold more than was known at their stamp.

News stamps lie in known ways, and each way leaks the future into a replay:
- `live-page`: "live updates" pages are created the evening before and rewritten through the next session under the
  first stamp. Such an item needs an `updated_at` at or after the close of the session it covers (the version held).
- `weekday-after-stamp`: the text names the next day or the one after ("sell-off in stocks Friday" stamped Thursday).
- `date-after-stamp`: the text (or the URL) names a date later than the stamp ("1 October 2025" stamped 2024-12-11).
- `midnight-utc`: a stamp of exactly 00:00:00 UTC is a date without a time; it is read as one (visible only once that
  New York day has ended), and should be written as a date (`2025-10-03`) or with its real time.
- `outcome-before-event`: a headline reporting a scheduled decision before it was announced (an FOMC decision at
  14:00 ET, stamped that morning).
Forward-looking wording ("before Nov. 4", "week of 6 October", "ahead of Friday's report", "expected to cut") is not
a finding. Findings are warnings when a corpus loads and errors under `main.py audit`; one line each, naming file and
line. The fix is in the corpus: re-date the item to when its final text could exist, or drop it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from agent_tools.market_calendar import MARKET_TZ, MarketCalendar
from agent_tools.news import NewsItem

LIVE_URL = re.compile(r"live-updates?|live-coverage|live-blog|liveblog|/live/|stock-market-today|markets-live", re.I)
LIVE_TITLE = re.compile(r"live updates?|live coverage|live blog|as it happened|stock market today\b|markets live", re.I)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.I)
# Words before a date or weekday that make it a reference to the future rather than a report of it: strong cues
# within a few words ("expected to cut rates on Wednesday"), weak ones right before it ("by Nov. 4").
FORWARD = re.compile(
    r"(\b(before|ahead of|until|till|week of|next|due|scheduled|expected|preview|outlook|awaits?|awaiting|"
    r"heading into|looking to|will|could|may|likely|set to|set for)\s+(\S+\s+){0,4}|\b(by|through|on or before)\s+)$",
    re.I,
)
MONTHS = {m: i for i, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), start=1) for m in names}
MONTH = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|" \
        r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + MONTH + r"\.?,?\s+(\d{4})\b")
MONTH_DAY_YEAR = re.compile(r"\b" + MONTH + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?")
MONTH_YEAR = re.compile(r"\b" + MONTH + r"\.?,?\s+(\d{4})\b")
ISO_DATE = re.compile(r"\b(20\d{2})[-/](\d{2})[-/](\d{2})\b")
# Scheduled FOMC decisions (statement at 14:00 New York time), from the Federal Reserve's meeting calendars
# (https://www.federalreserve.gov/monetarypolicy/fomccalendars.htm).
FOMC_DECISIONS = tuple(date.fromisoformat(d) for d in (
    "2024-01-31", "2024-03-20", "2024-05-01", "2024-06-12", "2024-07-31", "2024-09-18", "2024-11-07", "2024-12-18",
    "2025-01-29", "2025-03-19", "2025-05-07", "2025-06-18", "2025-07-30", "2025-09-17", "2025-10-29", "2025-12-10",
    "2026-01-28", "2026-03-18", "2026-04-29", "2026-06-17", "2026-07-29", "2026-09-16", "2026-10-28", "2026-12-09",
))
FOMC_OUTCOME = re.compile(
    r"\b(Fed|FOMC|Federal Reserve|Powell)\b([^.;:]{0,40}?)\b(cuts?|lowers|lowered|raises|raised|hikes|hiked|holds|"
    r"held|keeps|kept|leaves|left|trims|trimmed|slashes|slashed)\b[^.;:]{0,30}?\brates?\b",
    re.I,
)
# Between "Fed" and the verb: wording that makes it a forecast or a past decision, not this meeting's outcome.
FOMC_NOT_OUTCOME = re.compile(r"\b(expected|likely|poised|set to|will|could|may|seen|bets?|odds|ahead|preview|to|"
                              r"recently|previously|already|last|earlier)\b", re.I)


@dataclass(frozen=True)
class LintFinding:
    path: Path
    line: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.rule}: {self.message}"


def _text(item: NewsItem) -> str:
    return f"{item.title}. {item.summary}"


def _forward(text: str, start: int) -> bool:
    return bool(FORWARD.search(text[max(0, start - 40):start]))


def _reference(item: NewsItem) -> tuple[datetime, date]:
    """The instant the item becomes visible and the New York date its stamp names."""
    assert item.visible_from is not None
    stamp = item.updated if item.updated is not None and item.updated.moment >= item.visible_from else item.published
    assert stamp is not None
    return item.visible_from.astimezone(MARKET_TZ), stamp.day


def covered_session_close(moment: datetime, calendar: MarketCalendar) -> datetime | None:
    """The close of the first NYSE session that ends at or after `moment`: the session a live page covers."""
    day = moment.astimezone(MARKET_TZ).date()
    for offset in range(0, 10):
        session = calendar.session_on(day + timedelta(days=offset))
        if session is not None and session.close >= moment:
            return session.close
    return None


def _dates_in(text: str, year: int) -> list[tuple[int, date]]:
    """(position, date) for every full date in the text; a month-and-day without a year takes the stamp's year."""
    found: list[tuple[int, date]] = []

    def add(pos: int, y: int, m: int, d: int) -> None:
        try:
            found.append((pos, date(y, m, d)))
        except ValueError:
            pass

    spans: list[tuple[int, int]] = []
    for match in DAY_MONTH_YEAR.finditer(text):
        add(match.start(), int(match.group(3)), MONTHS[match.group(2).lower()[:3]], int(match.group(1)))
        spans.append(match.span())
    for match in MONTH_DAY_YEAR.finditer(text):
        if any(a <= match.start() < b for a, b in spans) or int(match.group(2)) > 31:
            continue
        add(match.start(), int(match.group(3) or year), MONTHS[match.group(1).lower()[:3]], int(match.group(2)))
        spans.append(match.span())
    for match in MONTH_YEAR.finditer(text):
        if not any(a <= match.start() < b for a, b in spans):
            add(match.start(), int(match.group(2)), MONTHS[match.group(1).lower()[:3]], 1)
    for match in ISO_DATE.finditer(text):
        add(match.start(), int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return found


def lint_item(item: NewsItem, path: Path, calendar: MarketCalendar) -> list[LintFinding]:
    """Every way this item's text may be from after the moment it becomes visible."""
    if item.visible_from is None:
        return []  # unusable items are never shown; nothing to leak
    out: list[LintFinding] = []

    def finding(rule: str, message: str) -> None:
        out.append(LintFinding(path, item.line, rule, message))

    visible_at, stamp_day = _reference(item)
    shown = f"{visible_at:%Y-%m-%d %H:%M %Z}"
    title = item.title if len(item.title) <= 70 else item.title[:69] + "…"

    if item.published is not None and item.published.midnight_utc and item.updated is None:
        finding("midnight-utc", f"stamped {item.raw_published} (exactly midnight UTC), read as the date "
                f"{stamp_day} without a time (visible from {shown}); write the date alone or the real time")

    if LIVE_URL.search(item.url) or LIVE_TITLE.search(item.title):
        close = covered_session_close(item.published_at or visible_at, calendar)
        if close is not None and (item.updated is None or item.updated.moment < close):
            finding("live-page", f"'{title}' is a live-coverage page (rewritten after it was stamped) visible from "
                    f"{shown}; its final text exists after the close of {close:%Y-%m-%d}: give 'updated_at' (the "
                    "version held) at or after that close, or drop it")

    text = _text(item)
    for match in WEEKDAY.finditer(text):
        named = WEEKDAYS.index(match.group(1).lower())
        ahead = (named - visible_at.weekday()) % 7
        if ahead in (1, 2) and not _forward(text, match.start()):
            finding("weekday-after-stamp", f"'{title}' names {match.group(1)} but is visible from {shown}, a "
                    f"{visible_at:%A}: re-date it to when its text could exist, or drop it")
            break

    url_dates = [(-1, d) for _, d in _dates_in(item.url.replace("/", "-"), stamp_day.year)]
    for pos, named_day in [*_dates_in(text, stamp_day.year), *url_dates]:
        if named_day > stamp_day and (pos < 0 or not _forward(text, pos)):
            where = "URL" if pos < 0 else "text"
            finding("date-after-stamp", f"'{title}': its {where} names {named_day}, after its stamp {stamp_day}: "
                    "re-date it to when its text could exist, or drop it")
            break

    match = FOMC_OUTCOME.search(text)
    if match and not FOMC_NOT_OUTCOME.search(match.group(2)):
        for decision in FOMC_DECISIONS:
            announced = datetime.combine(decision, time(14, 0), tzinfo=MARKET_TZ)
            if announced - timedelta(days=7) <= visible_at < announced:
                finding("outcome-before-event", f"'{title}' reports the FOMC decision announced "
                        f"{announced:%Y-%m-%d %H:%M %Z} but is visible from {shown}: re-date it to after the "
                        "announcement, or drop it")
                break
    return out


def lint_items(items: list[NewsItem], path: Path, calendar: MarketCalendar | None = None) -> list[LintFinding]:
    calendar = calendar or MarketCalendar()
    return [f for item in items for f in lint_item(item, Path(path), calendar)]


def lint_news_file(path: Path, calendar: MarketCalendar | None = None) -> list[LintFinding]:
    """Lint a JSONL corpus file (it must load: a malformed line is a NewsError, as when a run loads it)."""
    from agent_tools.news import LocalNewsSource

    source = LocalNewsSource(Path(path))
    return lint_items(source.items, source.path, calendar)
