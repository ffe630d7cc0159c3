"""Working days and office hours (China).

Working days follow the official arrangement published by the State Council, through the
``chinese_calendar`` package: weekends and public holidays are off, official make-up
workdays (调休上班, e.g. a Saturday before National Day) are on. Two override sets take
priority over the package. For a year the package does not cover yet (it is updated once
the next year's arrangement is published) the calendar falls back to Monday-Friday plus
the overrides and logs one warning per year: it never raises for a missing year.

No clock reads: every instant is passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_START = time(9, 0)
OFFICE_END = time(18, 0)

# No arrangement ever has this many consecutive days off: a longer search is a bug.
_MAX_SCAN_DAYS = 400


@dataclass(frozen=True)
class WorkCalendar:
    overrides_holidays: frozenset[date] = frozenset()
    overrides_workdays: frozenset[date] = frozenset()
    # Years already warned about (fallback to Mon-Fri); per calendar instance.
    _warned_years: set[int] = field(
        default_factory=set, init=False, repr=False, compare=False, hash=False
    )

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
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._warned_years:
                self._warned_years.add(d.year)
                logger.warning(
                    "chinese_calendar has no holiday data for %d: treating Monday-Friday as"
                    " working days (plus configured overrides); upgrade chinese-calendar or"
                    " add overrides for that year's official holidays",
                    d.year,
                )
            return d.weekday() < 5

    def covers(self, year: int) -> bool:
        """Whether the official arrangement for ``year`` is known (no fallback)."""
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True

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


def _check_hours(at: datetime, start: time, end: time) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("office-time checks need a timezone-aware datetime")
    if start >= end:
        raise ValueError(f"office hours start {start} must be before end {end}")
