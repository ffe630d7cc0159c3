"""Working days and office hours (China).

Working days follow the official arrangement published by the State Council, through the
``chinese_calendar`` package: weekends and public holidays are off, official make-up
workdays (调休上班, e.g. a Saturday before National Day) are on. Two override sets take
priority over the package (``reminders.holidays`` / ``reminders.workdays`` in the config).

For a year the package does not cover yet (it is updated once the next year's arrangement
is published, usually in November) the calendar falls back to what the law fixes: Monday to
Friday less the statutory public holidays (全体公民放假的节日, :func:`statutory_days_off`),
plus the overrides. What the law does not fix is unknown until the State Council publishes
the year's arrangement: the 调休 that bridges a holiday to a weekend, and the weekend days
that become make-up workdays. :meth:`WorkCalendar.coverage_warning` names such years, for the
caller to log at start; this module never logs, reads a clock or raises for a missing year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from lunar_python import Lunar

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_START = time(9, 0)
OFFICE_END = time(18, 0)

# No arrangement ever has this many consecutive days off: a longer search is a bug.
_MAX_SCAN_DAYS = 400


@dataclass(frozen=True)
class WorkCalendar:
    overrides_holidays: frozenset[date] = frozenset()
    overrides_workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        both = self.overrides_holidays & self.overrides_workdays
        if both:
            days = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"dates both in overrides_holidays and overrides_workdays: {days}")

    # ------------------------------------------------------------------ days

    def is_workday(self, d: date) -> bool:
        if d in self.overrides_workdays:
            return True
        if d in self.overrides_holidays:
            return False
        if not package_covers(d.year):
            return d.weekday() < 5 and d not in statutory_days_off(d.year)
        return bool(chinese_calendar.is_workday(d))

    def covers(self, year: int) -> bool:
        """Whether the ``chinese_calendar`` package knows the official arrangement for ``year``."""
        return package_covers(year)

    def configured(self, year: int) -> bool:
        """Whether the overrides name any day of ``year`` (taken as its official arrangement)."""
        return any(d.year == year for d in self.overrides_holidays | self.overrides_workdays)

    def uncovered_years(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` known neither to the package nor to the overrides: their working
        days come from the statutory fallback alone."""
        return [y for y in sorted(set(years)) if not self.covers(y) and not self.configured(y)]

    def coverage_warning(self, today: date) -> str | None:
        """One line for the start-up log when this year or the next (the reminder horizon) has
        no official arrangement; None when both are known."""
        years = self.uncovered_years((today.year, today.year + 1))
        if not years:
            return None
        names = ", ".join(str(y) for y in years)
        return (
            f"working-day calendar: no official holiday arrangement for {names} (the"
            f" chinese-calendar package {chinese_calendar.__version__} does not cover"
            f" {'them' if len(years) > 1 else 'it'}, and reminders.holidays / reminders.workdays"
            f" name no day of {'them' if len(years) > 1 else 'it'}): reminders that count working"
            " days and office-hours delivery use Monday-Friday less the statutory public"
            " holidays (元旦, 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节, and 补假 for one on a"
            " weekend); the State Council's 调休 (bridging days off and weekend make-up workdays)"
            " is not known. Add that year's official schedule as reminders.holidays and"
            " reminders.workdays (README, 'Working days'), or upgrade chinese-calendar"
        )

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (before it when ``n`` < 0).

        ``start`` itself is never counted, whether or not it is a working day; ``n == 0``
        returns ``start`` unchanged. E.g. Friday + 1 is the next Monday (if a workday).
        """
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        d = start
        idle = 0
        while remaining:
            d += step
            if self.is_workday(d):
                remaining -= 1
                idle = 0
            else:
                idle += 1
                if idle > _MAX_SCAN_DAYS:  # pragma: no cover - needs absurd overrides
                    raise RuntimeError(f"no working day within {_MAX_SCAN_DAYS} days of {d}")
        return d

    def next_workday(self, d: date) -> date:
        """``d`` if it is a working day, else the first working day after it."""
        return d if self.is_workday(d) else self.add_working_days(d, 1)

    # ------------------------------------------------------------------ deadlines

    def deadline_end(self, day: date, tz: tzinfo = SHANGHAI, end: time = OFFICE_END) -> datetime:
        """When a deadline that falls on ``day`` runs out: at the end of office hours that day
        (not at the hour something was filed, which may be 03:26)."""
        return datetime.combine(day, end, tzinfo=tz)

    def working_days_deadline(self, start: datetime, n: int, tz: tzinfo = SHANGHAI,
                              end: time = OFFICE_END) -> datetime:
        """A deadline of ``n`` working days from ``start`` (aware): the end of office hours on
        the ``n``-th working day after its local date, whatever the hour of ``start``."""
        day = self.add_working_days(start.astimezone(tz).date(), n)
        return self.deadline_end(day, tz, end)

    # ------------------------------------------------------------------ office hours

    def is_office_time(
        self,
        at: datetime,
        tz: tzinfo = SHANGHAI,
        start: time = OFFICE_START,
        end: time = OFFICE_END,
        workdays_only: bool = True,
    ) -> bool:
        """Whether ``at`` (aware) falls in ``[start, end)`` local time on an allowed day."""
        _check_hours(at, start, end)
        local = at.astimezone(tz)
        if workdays_only and not self.is_workday(local.date()):
            return False
        return start <= local.time().replace(tzinfo=None) < end

    def next_office_time(
        self,
        at: datetime,
        tz: tzinfo = SHANGHAI,
        start: time = OFFICE_START,
        end: time = OFFICE_END,
        workdays_only: bool = True,
    ) -> datetime:
        """``at`` itself if it is office time, else the start of the next office period.

        The office period is ``[start, end)`` in ``tz`` on working days (every day when
        ``workdays_only`` is False). A returned start is expressed in ``tz``.
        """
        if self.is_office_time(at, tz, start, end, workdays_only):
            return at
        local = at.astimezone(tz)
        day = local.date()
        if local.time().replace(tzinfo=None) >= start:
            day += timedelta(days=1)
        if workdays_only:
            day = self.next_workday(day)
        return datetime.combine(day, start, tzinfo=tz)


WEEKDAYS = "一二三四五六日"


def day_text(day: date | datetime, tz: tzinfo = SHANGHAI) -> str:
    """A day as users plan their week by it, with its weekday: 2026-12-01（周二）. A moment is
    the day it falls on in `tz`. Every date a reminder, a deadline or a case card shows."""
    d = day.astimezone(tz).date() if isinstance(day, datetime) else day
    return f"{d:%Y-%m-%d}（周{WEEKDAYS[d.weekday()]}）"


def office_deadline_text(at: datetime, tz: tzinfo = SHANGHAI) -> str:
    """A deadline as users read it: 2026-12-02（周三）18:00 (callers add 前)."""
    return f"{day_text(at, tz)}{at.astimezone(tz):%H:%M}"


@lru_cache(maxsize=256)
def package_covers(year: int) -> bool:
    """Whether the ``chinese_calendar`` package has the official arrangement for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def statutory_days_off(year: int) -> frozenset[date]:
    """The days off that the law fixes for ``year``, without the State Council's 调休.

    《全国年节及纪念日放假办法》 as amended by 国务院令第795号 (2024-11-10, in force from
    2025-01-01), article 2, 全体公民放假的节日: 元旦 1 day (1 January); 春节 4 days (农历除夕,
    正月初一 to 初三); 清明节 1 day (the day of the 清明 solar term); 劳动节 2 days (1-2 May);
    端午节 1 day (五月初五); 中秋节 1 day (八月十五); 国庆节 3 days (1-3 October). Article 6:
    one that falls on a Saturday or Sunday is made up on a working day (补假); the law does not
    say which, and the State Council has given the next one (e.g. 2026: 清明 Sunday 5 April,
    补假 Monday 6 April), so that is what this assumes. The bridging days and weekend make-up
    workdays of each year's arrangement (article 7) cannot be derived: they need the published
    schedule. The 2025 rule is applied to every year; the package covers 2004-2026 anyway.

    Lunar dates come from ``lunar_python`` (除夕 is the day before 正月初一, which may be 腊月廿九),
    the solar term from ``chinese_calendar``.
    """
    new_year = _lunar(year, 1, 1)
    days = {
        date(year, 1, 1),
        *(new_year + timedelta(days=i) for i in range(-1, 3)),
        _qingming(year),
        date(year, 5, 1), date(year, 5, 2),
        _lunar(year, 5, 5),
        _lunar(year, 8, 15),
        date(year, 10, 1), date(year, 10, 2), date(year, 10, 3),
    }
    off = set(days)
    for d in sorted(days):
        if d.weekday() >= 5:
            sub = d + timedelta(days=1)
            while sub.weekday() >= 5 or sub in off:
                sub += timedelta(days=1)
            off.add(sub)
    return frozenset(off)


def _lunar(year: int, month: int, day: int) -> date:
    s = Lunar.fromYmd(year, month, day).getSolar()
    return date(s.getYear(), s.getMonth(), s.getDay())


def _qingming(year: int) -> date:
    terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
    return next(d for d, name in terms if name == "清明")


def _check_hours(at: datetime, start: time, end: time) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("office-time checks need a timezone-aware datetime")
    if start >= end:
        raise ValueError(f"office hours start {start} must be before end {end}")
