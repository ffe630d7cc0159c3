from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.workcal import WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def test_2026_national_day_arrangement(cal: WorkCalendar) -> None:
    # The official 2026 arrangement as shipped in chinese_calendar 1.11.0: 10-01..10-07
    # off; make-up workdays Sun 09-20 and Sat 10-10; Mid-autumn 09-25..09-27 off.
    assert [cal.is_workday(d) for d in NATIONAL_DAY_2026] == [False] * 7
    assert cal.is_workday(date(2026, 9, 20))  # Sunday, 调休上班
    assert cal.is_workday(date(2026, 10, 10))  # Saturday, 调休上班
    assert not cal.is_workday(date(2026, 9, 25))  # Friday, 中秋
    assert not cal.is_workday(date(2026, 10, 11))  # ordinary Sunday
    assert cal.is_workday(date(2026, 10, 8))


def test_add_working_days_across_national_day(cal: WorkCalendar) -> None:
    start = date(2026, 9, 30)  # Wednesday, last workday before the holiday
    assert cal.add_working_days(start, 1) == date(2026, 10, 8)
    assert cal.add_working_days(start, 2) == date(2026, 10, 9)
    assert cal.add_working_days(start, 3) == date(2026, 10, 10)  # make-up Saturday
    assert cal.add_working_days(start, 4) == date(2026, 10, 12)
    assert cal.add_working_days(date(2026, 10, 3), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 10, 8), -1) == start
    assert cal.add_working_days(date(2026, 9, 19), 1) == date(2026, 9, 20)  # make-up Sunday
    assert cal.add_working_days(date(2026, 10, 4), 0) == date(2026, 10, 4)
    assert cal.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)


@given(st.dates(date(2026, 1, 1), date(2026, 12, 1)), st.integers(1, 20))
def test_add_working_days_counts_workdays(start: date, n: int) -> None:
    cal = WorkCalendar()
    end = cal.add_working_days(start, n)
    days = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(cal.is_workday(d) for d in days) == n
    assert cal.is_workday(end)
    assert cal.add_working_days(end, -n) <= start


def test_overrides_take_priority() -> None:
    cal = WorkCalendar(
        overrides_holidays=frozenset({date(2026, 10, 9)}),
        overrides_workdays=frozenset({date(2026, 10, 3)}),
    )
    assert not cal.is_workday(date(2026, 10, 9))
    assert cal.is_workday(date(2026, 10, 3))
    assert cal.add_working_days(date(2026, 9, 30), 2) == date(2026, 10, 8)
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(frozenset({date(2026, 1, 5)}), frozenset({date(2026, 1, 5)}))


def test_uncovered_year_falls_back_and_warns_once(
    cal: WorkCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.domain.workcal")
    assert not cal.covers(2027) and cal.covers(2026)
    assert cal.is_workday(date(2027, 1, 4))  # Monday
    assert not cal.is_workday(date(2027, 1, 2))  # Saturday
    assert cal.is_workday(date(2027, 10, 1))  # a Friday: the real holiday is unknown
    assert cal.add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 4)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2027" in warnings[0].getMessage()
    assert not cal.is_workday(date(2028, 1, 1))  # Saturday
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    cal2 = WorkCalendar(overrides_holidays=frozenset({date(2027, 10, 1)}))
    assert not cal2.is_workday(date(2027, 10, 1))


def test_next_office_time(cal: WorkCalendar) -> None:
    nine, six = time(9), time(18)
    inside = at(2026, 9, 30, 10, 30)
    assert cal.next_office_time(inside, TZ, nine, six, True) is inside
    assert cal.is_office_time(inside, TZ, nine, six, True)
    # evening before the holiday -> first morning after it
    assert cal.next_office_time(at(2026, 9, 30, 18), TZ, nine, six, True) == at(2026, 10, 8, 9)
    assert cal.next_office_time(at(2026, 10, 3, 11), TZ, nine, six, True) == at(2026, 10, 8, 9)
    # Friday evening -> make-up Saturday morning
    assert cal.next_office_time(at(2026, 10, 9, 19), TZ, nine, six, True) == at(2026, 10, 10, 9)
    # early morning on a workday -> same day 09:00
    assert cal.next_office_time(at(2026, 10, 12, 7), TZ, nine, six, True) == at(2026, 10, 12, 9)
    # any day allowed
    assert cal.next_office_time(at(2026, 10, 3, 11), TZ, nine, six, False) == at(2026, 10, 3, 11)
    assert cal.next_office_time(at(2026, 10, 3, 20), TZ, nine, six, False) == at(2026, 10, 4, 9)
    # UTC input: 2026-10-08 00:30 UTC is 08:30 in Shanghai
    utc = datetime(2026, 10, 8, 0, 30, tzinfo=UTC)
    assert cal.next_office_time(utc, TZ, nine, six, True) == at(2026, 10, 8, 9)
    assert not cal.is_office_time(at(2026, 10, 8, 18), TZ, nine, six, True)
    assert cal.is_office_time(at(2026, 10, 8, 9), TZ, nine, six, True)


def test_next_office_time_rejects_bad_input(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.next_office_time(datetime(2026, 10, 8, 10), TZ, time(9), time(18), True)  # noqa: DTZ001
    with pytest.raises(ValueError, match="before end"):
        cal.is_office_time(at(2026, 10, 8, 10), TZ, time(18), time(9), True)


# hypothesis wants naive bounds together with `timezones`
LO, HI = datetime(2026, 1, 1), datetime(2026, 12, 20)  # noqa: DTZ001


@given(st.datetimes(LO, HI, timezones=st.just(TZ)))
def test_next_office_time_is_office_time(moment: datetime) -> None:
    cal = WorkCalendar()
    nxt = cal.next_office_time(moment, TZ, time(9), time(18), True)
    assert nxt >= moment
    assert cal.is_office_time(nxt, TZ, time(9), time(18), True)
    assert nxt - moment < timedelta(days=10)
