"""Reminder tables (逾期提醒) and their repository functions.

The database is the source of truth. A pending reminder is a row with ``deliver_at`` and a
unique occurrence ``key`` (``rule:subject:slot``): planning inserts by key and ignores
duplicates, so planning twice, after a restart or in two instances never makes two rows. The
sweep claims due rows atomically (one write transaction; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the database write lock on SQLite) and writes the messages in the same
transaction, so each row is delivered exactly once or not at all.

Statuses: ``pending`` → ``sending`` (claimed, inside the sweep's transaction only) → ``sent``;
``pending`` → ``cancelled`` (the plan no longer contains it; re-planning the same key later
revives it). A sent reminder is *open* until someone acts on it (``closed_at``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.review import CHANGED, RESCORE_ALWAYS, RESCORE_IF_CHANGED
from storage.cases import CaseRow
from storage.inspection import RectificationItem
from storage.models import Base
from storage.reviews import ReviewRow
from storage.types import UTCDateTime

PENDING, SENDING, SENT, CANCELLED = "pending", "sending", "sent", "cancelled"
FOLDED = "folded"  # a missed slot whose later slot was sent in its place (catch up once)


class Reminder(Base):
    __tablename__ = "reminders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))  # rule:subject:slot, unique
    rule_id: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))  # case code, review-<id>, rectification-<id>
    case_code: Mapped[str | None] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(10))  # local due date (ISO)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # position in the rule's series
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # catch-up / sent late (补发)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime())  # due_at pushed to office hours
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(80))
    closed_how: Mapped[str | None] = mapped_column(String(20))  # done | consult | evaluated | …

    __table_args__ = (
        Index("uq_reminders_key", "key", unique=True),
        Index("ix_reminders_due", "status", "deliver_at"),
        Index("ix_reminders_subject", "subject", "status"),
        Index("ix_reminders_case", "case_code", "status"),
    )


class ReminderMessage(Base):
    """One card sent for a reminder, per recipient: updated in place when someone acts."""

    __tablename__ = "reminder_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(80), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)


class ReminderSnooze(Base):
    """提醒 暂停: a case's (non-escalation) reminders wait until ``until``."""

    __tablename__ = "reminder_snoozes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    days: Mapped[int] = mapped_column(Integer)
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseConsultation(Base):
    """诉前会商 started for a case (from a reminder's 发起会商 button)."""

    __tablename__ = "case_consultations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), index=True)
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"))


# -- planning ------------------------------------------------------------------------------------

_INSERT_CHUNK = 500  # rows per multi-row INSERT (SQLite allows 32766 bound variables)


def _insert_for(session: AsyncSession) -> Any:
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


async def upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert planned rows by key: an existing key is left alone, except a cancelled one,
    which comes back as pending (the plan wants it again)."""
    if not rows:
        return
    insert = _insert_for(session)
    table = Reminder.__table__
    for i in range(0, len(rows), _INSERT_CHUNK):
        stmt = insert(table).values(list(rows[i:i + _INSERT_CHUNK]))
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"status": PENDING, "due_at": ex.due_at, "deliver_at": ex.deliver_at,
                  "late": ex.late, "seq": ex.seq, "escalation": ex.escalation,
                  "planned_at": ex.planned_at, "claimed_by": None},
            where=table.c.status == CANCELLED,
        )
        await session.execute(stmt)


async def cancel_pending(session: AsyncSession, subjects: Iterable[str], keep: Iterable[str],
                         rule_ids: Iterable[str] | None = None) -> int:
    """Cancel the subjects' pending rows whose key is not in ``keep`` (limited to
    ``rule_ids`` when given). A row found pending but claimed meanwhile by a sweep of another
    instance is left as that sweep leaves it: on PostgreSQL the UPDATE waits for the sweep's
    commit and then finds the row ``sent``, and must not call it cancelled (a later plan
    with its key would revive it, and the slot would be sent twice)."""
    subjects = list(subjects)
    if not subjects:
        return 0
    keep_set = set(keep)
    stmt = select(Reminder.id, Reminder.key).where(Reminder.subject.in_(subjects),
                                                   Reminder.status == PENDING)
    if rule_ids is not None:
        stmt = stmt.where(Reminder.rule_id.in_(list(rule_ids)))
    ids = [rid for rid, key in (await session.execute(stmt)).all() if key not in keep_set]
    for i in range(0, len(ids), _INSERT_CHUNK):
        await session.execute(update(Reminder).where(Reminder.id.in_(ids[i:i + _INSERT_CHUNK]),
                                                     Reminder.status == PENDING)
                              .values(status=CANCELLED)
                              .execution_options(synchronize_session=False))
    return len(ids)


# -- the sweep -----------------------------------------------------------------------------------

async def claim_due(session: AsyncSession, now: datetime, worker: str, limit: int) -> list[Reminder]:
    """Claim up to ``limit`` due pending rows, oldest first, inside the caller's transaction.

    One statement: ``UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED])
    RETURNING``. PostgreSQL skips rows another instance holds; SQLite runs it under the
    write lock the transaction took at BEGIN IMMEDIATE. Cost: an index range scan on
    (status, deliver_at) for ``limit`` rows, whatever the table size.
    """
    due = (select(Reminder.id)
           .where(Reminder.status == PENDING, Reminder.deliver_at <= now)
           .order_by(Reminder.deliver_at, Reminder.id).limit(limit)
           .with_for_update(skip_locked=True))
    stmt = (update(Reminder).where(Reminder.id.in_(due.scalar_subquery()))
            .values(status=SENDING, claimed_by=worker)
            .returning(Reminder)
            .execution_options(synchronize_session=False))
    rows = list((await session.execute(stmt)).scalars())
    rows.sort(key=lambda r: (r.deliver_at, r.id))
    return rows


def add_message(session: AsyncSession, reminder_id: int, person_id: str, message_id: int) -> None:
    session.add(ReminderMessage(reminder_id=reminder_id, person_id=person_id,
                                message_id=message_id))


# -- discovery: subjects overdue that have no reminder rows yet ----------------------------------

async def unplanned_reviews(session: AsyncSession) -> list[int]:
    """Review requests of open cases still owed an answer (pending) or, agreed, a re-score,
    that have no pending reminder row: planned from the filing on (提醒 lists the answer
    reminder coming), again once agreed (the re-score is chased from the answer time)."""
    subject = literal("review-").concat(cast(ReviewRow.id, String))
    has_pending = exists().where(Reminder.subject == subject, Reminder.status == PENDING)
    owed = (ReviewRow.status == "pending") | (
        ReviewRow.new_version.is_(None) & (
            ReviewRow.status.in_(sorted(RESCORE_ALWAYS)) | (
                ReviewRow.status.in_(sorted(RESCORE_IF_CHANGED)) & (ReviewRow.outcome == CHANGED))))
    return list((await session.execute(
        select(ReviewRow.id).join(CaseRow, CaseRow.code == ReviewRow.case_code)
        .where(owed, CaseRow.status == "open", ~has_pending).limit(1000))).scalars())


async def unplanned_overdue_rectifications(session: AsyncSession, today: date) -> list[str]:
    """Open rectification items past their due date that have no reminder rows."""
    subject = literal("rectification-") + cast(RectificationItem.id, String)
    planned = exists().where(Reminder.subject == subject)
    rows = await session.execute(
        select(RectificationItem.id).where(
            RectificationItem.status == "open", RectificationItem.due_date < today,
            ~planned).limit(1000))
    return [str(x) for x in rows.scalars()]


# -- reading -------------------------------------------------------------------------------------

async def get(session: AsyncSession, reminder_id: int) -> Reminder | None:
    return await session.get(Reminder, reminder_id)


async def messages_of(session: AsyncSession, reminder_id: int) -> list[ReminderMessage]:
    rows = await session.execute(select(ReminderMessage)
                                 .where(ReminderMessage.reminder_id == reminder_id)
                                 .order_by(ReminderMessage.id))
    return list(rows.scalars())


async def by_message(session: AsyncSession, message_id: int) -> Reminder | None:
    stmt = (select(Reminder).join(ReminderMessage, ReminderMessage.reminder_id == Reminder.id)
            .where(ReminderMessage.message_id == message_id))
    return (await session.execute(stmt)).scalars().first()


def _open_for(person_id: str) -> tuple[Any, ...]:
    return (ReminderMessage.person_id == person_id, Reminder.status == SENT,
            Reminder.closed_at.is_(None))


async def open_for_person(session: AsyncSession, person_id: str, limit: int = 50
                          ) -> list[Reminder]:
    """Sent to this person and not yet acted on, newest first."""
    stmt = (select(Reminder).join(ReminderMessage, ReminderMessage.reminder_id == Reminder.id)
            .where(*_open_for(person_id))
            .order_by(Reminder.deliver_at.desc(), Reminder.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars().unique())


async def count_open_for_person(session: AsyncSession, person_id: str) -> int:
    n = await session.scalar(
        select(func.count(func.distinct(Reminder.id)))
        .join(ReminderMessage, ReminderMessage.reminder_id == Reminder.id)
        .where(*_open_for(person_id)))
    return int(n or 0)


async def upcoming_for_cases(session: AsyncSession, codes: Sequence[str]) -> list[Reminder]:
    """Pending reminders of these cases (their review requests included), soonest first."""
    if not codes:
        return []
    stmt = (select(Reminder).where(Reminder.case_code.in_(list(codes)), Reminder.status == PENDING)
            .order_by(Reminder.deliver_at, Reminder.id))
    return list((await session.execute(stmt)).scalars())


async def upcoming_for_units(session: AsyncSession, units: Sequence[str],
                             rule_ids: Sequence[str]) -> list[tuple[Reminder, CaseRow]]:
    """Pending reminders of these rules for every case of these units, with the case, soonest
    first (what goes up to a unit's leader: 责任倒查, escalated overdue answers)."""
    if not units or not rule_ids:
        return []
    stmt = (select(Reminder, CaseRow).join(CaseRow, CaseRow.code == Reminder.case_code)
            .where(CaseRow.unit.in_(list(units)), Reminder.status == PENDING,
                   Reminder.rule_id.in_(list(rule_ids)))
            .order_by(Reminder.deliver_at, Reminder.id))
    return [(r, c) for r, c in (await session.execute(stmt)).all()]


async def upcoming_for_rectifications(session: AsyncSession) -> list[Reminder]:
    """Pending reminders of the open rectification items, soonest first (only items past
    their due date have any: a few)."""
    subject = literal("rectification-") + cast(RectificationItem.id, String)
    open_items = select(subject).where(RectificationItem.status == "open")
    stmt = (select(Reminder).where(Reminder.subject.in_(open_items), Reminder.status == PENDING)
            .order_by(Reminder.deliver_at, Reminder.id))
    return list((await session.execute(stmt)).scalars())


async def open_sent_for_case(session: AsyncSession, code: str, rule_ids: Sequence[str]
                             ) -> list[Reminder]:
    stmt = select(Reminder).where(Reminder.case_code == code, Reminder.status == SENT,
                                  Reminder.closed_at.is_(None), Reminder.rule_id.in_(list(rule_ids)))
    return list((await session.execute(stmt.order_by(Reminder.id))).scalars())


async def open_sent_for_subject(session: AsyncSession, subject: str) -> list[Reminder]:
    stmt = select(Reminder).where(Reminder.subject == subject, Reminder.status == SENT,
                                  Reminder.closed_at.is_(None))
    return list((await session.execute(stmt.order_by(Reminder.id))).scalars())


async def closed_for_subject(session: AsyncSession, subject: str, how: str) -> list[Reminder]:
    """The subject's sent reminders closed the way ``how`` says (not by a person's 已处理)."""
    stmt = select(Reminder).where(Reminder.subject == subject, Reminder.status == SENT,
                                  Reminder.closed_how == how)
    return list((await session.execute(stmt.order_by(Reminder.id))).scalars())


async def closed_for_case(session: AsyncSession, code: str, how: str) -> list[Reminder]:
    """The case's sent reminders (its review requests' too) closed the way ``how`` says."""
    stmt = select(Reminder).where(Reminder.case_code == code, Reminder.status == SENT,
                                  Reminder.closed_how == how)
    return list((await session.execute(stmt.order_by(Reminder.id))).scalars())


async def open_copies_of_series(session: AsyncSession, rule_id: str, subject: str,
                                person_ids: Sequence[str], other_than: int
                                ) -> list[tuple[Reminder, ReminderMessage]]:
    """These people's cards of a series (rule and subject) still open, but reminder
    ``other_than`` (the one just sent): the ones a repeat supersedes."""
    if not person_ids:
        return []
    stmt = (select(Reminder, ReminderMessage)
            .join(ReminderMessage, ReminderMessage.reminder_id == Reminder.id)
            .where(Reminder.rule_id == rule_id, Reminder.subject == subject,
                   Reminder.status == SENT, Reminder.closed_at.is_(None),
                   Reminder.id != other_than, ReminderMessage.person_id.in_(list(person_ids)))
            .order_by(Reminder.id, ReminderMessage.id))
    return [(r, m) for r, m in (await session.execute(stmt)).all()]


async def open_copies_for(session: AsyncSession, subject: str, person_id: str
                          ) -> list[tuple[Reminder, ReminderMessage]]:
    """A person's cards of a subject's reminders still open (any rule)."""
    stmt = (select(Reminder, ReminderMessage)
            .join(ReminderMessage, ReminderMessage.reminder_id == Reminder.id)
            .where(Reminder.subject == subject, *_open_for(person_id))
            .order_by(Reminder.id, ReminderMessage.id))
    return [(r, m) for r, m in (await session.execute(stmt)).all()]


async def settled_by(session: AsyncSession, series: Iterable[tuple[str, str]]
                     ) -> dict[tuple[str, str], set[str]]:
    """Who marked a reminder of each series ``(rule_id, subject)`` 已处理 (``done``)."""
    series = set(series)
    subjects = sorted({subject for _, subject in series})
    if not subjects:
        return {}
    rows = await session.execute(
        select(Reminder.rule_id, Reminder.subject, Reminder.closed_by)
        .where(Reminder.subject.in_(subjects), Reminder.closed_how == "done").distinct())
    out: dict[tuple[str, str], set[str]] = {}
    for rule_id, subject, by in rows.all():
        if (rule_id, subject) in series and by:
            out.setdefault((rule_id, subject), set()).add(by)
    return out


async def sent_counts(session: AsyncSession, rows: Sequence[Reminder],
                      escalations_only: Collection[int] = ()) -> dict[int, int]:
    """How many reminders of its series (rule and subject) were sent up to each of these
    (itself included), by reminder id: 第 N 次提醒. For the ids in ``escalations_only`` (the
    reader gets only the series' escalations: a leader, an inspector) the escalations alone."""
    subjects = sorted({r.subject for r in rows})
    if not subjects:
        return {}
    found = await session.execute(
        select(Reminder.id, Reminder.rule_id, Reminder.subject, Reminder.escalation)
        .where(Reminder.subject.in_(subjects), Reminder.status == SENT))
    sent: dict[tuple[str, str], list[tuple[int, bool]]] = {}
    for rid, rule_id, subject, escalation in found.all():
        sent.setdefault((rule_id, subject), []).append((rid, bool(escalation)))
    return {r.id: sum(1 for i, up in sent.get((r.rule_id, r.subject), ())
                      if i <= r.id and (up or r.id not in escalations_only))
            for r in rows}


async def first_delivery_between(session: AsyncSession, after: datetime, until: datetime,
                                 inclusive: bool = False) -> datetime | None:
    """The earliest delivery time in ``(after, until]`` of a pending reminder (``[after,
    until]`` when ``inclusive``)."""
    start = Reminder.deliver_at >= after if inclusive else Reminder.deliver_at > after
    return await session.scalar(select(func.min(Reminder.deliver_at)).where(
        Reminder.status == PENDING, start, Reminder.deliver_at <= until))


async def snooze_until(session: AsyncSession, subjects: Sequence[str]) -> dict[str, datetime]:
    if not subjects:
        return {}
    rows = await session.execute(select(ReminderSnooze.subject, func.max(ReminderSnooze.until))
                                 .where(ReminderSnooze.subject.in_(list(subjects)))
                                 .group_by(ReminderSnooze.subject))
    return {s: u for s, u in rows.all()}


async def pending_reminders(session: AsyncSession, subject: str) -> int:
    """Unsent reminders of a subject that a snooze can defer (escalations cannot be)."""
    n = await session.scalar(select(func.count()).select_from(Reminder).where(
        Reminder.subject == subject, Reminder.status == PENDING, Reminder.escalation.is_(False)))
    return int(n or 0)


async def snooze_count(session: AsyncSession, subject: str, by: str) -> int:
    """How many times ``by`` paused the subject's reminders: the limit is per case and
    prosecutor (a case reassigned, 改派, starts its new prosecutor afresh)."""
    n = await session.scalar(select(func.count()).select_from(ReminderSnooze)
                             .where(ReminderSnooze.subject == subject, ReminderSnooze.by == by))
    return int(n or 0)


async def end_snoozes(session: AsyncSession, subject: str, at: datetime) -> None:
    """The subject's pauses still running end at ``at`` (``days`` keeps what was asked)."""
    await session.execute(
        update(ReminderSnooze).where(ReminderSnooze.subject == subject, ReminderSnooze.until > at)
        .values(until=at).execution_options(synchronize_session=False))


async def pending_for_subject(session: AsyncSession, subject: str) -> list[Reminder]:
    """The subject's unsent reminders a snooze defers (not the escalations)."""
    stmt = select(Reminder).where(Reminder.subject == subject, Reminder.status == PENDING,
                                  Reminder.escalation.is_(False))
    return list((await session.execute(stmt.order_by(Reminder.id))).scalars())


async def consultations_started(session: AsyncSession, codes: Sequence[str]) -> set[str]:
    if not codes:
        return set()
    rows = await session.execute(select(CaseConsultation.case_code)
                                 .where(CaseConsultation.case_code.in_(list(codes))).distinct())
    return set(rows.scalars())


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Reminder.status, func.count()).group_by(Reminder.status))
    return {s: int(n) for s, n in rows.all()}


# -- acting on reminders -------------------------------------------------------------------------

async def close_once(session: AsyncSession, reminder_id: int, at: datetime, by: str, how: str
                     ) -> bool:
    """Compare-and-set: False when the reminder was already closed."""
    res = await session.execute(
        update(Reminder).where(Reminder.id == reminder_id, Reminder.closed_at.is_(None))
        .values(closed_at=at, closed_by=by, closed_how=how)
        .execution_options(synchronize_session=False))
    return bool(res.rowcount)  # type: ignore[attr-defined]


async def reopen_once(session: AsyncSession, reminder_id: int, how: str) -> bool:
    """Compare-and-set: open again a reminder closed by ``how``; False when it was not (still)
    closed that way."""
    res = await session.execute(
        update(Reminder).where(Reminder.id == reminder_id, Reminder.closed_how == how)
        .values(closed_at=None, closed_by=None, closed_how=None)
        .execution_options(synchronize_session=False))
    return bool(res.rowcount)  # type: ignore[attr-defined]


async def drop_copy(session: AsyncSession, message_row_id: int) -> bool:
    """One recipient done with their copy of a reminder that stays open for the others: the
    copy no longer belongs to it (not listed as theirs, not redrawn when the others act).
    Compare-and-delete: False when it was already dropped."""
    res = await session.execute(
        delete(ReminderMessage).where(ReminderMessage.id == message_row_id)
        .execution_options(synchronize_session=False))
    return bool(res.rowcount)  # type: ignore[attr-defined]


def add_snooze(session: AsyncSession, subject: str, by: str, at: datetime, days: int,
               until: datetime) -> None:
    session.add(ReminderSnooze(subject=subject, by=by, at=at, days=days, until=until))


async def postpone_pending(session: AsyncSession, subject: str, deliver_at: datetime) -> None:
    """Move the subject's pending non-escalation reminders due earlier to ``deliver_at``."""
    await session.execute(
        update(Reminder).where(Reminder.subject == subject, Reminder.status == PENDING,
                               Reminder.escalation.is_(False), Reminder.deliver_at < deliver_at)
        .values(deliver_at=deliver_at).execution_options(synchronize_session=False))


async def add_consultation(session: AsyncSession, case_code: str, by: str, at: datetime,
                           reminder_id: int) -> None:
    session.add(CaseConsultation(case_code=case_code, started_by=by, started_at=at,
                                 reminder_id=reminder_id))
    await session.flush()
