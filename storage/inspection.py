"""Tables and repository functions of 检务督导面对面 (live inspection).

`rectification_items` is read by the reminder engine (another feature): one row per
rectification item (整改事项) recorded at a session's close, with its owner and due date;
`status` is "open" until the item is closed (`closed_at` set; `closed_by_note`, when a 整改汇报
of 已整改 closed it, and a correction of that report reopens it). See docs/inspection.md."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.question_bank import BankQuestion, StoredQuestion
from storage.models import Base
from storage.types import UTCDateTime, dialect_name


class Question(Base):
    """The confidential bank. `text` and `answer_points` are never logged or shown before a
    session reveals them; only inspectors list the bank (audited)."""

    __tablename__ = "inspection_questions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    answer_points: Mapped[str] = mapped_column(Text)  # JSON list of strings
    source_department: Mapped[str] = mapped_column(String(80), default="")
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    seq: Mapped[int] = mapped_column(Integer)  # bank order (the manifest lists questions in it)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # set when an import made this id a new question (作为新题, migration 0031): only reveals
    # after it count as "already asked"; the sessions that asked the earlier one keep their record
    new_since: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the text
        return f"Question({self.id!r}, {self.category!r})"

    @property
    def points(self) -> list[str]:
        return list(json.loads(self.answer_points))

    @property
    def tag_list(self) -> list[str]:
        return list(json.loads(self.tags))


class InspectionSession(Base):
    __tablename__ = "inspection_sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    chat: Mapped[str] = mapped_column(String(80), index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # created → agenda → drawn → inquiry → comment → answer → … → rectification → closed
    stage: Mapped[str] = mapped_column(String(20), default="created")
    params: Mapped[str] = mapped_column(Text)  # JSON of bot.domain.inspection.SessionParams
    secret_hex: Mapped[str] = mapped_column(String(128))  # revealed in the result at the draw
    manifest: Mapped[str] = mapped_column(Text)  # canonical JSON, published before the draw
    manifest_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)  # JSON of DrawResult, after the draw
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current: Mapped[int] = mapped_column(Integer, default=-1)  # index into the unit order
    timer_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.params))


class Ask(Base):
    """One question put to one unit in one session (drawn or 专项问询), in asking order."""

    __tablename__ = "inspection_asks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("inspection_sessions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the unit's place in the session order
    unit_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # "draw" | "special"
    seq: Mapped[int] = mapped_column(Integer)  # the question's place for this unit
    question_id: Mapped[str] = mapped_column(ForeignKey("inspection_questions.id"))
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the question as revealed (category, text, JSON list of answer points), copied from the
    # bank at the reveal: a later re-import does not rewrite the session's record. NULL on asks
    # revealed before migration 0028 (and on asks not yet revealed): the bank is read instead
    asked_category: Mapped[str | None] = mapped_column(String(20))
    asked_text: Mapped[str | None] = mapped_column(Text)
    asked_points: Mapped[str | None] = mapped_column(Text)

    def keep_as_asked(self, q: Question) -> None:
        """Copy the question onto this ask as it is being revealed."""
        self.asked_category, self.asked_text = q.category, q.text
        self.asked_points = q.answer_points


class Note(Base):
    """What was said: the host's notes, city chiefs' comments (点评), 整改汇报 reports."""

    __tablename__ = "inspection_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("inspection_sessions.id"), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # "comment" | "report"
    status: Mapped[str | None] = mapped_column(String(20))  # for reports: 已整改 / 整改中 / 未整改
    author: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RectificationItem(Base):
    """A rectification item (整改事项) with an owner and a due date: the reminder engine reads
    this table (open items past `due_date` → the owner, then the inspector)."""

    __tablename__ = "rectification_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("inspection_sessions.id"), index=True)
    unit_id: Mapped[str] = mapped_column(String(40))
    owner_person_id: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date] = mapped_column(Date)  # a calendar date in the configured time zone
    status: Mapped[str] = mapped_column(String(10), default="open")  # "open" | "closed"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the 已整改 report (整改汇报) that closed it: a correction of that report reopens it
    closed_by_note: Mapped[int | None] = mapped_column(ForeignKey("inspection_notes.id"))
    # who reported it done (整改完成, the chief or the 责任人) and their note; None when a
    # 整改汇报 closed it (migration 0026)
    closed_by_person: Mapped[str | None] = mapped_column(String(80))
    closed_note: Mapped[str | None] = mapped_column(Text)
    # the item card (整改事项) sent to the 责任人: redrawn when the item is reported or sent back
    card_message_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_rectification_due", "status", "due_date"),)


class SiteTask(Base):
    """实地督察: an on-site inspection of a questioned unit, assigned to a person."""

    __tablename__ = "inspection_site_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("inspection_sessions.id"), index=True)
    unit_id: Mapped[str] = mapped_column(String(40))
    assignee_person_id: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- the bank -----------------------------------------------------------------------------------

_PG_BANK_LOCK = 7_263_003  # advisory lock id serialising bank writes (audit ...001, migrate ...002)


async def lock_bank(session: AsyncSession) -> None:
    """Make the caller's transaction the bank's only writer until it ends. SQLite already is
    (BEGIN IMMEDIATE); on PostgreSQL row locks are not enough: two imports adding new ids lock
    nothing in common, and neither would see the other's rows, so they take an advisory lock."""
    if dialect_name(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_BANK_LOCK})


async def import_questions(session: AsyncSession, questions: list[BankQuestion], *, demo: bool,
                           at: datetime, made_new: Collection[str] = ()) -> tuple[int, int]:
    """Insert new questions and update existing ones by id; returns (added, updated).
    `made_new`: existing ids now holding a new question (作为新题): no longer counted as asked
    from `at` on (`asked_question_ids`), their earlier asks keeping the question as asked."""
    await lock_bank(session)
    existing = {q.id: q for q in (await session.execute(select(Question))).scalars()}
    for qid in made_new:
        if (old := existing.get(qid)) is not None:
            await _keep_asked_copies(session, old)
            old.new_since = at
    next_seq = max((q.seq for q in existing.values()), default=0) + 1
    added = updated = 0
    for bq in questions:
        row = existing.get(bq.id)
        if row is None:
            row = Question(id=bq.id, seq=next_seq)
            next_seq += 1
            session.add(row)
            added += 1
        else:
            updated += 1
        row.category = bq.category
        row.text = bq.text
        row.answer_points = json.dumps(list(bq.answer_points), ensure_ascii=False)
        row.source_department = bq.source_department
        row.tags = json.dumps(list(bq.tags), ensure_ascii=False)
        row.demo = demo
        row.active = True
        row.imported_at = at
    await session.flush()
    return added, updated


async def _keep_asked_copies(session: AsyncSession, q: Question) -> None:
    """Give the revealed asks of `q` that have no copy of it (revealed before 0028) the bank's
    row as it is, before an import puts another question under its id."""
    rows = await session.execute(select(Ask).where(
        Ask.question_id == q.id, Ask.revealed_at.is_not(None), Ask.asked_text.is_(None)))
    for a in rows.scalars():
        a.keep_as_asked(q)


async def bank_snapshot(session: AsyncSession, *, lock: bool = False) -> dict[str, StoredQuestion]:
    """Every row (active or not) as the import compares it; with `lock`, a concurrent
    import waits until this transaction ends and then sees its changes (`lock_bank`)."""
    if lock:
        await lock_bank(session)
    q = select(Question)
    out: dict[str, StoredQuestion] = {}
    for r in (await session.execute(q)).scalars():
        out[r.id] = StoredQuestion(
            BankQuestion(id=r.id, category=r.category, text=r.text,
                         answer_points=tuple(r.points), source_department=r.source_department,
                         tags=tuple(r.tag_list)), demo=r.demo, active=r.active)
    return out


async def bank_size(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Question))).scalar_one())


async def all_questions(session: AsyncSession, active_only: bool = True) -> list[Question]:
    q = select(Question).order_by(Question.seq)
    if active_only:
        q = q.where(Question.active.is_(True))
    return list((await session.execute(q)).scalars())


async def questions_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Question]:
    if not ids:
        return {}
    rows = await session.execute(select(Question).where(Question.id.in_(ids)))
    return {q.id: q for q in rows.scalars()}


@dataclass(frozen=True)
class AskedQuestion:
    """A question as a session showed it: the copy kept at the reveal, else the bank's row."""

    id: str
    category: str
    text: str
    points: tuple[str, ...]


async def asked_questions(session: AsyncSession, asks: Sequence[Ask]) -> dict[int, AskedQuestion]:
    """By ask id: each ask's question as it was revealed (`Ask.keep_as_asked`); for an ask
    revealed before migration 0028 or not revealed yet, the bank's current row."""
    bank = await questions_by_id(session, sorted({a.question_id for a in asks
                                                  if a.asked_text is None}))
    out: dict[int, AskedQuestion] = {}
    for a in asks:
        if a.asked_text is not None:
            out[a.id] = AskedQuestion(a.question_id, a.asked_category or "", a.asked_text,
                                      tuple(json.loads(a.asked_points or "[]")))
        else:
            q = bank[a.question_id]
            out[a.id] = AskedQuestion(q.id, q.category, q.text, tuple(q.points))
    return out


async def asks_of_questions(session: AsyncSession,
                            ids: Sequence[str]) -> dict[str, list[tuple[str, bool, bool]]]:
    """By question id: (session id, revealed, session closed) for every ask of it, in session
    order. For the import preview's notes on edited questions."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Ask.question_id, Ask.session_id, Ask.revealed_at, InspectionSession.closed_at)
        .join(InspectionSession, InspectionSession.id == Ask.session_id)
        .where(Ask.question_id.in_(list(ids))).order_by(Ask.session_id, Ask.id))
    out: dict[str, list[tuple[str, bool, bool]]] = {}
    for qid, sid, revealed, closed in rows:
        out.setdefault(qid, []).append((sid, revealed is not None, closed is not None))
    return out


async def retire_questions(session: AsyncSession, ids: Sequence[str]) -> int:
    """Set `active = False` on these ids (still active ones): they are no longer drawn nor
    listed; asks of them keep their record. Returns how many were retired."""
    if not ids:
        return 0
    await lock_bank(session)
    rows = (await session.execute(select(Question).where(
        Question.id.in_(list(ids)), Question.active.is_(True)))).scalars().all()
    for r in rows:
        r.active = False
    await session.flush()
    return len(rows)


def _counted_ask() -> Any:
    """An ask that makes its question "already asked": revealed, and after the question was
    last made new (作为新题), if it was."""
    return and_(Ask.revealed_at.is_not(None),
                or_(Question.new_since.is_(None), Ask.revealed_at > Question.new_since))


async def asked_question_ids(session: AsyncSession) -> list[str]:
    """Ids revealed in any session so far, in bank order; for an id made a new question
    (`Question.new_since`), only reveals since then count."""
    rows = await session.execute(
        select(Question.id).join(Ask, Ask.question_id == Question.id)
        .where(_counted_ask()).distinct().order_by(Question.id)
    )
    return list(rows.scalars())


async def latest_asks(session: AsyncSession, ids: Sequence[str]) -> dict[str, Ask]:
    """By id, of those still counted as asked: the latest reveal of it (its session, whether
    its answer was published there)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Ask).join(Question, Question.id == Ask.question_id)
        .where(Ask.question_id.in_(list(ids)), _counted_ask())
        .order_by(Ask.revealed_at, Ask.id))
    return {a.question_id: a for a in rows.scalars()}


async def last_asked(session: AsyncSession, ids: Sequence[str]
                     ) -> dict[str, tuple[str, AskedQuestion]]:
    """By id, of those still counted as asked: the latest session that revealed it and the
    question as it showed it. For the import preview of a reused id (作为新题)."""
    latest = await latest_asks(session, ids)
    shown = await asked_questions(session, list(latest.values()))
    return {qid: (a.session_id, shown[a.id]) for qid, a in latest.items()}


# -- sessions -----------------------------------------------------------------------------------

async def add_session(session: AsyncSession, **values: Any) -> InspectionSession:
    """A new inspection session (the columns of `InspectionSession`), flushed."""
    row = InspectionSession(**values)
    session.add(row)
    await session.flush()
    return row


async def get_session(session: AsyncSession, sid: str) -> InspectionSession | None:
    return await session.get(InspectionSession, sid)


async def latest_in_chat(session: AsyncSession, chat: str, open_only: bool = False,
                         drawn_only: bool = False) -> InspectionSession | None:
    q = select(InspectionSession).where(InspectionSession.chat == chat)
    if open_only:
        q = q.where(InspectionSession.stage != "closed")
    if drawn_only:
        q = q.where(InspectionSession.drawn_at.is_not(None))
    q = q.order_by(InspectionSession.created_at.desc(), InspectionSession.id.desc()).limit(1)
    return (await session.execute(q)).scalar_one_or_none()


async def list_sessions(session: AsyncSession, limit: int = 50) -> list[InspectionSession]:
    rows = await session.execute(
        select(InspectionSession).order_by(InspectionSession.created_at.desc()).limit(limit))
    return list(rows.scalars())


async def count_sessions_on(session: AsyncSession, prefix: str) -> int:
    rows = await session.execute(
        select(func.count()).select_from(InspectionSession)
        .where(InspectionSession.id.like(f"{prefix}%")))
    return int(rows.scalar_one())


async def recent_drawn_units(session: AsyncSession, last_n: int,
                             before: str | None = None) -> list[str]:
    """Units drawn in the last `last_n` sessions that had a draw (newest first)."""
    if last_n <= 0:
        return []
    q = (select(InspectionSession).where(InspectionSession.drawn_at.is_not(None))
         .order_by(InspectionSession.drawn_at.desc()).limit(last_n))
    out: list[str] = []
    for s in (await session.execute(q)).scalars():
        if s.id == before:
            continue
        out += json.loads(s.result or "{}").get("units", [])
    return out


async def previous_session(session: AsyncSession, chat: str) -> InspectionSession | None:
    """The newest session with a draw in this chat (for 整改汇报 of its units)."""
    q = (select(InspectionSession)
         .where(InspectionSession.chat == chat, InspectionSession.drawn_at.is_not(None))
         .order_by(InspectionSession.drawn_at.desc()).limit(1))
    return (await session.execute(q)).scalar_one_or_none()


async def asks_of(session: AsyncSession, sid: str) -> list[Ask]:
    rows = await session.execute(
        select(Ask).where(Ask.session_id == sid).order_by(Ask.position, Ask.seq))
    return list(rows.scalars())


async def add_asks(session: AsyncSession, sid: str,
                   units: Sequence[tuple[str, Sequence[str], str]]) -> None:
    """The session's questions, unit by unit in asking order: (unit id, question ids, kind:
    "draw" | "special")."""
    for position, (unit_id, question_ids, kind) in enumerate(units):
        for seq, qid in enumerate(question_ids):
            session.add(Ask(session_id=sid, position=position, unit_id=unit_id, kind=kind,
                            seq=seq, question_id=qid))
    await session.flush()


async def notes_of(session: AsyncSession, sid: str) -> list[Note]:
    rows = await session.execute(select(Note).where(Note.session_id == sid).order_by(Note.id))
    return list(rows.scalars())


async def add_note(session: AsyncSession, **values: Any) -> Note:
    note = Note(**values)
    session.add(note)
    await session.flush()
    return note


# -- follow-up ----------------------------------------------------------------------------------

async def add_rectification(session: AsyncSession, *, session_id: str, unit_id: str,
                            owner_person_id: str, text: str, due_date: date,
                            at: datetime) -> RectificationItem:
    item = RectificationItem(session_id=session_id, unit_id=unit_id,
                             owner_person_id=owner_person_id, text=text, due_date=due_date,
                             status="open", created_at=at)
    session.add(item)
    await session.flush()
    return item


async def rectifications_of(session: AsyncSession, sid: str) -> list[RectificationItem]:
    rows = await session.execute(select(RectificationItem)
                                 .where(RectificationItem.session_id == sid)
                                 .order_by(RectificationItem.id))
    return list(rows.scalars())


async def open_rectifications_for_unit(session: AsyncSession,
                                       unit_id: str) -> list[RectificationItem]:
    rows = await session.execute(select(RectificationItem).where(
        RectificationItem.unit_id == unit_id, RectificationItem.status == "open")
        .order_by(RectificationItem.id))
    return list(rows.scalars())


async def close_rectification(item: RectificationItem, at: datetime,
                              note_id: int | None = None) -> None:
    """Close (销号) an item; `note_id`: the 已整改 report that closed it."""
    item.status = "closed"
    item.closed_at = at
    item.closed_by_note = note_id


def reopen_rectification(item: RectificationItem) -> None:
    """Open a closed item again (the 已整改 report that closed it was corrected, or the
    inspector sent the chief's 整改完成 back)."""
    item.status = "open"
    item.closed_at = None
    item.closed_by_note = None
    item.closed_by_person = None
    item.closed_note = None


async def rectification_for_update(session: AsyncSession,
                                   item_id: int) -> RectificationItem | None:
    """An item read fresh and locked until the transaction ends (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers): a double tap or a report racing a 退回
    waits for the first and then sees what it did."""
    q = (select(RectificationItem).where(RectificationItem.id == item_id).with_for_update()
         .execution_options(populate_existing=True))
    return (await session.execute(q)).scalar_one_or_none()


async def open_rectifications_owned(session: AsyncSession, unit_id: str, person_id: str, *,
                                    for_update: bool = False) -> list[RectificationItem]:
    """The open items of `unit_id` whose 责任人 is `person_id`, oldest first: what a chief's
    handover (换任) moves to the incoming chief (`for_update`: locked, read fresh)."""
    q = (select(RectificationItem)
         .where(RectificationItem.unit_id == unit_id,
                RectificationItem.owner_person_id == person_id,
                RectificationItem.status == "open")
         .order_by(RectificationItem.id))
    if for_update:
        q = q.with_for_update().execution_options(populate_existing=True)
    return list((await session.execute(q)).scalars())


def report_rectification_done(item: RectificationItem, at: datetime, person_id: str,
                              note: str) -> None:
    """Close (销号) an item on its chief's or 责任人's report (整改完成) with their note."""
    item.status = "closed"
    item.closed_at = at
    item.closed_by_note = None
    item.closed_by_person = person_id
    item.closed_note = note


async def reported_rectifications_for_unit(session: AsyncSession,
                                           unit_id: str) -> list[RectificationItem]:
    """The unit's items closed on a 整改完成 report (not yet sent back), oldest first."""
    rows = await session.execute(select(RectificationItem).where(
        RectificationItem.unit_id == unit_id, RectificationItem.status == "closed",
        RectificationItem.closed_by_person.is_not(None)).order_by(RectificationItem.id))
    return list(rows.scalars())


async def reported_counts(session: AsyncSession, unit_ids: Sequence[str]) -> dict[str, int]:
    """Per unit, how many of its items are closed on a 整改完成 report (not sent back)."""
    rows = await session.execute(
        select(RectificationItem.unit_id, func.count()).where(
            RectificationItem.unit_id.in_(unit_ids), RectificationItem.status == "closed",
            RectificationItem.closed_by_person.is_not(None))
        .group_by(RectificationItem.unit_id))
    return {u: n for u, n in rows.all()}


async def sessions_in_stage(session: AsyncSession, stage: str) -> list[InspectionSession]:
    rows = await session.execute(select(InspectionSession).where(InspectionSession.stage == stage))
    return list(rows.scalars())


def credit_closure(item: RectificationItem, note_id: int) -> None:
    """A closed item stays closed, now by report `note_id`: a correction that says 已整改
    again, so a later correction of that one reopens it."""
    item.closed_by_note = note_id


async def closed_by_report(session: AsyncSession, note_id: int) -> list[RectificationItem]:
    """The items a 整改汇报 closed that are still closed."""
    rows = await session.execute(select(RectificationItem).where(
        RectificationItem.closed_by_note == note_id, RectificationItem.status == "closed")
        .order_by(RectificationItem.id))
    return list(rows.scalars())


async def closed_counts(session: AsyncSession, note_ids: Sequence[int]) -> dict[int, int]:
    """How many items each of these 整改汇报 closed that are still closed."""
    if not note_ids:
        return {}
    rows = await session.execute(
        select(RectificationItem.closed_by_note, func.count())
        .where(RectificationItem.closed_by_note.in_(list(note_ids)),
               RectificationItem.status == "closed")
        .group_by(RectificationItem.closed_by_note))
    return {n: int(c) for n, c in rows.all() if n is not None}


@dataclass(frozen=True)
class RectificationToRemind:
    """What reminders need of a rectification item (整改事项)."""

    id: int
    due: date
    unit: str
    text: str
    open: bool
    owner: str  # the item's 责任人, reminded with the unit's chief
    inspector: str  # who created the session


async def rectifications_to_remind(session: AsyncSession, ids: Sequence[str]
                                   ) -> list[RectificationToRemind]:
    wanted = [int(i) for i in ids if str(i).isdigit()]
    return await _to_remind(session, RectificationItem.id.in_(wanted))


async def open_rectifications_not_due(session: AsyncSession, today: date
                                      ) -> list[RectificationToRemind]:
    """Open items whose due date has not passed (nothing reminded of them yet), soonest due
    first. Served by the index on (status, due_date)."""
    return await _to_remind(session, RectificationItem.status == "open",
                            RectificationItem.due_date >= today)


async def _to_remind(session: AsyncSession, *where: Any) -> list[RectificationToRemind]:
    rows = await session.execute(
        select(RectificationItem, InspectionSession.created_by)
        .join(InspectionSession, InspectionSession.id == RectificationItem.session_id)
        .where(*where).order_by(RectificationItem.due_date, RectificationItem.id))
    return [RectificationToRemind(
        id=item.id, due=item.due_date, unit=item.unit_id, text=item.text,
        open=item.status == "open" and item.closed_at is None,
        owner=item.owner_person_id, inspector=inspector) for item, inspector in rows.all()]


async def first_open_rectification_due(session: AsyncSession, on_or_after: date) -> date | None:
    return await session.scalar(select(func.min(RectificationItem.due_date)).where(
        RectificationItem.status == "open", RectificationItem.due_date >= on_or_after))


async def add_site_task(session: AsyncSession, **values: Any) -> SiteTask:
    task = SiteTask(status="open", **values)
    session.add(task)
    await session.flush()
    return task


async def site_tasks_of(session: AsyncSession, sid: str) -> list[SiteTask]:
    rows = await session.execute(select(SiteTask).where(SiteTask.session_id == sid)
                                 .order_by(SiteTask.id))
    return list(rows.scalars())
