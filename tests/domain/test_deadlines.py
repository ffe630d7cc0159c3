"""Deadlines in office terms: a deadline ends at the end of an office day, never at the hour
something happened to be filed (QA: a request filed on a Saturday at 03:26 was due at 03:26)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reminders import (
    CaseState,
    answer_deadline,
    default_rules,
    deliver_at,
    plan_case,
    plan_review_answer,
)
from bot.domain.scoring import Color
from bot.domain.workcal import WorkCalendar, day_text, office_deadline_text

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
END = time(17, 30)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def test_answer_deadline_is_the_end_of_the_last_office_day() -> None:
    filed = at(2026, 11, 28, 3, 26)  # Saturday night
    due = answer_deadline(filed, 3, CAL, TZ, END)
    assert due == at(2026, 12, 2, 17, 30)  # Wednesday, end of office hours
    assert office_deadline_text(due, TZ) == "2026-12-02（周三）17:30"
    # the hour of filing does not matter: a Monday 08:59 filing has the same last day's end
    assert answer_deadline(at(2026, 11, 30, 8, 59), 3, CAL, TZ, END) == at(2026, 12, 3, 17, 30)


def test_overdue_answer_reminder_comes_after_the_deadline_not_at_dawn() -> None:
    filed = at(2026, 11, 28, 3, 26)
    first, escalation = plan_review_answer(7, filed, 3, CAL, TZ, office_end=END)
    assert first.due_at == at(2026, 12, 2, 17, 30)
    assert not first.due_at <= at(2026, 12, 2, 3, 27)  # not overdue in the night of that day
    # delivered in office hours once overdue: the next morning, not 09:00 of the deadline day
    assert deliver_at(first, CAL, TZ, time(9), END) == at(2026, 12, 3, 9)
    assert escalation.due_at == at(2026, 12, 4, 17, 30) and escalation.escalation


def test_reevaluation_is_reminded_when_its_office_day_begins() -> None:
    red = CaseState(code="HY-2026-0001", color=Color.RED,
                    last_evaluated_at=at(2026, 11, 30, 3, 26))
    occs = plan_case(red, default_rules(), CAL, TZ, at(2026, 11, 30, 4), office_start=time(8, 30))
    assert [(o.slot, o.due_at) for o in occs] == [("2026-12-07", at(2026, 12, 7, 8, 30))]


@pytest.mark.parametrize(("day", "shown"), [
    (date(2026, 12, 1), "2026-12-01（周二）"),
    (date(2026, 12, 6), "2026-12-06（周日）"),
    # a moment is the day it falls on in the office's time zone: 16:30 UTC is Tuesday 00:30
    (datetime(2026, 11, 30, 16, 30, tzinfo=ZoneInfo("UTC")), "2026-12-01（周二）"),
])
def test_a_day_is_shown_with_its_weekday(day: date | datetime, shown: str) -> None:
    assert day_text(day, TZ) == shown
