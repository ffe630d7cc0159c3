from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.workcal import WorkCalendar, package_covers, statutory_days_off

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


def test_uncovered_year_falls_back_to_the_statutory_holidays(
    cal: WorkCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert not cal.covers(2027) and cal.covers(2026)
    # 元旦 2027 is a Friday: a red case's 责任倒查 must not go out that day (tester's report)
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert cal.next_office_time(at(2027, 1, 1, 9, 26), TZ, time(9), time(18), True) == at(
        2027, 1, 4, 9)
    assert cal.is_workday(date(2027, 1, 5))  # an ordinary Tuesday
    assert not cal.is_workday(date(2027, 1, 2))  # Saturday
    # 国庆 1-3 October (Fri-Sun) and 补假 for Saturday and Sunday on Monday and Tuesday
    assert [cal.is_workday(date(2027, 10, d)) for d in range(1, 8)] == [
        False, False, False, False, False, True, True]
    # 春节: 除夕 is 腊月廿九 (Friday 02-05), 初一-初三 Saturday-Monday, 补假 Tuesday, Wednesday
    assert [cal.is_workday(date(2027, 2, d)) for d in range(4, 12)] == [
        True, False, False, False, False, False, False, True]
    assert not cal.is_workday(date(2027, 4, 5))  # 清明 (solar term), a Monday
    assert not cal.is_workday(date(2027, 6, 9))  # 端午, Wednesday
    assert not cal.is_workday(date(2027, 9, 15))  # 中秋, Wednesday
    assert not cal.is_workday(date(2028, 1, 3))  # 元旦 2028 is a Saturday: 补假 Monday
    # the calendar itself never logs (the caller logs coverage_warning once at start)
    assert caplog.records == []
    # a config override for that year's real arrangement is honoured over the fallback
    cal2 = WorkCalendar(overrides_holidays=frozenset({date(2027, 10, 6), date(2027, 10, 7)}),
                        overrides_workdays=frozenset({date(2027, 9, 26), date(2027, 10, 9)}))
    assert [cal2.is_workday(date(2027, 10, d)) for d in range(1, 10)] == [
        False] * 7 + [True, True]
    assert cal2.is_workday(date(2027, 9, 26))  # a Sunday made a workday


@pytest.mark.parametrize("year", [y for y in range(2025, 2100) if package_covers(y)])
def test_statutory_days_are_off_in_every_official_arrangement_since_the_2024_rules(
    year: int,
) -> None:
    # The fallback never calls a day a working day that the published arrangement gives off
    # ... the other way round it cannot know the 调休. Checked against every year since the
    # amended rules took effect that chinese-calendar knows.
    for d in statutory_days_off(year):
        assert chinese_calendar.is_holiday(d), d


def test_statutory_days_off_2027_to_2030() -> None:
    # 元旦, 除夕-初三, 清明, 5-1/2, 端午, 中秋, 10-1..3, then 补假 for those on a weekend.
    assert sorted(statutory_days_off(2027)) == sorted(
        [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 11)), date(2027, 4, 5),
         *(date(2027, 5, d) for d in range(1, 5)), date(2027, 6, 9), date(2027, 9, 15),
         *(date(2027, 10, d) for d in range(1, 6))])
    assert {date(2029, 2, 12), date(2029, 2, 13), date(2029, 2, 15), date(2029, 4, 4),
            date(2029, 6, 16), date(2029, 6, 18), date(2029, 9, 22), date(2029, 9, 24)
            } <= statutory_days_off(2029)
    assert {date(2030, 2, 2), date(2030, 2, 5), date(2030, 4, 5), date(2030, 6, 5),
            date(2030, 9, 12)} <= statutory_days_off(2030)


def test_coverage_warning_names_the_years_without_an_arrangement() -> None:
    cal = WorkCalendar()
    assert cal.coverage_warning(date(2025, 6, 1)) is None  # 2025 and 2026 are known
    note = cal.coverage_warning(date(2026, 11, 27))
    assert note is not None and "2027" in note and "2026" not in note.split("(")[0]
    assert "reminders.holidays" in note and "调休" in note
    both = cal.coverage_warning(date(2027, 3, 1))
    assert both is not None and "2027, 2028" in both
    # naming any day of a year in the overrides takes it as that year's official schedule
    configured = WorkCalendar(overrides_holidays=frozenset({date(2027, 2, 11)}))
    assert configured.configured(2027) and not configured.configured(2028)
    assert configured.coverage_warning(date(2026, 11, 27)) is None
    assert configured.uncovered_years([2026, 2027, 2028]) == [2028]


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
