"""Overdue reminders (逾期提醒, SPEC §3): planning into the database, the sweep, and closing.

How it fits together
--------------------
* **Plan.** The pure rule engine (:mod:`bot.domain.reminders`) says which occurrences a
  subject should have; :meth:`ReminderService.plan_cases` (and the review / rectification
  variants) upserts them by their unique key and cancels the subject's pending rows that the
  fresh plan no longer contains. Planning runs after every evaluation (``on_evaluation``
  hook), after a deadline change or closing (:func:`replan_case`), for every subject the
  sweep delivers (so the next slot of a repeating rule appears), and by discovery for review
  requests / rectification items that became overdue.
* **Sweep** (a ticker: APScheduler in real mode, the console's test clock in tests). One
  transaction per batch: claim due rows atomically, re-plan their subjects *at send time*
  (a reminder whose case turned green, closed or whose request was answered meanwhile is
  cancelled, not sent), write each reminder's DM cards through :class:`Outbound` (the
  ``messages`` row plus outbox rows for external platforms) and mark the row sent. A crash
  anywhere rolls the whole batch back: every row is delivered exactly once. Cost per sweep
  is proportional to the number of due rows (index on status, deliver_at).
* **Catch-up.** Missed slots have stable keys, so after a downtime each one is inserted and
  sent once (marked 补发), never once per missed tick, and only in office hours (the sweep
  delivers nothing outside them).
* **One a day.** A slot that a long holiday (or a snooze) pushes to the day the series' next
  slot goes out waits for it and is folded into it (domain ``deliver_at``); a row stored with
  an earlier time is put back at send time. One card per series and day, naming both dates.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import closed_footer, code_links, notify, redraw_case_card, score_url
from bot.context import Outbound, Services, unit_of_work
from bot.domain.reminders import (
    CASE_KINDS,
    CONSULTATION,
    CUSTODY,
    CUSTODY_LEADER_TEXT,
    RECTIFICATION,
    RECTIFICATION_URGE_TEXT,
    REEVALUATE,
    REVIEW_ANSWER,
    REVIEW_RESCORE_TEXT,
    CaseState,
    Occurrence,
    ReminderRule,
    deliver_at,
    late_when_planned,
    plan_case,
    plan_rectification,
    plan_review_overdue,
    rectification_subject,
    render_text,
    review_subject,
    superseded,
)
from bot.domain.review import awaits_rescore
from bot.domain.scoring import Color, Evaluation, custody_ends_at
from bot.domain.workcal import WorkCalendar
from cards.inspection import report_done_button
from cards.model import Button, Card
from cards.reminders import (
    TITLES,
    ReminderView,
    closed_card,
    due_line,
    escalated,
    reminder_card,
    reopened_card,
    restated,
    restored_card,
    superseded_card,
)
from config.model import Person
from storage import cases as case_repo
from storage import inspection as inspection_repo
from storage import reminders as repo
from storage import reviews as review_repo
from storage.cases import CaseRow
from storage.inspection import RectificationToRemind
from storage.messages import get_message, message_card
from storage.reminders import (
    CANCELLED,
    FOLDED,
    PENDING,
    SENT,
    Reminder,
)

log = logging.getLogger(__name__)

CLOSED_LABELS = {"done": "已处理", "consult": "已发起会商", "evaluated": "已重新评估",
                 "answered": "已答复", "withdrawn": "申请已撤回", "green": "已转绿码",
                 "settled": "已由重新评分解决", "closed": "案件已结案",
                 "case_withdrawn": "案件已撤销",
                 "rectified": "已由整改汇报销号", "reported": "已处理",
                 "rescored": "已重新评分"}
SUPERSEDED = "superseded"  # how a card was closed by the next reminder of its series
RECTIFIED = "rectified"  # how a report's 销号 closed an item's sent reminders (undone on reopening)
REPORTED = "reported"  # how a chief's 整改完成 closed them (undone when the inspector sends back)
CASE_CLOSED = "closed"  # how closing a case closed its reminders (undone on reopening)
CLOSED_ACTS = {REPORTED: " 已报告整改完成"}  # after who closed it: 已处理：张三 已报告整改完成 …
REOPENED_LABEL = "整改汇报已更正，恢复整改"
SENT_BACK_LABEL = "已退回重新整改"
ACTORS = {"api": "案件管理系统", "bot": "系统"}  # who closed a card, when no person did


# the sweep lock's release: deleted only while it is still this worker's (KEYS[1], ARGV[1])
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Subject:
    """One subject being planned or delivered: its plan and who its roles are."""

    subject: str
    case_code: str | None
    code: str  # shown as {code}
    title: str
    planned: list[Occurrence] = field(default_factory=list)
    people: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> person ids
    deadline: date | datetime | None = None  # shown as {deadline}: a review's answer time, …
    since: datetime | None = None  # {since}, {days}: a case's last evaluation
    unit: str = ""  # {unit}: the case's or the item's office
    owner: str = ""  # {owner}: the case's prosecutor, the item's 责任人
    custody_status: str | None = None  # 现状 on a 责任倒查 card once the case is no longer red
    rescore: bool = False  # a review request agreed and waiting for its re-score
    # {due} of a 责任倒查: the last day of custody (its reminder falls due when that day ends)
    custody_deadline: date | None = None
    # the case it is about (a case's, a review request's): its reminders reach only those who
    # may see it when sent (`notify`)
    case: CaseRow | None = None


@dataclass
class SweepResult:
    sent: int = 0
    cancelled: int = 0
    messages: int = 0
    late: int = 0
    folded: int = 0
    held: int = 0  # put back to wait for the series' next slot, due later the same day
    # "rule_id:subject" -> due dates folded into that series' catch-up reminder, this sweep
    missed: dict[str, list[datetime]] = field(default_factory=dict)


class ReminderService:
    def __init__(self, services: Services, worker: str | None = None) -> None:
        self.services = services
        cfg = services.config.reminders
        self.cfg = cfg
        self.rules: tuple[ReminderRule, ...] = cfg.domain_rules()
        self.by_id = {r.id: r for r in self.rules}
        self.case_rule_ids = tuple(r.id for r in self.rules if r.kind in CASE_KINDS)
        self.cal: WorkCalendar = services.calendar
        self.tz = services.config.tz
        self.office = services.config.office_hours
        self.worker = worker or worker_id()
        self.late_after = timedelta(minutes=cfg.late_after_minutes)
        self.lock_key = f"{services.config.storage.redis_prefix}reminders:sweep"
        self._redis_down = False  # one log line when Redis is lost, one when it is back

    def rule_of(self, kind: str) -> ReminderRule | None:
        return next((r for r in self.rules if r.kind == kind), None)

    # ------------------------------------------------------------------ times

    def office_open(self, at: datetime) -> bool:
        """Reminders go out in office hours only (SPEC §3): a slot missed while the bot was
        down is caught up at the next office time, not at 5 a.m. or on a Saturday."""
        return self.cal.is_office_time(at, self.tz, self.office.start, self.office.end,
                                       self.cfg.office_hours_workdays_only)

    def deliver_time(self, occ: Occurrence, snoozed_until: datetime | None = None) -> datetime:
        """``due_at`` pushed into office hours; a snooze pushes non-escalations further; a slot
        pushed (by a long holiday) to the day its successor goes out waits for it, to be
        folded into it: one reminder per series and day (domain ``deliver_at``)."""
        return deliver_at(occ, self.cal, self.tz, self.office.start, self.office.end,
                          self.cfg.office_hours_workdays_only, rule=self.by_id.get(occ.rule_id),
                          earliest=snoozed_until)

    def next_office_time(self, at: datetime) -> datetime:
        """``at`` if it is office time, else when office hours next begin."""
        return self.cal.next_office_time(at, self.tz, self.office.start, self.office.end,
                                         self.cfg.office_hours_workdays_only)

    def _row(self, occ: Occurrence, subj: Subject, snoozed: datetime | None,
             now: datetime) -> dict[str, Any]:
        late = late_when_planned(occ, self.by_id[occ.rule_id].kind, now, self.late_after)
        deliver = self.deliver_time(occ, snoozed)
        if not late and deliver < now:  # owed from now on (domain late_when_planned)
            deliver = self.next_office_time(now)
        return {
            "key": occ.key, "rule_id": occ.rule_id, "subject": occ.subject,
            "case_code": subj.case_code, "slot": occ.slot, "seq": occ.index,
            "escalation": occ.escalation, "late": late,
            "due_at": occ.due_at, "deliver_at": deliver,
            "status": PENDING, "planned_at": now,
        }

    async def _store(self, session: AsyncSession, subjects: Sequence[Subject], now: datetime,
                     rule_ids: Sequence[str]) -> None:
        snoozes = await repo.snooze_until(session, [s.subject for s in subjects])
        rows = [self._row(o, s, snoozes.get(s.subject), now) for s in subjects for o in s.planned]
        await repo.upsert(session, rows)
        await repo.cancel_pending(session, [s.subject for s in subjects],
                                  keep=[r["key"] for r in rows], rule_ids=rule_ids)

    # ------------------------------------------------------------------ recipients

    def case_people(self, case: CaseRow) -> dict[str, tuple[str, ...]]:
        """Who a case's (and its review requests') reminders go to, by role; the
        investigators are read per case where a plan needs them. ``leader`` is whom the
        office's escalations go to: its 院领导, else its 检察长, else the office above's."""
        d = self.services.directory
        chief = d.chief_of(case.unit)
        return {"prosecutor": (case.prosecutor,),
                "leader": tuple(p.id for p in d.leaders_of(case.unit)),
                "chief": (chief.id,) if chief else ()}

    def names(self, unit_id: str, person_id: str) -> tuple[str, str]:
        """{unit} and {owner} of a reminder's text."""
        d = self.services.directory
        return d.unit_name(unit_id), d.person_name(person_id)

    def rectification_people(self, item: RectificationToRemind) -> dict[str, tuple[str, ...]]:
        """The unit's chief with the item's 责任人 (told "逾期将提醒" at 整改), then the inspector
        who ran the session (any inspector when none is known or they have left the roster).
        A 责任人 no longer on the roster is not reminded: the unit's chief is."""
        d = self.services.directory
        chief = d.chief_of(item.unit)
        owner = item.owner if d.person(item.owner) is not None else None
        return {
            "chief": tuple(dict.fromkeys(p for p in (owner, chief.id if chief else None) if p)),
            "inspector": tuple(d.inspectors_of(item.inspector)),
        }

    async def upcoming_for(self, session: AsyncSession, person: Person) -> list[Reminder]:
        """The pending reminders the sweep will send ``person``, soonest first: those of their
        own cases, the escalations of their unit's cases when they are its leader or chief
        (责任倒查, 复核答复 overdue), those of the rectification items they answer for
        (督察整改). Each is theirs by the same roles and ``recipients_for`` the sweep uses."""
        found: list[tuple[Reminder, dict[str, tuple[str, ...]]]] = []
        # closed cases too: a closed case still owes the 责任倒查 of a red custody deadline
        own = {c.code: c for c in await case_repo.cases_of(session, person.id, open_only=False)}
        for r in await repo.upcoming_for_cases(session, list(own)):
            case = own[r.case_code or ""]
            # cases_of: the person is the case's prosecutor, or else one of its investigators
            mine: dict[str, tuple[str, ...]] = \
                {} if case.prosecutor == person.id else {"investigators": (person.id,)}
            found.append((r, self.case_people(case) | mine))
        heads = {"leader", "chief"} & set(person.roles)  # of the cases of their unit
        led = self.services.directory.led_units(person.id)  # a chief's too, without a 院领导
        if led:
            heads.add("leader")
        up = [r.id for r in self.rules if heads & set(r.recipients + r.escalate_to)]
        units = list(dict.fromkeys([person.unit, *led])) if heads else []
        found += [(r, self.case_people(case)) for r, case
                  in await repo.upcoming_for_units(session, units, up)
                  if case.code not in own]
        rects = await repo.upcoming_for_rectifications(session)
        if rects:
            items = await inspection_repo.rectifications_to_remind(
                session, [r.subject.removeprefix("rectification-") for r in rects])
            people = {rectification_subject(i.id): self.rectification_people(i) for i in items}
            found += [(r, people[r.subject]) for r in rects if r.subject in people]
        settled = await repo.settled_by(session, [(r.rule_id, r.subject) for r, _ in found])
        mine_only = [r for r, people in found if self._reaches(
            person.id, r, people, person.id in settled.get((r.rule_id, r.subject), ()))]
        return sorted(mine_only, key=lambda r: (r.deliver_at, r.id))

    async def rectifications_not_due_for(self, session: AsyncSession, person: Person,
                                         today: date) -> list[RectificationToRemind]:
        """The open rectification items not yet due that ``person`` will be reminded of once
        they are overdue (the first reminder's recipients, by ``rectification_people``: the
        item's 责任人 and the unit's chief), soonest due first. Nothing is planned for them
        yet, so ``upcoming_for`` cannot name them (but for one sent back before its due date,
        whose first reminder is planned: 提醒 lists that item here only)."""
        rule = self.rule_of(RECTIFICATION)
        if rule is None:
            return []
        roles = rule.recipients_for(0)
        return [i for i in await inspection_repo.open_rectifications_not_due(session, today)
                if any(person.id in self.rectification_people(i).get(role, ()) for role in roles)]

    async def escalated_only(self, session: AsyncSession, person_id: str,
                             rows: Sequence[Reminder]) -> set[int]:
        """The ids of these reminders that reach ``person_id`` only as the one their series
        escalates to (a leader, an inspector): of the series they were sent the escalations
        alone, which is what 提醒's 已提醒 N 次 counts for them."""
        kinds = {r.id: self.by_id[r.rule_id].kind for r in rows if r.rule_id in self.by_id}
        people: dict[str, dict[str, tuple[str, ...]]] = {}
        codes = sorted({r.subject for r in rows if kinds.get(r.id) in CASE_KINDS})
        if codes:
            invs = await case_repo.investigators_of_cases(session, codes)
            for case, _ in await case_repo.with_evaluation_time(session, codes):
                people[case.code] = self.case_people(case) | {
                    "investigators": tuple(invs.get(case.code, ()))}
        reviews = sorted({int(r.subject.removeprefix("review-")) for r in rows
                          if kinds.get(r.id) == REVIEW_ANSWER})
        if reviews:
            people |= {review_subject(review.id): self.case_people(case)
                       for review, case in await review_repo.with_cases(session, reviews)}
        items = sorted({r.subject.removeprefix("rectification-") for r in rows
                        if kinds.get(r.id) == RECTIFICATION})
        if items:
            people |= {rectification_subject(i.id): self.rectification_people(i)
                       for i in await inspection_repo.rectifications_to_remind(session, items)}
        return {r.id for r in rows if r.id in kinds and r.subject in people
                and not any(person_id in people[r.subject].get(role, ())
                            for role in self.by_id[r.rule_id].recipients)}

    def _reaches(self, pid: str, r: Reminder, people: dict[str, tuple[str, ...]],
                 settled: bool = False) -> bool:
        """Whether the sweep sends ``r`` to ``pid``: by a role of its recipients, and when only
        as the one it escalates to, unless they marked the series 已处理 (``settled``)."""
        rule = self.by_id.get(r.rule_id)
        if rule is None:
            return False
        roles = rule.recipients if settled else rule.recipients_for(r.seq)
        return any(pid in people.get(role, ()) for role in roles)

    # ------------------------------------------------------------------ cases

    async def load_cases(self, session: AsyncSession, codes: Iterable[str], now: datetime
                         ) -> dict[str, Subject]:
        """The cases' current state, planned at ``now`` (unknown codes plan nothing)."""
        codes = sorted(set(codes))
        out: dict[str, Subject] = {c: Subject(c, c, c, "") for c in codes}
        if not codes:
            return out
        states = {case.code: (case, evaluated_at) for case, evaluated_at
                  in await case_repo.with_evaluation_time(session, codes)}
        consulted = await repo.consultations_started(session, list(states))
        # 责任倒查 is owed by the colour when the custody deadline ran out (the end of its
        # day): read the history of the cases whose deadline has run out
        due = [code for code, (case, _) in states.items()
               if case.custody_deadline is not None
               and custody_ends_at(case.custody_deadline, self.tz) <= now]
        histories = await case_repo.color_histories(session, due)
        # … and still owed by a case closed after that (nothing else is planned for it)
        need_investigators: list[str] = []
        for code, (case, evaluated_at) in states.items():
            s = out[code]
            s.title = case.title
            s.deadline = case.investigation_deadline  # {deadline} of the 诉前会商 text
            s.since = evaluated_at
            s.custody_deadline = case.custody_deadline
            s.unit, s.owner = self.names(case.unit, case.prosecutor)
            history = histories.get(code)
            state = CaseState(
                code=code, color=Color(case.color) if case.color else None,
                last_evaluated_at=evaluated_at, investigation_deadline=case.investigation_deadline,
                custody_deadline=case.custody_deadline, closed=case.status != "open",
                closed_at=case.closed_at, consultation_started=code in consulted,
                history=None if history is None else tuple((at, Color(c)) for at, c in history))
            s.planned = plan_case(state, self.rules, self.cal, self.tz, now, horizon=1,
                                  office_start=self.office.start)
            s.custody_status = custody_status(case, self.tz)
            s.people, s.case = self.case_people(case), case
            if any("investigators" in o.recipients for o in s.planned):
                need_investigators.append(code)
        if need_investigators:
            invs = await case_repo.investigators_of_cases(session, need_investigators)
            for code in need_investigators:
                out[code].people["investigators"] = tuple(invs.get(code, ()))
        return out

    async def plan_cases(self, session: AsyncSession, codes: Iterable[str], now: datetime
                         ) -> dict[str, Subject]:
        subjects = await self.load_cases(session, codes, now)
        await self._store(session, list(subjects.values()), now, self.case_rule_ids)
        return subjects

    # ------------------------------------------------------------------ review requests

    async def load_reviews(self, session: AsyncSession, ids: Iterable[int], now: datetime
                           ) -> dict[str, Subject]:
        ids = sorted(set(ids))
        out = {review_subject(i): Subject(review_subject(i), None, str(i), "") for i in ids}
        rule = self.rule_of(REVIEW_ANSWER)
        if not ids:
            return out
        for review, case in await review_repo.with_cases(session, ids):
            s = out[review_subject(review.id)]
            s.case_code, s.code, s.title = case.code, f"#{review.id}（{case.code}）", case.title
            s.deadline = review.due_at
            s.unit, s.owner = self.names(case.unit, case.prosecutor)
            s.people, s.case = self.case_people(case), case
            # agreed (同意并调整) and not yet re-scored: chased like an unanswered one, from its
            # answer time, by the same series (a slot sent while it was pending is not resent)
            s.rescore = awaits_rescore(review.status, review.outcome, review.new_version)
            owed = review.status == "pending" or s.rescore
            if rule is not None and owed and case.status == "open":
                s.planned = plan_review_overdue(review.id, review.due_at, self.cal, self.tz,
                                                rule=rule, now=now, horizon=1)
        return out

    async def plan_reviews(self, session: AsyncSession, ids: Iterable[int], now: datetime
                           ) -> dict[str, Subject]:
        subjects = await self.load_reviews(session, ids, now)
        await self._store(session, list(subjects.values()), now,
                          [r.id for r in self.rules if r.kind == REVIEW_ANSWER])
        return subjects

    async def discover_reviews(self, session: AsyncSession, now: datetime) -> int:
        """Plan the review requests owed an answer or a re-score that have no pending row (filed
        or agreed since, or from before requests were planned at filing); later slots are
        planned when the earlier ones are delivered."""
        if self.rule_of(REVIEW_ANSWER) is None:
            return 0
        ids = await repo.unplanned_reviews(session)
        if ids:
            await self.plan_reviews(session, ids, now)
        return len(ids)

    # ------------------------------------------------------------------ rectification items

    async def load_rectifications(self, session: AsyncSession, item_ids: Iterable[int | str],
                                  now: datetime) -> dict[str, Subject]:
        ids = sorted({str(i) for i in item_ids})
        out = {rectification_subject(i): Subject(rectification_subject(i), None, f"#{i}", "")
               for i in ids}
        rule = self.rule_of(RECTIFICATION)
        if not ids:
            return out
        for item in await inspection_repo.rectifications_to_remind(session, ids):
            s = out[rectification_subject(str(item.id))]
            s.title = (item.text or "")[:60]
            s.deadline = item.due
            s.unit, s.owner = self.names(item.unit, item.owner)
            s.people = self.rectification_people(item)
            if rule is not None and item.open:
                s.planned = plan_rectification(item.id, item.due, self.cal, self.tz,
                                               rule=rule, now=now, horizon=1)
        return out

    async def plan_rectifications(self, session: AsyncSession, item_ids: Iterable[int | str],
                                  now: datetime) -> dict[str, Subject]:
        subjects = await self.load_rectifications(session, item_ids, now)
        await self._store(session, list(subjects.values()), now,
                          [r.id for r in self.rules if r.kind == RECTIFICATION])
        return subjects

    async def discover_rectifications(self, session: AsyncSession, now: datetime) -> int:
        if self.rule_of(RECTIFICATION) is None:
            return 0
        today = now.astimezone(self.tz).date()
        ids = await repo.unplanned_overdue_rectifications(session, today)
        if ids:
            await self.plan_rectifications(session, ids, now)
        return len(ids)

    # ------------------------------------------------------------------ the test clock

    async def next_wakeup(self, after: datetime, until: datetime, inclusive: bool = False
                          ) -> datetime | None:
        """The first moment in ``(after, until]`` at which a sweep has work: a pending
        reminder's delivery time, or when a review request or rectification item falls due
        (the sweep that first sees them overdue plans their reminders). The test clock stops
        there on its way, so a jump of days delivers each reminder at its own time instead
        of as a catch-up at the landing time. ``inclusive``: a reminder to deliver at
        ``after`` itself counts (one planned at the current moment, not yet swept)."""
        found: list[datetime | None] = []
        async with self.services.db() as session:
            found.append(await repo.first_delivery_between(session, after, until, inclusive))
            if self.rule_of(REVIEW_ANSWER) is not None:
                found.append(await review_repo.first_pending_due_between(session, after, until))
            if self.rule_of(RECTIFICATION) is not None:
                due = await inspection_repo.first_open_rectification_due(
                    session, after.astimezone(self.tz).date())
                if due is not None:  # discovered on the day after its due date
                    day_after = datetime.combine(due + timedelta(days=1), time(0), self.tz)
                    found.append(day_after if after < day_after <= until else None)
        times = [t for t in found if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ the sweep

    async def sweep(self, now: datetime | None = None) -> SweepResult:
        """Deliver every due reminder once; returns what happened. Safe to run in any number
        of processes at once."""
        now = now or self.services.clock.now()
        result = SweepResult()
        if not self.cfg.enabled or not await self._lock():
            return result
        try:
            async with self.services.db() as session, session.begin():
                await self.discover_reviews(session, now)
                await self.discover_rectifications(session, now)
            if not self.office_open(now):
                return result  # due rows, catch-ups included, wait for office hours
            while True:  # until nothing is due: catch-up slots planned by a batch follow
                written = result.messages
                async with unit_of_work(self.services) as out:
                    rows = await repo.claim_due(out.session, now, self.worker, self.cfg.batch_size)
                    if rows:
                        await self._deliver(out, rows, now, result)
                self.services.metrics.reminders_due.inc(len(rows))  # counted once committed
                self.services.metrics.reminders_sent.inc(result.messages - written)
                if not rows:
                    break
        finally:
            await self._unlock()
        return result

    async def _deliver(self, out: Outbound, rows: list[Reminder], now: datetime,
                       result: SweepResult) -> None:
        session = out.session
        kinds = {r.id: self.by_id[r.rule_id].kind if r.rule_id in self.by_id else None
                 for r in rows}
        case_codes = [r.subject for r in rows if kinds[r.id] in CASE_KINDS]
        review_ids = [int(r.subject.removeprefix("review-")) for r in rows
                      if kinds[r.id] == REVIEW_ANSWER]
        rect_ids = [r.subject.removeprefix("rectification-") for r in rows
                    if kinds[r.id] == RECTIFICATION]
        subjects: dict[str, Subject] = {}
        subjects.update(await self.plan_cases(session, case_codes, now))
        subjects.update(await self.plan_reviews(session, review_ids, now))
        subjects.update(await self.plan_rectifications(session, rect_ids, now))
        snoozes = await repo.snooze_until(session, list({r.subject for r in rows}))
        sent_ids: list[int] = []
        settled = await repo.settled_by(session, [(r.rule_id, r.subject) for r in rows
                                                  if r.rule_id in self.by_id])
        for r in rows:
            subj = subjects.get(r.subject)
            occ = next((o for o in subj.planned if o.key == r.key), None) if subj else None
            rule = self.by_id.get(r.rule_id)
            if subj is None or occ is None or rule is None:
                r.status = CANCELLED  # the case turned green, closed, got answered, …
                result.cancelled += 1
                continue
            series = f"{r.rule_id}:{r.subject}"
            if superseded(occ, subj.planned, now):
                r.status, r.sent_at = FOLDED, now  # its later slot, due too, goes out instead
                result.folded += 1
                result.missed.setdefault(series, []).append(occ.due_at)
                continue
            held = self.deliver_time(occ, snoozes.get(r.subject))
            if held > now and held > r.deliver_at:
                # planned before the series' next slot was known to go out the same day (a row
                # from an earlier version, a snooze): wait for it, to be folded into it then
                r.status, r.deliver_at, r.claimed_by = PENDING, held, None
                result.held += 1
                continue
            r.late = r.late or now - r.deliver_at > self.late_after
            r.escalation, r.seq = occ.escalation, occ.index
            # whoever an escalation goes up to and who marked one of the series 已处理 is done
            # with it; the ones it is addressed to keep being reminded until it is settled
            done = settled.get((r.rule_id, r.subject), set()) - self._base_people(rule, subj)
            recipients = [pid for pid in dict.fromkeys(
                pid for role in occ.recipients for pid in subj.people.get(role, ()))
                if pid not in done]
            if not recipients:
                log.warning("reminder %s has no recipient for roles %s", r.key, occ.recipients)
            elif occ.escalation and not any(subj.people.get(role) for role in rule.escalate_to):
                # leaders_of found nobody: no 院领导 nor 检察长 in the office or above it
                log.warning("escalation %s reaches none of %s, only %s", r.key,
                            rule.escalate_to, recipients)
            view = self.view(r, rule, subj, occ.due_at, tuple(result.missed.pop(series, ())))
            reached = []  # not those who may no longer see its case
            for pid in recipients:
                card = reminder_card(self.for_recipient(out, view, subj, pid))
                msg = await (notify(out, subj.case, pid, card=card) if subj.case is not None
                             else out.send_dm(pid, card=card))
                if msg is None:
                    continue
                repo.add_message(session, r.id, pid, msg.id)
                reached.append(pid)
                result.messages += 1
            r.status, r.sent_at = SENT, now
            # earlier cards of the series: a repeat's, or a one-off's for an earlier slot (a
            # 诉前会商 or 责任倒查 sent before the case's deadline was moved)
            await self._supersede(out, r, reached, now, subj.case)
            result.sent += 1
            result.late += int(r.late)
            sent_ids.append(r.id)
        await session.flush()
        if sent_ids:
            await out.audit("bot", "reminder.sweep", self.worker,
                            {"sent": len(sent_ids), "first": sent_ids[0], "last": sent_ids[-1]})

    def _base_people(self, rule: ReminderRule, subj: Subject) -> set[str]:
        """The people a rule's reminders are addressed to before any escalation."""
        return {pid for role in rule.recipients for pid in subj.people.get(role, ())}

    async def _supersede(self, out: Outbound, sent: Reminder, recipients: Sequence[str],
                         now: datetime, case: CaseRow | None) -> None:
        """At most one open card per series (rule, subject) and person: the recipients'
        earlier cards of the series still open lose their buttons (已由 … 的新提醒取代) and are
        no longer theirs; a reminder left with no card is closed. `recipients` are those the
        new card reached (`notify`: they may see `case`, the subject's); the earlier cards of
        anyone else stay as they are."""
        touched: set[int] = set()
        for old, rm in await repo.open_copies_of_series(out.session, sent.rule_id, sent.subject,
                                                        recipients, sent.id):
            await _redraw(out, rm.message_id, partial(superseded_card, at=now, tz=self.tz),
                          retire=True, case=case)
            await repo.drop_copy(out.session, rm.id)
            touched.add(old.id)
        for old_id in sorted(touched):
            if not await repo.messages_of(out.session, old_id):
                await repo.close_once(out.session, old_id, now, "bot", SUPERSEDED)

    def for_recipient(self, out: Outbound, view: ReminderView, subj: Subject, pid: str
                      ) -> ReminderView:
        """去评估 and 去答复 are the case prosecutor's; a leader or an investigator gets the
        code page instead (on a 责任倒查 card always, 去评估 or not). 报告整改完成 is for the
        item's 责任人 and the unit's chief, not the inspector its escalation goes to; the
        inspector's card asks them to urge the 责任人 (RECTIFICATION_URGE_TEXT). The leader's
        copy of a 责任倒查 asks them to start it (CUSTODY_LEADER_TEXT): it may be the office's
        检察长, not a 院领导."""
        rule = self.by_id.get(view.rule_id)
        if view.report_item is not None and pid not in subj.people.get("chief", ()):
            urge = render_text(
                dataclasses.replace(rule, text=RECTIFICATION_URGE_TEXT), code=subj.code,
                title=subj.title, due=view.due_at, tz=self.tz, escalation=view.escalation,
                deadline=subj.deadline, since=subj.deadline, unit=subj.unit,
                owner=subj.owner) if rule is not None else view.text
            view = dataclasses.replace(view, report_item=None, text=urge)
        if view.kind == CUSTODY and rule is not None and pid in subj.people.get("leader", ()) \
                and pid not in subj.people.get("prosecutor", ()):
            view = dataclasses.replace(view, text=render_text(
                dataclasses.replace(rule, text=CUSTODY_LEADER_TEXT), code=subj.code,
                title=subj.title, due=view.deadline or view.due_at, tz=self.tz,
                escalation=view.escalation, deadline=subj.deadline, since=subj.since,
                unit=subj.unit, owner=subj.owner))
        if (view.score_url is None and view.review_id is None and view.kind != CUSTODY) or \
                pid in subj.people.get("prosecutor", ()):
            return view
        page = code_links(out, subj.case_code)[0] if subj.case_code else None
        return dataclasses.replace(view, score_url=None, review_id=None, page_url=page)

    def view(self, r: Reminder, rule: ReminderRule, subj: Subject, due_at: datetime,
             missed: tuple[datetime, ...] = ()) -> ReminderView:
        base = self.services.config.web.base_url
        status = subj.custody_status if rule.kind == CUSTODY else None
        score = f"{base}/cases/{subj.case_code}/score" if (
            subj.case_code and rule.kind in (REEVALUATE, CUSTODY) and status is None) else None
        review = int(r.subject.removeprefix("review-")) if rule.kind == REVIEW_ANSWER else None
        rescore = review is not None and subj.rescore
        if rescore:  # agreed, the re-score missing: 去评分 (the score form for this request)
            rule = dataclasses.replace(rule, text=REVIEW_RESCORE_TEXT)
            score = f"{base}/cases/{subj.case_code}/score?review={review}"
        # 责任倒查 names the last day of custody, not the moment it ran out (the next 00:00)
        due: date | datetime = subj.custody_deadline if rule.kind == CUSTODY \
            and subj.custody_deadline is not None else due_at
        return ReminderView(
            reminder_id=r.id, kind=rule.kind, rule_id=rule.id,
            text=render_text(rule, code=subj.code, title=subj.title, due=due, tz=self.tz,
                             escalation=r.escalation, deadline=subj.deadline,
                             since=subj.since, unit=subj.unit, owner=subj.owner),
            code=subj.code, due_at=due_at, late=r.late, escalation=r.escalation,
            score_url=score, consult=rule.kind == CONSULTATION, tz=self.tz, missed=missed,
            red=rule.kind == REEVALUATE and rule.colors == (Color.RED,), status=status,
            review_id=None if rescore else review,
            score_label="去评分" if rescore else "去评估",
            deadline=subj.deadline if rule.kind in (RECTIFICATION, REVIEW_ANSWER)
            else subj.custody_deadline if rule.kind == CUSTODY
            # re-evaluate by the end of the office day it is delivered on (reminded that
            # morning): a slot due on a Saturday or a holiday is not already past on Monday
            else datetime.combine(self.next_office_time(due_at).astimezone(self.tz).date(),
                                  self.office.end, self.tz)
            if rule.kind == REEVALUATE else None,
            report_item=int(r.subject.removeprefix("rectification-"))
            if rule.kind == RECTIFICATION else None)

    async def _lock(self) -> bool:
        redis = self.services.redis
        if redis is None or not self.cfg.redis_lock:
            return True
        try:
            ms = int(self.cfg.sweep_interval_seconds * 1000)
            held = bool(await redis.set(self.lock_key, self.worker, nx=True, px=max(ms, 1000)))
        except (RedisError, OSError) as e:
            if not self._redis_down:
                self._redis_down = True
                log.warning("redis lock unavailable, every instance sweeps until it is back "
                            "(the database decides, each reminder is still sent once): %s", e)
            return True
        if self._redis_down:
            self._redis_down = False
            log.info("redis lock reachable again: one instance sweeps at a time")
        return held

    async def _unlock(self) -> None:
        redis = self.services.redis
        if redis is None or not self.cfg.redis_lock:
            return
        try:
            # compare-and-delete in one step: a sweep that ran past the lock's expiry must not
            # delete the lock another instance has taken since (a GET then a DEL could)
            await redis.eval(_UNLOCK, 1, self.lock_key, self.worker)
        except (RedisError, OSError):
            pass

    # ------------------------------------------------------------------ acting on reminders

    async def close(self, out: Outbound, reminder: Reminder, by: str, how: str,
                    footer: str | None = None) -> bool:
        """Close a sent reminder once (compare-and-set) and update every card in place, footed
        who did what when, or `footer` (案件已结案（2026-12-03）, as the case's other cards)."""
        now = out.now()
        if not await repo.close_once(out.session, reminder.id, now, by, how):
            return False
        reminder.closed_at, reminder.closed_by, reminder.closed_how = now, by, how
        closed = partial(closed_card, label=CLOSED_LABELS.get(how, how),
                         who=_actor(out, by) + CLOSED_ACTS.get(how, ""), at=now, tz=self.tz,
                         footer=footer)
        case = await _case_of(out, reminder)
        for rm in await repo.messages_of(out.session, reminder.id):
            await _redraw(out, rm.message_id, closed, case=case)
        await out.audit(by, "reminder.close", reminder.key, {"how": how, "id": reminder.id})
        return True

    async def reopen(self, out: Outbound, reminder: Reminder, by: str, how: str,
                     label: str, extra: Callable[[str], tuple[Button, ...]] = lambda _: ()
                     ) -> bool:
        """Undo a close by ``how`` that no longer holds: the reminder is open again and every
        card gets 已处理 back (with ``extra(recipient)`` before it), its footer ``label``.
        False when it was not closed that way."""
        if not await repo.reopen_once(out.session, reminder.id, how):
            return False
        reminder.closed_at = reminder.closed_by = reminder.closed_how = None
        case = await _case_of(out, reminder)
        for rm in await repo.messages_of(out.session, reminder.id):
            await _redraw(out, rm.message_id, partial(
                reopened_card, reminder_id=reminder.id, label=label, who=_actor(out, by),
                at=out.now(), tz=self.tz, extra=extra(rm.person_id)), case=case)
        await out.audit(by, "reminder.reopen", reminder.key, {"was": how, "id": reminder.id})
        return True

    async def restore_owed(self, out: Outbound, case: CaseRow, subjects: dict[str, Subject],
                           by: str) -> None:
        """The case reopened: the reminders its closing closed (案件已结案) that are still
        owed, by the fresh plans ``subjects`` (its review requests' among them) — a request
        still unanswered or waiting for its re-score, a re-evaluation or 诉前会商 the colour
        still calls for — are open again, every card with this recipient's buttons as the
        sweep draws them and no closing footer. Nothing owed stays closed."""
        for r in await repo.closed_for_case(out.session, case.code, CASE_CLOSED):
            subj, rule = subjects.get(r.subject), self.by_id.get(r.rule_id)
            if subj is None or rule is None or not any(o.rule_id == r.rule_id
                                                       for o in subj.planned):
                continue
            if not await repo.reopen_once(out.session, r.id, CASE_CLOSED):
                continue
            r.closed_at = r.closed_by = r.closed_how = None
            view = self.view(r, rule, subj, r.due_at)
            for rm in await repo.messages_of(out.session, r.id):
                fresh = reminder_card(self.for_recipient(out, view, subj, rm.person_id))
                await _redraw(out, rm.message_id, partial(restored_card, fresh=fresh),
                              case=case)
            await out.audit(by, "reminder.reopen", r.key, {"was": CASE_CLOSED, "id": r.id})

    async def close_own_copy(self, out: Outbound, reminder: Reminder, by: str,
                             note: str) -> bool:
        """A recipient's 已处理 on an escalation addressed to someone else (the prosecutor's
        copy of a 责任倒查 sent to the leader): only that person's card is closed; the
        reminder stays open for the one it escalates to. False when there was nothing left."""
        closed = partial(closed_card, label=CLOSED_LABELS["done"], who=_actor(out, by),
                         at=out.now(), tz=self.tz, note=note)
        done = False
        for rm in await repo.messages_of(out.session, reminder.id):
            if rm.person_id == by and await repo.drop_copy(out.session, rm.id):
                done = True
                await _redraw(out, rm.message_id, closed, case=await _case_of(out, reminder))
        if done:
            await out.audit(by, "reminder.close_copy", reminder.key, {"id": reminder.id})
        return done

    async def start_consultation(self, out: Outbound, reminder: Reminder, by: str) -> bool:
        if reminder.case_code is None:
            return False
        await repo.add_consultation(out.session, reminder.case_code, by, out.now(), reminder.id)
        await out.audit(by, "case.consultation", reminder.case_code, {"reminder": reminder.id})
        await self.close(out, reminder, by, "consult")
        await self.plan_cases(out.session, [reminder.case_code], out.now())
        return True

    async def snooze(self, out: Outbound, code: str, by: str, days: int) -> datetime:
        now = out.now()
        until = now + timedelta(days=days)
        repo.add_snooze(out.session, code, by, now, days, until)
        deliver = self.next_office_time(until)
        await repo.postpone_pending(out.session, code, deliver)
        await out.audit(by, "reminder.snooze", code, {"days": days, "until": until.isoformat()})
        return deliver

    async def end_snooze(self, out: Outbound, code: str, by: str) -> datetime | None:
        """改派: a 提醒 暂停 is its prosecutor's decision, so the one running ends; what it held
        goes out when due (at once, in office hours, if due meanwhile). Returns when the
        reminders would have resumed, None when no pause was running."""
        now = out.now()
        until = (await repo.snooze_until(out.session, [code])).get(code)
        if until is None or until <= now:
            return None
        await repo.end_snoozes(out.session, code, now)
        planned = {o.key: o for o in (await self.load_cases(out.session, [code], now))[code].planned}
        for r in await repo.pending_for_subject(out.session, code):
            occ = planned.get(r.key)
            if occ is not None:
                r.deliver_at = min(r.deliver_at, max(self.deliver_time(occ),
                                                     self.next_office_time(now)))
        await out.session.flush()
        await out.audit(by, "reminder.snooze_end", code, {"until": until.isoformat()})
        return self.next_office_time(until)

    # ------------------------------------------------------------------ hooks

    async def on_evaluation(self, out: Outbound, case: CaseRow, ev: Evaluation) -> None:
        """A new evaluation re-plans the case and closes its open re-evaluation reminders;
        a green one also its 诉前会商 reminders (for a code that is not green)."""
        await self.plan_cases(out.session, [case.code], out.now())
        reeval = [r.id for r in self.rules if r.kind == REEVALUATE]
        for r in await repo.open_sent_for_case(out.session, case.code, reeval):
            await self.close(out, r, ev.by, "evaluated")
        if ev.color is Color.GREEN:
            consult = [r.id for r in self.rules if r.kind == CONSULTATION]
            for r in await repo.open_sent_for_case(out.session, case.code, consult):
                await self.close(out, r, ev.by, "green")
        # 责任倒查 stands (the case was red when custody ran out), but its cards must not go
        # on saying 仍为红码 nor offer 去评估 for what was just evaluated
        status = custody_status(case, self.tz) or (
            f"{out.now().astimezone(self.tz):%Y-%m-%d} 重新评分，仍为红码 {ev.score}分"
            f"（第{ev.version}版）。")
        await self.restate_custody(out, case, status, ev.color is Color.RED)

    async def restate_custody(self, out: Outbound, case: CaseRow, status: str,
                              keep_evaluate: bool) -> None:
        """Redraw the case's open 责任倒查 cards with a 现状 line (what became of the case);
        with ``keep_evaluate`` (the case is red) the prosecutor's open copy offers 去评估."""
        custody = [r.id for r in self.rules if r.kind == CUSTODY]
        evaluate = score_url(out, case.code)
        for r in await repo.open_sent_for_case(out.session, case.code, custody):
            for rm in await repo.messages_of(out.session, r.id):
                mine = rm.person_id == case.prosecutor
                await _redraw(out, rm.message_id, partial(
                    restated, status=status, keep_evaluate=keep_evaluate,
                    evaluate_url=evaluate if mine else None), case=case)


def _actor(out: Outbound, by: str) -> str:
    """Who acted on a reminder, by name: a person, the case-management system or the bot."""
    person = out.directory.person(by)
    return person.name if person else ACTORS.get(by, by)


async def _redraw(out: Outbound, message_id: int, change: Callable[[Card], Card],
                  retire: bool = False, *, case: CaseRow | None = None) -> None:
    """Update one sent card in place with `change` (nothing when the message or its card is
    gone); `retire` as in `Outbound.update_card`. A request's decision card standing for an
    overdue-answer reminder handed over at 改派 (`hand_over_reviews`) is left as it is: the
    request's own changes redraw it. The card of a reminder about `case` goes through
    `redraw_case_card`: in the chat of someone who may no longer see the case (moved to another
    office, reassigned away, off the roster) it is redrawn neutrally, so its closing (已答复,
    案件已结案, …) or 现状 line does not tell them what became of the case."""
    if await review_repo.is_card(out.session, message_id):
        return
    msg = await get_message(out.session, message_id)
    card = message_card(msg) if msg else None
    if msg is None or card is None:
        return
    if case is not None:
        await redraw_case_card(out, case, msg, change(card), retire=retire)
    else:
        await out.update_card(msg, change(card), retire=retire)


async def _case_of(out: Outbound, reminder: Reminder) -> CaseRow | None:
    """The case a reminder is about (its own, a review request's); None for an inspection
    item's."""
    return (await case_repo.get_case(out.session, reminder.case_code)
            if reminder.case_code else None)


def custody_status(case: CaseRow, tz: tzinfo) -> str | None:
    """The 现状 line of a 责任倒查 card for a case closed or no longer red (None while it is
    open and red)."""
    if case.status == case_repo.WITHDRAWN:  # never scored: owes no 责任倒查 in fact
        return "案件已由承办检察官撤销（录入有误）。"
    if case.status != "open":
        closed_at = case.closed_at
        when = f"于 {closed_at.astimezone(tz):%Y-%m-%d} " if closed_at is not None else ""
        return f"案件已{when}结案；羁押期限届满时仍为红码，责任倒查不因结案而取消。"
    if case.color is None or Color(case.color) is Color.RED:
        return None
    return (f"已重新评分为{Color(case.color).label} {case.score}分（第{case.version}版）；"
            "羁押期限届满时仍为红码，责任倒查不因转码而取消。")


async def settle_review_reminders(out: Outbound, review_id: int, by: str, how: str) -> None:
    """A review request answered, withdrawn, settled or re-scored: its overdue-answer reminders
    already sent (the leader's escalation too) lose their buttons, and the unsent ones are
    cancelled (so 提醒 no longer lists them). One agreed (同意并调整) is planned again: its
    re-score is chased from the answer time on."""
    svc = out.services.reminders
    if svc is not None:
        # cancelled first: on PostgreSQL that waits for a sweep of another instance sending
        # one of them right now, so the sent ones read next include it
        await repo.cancel_pending(out.session, [review_subject(review_id)], keep=())
        for r in await repo.open_sent_for_subject(out.session, review_subject(review_id)):
            await svc.close(out, r, by, how)
        await svc.plan_reviews(out.session, [review_id], out.now())


async def plan_review_reminders(out: Outbound, review_id: int) -> None:
    """A review request filed: its answer reminder is planned at once, so 提醒 lists it coming
    (to the prosecutor, at the answer time) before it falls due."""
    svc = out.services.reminders
    if svc is not None:
        await svc.plan_reviews(out.session, [review_id], out.now())


async def subject_deadlines(session: AsyncSession, rows: Iterable[Reminder],
                            custody_rules: Collection[str] = ()
                            ) -> dict[str, tuple[str, date | datetime]]:
    """The deadline these reminders' subjects have of their own, by subject: a rectification
    item's due date, a review request's answer time, a case's custody deadline (of its
    责任倒查 rows, ``custody_rules``), with the kind that names it (a key of DEADLINE_LABELS;
    it applies to the rows of that kind only). 提醒 and 已处理 name it as the cards do, not
    the reminder's own due time (a repeat's or an escalation's, after it)."""
    rows = list(rows)
    items = [r.subject.removeprefix("rectification-") for r in rows
             if r.subject.startswith("rectification-")]
    reviews = [int(r.subject.removeprefix("review-")) for r in rows
               if r.subject.startswith("review-")]
    custody = {r.subject for r in rows if r.rule_id in custody_rules}
    found: dict[str, tuple[str, date | datetime]] = {}
    for code in sorted(custody):
        case = await case_repo.get_case(session, code)
        if case is not None and case.custody_deadline is not None:
            found[code] = (CUSTODY, case.custody_deadline)
    if items:
        found |= {rectification_subject(i.id): (RECTIFICATION, i.due)
                  for i in await inspection_repo.rectifications_to_remind(session, items)}
    if reviews:
        found |= {review_subject(review.id): (REVIEW_ANSWER, review.due_at)
                  for review, _ in await review_repo.with_cases(session, reviews)}
    return found


async def replan_rectifications(out: Outbound, closed: Sequence[int], reopened: Sequence[int],
                                by: str, how: str = RECTIFIED,
                                label: str = REOPENED_LABEL) -> None:
    """Call after a 整改汇报 by ``by`` closed (销号) or reopened rectification items, or after a
    chief's 整改完成 report (``how`` REPORTED) closed one or the inspector sent it back. A closed
    item's pending reminders are cancelled and the cards already sent (the chief's, the
    inspector's escalation) lose 已处理: nothing is owed any more. A reopened item is owed
    again as if it had stayed open: the cards closed ``how`` get 已处理 back (and the chief's
    报告整改完成; not the ones someone marked 已处理), footer ``label``, its cancelled slots
    come back and a missed one is caught up once — discovery alone would never see it again,
    as it plans only items without reminder rows."""
    svc = out.services.reminders
    if svc is None or not (closed or reopened):
        return
    # cancelled first: on PostgreSQL that waits for a sweep of another instance sending one of
    # them right now, so the sent ones read next include it (its card loses its buttons too)
    await repo.cancel_pending(out.session, [rectification_subject(i) for i in closed], keep=(),
                              rule_ids=[r.id for r in svc.rules if r.kind == RECTIFICATION])
    for item in closed:
        for r in await repo.open_sent_for_subject(out.session, rectification_subject(item)):
            await svc.close(out, r, by, how)
    if reopened:
        people = await svc.load_rectifications(out.session, reopened, out.now())
    for item in reopened:
        subject = rectification_subject(item)
        chiefs = people[subject].people.get("chief", ()) if subject in people else ()

        def extra(pid: str, item: int = item, chiefs: tuple[str, ...] = chiefs
                  ) -> tuple[Button, ...]:
            return (report_done_button(item),) if pid in chiefs else ()

        for r in await repo.closed_for_subject(out.session, subject, how):
            await svc.reopen(out, r, by, how, label, extra)
    await svc.plan_rectifications(out.session, [*closed, *reopened], out.now())


async def hand_over_cards(out: Outbound, subjects: Sequence[str], person_id: str,
                          footer: str, keep: Collection[int] = ()) -> None:
    """``person_id`` no longer answers for these subjects (an outgoing chief's 整改事项, moved
    at a handover): their open reminder cards lose their buttons, say why (``footer``) and are
    no longer theirs; a reminder left with no card is closed, as a superseded one is (but those
    in ``keep``, handed on to a successor). The series goes on, at send time, to whoever
    answers for it now."""
    for subject in subjects:
        touched: set[int] = set()
        for r, rm in await repo.open_copies_for(out.session, subject, person_id):
            await _redraw(out, rm.message_id, lambda c: dataclasses.replace(
                c, actions=(), footer=footer))
            await repo.drop_copy(out.session, rm.id)
            touched.add(r.id)
        for rid in sorted(touched - set(keep)):
            if not await repo.messages_of(out.session, rid):
                await repo.close_once(out.session, rid, out.now(), "bot", SUPERSEDED)


@dataclass
class HandedOver:
    """A reminder sent to the person who answered for its subject (the prosecutor a case was
    taken from at 改派, the chief replaced at a handover) and not settled: the successor's
    copy of it, as the sweep would draw it for them."""

    reminder: Reminder
    view: ReminderView

    @property
    def line(self) -> str:
        """Its line on the 改派 card: 待您处理：诉前会商提醒（…），应启动会商日期：…"""
        kind = TITLES.get(self.view.kind, "提醒").split(" · ")[-1]
        return (f"待您处理：{kind}{escalated(self.view.kind, self.view.escalation)}提醒"
                f"（见随后的提醒卡片），{due_line(self.view)}")


async def _hand_over(out: Outbound, svc: ReminderService, subj: Subject, before: str,
                     to: str, footer: str) -> list[HandedOver]:
    """``before``'s open cards of ``subj``'s reminders lose their buttons (``footer``), as
    ``hand_over_cards`` does; the ones not settled (and not ``to``'s already) are kept open
    and returned, oldest sent first, with ``to``'s view of each (``subj`` as it is now)."""
    theirs = {r.id for r, _ in await repo.open_copies_for(out.session, subj.subject, to)}
    found = {r.id: r for r, _ in await repo.open_copies_for(out.session, subj.subject, before)
             if r.id not in theirs and r.rule_id in svc.by_id}
    await hand_over_cards(out, [subj.subject], before, footer, keep=found)
    handed = []
    for r in sorted(found.values(), key=lambda r: (r.sent_at or r.deliver_at, r.id)):
        view = svc.view(r, svc.by_id[r.rule_id], subj, r.due_at)
        # a copy handed on, not a catch-up: no 补发
        view = dataclasses.replace(svc.for_recipient(out, view, subj, to), late=False)
        handed.append(HandedOver(r, view))
    return handed


async def hand_over_case(out: Outbound, case: CaseRow, before: str, footer: str
                         ) -> list[HandedOver]:
    """改派 (``case.prosecutor`` already the new one): the old prosecutor's open cards of the
    case's reminders lose their buttons (``footer``), as ``hand_over_cards`` does. The ones not
    settled follow the case instead of being closed with no card left: a one-off 诉前会商 or a
    责任倒查 already sent would never reach the new prosecutor otherwise, a 重新评估 not before
    its next slot. Returns them, oldest sent first, for ``send_handed_over``."""
    svc = out.services.reminders
    if svc is None:
        await hand_over_cards(out, [case.code], before, footer)
        return []
    subj = (await svc.load_cases(out.session, [case.code], out.now()))[case.code]
    return await _hand_over(out, svc, subj, before, case.prosecutor, footer)


async def hand_over_reviews(out: Outbound, case: CaseRow, review_ids: Sequence[int],
                            before: str, footer: str) -> dict[int, list[HandedOver]]:
    """改派, for the case's review requests (``case.prosecutor`` already the new one): as
    ``hand_over_case``, by request. An overdue-answer reminder sent and not settled follows
    the case instead of being closed (the new prosecutor's 提醒 would not list it before its
    next slot); the caller makes it theirs (``send_handed_over``, or ``link_handed_over``
    to the decision card they get anyway)."""
    subjects = [review_subject(i) for i in review_ids]
    svc = out.services.reminders
    if svc is None:
        await hand_over_cards(out, subjects, before, footer)
        return {}
    loaded = await svc.load_reviews(out.session, review_ids, out.now())
    found: dict[int, list[HandedOver]] = {}
    for review_id, subject in zip(review_ids, subjects, strict=True):
        handed = await _hand_over(out, svc, loaded[subject], before, case.prosecutor, footer)
        if handed:
            found[review_id] = handed
    return found


def link_handed_over(out: Outbound, handed: Sequence[HandedOver], to: str,
                     message_id: int) -> None:
    """Make the reminders ``handed`` over ``to``'s with no card of their own: the card
    ``message_id`` (a request's decision card, which carries the answer) stands for them.
    提醒 lists them; answering, a later slot or another 改派 settle them as any copy, leaving
    that card to its request (``_redraw``)."""
    for h in handed:
        repo.add_message(out.session, h.reminder.id, to, message_id)


async def hand_over_rectifications(out: Outbound, item_ids: Sequence[int], before: str,
                                   to: str, to_name: str, footer: str) -> list[HandedOver]:
    """A chief's handover (换任, 调任; the items' 责任人 already ``to``, the new roster maybe not
    yet in use): ``before``'s open reminder cards of the items lose their buttons
    (``footer``). The reminders sent and not settled follow the items instead of being closed
    with no card left (the new chief would hear of the item only at the series' next slot):
    returned, for ``send_handed_over``, drawn for ``to`` (named ``to_name``) as the item's
    chief, with 报告整改完成."""
    svc = out.services.reminders
    subjects = [rectification_subject(i) for i in item_ids]
    if svc is None:
        await hand_over_cards(out, subjects, before, footer)
        return []
    handed: list[HandedOver] = []
    loaded = await svc.load_rectifications(out.session, item_ids, out.now())
    for subject in subjects:
        subj = loaded[subject]
        # the roster naming ``to`` may not be in use yet: they are the item's chief and 责任人
        subj.owner = to_name
        subj.people = subj.people | {"chief": (to,)}
        handed += await _hand_over(out, svc, subj, before, to, footer)
    return handed


async def send_handed_over(out: Outbound, handed: Sequence[HandedOver], to: str,
                           before: str, *, was: str = "原承办检察官", how: str = "随改派转交",
                           before_name: str | None = None) -> None:
    """Send the successor their copy of each reminder handed over: theirs from now on (提醒
    lists it, its buttons act on it, settling it closes every copy). Its footer: ``was``
    ``before`` 的提醒（… 发出），已``how``您."""
    tz = out.services.config.tz
    name = before_name or out.directory.person_name(before)
    for h in handed:
        sent = h.reminder.sent_at or h.reminder.deliver_at
        card = dataclasses.replace(reminder_card(h.view), footer=(
            f"{was} {name} 的提醒（{sent.astimezone(tz):%Y-%m-%d} 发出），已{how}您"))
        msg = await out.send_dm(to, card=card)
        repo.add_message(out.session, h.reminder.id, to, msg.id)


async def replan_case(out: Outbound, case: CaseRow, by: str = "api",
                      reopened: bool = False) -> None:
    """Call after a deadline change or closing (or withdrawing) a case: re-plans or cancels
    what is pending; on a closed case the reminders already sent (re-evaluation, 诉前会商,
    overdue answers) lose their buttons too: nothing on it is to be done in chat any more.
    责任倒查 is the exception: owed by the colour when custody ran out, it is not called off
    by closing (an unsent one still goes out, see plan_case); a sent one stays open for the
    leader, its cards saying the case is closed. ``reopened``: the case was closed and is
    open again, so those cards no longer say it is closed (and the prosecutor's copy offers
    去评估 again while red), and the cards closing took the buttons off that are still owed
    get them back (``restore_owed``)."""
    svc = out.services.reminders
    if svc is None:
        return
    subjects = await svc.plan_cases(out.session, [case.code], out.now())
    if case.status != "open":  # closed or withdrawn (撤销案件)
        others = [r.id for r in svc.rules if r.kind != CUSTODY]
        how = "case_withdrawn" if case.status == case_repo.WITHDRAWN else CASE_CLOSED
        for r in await repo.open_sent_for_case(out.session, case.code, others):
            await svc.close(out, r, by, how, closed_footer(out, case))
        status = custody_status(case, svc.tz)
        assert status is not None
        await svc.restate_custody(out, case, status, keep_evaluate=False)
    elif reopened:
        red = case.color is not None and Color(case.color) is Color.RED
        status = (f"案件已于 {out.now().astimezone(svc.tz):%Y-%m-%d} 重新打开（撤销结案），"
                  f"仍为红码 {case.score}分（第{case.version}版）。") if red else \
            custody_status(case, svc.tz)
        if status is not None:
            await svc.restate_custody(out, case, status, keep_evaluate=red)
        # its requests' reminders the sweep cancelled while it was closed are owed again too
        reviews = [row.id for row in await review_repo.for_case(out.session, case.code)]
        subjects |= await svc.plan_reviews(out.session, reviews, out.now())
        await svc.restore_owed(out, case, subjects, by)


def service_of(services: Services) -> ReminderService:
    svc = services.reminders
    assert svc is not None, "reminder service not installed"
    return svc


# ---------------------------------------------------------------------- wiring


def install(services: Services, worker: str | None = None) -> ReminderService:
    svc = ReminderService(services, worker)
    services.reminders = svc
    services.on_evaluation.append(svc.on_evaluation)
    return svc


__all__ = [
    "HandedOver",
    "ReminderService",
    "Subject",
    "SweepResult",
    "hand_over_cards",
    "hand_over_case",
    "hand_over_rectifications",
    "install",
    "plan_review_reminders",
    "replan_case",
    "replan_rectifications",
    "send_handed_over",
    "service_of",
    "settle_review_reminders",
    "subject_deadlines",
    "worker_id",
]

