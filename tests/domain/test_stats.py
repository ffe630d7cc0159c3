"""Case-code statistics (pure)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.stats import CaseFacts, compute

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 20)


def case(code: str, color: str | None, history: list[tuple[str, str]],
         custody: date | None = date(2026, 11, 10)) -> CaseFacts:
    return CaseFacts(code=code, prosecutor="p", police_unit="u", color=color, transcodes=0,
                     first_nongreen_at=None, green_at=None, first_intake_color=None,
                     custody_deadline=custody,
                     history=tuple((datetime.fromisoformat(at).replace(tzinfo=SH), c)
                                   for at, c in history))


def test_red_at_custody_is_the_colour_when_the_deadline_came_not_the_colour_now() -> None:
    facts = [
        case("red-then-green", "green", [("2026-11-01 10:00", "red"), ("2026-11-12 10:00", "green")]),
        case("green-then-red", "red", [("2026-11-01 10:00", "green"), ("2026-11-12 10:00", "red")]),
        case("red-still", "red", [("2026-11-01 10:00", "red")]),
        case("red-on-the-day", "red", [("2026-11-01 10:00", "green"), ("2026-11-10 10:00", "red")]),
        # re-scored green on its last day of custody (羁押期限 2026-11-10 08:30): not red then
        case("green-on-the-day", "green", [("2026-11-01 10:00", "red"), ("2026-11-10 08:30", "green")]),
        case("scored-later", "red", [("2026-11-15 10:00", "red")]),
        case("not-yet-due", "red", [("2026-11-01 10:00", "red")], custody=date(2026, 11, 21)),
        case("no-deadline", "red", [("2026-11-01 10:00", "red")], custody=None),
    ]
    s = compute(facts, TODAY, SH)
    # the deadline is the last day of custody, judged when it ends (2026-11-11 00:00):
    # red-then-green, red-still and red-on-the-day were red then; scored-later was first
    # scored (red) only after it, so red then as far as anyone knows
    assert s.red_at_custody == 4
    then = [f for f in facts if f.code != "scored-later"]  # not scored yet on those days
    assert compute(then, date(2026, 11, 11), SH).red_at_custody == 3
    # on the deadline day itself custody has not run out yet
    assert compute(then, date(2026, 11, 10), SH).red_at_custody == 0

def test_no_cases() -> None:
    s = compute([], TODAY, SH)
    assert (s.total.cases, s.total.transcodes, s.median_days_to_green, s.intakes,
            s.green_at_intake, s.red_at_custody) == (0, 0, None, 0, 0, 0)
    assert s.per_prosecutor == {} and s.per_police_unit == {}


def test_every_roster_entry_is_listed_in_roster_order_with_zeros() -> None:
    """A prosecutor or police unit of the roster without a case has a group of zeros; the
    roster's order is kept; someone with cases who is not on the roster comes after it."""
    f = [dataclasses.replace(case("A", "red", [("2026-11-01 10:00", "red")]),
                             prosecutor="p-2", police_unit="ps-b"),
         dataclasses.replace(case("B", "green", [], custody=None),
                             prosecutor="p-gone", police_unit="ps-gone")]
    s = compute(f, TODAY, SH, prosecutors=["p-3", "p-2", "p-1"], police_units=["ps-b", "ps-a"])
    assert list(s.per_prosecutor) == ["p-3", "p-2", "p-1", "p-gone"]
    assert [g.cases for g in s.per_prosecutor.values()] == [0, 1, 0, 1]
    assert list(s.per_police_unit) == ["ps-b", "ps-a", "ps-gone"]
    idle = s.per_police_unit["ps-a"]
    assert (idle.cases, idle.by_color["red"], idle.transcodes, idle.intakes,
            idle.median_days_to_green, idle.green_at_intake, idle.red_at_custody) == (
        0, 0, 0, 0, None, 0, 0)
    assert s.total.cases == 2
    # nobody on the roster and no case: still empty
    assert compute([], TODAY, SH).per_prosecutor == {}
