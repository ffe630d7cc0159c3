"""Case-code statistics (pure): counts by colour, 转码, days to green, intake and custody."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from bot.domain.scoring import color_at_custody_end, custody_ends_at


@dataclass(frozen=True)
class CaseFacts:
    code: str
    prosecutor: str
    police_unit: str
    color: str | None  # current colour, None when not scored yet
    transcodes: int
    first_nongreen_at: datetime | None
    green_at: datetime | None
    first_intake_color: str | None
    custody_deadline: date | None
    # (evaluation time, colour), oldest first: what the colour was when the custody deadline
    # came (read only for cases that have one)
    history: tuple[tuple[datetime, str], ...] = ()
    # closed (结案), and when (None: closed before the time was kept); reopened: open again
    closed: bool = False
    closed_at: datetime | None = None


@dataclass
class Group:
    """The figures of a set of cases: all of them, one prosecutor's, one police unit's."""

    cases: int = 0
    closed: int = 0  # of them closed (结案) now
    by_color: Counter[str] = field(default_factory=Counter)
    transcodes: int = 0
    days_to_green: list[float] = field(default_factory=list)
    intakes: int = 0  # cases scanned at intake (their first scan counts)
    green_at_intake: int = 0
    # the colour at that first scan, which made its decision: green 放行, yellow 待定, red 退回
    intake_colors: Counter[str] = field(default_factory=Counter)
    red_at_custody: int = 0

    def add(self, f: CaseFacts, red_custody: bool) -> None:
        self.cases += 1
        self.closed += f.closed
        self.by_color[f.color or "unscored"] += 1
        self.transcodes += f.transcodes
        if f.first_nongreen_at and f.green_at:
            self.days_to_green.append((f.green_at - f.first_nongreen_at).total_seconds() / 86400)
        if f.first_intake_color is not None:
            self.intakes += 1
            self.green_at_intake += f.first_intake_color == "green"
            self.intake_colors[f.first_intake_color] += 1
        self.red_at_custody += red_custody

    @property
    def median_days_to_green(self) -> float | None:
        return statistics.median(self.days_to_green) if self.days_to_green else None


@dataclass
class Stats:
    total: Group
    per_prosecutor: dict[str, Group]
    per_police_unit: dict[str, Group]

    @property
    def median_days_to_green(self) -> float | None:
        return self.total.median_days_to_green

    @property
    def intakes(self) -> int:
        return self.total.intakes

    @property
    def green_at_intake(self) -> int:
        return self.total.green_at_intake

    @property
    def red_at_custody(self) -> int:
        return self.total.red_at_custody


def red_at_custody(f: CaseFacts, today: date, tz: tzinfo) -> bool:
    """Red when the custody deadline ran out: the date is the last day of custody, reached at
    the end of it (00:00 of the next day, the 责任倒查 rule's anchor,
    bot.domain.scoring.custody_ends_at), so a deadline of ``today`` has not run out yet. A
    case that turned green since still counts; one re-scored green on its last day of custody,
    or that turned red only later, does not; one first scored (red) only after it does.
    Like the 责任倒查 itself (bot.domain.reminders.plan_case), a case closed before the
    deadline ran out does not count."""
    if f.custody_deadline is None or f.custody_deadline >= today:
        return False
    end = custody_ends_at(f.custody_deadline, tz)
    if f.closed and (f.closed_at is None or f.closed_at < end):
        return False
    return color_at_custody_end(f.history, f.custody_deadline, tz) == "red"


def _ordered(groups: dict[str, Group], roster: Sequence[str]) -> dict[str, Group]:
    """The roster's entries first, in roster order (those without a case too, with zeros, so
    that "none" is told apart from "missing"), then anyone else with cases (no longer on the
    roster, or no longer in that role) by id."""
    out = {key: groups.get(key) or Group() for key in dict.fromkeys(roster)}
    out.update(sorted((k, g) for k, g in groups.items() if k not in out))
    return out


def compute(facts: list[CaseFacts], today: date, tz: tzinfo, prosecutors: Sequence[str] = (),
            police_units: Sequence[str] = ()) -> Stats:
    """The figures in all, per prosecutor and per police unit. `prosecutors` and
    `police_units` are the roster's (ids, in the order to show): each gets a group, with
    zeros when it has no case."""
    total = Group()
    per_p: dict[str, Group] = {}
    per_u: dict[str, Group] = {}
    for f in facts:
        red = red_at_custody(f, today, tz)
        for g in (total, per_p.setdefault(f.prosecutor, Group()),
                  per_u.setdefault(f.police_unit, Group())):
            g.add(f, red)
    return Stats(total=total, per_prosecutor=_ordered(per_p, prosecutors),
                 per_police_unit=_ordered(per_u, police_units))
