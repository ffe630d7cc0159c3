"""Case-code statistics (pure): counts by colour, 转码, days to green, intake and custody."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo


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


@dataclass
class Group:
    cases: int = 0
    by_color: Counter[str] = field(default_factory=Counter)
    transcodes: int = 0

    def add(self, f: CaseFacts) -> None:
        self.cases += 1
        self.by_color[f.color or "unscored"] += 1
        self.transcodes += f.transcodes


@dataclass
class Stats:
    total: Group
    median_days_to_green: float | None
    intakes: int
    green_at_intake: int
    red_at_custody: int
    per_prosecutor: dict[str, Group]
    per_police_unit: dict[str, Group]

    @property
    def green_at_intake_share(self) -> float | None:
        return self.green_at_intake / self.intakes if self.intakes else None


def color_at(history: tuple[tuple[datetime, str], ...], moment: datetime) -> str | None:
    """The colour in effect at `moment` (None: not scored by then)."""
    color = None
    for at, c in history:
        if at > moment:
            break
        color = c
    return color


def red_at_custody(f: CaseFacts, today: date, tz: tzinfo) -> bool:
    """Red when the custody deadline came (its local midnight, the 责任倒查 rule's anchor):
    a case that turned green since still counts, one that turned red only later does not."""
    if f.custody_deadline is None or f.custody_deadline > today:
        return False
    return color_at(f.history, datetime.combine(f.custody_deadline, time(), tzinfo=tz)) == "red"


def compute(facts: list[CaseFacts], today: date, tz: tzinfo) -> Stats:
    total = Group()
    per_p: dict[str, Group] = defaultdict(Group)
    per_u: dict[str, Group] = defaultdict(Group)
    days: list[float] = []
    intakes = green_intakes = red_custody = 0
    for f in facts:
        total.add(f)
        per_p[f.prosecutor].add(f)
        per_u[f.police_unit].add(f)
        if f.first_nongreen_at and f.green_at:
            days.append((f.green_at - f.first_nongreen_at).total_seconds() / 86400)
        if f.first_intake_color is not None:
            intakes += 1
            green_intakes += f.first_intake_color == "green"
        red_custody += red_at_custody(f, today, tz)
    return Stats(total=total, median_days_to_green=statistics.median(days) if days else None,
                 intakes=intakes, green_at_intake=green_intakes, red_at_custody=red_custody,
                 per_prosecutor=dict(per_p), per_police_unit=dict(per_u))
