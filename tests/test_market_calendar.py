"""NYSE sessions: holidays, half days, weekends and DST, in New York time whatever the machine's zone."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date, datetime

import pytest

from agent_tools.market_calendar import (
    MARKET_TZ,
    CalendarError,
    MarketCalendar,
    _year_sessions,
    parse_instant,
    require_aware,
)

CAL = MarketCalendar()


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MARKET_TZ)


def test_thanksgiving_2025_has_no_session():
    assert CAL.session_on(date(2025, 11, 27)) is None
    assert not CAL.is_open(ny(2025, 11, 27, 12))
    assert CAL.closed_reason(ny(2025, 11, 27, 12)) == "market closed: 2025-11-27 is an NYSE holiday"


def test_day_after_thanksgiving_closes_early_at_13_00():
    session = CAL.session_on(date(2025, 11, 28))

    assert session is not None and session.early_close
    assert (session.open, session.close) == (ny(2025, 11, 28, 9, 30), ny(2025, 11, 28, 13))
    assert CAL.is_open(ny(2025, 11, 28, 12, 59))
    assert not CAL.is_open(ny(2025, 11, 28, 13))
    assert "after the early close at 13:00" in CAL.closed_reason(ny(2025, 11, 28, 13))


def test_regular_session_is_open_from_9_30_until_just_before_16_00():
    assert not CAL.is_open(ny(2025, 10, 2, 9, 29))
    assert CAL.is_open(ny(2025, 10, 2, 9, 30))
    assert CAL.is_open(ny(2025, 10, 2, 15, 59))
    assert not CAL.is_open(ny(2025, 10, 2, 16))
    assert not CAL.session_on(date(2025, 10, 2)).early_close


@pytest.mark.parametrize(("day", "name"), [(date(2025, 11, 29), "Saturday"), (date(2025, 11, 30), "Sunday")])
def test_weekends_are_closed(day, name):
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=MARKET_TZ)

    assert CAL.session_on(day) is None
    assert not CAL.is_open(noon)
    assert CAL.closed_reason(noon) == f"market closed: {day.isoformat()} 12:00 EST is a {name}"


def test_trading_days_skip_the_holiday_and_the_weekend():
    assert CAL.trading_days(date(2025, 11, 24), date(2025, 11, 30)) == [
        date(2025, 11, 24), date(2025, 11, 25), date(2025, 11, 26), date(2025, 11, 28)]


def test_previous_session_looks_back_across_the_year_end():
    assert CAL.previous_session(date(2026, 1, 2)).day == date(2025, 12, 31)


def test_utc_instant_maps_to_the_open_during_daylight_time():
    # 2025-10-31 is EDT (UTC-4): 13:30 UTC is the 09:30 open.
    instant = datetime.fromisoformat("2025-10-31T13:30:00+00:00")

    session = CAL.session_at(instant)

    assert session is not None and session.day == date(2025, 10, 31)
    assert session.open.utcoffset().total_seconds() == -4 * 3600


def test_utc_instant_maps_to_the_open_during_standard_time():
    # 2025-11-03 is EST (UTC-5): 13:30 UTC is 08:30, before the open; 14:30 UTC is the open.
    assert CAL.session_at(datetime.fromisoformat("2025-11-03T13:30:00+00:00")) is None
    session = CAL.session_at(datetime.fromisoformat("2025-11-03T14:30:00+00:00"))

    assert session is not None and session.day == date(2025, 11, 3)
    assert session.open.utcoffset().total_seconds() == -5 * 3600


def test_utc_instant_after_midnight_utc_belongs_to_the_previous_new_york_day():
    # 01:00 UTC on Oct 3 is 21:00 EDT on Oct 2: after Oct 2's close, not before Oct 3's open.
    instant = datetime.fromisoformat("2025-10-03T01:00:00+00:00")

    assert not CAL.is_open(instant)
    assert CAL.closed_reason(instant) == "market closed: 2025-10-02 21:00 EDT is after the close at 16:00 EDT"


@pytest.mark.parametrize("call", [CAL.session_at, CAL.is_open, CAL.closed_reason, require_aware])
def test_naive_datetimes_are_refused(call):
    with pytest.raises(CalendarError, match="has no time zone"):
        call(datetime(2025, 10, 2, 10, 0))


def test_text_without_offset_is_read_as_new_york_time():
    assert parse_instant("2025-11-03T10:00") == ny(2025, 11, 3, 10)
    assert parse_instant("2025-11-03T15:00Z") == ny(2025, 11, 3, 10)


def test_unparseable_time_text_is_refused():
    with pytest.raises(CalendarError, match="cannot parse time"):
        parse_instant("10am on Thursday")


@pytest.fixture
def machine_zone_far_from_new_york():
    """The process's local zone set to UTC+14 (and the session cache emptied) for one test, then restored."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    _year_sessions.cache_clear()
    cache = os.environ.get("TRADEARENA_CACHE")
    os.environ["TRADEARENA_CACHE"] = tempfile.mkdtemp(prefix="tz-cache-")  # built from the library, not read back
    yield
    os.environ["TRADEARENA_CACHE"] = cache or ""
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()
    _year_sessions.cache_clear()


def test_sessions_do_not_depend_on_the_machine_time_zone(machine_zone_far_from_new_york):
    assert datetime(2025, 11, 3, 12).astimezone().utcoffset().total_seconds() == 14 * 3600  # the zone is in effect
    session = MarketCalendar().session_on(date(2025, 11, 28))

    assert (session.open, session.close) == (ny(2025, 11, 28, 9, 30), ny(2025, 11, 28, 13))
    assert MarketCalendar().session_on(date(2025, 11, 27)) is None
    assert MarketCalendar().session_at(datetime.fromisoformat("2025-11-03T14:30:00+00:00")).day == date(2025, 11, 3)
    assert parse_instant("2025-10-02T10:00") == ny(2025, 10, 2, 10)
