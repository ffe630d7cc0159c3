"""The reminder rule engine (pure): which reminders are due, when, and to whom.

Model
-----
A :class:`ReminderRule` applied to a subject (a case, a review request, an inspection
rectification item) and an *anchor* instant yields a series of occurrences::

    due_0 = anchor + first_after_days
    due_k = due_(k-1) + repeat_days          (only when repeat_days is set)

Days are calendar days, or working days (:class:`~bot.domain.workcal.WorkCalendar`) when
``working_days`` is set; the local wall-clock time of the anchor in ``tz`` is kept, but a
re-evaluation falls due when office hours begin on its day (to be done by their end). Date
anchors (deadlines) start at local midnight of that date. Anchors per kind:

=============== ======================================== =================================
kind            anchor                                   applies when
=============== ======================================== =================================
reevaluate      last evaluation time                     case colour in ``colors``
consultation    investigation deadline (00:00), first    colour in ``colors`` (default red
                offset negative (-15: 15 days before)    or yellow), not started, deadline
                                                         not yet passed
custody         end of the custody deadline day (00:00   colour in ``colors`` (red) when
                of the next day: the date is the last    the deadline ran out
                day of custody)                          (``history``);
                                                         repeats only while it stays so
review_answer   the request's answer time (``due_at``: the   until answered (caller stops
                end of office hours of its last working  planning)
                day), first offset 0
rectification   due date (00:00), first offset 1         until rectified (caller stops)
                working day = "past due"
=============== ======================================== =================================

An empty ``colors`` means "any colour"; a case that was never evaluated (colour None)
matches no colour filter, so it gets neither re-evaluation nor consultation/custody
reminders until its first evaluation.

Occurrence ``k`` is an escalation when ``escalate_after`` is set and ``k >= escalate_after``
(``escalate_after`` = number of missed reminders before escalating; 0 = the very first
occurrence already is one, as for 责任倒查). An escalation goes to ``recipients`` plus
``escalate_to``.

Keys and idempotency
--------------------
Every occurrence has ``key = f"{rule_id}:{subject}:{slot}"`` where ``slot`` is the local
due date (ISO; of a custody rule the day before, the last day of custody). A key names the
same reminder however often it is planned, so the caller stores occurrences with "insert,
ignore on duplicate key" and never sends one twice. At most one occurrence per rule, subject
and local day exists (two evaluations on the same day share the next reminder). Suggested loop:

1. On every state change of a case (new evaluation, deadline change, closing) and
   periodically, call :func:`plan_case` with the current state and ``now``; insert the
   result by key (ignore duplicates); cancel :func:`obsolete` keys among the case's
   pending (unsent) rows. Past-due occurrences not seen before are returned with
   ``late=True`` (catch-up after downtime): each missed slot appears once, never once per
   tick, because its key is stable.
2. Review requests / rectification items: :func:`plan_review_answer`,
   :func:`plan_rectification` the same way; when answered/rectified, cancel the
   subject's pending rows.

Due-time semantics
------------------
``due_at`` is the exact moment the reminder becomes due (aware, in ``tz``). It is not a
delivery time: the caller delivers at
``cal.next_office_time(due_at, tz, start, end, workdays_only=True)`` (see
:func:`deliver_at`), i.e. reminders wait for office hours (default 09:00-18:00 on working
days); a slot that a long holiday pushes to the day its successor goes out waits for the
successor and is folded into it (one reminder per series and day). The card text is built
with :func:`render_text`.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.scoring import Color, color_at_deadline, custody_ends_at
from bot.domain.workcal import OFFICE_END, OFFICE_START, SHANGHAI, WorkCalendar, day_text

REEVALUATE = "reevaluate"
CONSULTATION = "consultation"
CUSTODY = "custody"
REVIEW_ANSWER = "review_answer"
RECTIFICATION = "rectification"
RULE_KINDS: tuple[str, ...] = (REEVALUATE, CONSULTATION, CUSTODY, REVIEW_ANSWER, RECTIFICATION)
CASE_KINDS: tuple[str, ...] = (REEVALUATE, CONSULTATION, CUSTODY)

# Roles relative to the subject: the case's prosecutor and investigators, the leader in
# charge, the unit chief (of a rectification item), the inspector who filed it.
RECIPIENT_ROLES: tuple[str, ...] = ("prosecutor", "investigators", "leader", "chief", "inspector")
PLACEHOLDERS: frozenset[str] = frozenset(
    {"code", "title", "due", "deadline", "since", "days", "unit", "owner"})
ESCALATION_PREFIX = "【升级督办】"
# the review_answer rule's text while an agreed request (同意并调整) waits for its re-score
REVIEW_RESCORE_TEXT = (
    "【复核答复提醒】复核申请 {code}《{title}》已同意调整评分，但答复期限 {deadline}已过仍未重新评分，"
    "请承办检察官{owner}尽快重新评分。")
# the custody_escalation rule's text on the copy of whom it escalates to: the 院领导, or the
# office's 检察长 where it has none (directory.leaders_of), so not 「请院领导…」 to a 检察长
CUSTODY_LEADER_TEXT = (
    "【责任倒查】案件 {code}《{title}》羁押期限已于 {due}届满，案件仍为红码。请您启动责任倒查。")
# the rectification_overdue rule's text on the escalation to the inspector, who does not
# rectify but urges the item's 责任人 to ({days}: days past the item's deadline)
RECTIFICATION_URGE_TEXT = (
    "【整改逾期提醒】{unit}督察整改事项 {code}《{title}》整改期限为 {deadline}，"
    "已逾期 {days} 天仍未完成，请督促责任人{owner}落实整改。")


@dataclass(frozen=True)
class ReminderRule:
    id: str
    kind: str
    colors: tuple[Color, ...]
    first_after_days: int
    repeat_days: int | None
    working_days: bool
    recipients: tuple[str, ...]
    escalate_after: int | None
    escalate_to: tuple[str, ...]
    text: str

    def __post_init__(self) -> None:
        problems = rule_errors(self)
        if problems:
            raise ValueError(f"reminder rule {self.id!r}: " + "; ".join(problems))

    def is_escalation(self, index: int) -> bool:
        return self.escalate_after is not None and index >= self.escalate_after

    def recipients_for(self, index: int) -> tuple[str, ...]:
        if not self.is_escalation(index):
            return self.recipients
        return tuple(dict.fromkeys(self.recipients + self.escalate_to))


def rule_errors(rule: ReminderRule) -> list[str]:
    """What is wrong with a rule (English, for operators); empty when valid."""
    errors: list[str] = []
    if not rule.id or ":" in rule.id or rule.id.strip() != rule.id:
        errors.append("id must be non-empty, without ':' or surrounding blanks")
    if rule.kind not in RULE_KINDS:
        errors.append(f"kind must be one of {', '.join(RULE_KINDS)}, got {rule.kind!r}")
    if rule.kind not in CASE_KINDS and rule.colors:
        errors.append(f"colors only apply to case rules, not {rule.kind!r}")
    bad_colors = [c for c in rule.colors if not isinstance(c, Color)]
    if bad_colors:
        errors.append(f"colors must be Color values, got {bad_colors!r}")
    if rule.repeat_days is not None and rule.repeat_days < 1:
        errors.append(f"repeat_days must be >= 1 or None, got {rule.repeat_days}")
    if not rule.recipients:
        errors.append("recipients must not be empty")
    for role in rule.recipients + rule.escalate_to:
        if role not in RECIPIENT_ROLES:
            errors.append(f"unknown role {role!r} (known: {', '.join(RECIPIENT_ROLES)})")
    if rule.escalate_after is None:
        if rule.escalate_to:
            errors.append("escalate_to is set but escalate_after is None")
    else:
        if rule.escalate_after < 0:
            errors.append(f"escalate_after must be >= 0, got {rule.escalate_after}")
        if not rule.escalate_to:
            errors.append("escalate_after is set but escalate_to is empty")
        if rule.escalate_after > 0 and rule.repeat_days is None:
            errors.append("escalate_after > 0 needs repeat_days (a one-off never escalates)")
    if not rule.text.strip():
        errors.append("text must not be empty")
    else:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(rule.text) if f is not None}
        except ValueError as e:
            errors.append(f"text is not a valid template: {e}")
        else:
            unknown = sorted(names - PLACEHOLDERS)
            if unknown:
                errors.append(
                    f"text uses unknown placeholder(s) {', '.join(map(repr, unknown))};"
                    " allowed: {code} {title} {due} {deadline} {since} {days} {unit} {owner}"
                )
    return errors


def default_rules() -> tuple[ReminderRule, ...]:
    """The six built-in rules.

    红码一周一评估, 黄码半月一评估, 诉前会商, 责任倒查, 复核答复催办, 整改逾期.
    """
    return (
        ReminderRule(
            id="reevaluate_red",
            kind=REEVALUATE,
            colors=(Color.RED,),
            first_after_days=7,
            repeat_days=7,
            working_days=False,
            recipients=("prosecutor",),
            escalate_after=None,
            escalate_to=(),
            text=(
                "【红码评估提醒】案件 {code}《{title}》为红码，上次评估为 {since}，已满 {days} 天，"
                "应评估日期为 {due}。请承办检察官及时重新评估（红码一周一评估）。"
            ),
        ),
        ReminderRule(
            id="reevaluate_yellow",
            kind=REEVALUATE,
            colors=(Color.YELLOW,),
            first_after_days=15,
            repeat_days=15,
            working_days=False,
            recipients=("prosecutor",),
            escalate_after=None,
            escalate_to=(),
            text=(
                "【黄码评估提醒】案件 {code}《{title}》为黄码，上次评估为 {since}，已满 {days} 天，"
                "应评估日期为 {due}。请承办检察官及时重新评估（黄码半月一评估）。"
            ),
        ),
        ReminderRule(
            id="consultation",
            kind=CONSULTATION,
            colors=(Color.RED, Color.YELLOW),
            first_after_days=-15,
            repeat_days=None,
            working_days=False,
            recipients=("investigators", "prosecutor"),
            escalate_after=None,
            escalate_to=(),
            text=(
                "【诉前会商提醒】案件 {code}《{title}》侦查期限将于 {deadline}届满，目前尚未转为绿码。"
                "请侦查人员与承办检察官及时开展诉前会商。"
            ),
        ),
        ReminderRule(
            id="custody_escalation",
            kind=CUSTODY,
            colors=(Color.RED,),
            first_after_days=0,
            repeat_days=None,
            working_days=False,
            recipients=("prosecutor",),
            escalate_after=0,
            escalate_to=("leader",),
            text=(
                "【责任倒查】案件 {code}《{title}》羁押期限已于 {due}届满，案件仍为红码。"
                "请院领导启动责任倒查。"
            ),
        ),
        ReminderRule(
            id="review_answer",
            kind=REVIEW_ANSWER,
            colors=(),
            first_after_days=0,
            repeat_days=2,
            working_days=True,
            recipients=("prosecutor",),
            escalate_after=1,
            escalate_to=("leader",),
            text=(
                "【复核答复提醒】复核申请 {code}《{title}》已超过答复期限 {deadline}仍未答复，"
                "请承办检察官{owner}尽快答复。"
            ),
        ),
        ReminderRule(
            id="rectification_overdue",
            kind=RECTIFICATION,
            colors=(),
            first_after_days=1,
            repeat_days=3,
            working_days=True,
            recipients=("chief",),
            escalate_after=1,
            escalate_to=("inspector",),
            text=(
                "【整改逾期提醒】{unit}督察整改事项 {code}《{title}》（责任人：{owner}）已超过整改期限"
                " {deadline}仍未完成，请抓紧整改落实。"
            ),
        ),
    )


def find_rule(rules: Iterable[ReminderRule], rule_id: str) -> ReminderRule | None:
    return next((r for r in rules if r.id == rule_id), None)


def render_text(
    rule: ReminderRule,
    *,
    code: str,
    title: str,
    due: date | datetime,
    tz: tzinfo = SHANGHAI,
    escalation: bool = False,
    deadline: date | datetime | None = None,
    since: date | datetime | None = None,
    unit: str = "",
    owner: str = "",
) -> str:
    """The card text: ``rule.text`` with {code} {title} {due} {deadline} {since} {days}
    {unit} {owner}, dates with their weekday as the card's other lines write them
    (2026-10-08（周四）: :func:`~bot.domain.workcal.day_text`). {due} is when
    this reminder fell due; {deadline} the subject's own deadline (a case's investigation
    deadline, a review's answer time, a rectification item's due date), {due} where the
    subject has none; {since} a case's last evaluation ({due} where none) and {days} the
    days from it to {due}, so a reminder repeated weeks later says how long it really has
    been; {unit} the office (a case's, an item's) and {owner} who answers for it (a case's
    prosecutor, an item's 责任人).

    Escalations of a rule that normally starts with a plain reminder get
    :data:`ESCALATION_PREFIX`.
    """
    def day_of(d: date | datetime) -> date:
        return d.astimezone(tz).date() if isinstance(d, datetime) else d

    start = since if since is not None else due
    text = rule.text.format(code=code, title=title, due=day_text(due, tz),
                            deadline=day_text(deadline if deadline is not None else due, tz),
                            since=day_text(start, tz), days=(day_of(due) - day_of(start)).days,
                            unit=unit, owner=owner)
    if escalation and rule.escalate_after:
        text = ESCALATION_PREFIX + text
    return text


# --------------------------------------------------------------------------- occurrences


@dataclass(frozen=True)
class Occurrence:
    rule_id: str
    subject: str
    slot: str
    due_at: datetime
    recipients: tuple[str, ...]
    escalation: bool
    late: bool = False  # already past due when planned (catch-up); delivered at once
    index: int = 0  # position in the rule's series: 0 = first reminder

    @property
    def key(self) -> str:
        return f"{self.rule_id}:{self.subject}:{self.slot}"


@dataclass(frozen=True)
class CaseState:
    code: str
    color: Color | None = None
    last_evaluated_at: datetime | None = None
    investigation_deadline: date | None = None
    custody_deadline: date | None = None
    closed: bool = False
    # when a closed case was closed (None: not known): a 责任倒查 owed by then still goes out
    closed_at: datetime | None = None
    consultation_started: bool = False
    # (evaluation time, colour), oldest first: the colour when the custody deadline came.
    # None: not loaded, the current colour stands in (callers load it once the deadline has come)
    history: tuple[tuple[datetime, Color], ...] | None = None

    def color_at_deadline(self, moment: datetime) -> Color | None:
        return self.color if self.history is None else color_at_deadline(self.history, moment)


def review_subject(request_id: int) -> str:
    return f"review-{request_id}"


def rectification_subject(item_id: int | str) -> str:
    return f"rectification-{item_id}"


def series(
    rule: ReminderRule, anchor: datetime, cal: WorkCalendar, tz: tzinfo,
    at: time | None = None,
) -> Iterator[tuple[int, datetime]]:
    """``(index, due_at)`` of the rule's occurrences from ``anchor``; endless if repeating.
    Each is due at the anchor's local time of day, or at ``at`` when given (a deadline: the
    end of office hours)."""
    _aware(anchor, "anchor")
    local = anchor.astimezone(tz)
    clock = local.time() if at is None else at
    day = _shift(local.date(), rule.first_after_days, rule.working_days, cal)
    index = 0
    while True:
        yield index, datetime.combine(day, clock, tzinfo=tz)
        if rule.repeat_days is None:
            return
        index += 1
        day = _shift(day, rule.repeat_days, rule.working_days, cal)


def occurrences(
    rule: ReminderRule,
    anchor: datetime,
    now: datetime,
    *,
    subject: str,
    cal: WorkCalendar,
    tz: tzinfo,
    horizon: int = 1,
    since: datetime | None = None,
    until: datetime | None = None,
    at: time | None = None,
) -> list[Occurrence]:
    """The series occurrences that should exist at ``now``.

    Every occurrence due at or before ``now`` (``late=True``; only those after ``since``
    when given) followed by the next ``horizon`` future ones. Occurrences due at or after
    ``until`` are dropped (the series ends there). ``at``: as in :func:`series`.
    """
    _aware(now, "now")
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    out: list[Occurrence] = []
    future = 0
    for index, due in series(rule, anchor, cal, tz, at):
        if until is not None and due >= until:
            break
        late = due <= now
        if not late:
            if future >= horizon:
                break
            future += 1
        elif since is not None and due <= since:
            continue
        out.append(
            Occurrence(
                rule_id=rule.id,
                subject=subject,
                slot=due.date().isoformat(),
                due_at=due,
                recipients=rule.recipients_for(index),
                escalation=rule.is_escalation(index),
                late=late,
                index=index,
            )
        )
    return out


def late_when_planned(occurrence: Occurrence, kind: str, planned_at: datetime,
                      late_after: timedelta) -> bool:
    """Whether an occurrence planned at ``planned_at`` is already a late one (【补发】: the bot
    failed to send it in time). The first 诉前会商 or 责任倒查 of a case is planned by what makes
    it owed, in the same transaction: a scoring, a deadline set or changed. One already past
    then (a case scored 10 days before its investigation deadline, a custody deadline gone
    by) was owed late, not sent late: it goes out at once without 补发. Later slots, and the
    reminders the sweep discovers (review answers, rectification items), are late when past."""
    if occurrence.index == 0 and kind in (CONSULTATION, CUSTODY):
        return False
    return occurrence.due_at <= planned_at - late_after


def missed_occurrences(
    rule: ReminderRule,
    anchor: datetime,
    now: datetime,
    *,
    subject: str,
    cal: WorkCalendar,
    tz: tzinfo,
    since: datetime | None = None,
) -> list[Occurrence]:
    """Catch-up: every occurrence due in ``(since, now]`` (all up to ``now`` without
    ``since``), one per slot, ``late=True``. Insert them by key, ignoring duplicates:
    calling this on every tick after a downtime yields the same keys, never new copies.
    """
    return occurrences(rule, anchor, now, subject=subject, cal=cal, tz=tz, horizon=0, since=since)


def superseded(occurrence: Occurrence, planned: Iterable[Occurrence], now: datetime) -> bool:
    """Whether a later slot of the same series is already due at ``now``.

    Such an occurrence is folded into the later one instead of being sent (SPEC §3: after
    missed windows, "catch up once, not N times"): a bot that was down for three weeks
    sends one re-evaluation reminder naming the three missed dates, not three cards.
    """
    return any(o.rule_id == occurrence.rule_id and o.subject == occurrence.subject
               and o.index > occurrence.index and o.due_at <= now for o in planned)


def plan_case(
    state: CaseState,
    rules: Sequence[ReminderRule],
    cal: WorkCalendar,
    tz: tzinfo,
    now: datetime,
    horizon: int = 1,
    office_start: time = OFFICE_START,
) -> list[Occurrence]:
    """All occurrences of the case rules that should exist for ``state`` at ``now``.

    A re-evaluation falls due when office hours (``office_start``) begin on its day, to be
    done by their end: the prosecutor is reminded that morning and has the whole office day,
    whatever the hour of the last evaluation (not 03:26 because it was scored then).

    Per applicable rule (in ``rules`` order, chronological): the past-due ones (late) and
    the next ``horizon`` future ones. Nothing more for a closed case (below). Non-case rules
    (review_answer, rectification) are ignored. Deterministic: the same inputs always give
    the same keys, and advancing ``now`` keeps the keys of earlier plans (while the state
    is unchanged), so inserting by key never duplicates.

    A closed case gets nothing but a 责任倒查 it already owed when it was closed (its custody
    deadline came before ``closed_at`` with the case red): the one reminder, no repeats.
    """
    _aware(now, "now")
    if state.closed:
        closed_at = state.closed_at
        if closed_at is None:
            return []
        return [o for rule in rules if rule.kind == CUSTODY
                for o in _plan_custody(rule, state, cal, tz, now, horizon)
                if o.index == 0 and o.due_at <= closed_at]
    out: list[Occurrence] = []
    local_today = now.astimezone(tz).date()
    for rule in rules:
        if rule.kind not in CASE_KINDS:
            continue
        if rule.kind == CUSTODY:
            out.extend(_plan_custody(rule, state, cal, tz, now, horizon))
            continue
        if rule.colors and state.color not in rule.colors:
            continue
        until: datetime | None = None
        at: time | None = None
        if rule.kind == REEVALUATE:
            at = office_start
            if state.color is None or state.last_evaluated_at is None:
                continue
            anchor = state.last_evaluated_at
        elif rule.kind == CONSULTATION:
            deadline = state.investigation_deadline
            if deadline is None or state.consultation_started or local_today > deadline:
                continue
            anchor = _midnight(deadline, tz)
            until = _midnight(deadline + timedelta(days=1), tz)
        else:
            continue
        out.extend(
            occurrences(
                rule,
                anchor,
                now,
                subject=state.code,
                cal=cal,
                tz=tz,
                horizon=horizon,
                until=until,
                at=at,
            )
        )
    return out


def _plan_custody(rule: ReminderRule, state: CaseState, cal: WorkCalendar, tz: tzinfo,
                  now: datetime, horizon: int) -> list[Occurrence]:
    """责任倒查 is owed for a case still red when its custody deadline ran out, at the end of
    that day (seed: 羁押期限已至仍是红码; the statistics count 羁押期限届满仍为红码 the same
    way): a re-score after that moment does not call it off, even before the reminder is
    delivered; one on the deadline day does. Before the end of that day the current colour
    decides; repeats (when configured) go on only while the case stays red."""
    if state.custody_deadline is None:
        return []
    # the date is the last day of custody: a re-score that day still counts
    anchor = custody_ends_at(state.custody_deadline, tz)
    owed = state.color_at_deadline(anchor) if now >= anchor else state.color
    if rule.colors and owed not in rule.colors:
        return []
    still = not rule.colors or state.color in rule.colors
    # slots keep naming the deadline day (keys as before the anchor moved to its end: a
    # 责任倒查 already sent is not sent again under a new key)
    return [dataclasses.replace(o, slot=(o.due_at.date() - timedelta(days=1)).isoformat())
            for o in occurrences(rule, anchor, now, subject=state.code, cal=cal, tz=tz,
                                 horizon=horizon) if o.index == 0 or still]


def obsolete(pending_keys: Iterable[str], planned: Iterable[Occurrence]) -> set[str]:
    """Pending (unsent) keys that a fresh plan no longer contains: cancel them.

    Pass the pending keys of the subjects that were just re-planned (e.g. of one case for
    :func:`plan_case`); keys of other subjects would all look obsolete.
    """
    return set(pending_keys) - {o.key for o in planned}


def plan_review_answer(
    request_id: int,
    filed_at: datetime,
    answer_days: int,
    cal: WorkCalendar,
    tz: tzinfo,
    *,
    rule: ReminderRule | None = None,
    now: datetime | None = None,
    horizon: int | None = None,
    office_end: time = OFFICE_END,
) -> list[Occurrence]:
    """Reminders for an unanswered review request (复核申请), subject ``review-<id>``.

    The first reminder (to the prosecutor) is due at its answer time, the end of office
    hours (``office_end``) of the ``answer_days``-th working day after ``filed_at`` (see
    :func:`answer_deadline`); with the default rule, each further miss (every 2 working
    days) escalates to the leader as well. ``now`` defaults to ``filed_at``; ``horizon``
    defaults to "through the first escalation". Stop planning and cancel the subject's
    pending rows once the request is answered.
    """
    due = answer_deadline(filed_at, answer_days, cal, tz, office_end)
    return plan_review_overdue(request_id, due, cal, tz, rule=rule,
                               now=filed_at if now is None else now, horizon=horizon)


def answer_deadline(filed_at: datetime, answer_days: int, cal: WorkCalendar, tz: tzinfo,
                    office_end: time = OFFICE_END) -> datetime:
    """A review request's answer time (答复期限): the end of office hours on the
    ``answer_days``-th working day after the day it was filed. A request filed on a Saturday
    at 03:26 is answered by 18:00 of its last working day, not by 03:26 of it: it is not
    overdue before that office day is over."""
    if answer_days < 1:
        raise ValueError(f"answer_days must be >= 1, got {answer_days}")
    return cal.working_days_deadline(filed_at, answer_days, tz, office_end)


def plan_review_overdue(
    request_id: int,
    answer_due_at: datetime,
    cal: WorkCalendar,
    tz: tzinfo,
    *,
    rule: ReminderRule | None = None,
    now: datetime | None = None,
    horizon: int | None = None,
) -> list[Occurrence]:
    """Reminders for a review request still unanswered at its answer time ``answer_due_at``
    (the stored ``due_at``, already counted in working days): the first one
    ``rule.first_after_days`` after it (0 by default), then every ``repeat_days``,
    escalating after ``escalate_after`` misses."""
    base = rule or _default(REVIEW_ANSWER)
    return _plan_subject(base, review_subject(request_id), answer_due_at, cal, tz, now, horizon)


def plan_rectification(
    item_id: int | str,
    due: date,
    cal: WorkCalendar,
    tz: tzinfo,
    *,
    rule: ReminderRule | None = None,
    now: datetime | None = None,
    horizon: int | None = None,
) -> list[Occurrence]:
    """Reminders for an inspection rectification item past ``due``, subject
    ``rectification-<id>``.

    With the default rule: the unit chief on the first working day after ``due``
    (00:00, delivered at office hours), then every 3 working days escalating to the
    inspector as well. ``now``/``horizon`` as in :func:`plan_review_answer`.
    """
    base = rule or _default(RECTIFICATION)
    anchor = _midnight(due, tz)
    return _plan_subject(base, rectification_subject(item_id), anchor, cal, tz, now, horizon)


def deliver_at(
    occurrence: Occurrence,
    cal: WorkCalendar,
    tz: tzinfo = SHANGHAI,
    start: time = OFFICE_START,
    end: time = OFFICE_END,
    workdays_only: bool = True,
    *,
    rule: ReminderRule | None = None,
    earliest: datetime | None = None,
) -> datetime:
    """When to actually send: ``due_at`` (or ``earliest``, a snooze, when later; never for an
    escalation) pushed to the next office hours.

    Given the occurrence's ``rule``, a repeating series is also kept to one reminder a day: a
    long holiday (国庆, 春节) can push a slot to the day its successor falls due (a weekly
    slot due on 10-01 goes out on 10-08, when the next one is due too). Then the pushed slot
    waits for its successor's delivery time that same day, where the sweep folds it into the
    successor (:func:`superseded`): one card naming both dates instead of two identical
    reminders on one day. Nothing waits past that day.
    """
    def push(index: int, due: datetime) -> datetime:
        escalation = rule.is_escalation(index) if rule is not None else occurrence.escalation
        if earliest is not None and earliest > due and not escalation:
            due = earliest
        return cal.next_office_time(due, tz, start, end, workdays_only)

    at = push(occurrence.index, occurrence.due_at)
    if rule is None or rule.repeat_days is None:
        return at
    index, due = occurrence.index, occurrence.due_at
    while True:
        index += 1
        local = due.astimezone(tz)
        day = _shift(local.date(), rule.repeat_days, rule.working_days, cal)
        due = datetime.combine(day, local.time(), tzinfo=tz)
        nxt = push(index, due)
        if nxt.astimezone(tz).date() != at.astimezone(tz).date():
            return at
        at = max(at, nxt)


# --------------------------------------------------------------------------- helpers


def _plan_subject(
    rule: ReminderRule,
    subject: str,
    anchor: datetime,
    cal: WorkCalendar,
    tz: tzinfo,
    now: datetime | None,
    horizon: int | None,
) -> list[Occurrence]:
    if horizon is None:
        horizon = 1 if rule.escalate_after is None else rule.escalate_after + 1
    return occurrences(
        rule,
        anchor,
        anchor if now is None else now,
        subject=subject,
        cal=cal,
        tz=tz,
        horizon=horizon,
    )


def _default(kind: str) -> ReminderRule:
    return next(r for r in default_rules() if r.kind == kind)


def _shift(day: date, days: int, working: bool, cal: WorkCalendar) -> date:
    return cal.add_working_days(day, days) if working else day + timedelta(days=days)


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
