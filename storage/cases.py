"""Case-code tables and their repository functions."""

from __future__ import annotations

import json
import weakref
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, class_mapper, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.scoring import Color, Deduction, Evaluation, Transcode
from bot.domain.stats import CaseFacts
from storage import inline_sqlite, jsonio
from storage.models import Base, Message, OutboxItem, table
from storage.types import UTCDateTime, dialect_name

STAGES = ("提前介入", "审查逮捕", "审查起诉")
# cases.status: open, closed by the case-management system (reopenable), or withdrawn by its
# prosecutor as entered by mistake (撤销案件, 0029: final; counted nowhere)
OPEN, CLOSED, WITHDRAWN = "open", "closed", "withdrawn"
WITHDRAW_REASON_MAX = 100  # characters of a 撤销案件 reason (it rides on the 确认撤销 button)
EXTERNAL_ID_MAX = 64


class CaseRow(Base):
    __tablename__ = "cases"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(20))
    police_unit: Mapped[str] = mapped_column(String(40), index=True)
    prosecutor: Mapped[str] = mapped_column(String(80), index=True)
    investigation_deadline: Mapped[date | None] = mapped_column(Date)
    custody_deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=OPEN)  # OPEN | CLOSED | WITHDRAWN
    # when the case entered casebot: what a statistics period (统计 上月) selects by (0024)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=0)  # current evaluation version
    score: Mapped[int | None] = mapped_column(Integer)
    color: Mapped[str | None] = mapped_column(String(10), index=True)
    first_nongreen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    green_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    intake: Mapped[str | None] = mapped_column(String(20))  # last intake decision
    # when the case was closed (None while open; set on closing, cleared on reopening)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the case's id in the case-management system (统一受案号), unique when given
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX))
    # 撤销案件: who withdrew it, when and why (None on a case not withdrawn; 0029)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(80))
    withdraw_reason: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (Index("uq_cases_external_id", "external_id", unique=True),)


class CaseInvestigator(Base):
    __tablename__ = "case_investigators"
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class CaseFormerProsecutor(Base):
    """Someone the case was reassigned away from (改派, 0033): they no longer see it, and are
    told why (此案件已改派给 …) rather than refused like anyone else."""

    __tablename__ = "case_former_prosecutors"
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # the last time it left them


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"))
    version: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int] = mapped_column(Integer)
    color: Mapped[str] = mapped_column(String(10))
    deductions: Mapped[str] = mapped_column(Text)  # JSON list of Deduction
    vetoes: Mapped[str] = mapped_column(Text)  # JSON list of item ids
    comment: Mapped[str] = mapped_column(Text, default="")
    review_request_id: Mapped[int | None] = mapped_column(Integer)
    template_version: Mapped[str | None] = mapped_column(String(40))
    __table_args__ = (UniqueConstraint("case_code", "version", name="uq_evaluation_version"),)


class TranscodeRow(Base):
    __tablename__ = "transcodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), index=True)
    from_color: Mapped[str] = mapped_column(String(10))
    to_color: Mapped[str] = mapped_column(String(10))
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)


class DeliveryRow(Base):
    """A case-code card sent to an investigator, and when they acknowledged it (已知悉)."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[str] = mapped_column(String(80))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IntakeRow(Base):
    """扫码分类受理: one decision by the case manager (放行/待定/退回) or prosecutor (延期受理/先收后补)."""

    __tablename__ = "intake_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), index=True)
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    color: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(20))
    version: Mapped[int | None] = mapped_column(Integer)  # the evaluation decided on
    # 待定: the case manager's card saying it waits for the prosecutor (redrawn on the choice)
    message_id: Mapped[int | None] = mapped_column(Integer)


class IntakePromptRow(Base):
    """A card asking the prosecutor to choose 延期受理 or 先收后补 on a 待定 decision (one per
    scan: a repeated scan asks again; a scan that raced the decision shares the card just sent);
    all of them are redrawn once the question is settled, and whoever scanned is told the
    choice."""

    __tablename__ = "intake_prompts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake_decisions.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    by: Mapped[str | None] = mapped_column(String(80))  # the scanner (None: sent before 0011)


class CaseCounter(Base):
    __tablename__ = "case_counters"
    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CaseFormToken(Base):
    """The one-time token of a 新建案件 form (/cases/new), recorded in the transaction that
    creates its case: a second submission of the same form (a double tap, a resubmit after
    reload or Back) finds the case instead of creating another one (0027)."""

    __tablename__ = "case_form_tokens"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(80))  # who submitted it (the prosecutor)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the case it created; set in the same transaction as the claim
    case_code: Mapped[str | None] = mapped_column(String(40))


# -- repository functions -----------------------------------------------------------------------

async def next_code(session: AsyncSession, prefix: str, year: int) -> str:
    """`HY-2026-0042`: a per-prefix, per-year counter bumped inside the caller's transaction.
    One upsert: concurrent transactions taking the first code of a year queue on the row
    instead of both inserting it (PostgreSQL would fail the second one)."""
    return (await take_codes(session, prefix, year, 1))[0]


async def take_codes(session: AsyncSession, prefix: str, year: int, count: int) -> list[str]:
    """`count` consecutive codes in one counter bump: the codes `count` calls of `next_code`
    would have returned, in order."""
    insert_ = sqlite_insert if dialect_name(session) == "sqlite" else pg_insert
    stmt = insert_(CaseCounter).values(prefix=prefix, year=year, last=count)
    stmt = stmt.on_conflict_do_update(index_elements=[CaseCounter.prefix, CaseCounter.year],
                                      set_={"last": CaseCounter.last + count})
    last = (await session.execute(stmt.returning(CaseCounter.last))).scalar_one()
    return [f"{prefix}-{year}-{n:04d}" for n in range(last - count + 1, last + 1)]


async def add_cases(session: AsyncSession, cases: Sequence[dict[str, Any]],
                    investigators: Sequence[dict[str, Any]]) -> None:
    """Insert case rows (the columns of `CaseRow`) and their investigators with two
    executemany statements: no ORM objects, for imports."""
    if cases:
        await session.execute(insert(table(CaseRow)), list(cases))
    if investigators:
        await session.execute(insert(table(CaseInvestigator)), list(investigators))


async def add_case(session: AsyncSession, values: dict[str, Any],
                   investigators: Sequence[str]) -> CaseRow:
    """One case (the columns of `CaseRow`) and its investigators, as ORM rows of this session."""
    case = CaseRow(**values)
    session.add(case)
    await session.flush()
    session.add_all(CaseInvestigator(case_code=case.code, person_id=p) for p in investigators)
    await session.flush()
    return case


async def codes_by_external_id(session: AsyncSession, ids: Iterable[str],
                               chunk: int = 500) -> dict[str, str]:
    """{external id: case code} of the cases that have one of `ids`."""
    wanted = sorted(set(ids))
    found: dict[str, str] = {}
    for i in range(0, len(wanted), chunk):
        rows = await session.execute(select(CaseRow.external_id, CaseRow.code)
                                     .where(CaseRow.external_id.in_(wanted[i:i + chunk])))
        found.update({e: c for e, c in rows.all() if e is not None})
    return found


async def claim_form_token(session: AsyncSession, token: str, person_id: str,
                           at: datetime) -> bool:
    """Record a 新建案件 form's token; False when it was recorded before (the form was
    submitted already). On PostgreSQL a concurrent claim of the same token waits for the first
    transaction and then finds the row; on SQLite the write lock serialises the two."""
    insert_ = sqlite_insert if dialect_name(session) == "sqlite" else pg_insert
    t = table(CaseFormToken)
    stmt = insert_(t).values(token=token, person_id=person_id, at=at).on_conflict_do_nothing()
    return (await session.execute(stmt.returning(t.c.token))).first() is not None


async def set_form_token_case(session: AsyncSession, token: str, code: str) -> None:
    t = table(CaseFormToken)
    await session.execute(update(t).where(t.c.token == token).values(case_code=code))


async def form_token_case(session: AsyncSession, token: str) -> str | None:
    """The code of the case a 新建案件 form's token created (None: not submitted yet)."""
    t = table(CaseFormToken)
    return (await session.execute(select(t.c.case_code).where(t.c.token == token))
            ).scalar_one_or_none()


@dataclass(frozen=True)
class Namesake:
    """An open case of a prosecutor's with the title of a case they are creating."""

    code: str
    created_at: datetime
    color: str | None  # None: not scored yet
    score: int | None


async def open_namesakes(session: AsyncSession, prosecutor: str, title: str, form_token: str
                         ) -> list[Namesake]:
    """The prosecutor's open cases titled `title` (as stored: trimmed), oldest first, leaving
    out the one the 新建案件 form `form_token` created (a submission of the same form that
    raced the one which created it finds it so, not as a namesake). One statement through
    the index on cases.prosecutor: a prosecutor has few open cases."""
    created = (select(CaseFormToken.case_code)
               .where(CaseFormToken.token == form_token, CaseFormToken.case_code.is_not(None)))
    rows = await session.execute(
        select(CaseRow.code, CaseRow.created_at, CaseRow.color, CaseRow.score)
        .where(CaseRow.prosecutor == prosecutor, CaseRow.status == "open",
               CaseRow.title == title, CaseRow.code.not_in(created))
        .order_by(CaseRow.created_at, CaseRow.code))
    return [Namesake(*r) for r in rows.all()]


# Statements on the hot path (码 lookups) are built once; building one costs more than running it.
_CASE = select(CaseRow).where(CaseRow.code == bindparam("code"))
# FOR UPDATE also refreshes a case this session loaded before the lock (what it read then may
# have changed while it waited)
_CASE_FOR_UPDATE = _CASE.with_for_update().execution_options(populate_existing=True)
_LAST_INTAKE_ID = (select(func.max(IntakeRow.id)).where(IntakeRow.case_code == CaseRow.code)
                   .correlate(CaseRow).scalar_subquery())
_AnySelect = TypeVar("_AnySelect", bound=Select[*tuple[Any, ...]])


def _with_current(stmt: _AnySelect) -> _AnySelect:
    """A case (by `code`) joined to its current evaluation and its last intake decision."""
    return (
        stmt.select_from(CaseRow)
        .outerjoin(EvaluationRow, (EvaluationRow.case_code == CaseRow.code)
                   & (EvaluationRow.version == CaseRow.version))
        # the last intake decision, looked for only when the case has one
        .outerjoin(IntakeRow, CaseRow.intake.is_not(None)
                   & (IntakeRow.case_code == CaseRow.code) & (IntakeRow.id == _LAST_INTAKE_ID))
        .where(CaseRow.code == bindparam("code")))


_CASE_WITH_CURRENT = _with_current(select(CaseRow, EvaluationRow, IntakeRow))
# the same as plain columns, for a read-only (inline) session: see get_case
_COLUMNS = {cls: tuple(p.key for p in class_mapper(cls).column_attrs)
            for cls in (CaseRow, EvaluationRow, IntakeRow)}
_CASE_WITH_CURRENT_ROWS = inline_sqlite.Prepared(_with_current(select(
    *(getattr(cls, key) for cls, keys in _COLUMNS.items() for key in keys))))
# The current evaluation read together with its case (one statement instead of two); used by
# current_evaluation() while the case's version still matches. Evaluations never change.
_loaded_current: weakref.WeakKeyDictionary[CaseRow, EvaluationRow] = weakref.WeakKeyDictionary()
# Likewise the case's last intake decision (None: none), for latest_intake() (码, the code page).
_loaded_intake: weakref.WeakKeyDictionary[CaseRow, IntakeRow | None] = weakref.WeakKeyDictionary()
_INVESTIGATORS = inline_sqlite.Prepared(
    select(CaseInvestigator.person_id).where(CaseInvestigator.case_code == bindparam("code"))
    .order_by(CaseInvestigator.person_id))
_EVALUATION = select(EvaluationRow).where(EvaluationRow.case_code == bindparam("code"),
                                          EvaluationRow.version == bindparam("version"))


async def get_case(session: AsyncSession, code: str, *, for_update: bool = False) -> CaseRow | None:
    if for_update:
        return (await session.execute(_CASE_FOR_UPDATE, {"code": code})).scalar_one_or_none()
    if isinstance(session, inline_sqlite.InlineSession):
        found = await inline_sqlite.rows(session, _CASE_WITH_CURRENT_ROWS, {"code": code})
        if not found:
            return None
        case, current, intake = _detached_case(found[0])
    else:
        row = (await session.execute(_CASE_WITH_CURRENT, {"code": code})).first()
        if row is None:
            return None
        case, current, intake = row
    if current is not None:
        _loaded_current[case] = current
    _loaded_intake[case] = intake
    return case


def _detached_case(row: Sequence[Any]) -> tuple[CaseRow, EvaluationRow | None, IntakeRow | None]:
    """A read-only session's case, current evaluation and last intake from one plain row, as
    objects in no session: what the ORM's loading of the three entities costs (~70 µs) is
    most of a 码 lookup's read, and a read-only event never writes them back."""
    objects: list[Any] = []
    start = 0
    for cls, keys in _COLUMNS.items():
        values = row[start:start + len(keys)]
        start += len(keys)
        # the outer joins found nothing: no primary key
        objects.append(None if values[0] is None else inline_sqlite.detached(cls, keys, values))
    return objects[0], objects[1], objects[2]


async def investigators(session: AsyncSession, code: str) -> list[str]:
    """The case's investigators' ids, sorted (Core: investigators are flushed with their case)."""
    return [r[0] for r in await inline_sqlite.rows(session, _INVESTIGATORS, {"code": code})]


async def add_former_prosecutor(session: AsyncSession, code: str, person_id: str,
                                at: datetime) -> None:
    """`person_id` is no longer the prosecutor of case `code` (改派; the case row is locked)."""
    row = await session.get(CaseFormerProsecutor, (code, person_id))
    if row is None:
        session.add(CaseFormerProsecutor(case_code=code, person_id=person_id, at=at))
    else:
        row.at = at
    await session.flush()


async def was_prosecutor(session: AsyncSession, code: str, person_id: str) -> bool:
    """Whether case `code` was reassigned away from `person_id` at some time (one read by the
    primary key)."""
    return await session.get(CaseFormerProsecutor, (code, person_id)) is not None


async def with_evaluation_time(session: AsyncSession, codes: Sequence[str]
                               ) -> list[tuple[CaseRow, datetime | None]]:
    """The cases, each with the time of its current evaluation (None: not scored yet)."""
    found: list[tuple[CaseRow, datetime | None]] = []
    for i in range(0, len(codes), 500):
        rows = await session.execute(
            select(CaseRow, EvaluationRow.at)
            .outerjoin(EvaluationRow, and_(EvaluationRow.case_code == CaseRow.code,
                                           EvaluationRow.version == CaseRow.version))
            .where(CaseRow.code.in_(codes[i:i + 500])))
        found += [(case, at) for case, at in rows.all()]
    return found


async def color_histories(session: AsyncSession, codes: Sequence[str]
                          ) -> dict[str, list[tuple[datetime, str]]]:
    """Per case, (evaluation time, colour) of every evaluation, oldest first."""
    found: dict[str, list[tuple[datetime, str]]] = {c: [] for c in codes}
    for i in range(0, len(codes), 500):
        rows = await session.execute(
            select(EvaluationRow.case_code, EvaluationRow.at, EvaluationRow.color)
            .where(EvaluationRow.case_code.in_(codes[i:i + 500]))
            .order_by(EvaluationRow.case_code, EvaluationRow.version))
        for code, at, color in rows.all():
            found[code].append((at, color))
    return found


async def investigators_of_cases(session: AsyncSession, codes: Sequence[str]
                                 ) -> dict[str, list[str]]:
    """Case code -> its investigators' ids, sorted (cases without any are left out)."""
    found: dict[str, list[str]] = {}
    rows = await session.execute(
        select(CaseInvestigator.case_code, CaseInvestigator.person_id)
        .where(CaseInvestigator.case_code.in_(codes))
        .order_by(CaseInvestigator.person_id))
    for code, person_id in rows.all():
        found.setdefault(code, []).append(person_id)
    return found


async def cases_of(session: AsyncSession, person_id: str, open_only: bool = True) -> list[CaseRow]:
    inv = select(CaseInvestigator.case_code).where(CaseInvestigator.person_id == person_id)
    stmt = select(CaseRow).where((CaseRow.prosecutor == person_id) | CaseRow.code.in_(inv))
    if open_only:
        stmt = stmt.where(CaseRow.status == "open")
    return list((await session.execute(stmt.order_by(CaseRow.code))).scalars())


def evaluation_from_row(row: EvaluationRow) -> Evaluation:
    return Evaluation(
        case_code=row.case_code, version=row.version, by=row.by, at=row.at,
        deductions=tuple(Deduction(**d) for d in jsonio.loads(row.deductions)),
        vetoes=tuple(jsonio.loads(row.vetoes)), comment=row.comment, score=row.score,
        color=Color(row.color), review_request_id=row.review_request_id,
        template_version=row.template_version,
    )


async def evaluations(session: AsyncSession, code: str) -> list[Evaluation]:
    rows = await session.execute(
        select(EvaluationRow).where(EvaluationRow.case_code == code)
        .order_by(EvaluationRow.version))
    return [evaluation_from_row(r) for r in rows.scalars()]


async def current_evaluation(session: AsyncSession, case: CaseRow) -> Evaluation | None:
    if case.version == 0:
        return None
    loaded = _loaded_current.get(case)
    if loaded is not None and loaded.version == case.version:
        return evaluation_from_row(loaded)
    row = (await session.execute(_EVALUATION, {"code": case.code, "version": case.version})
           ).scalar_one()
    return evaluation_from_row(row)


async def add_evaluation(session: AsyncSession, case: CaseRow, ev: Evaluation,
                         transcode: Transcode | None) -> None:
    session.add(EvaluationRow(
        case_code=ev.case_code, version=ev.version, by=ev.by, at=ev.at, score=ev.score,
        color=ev.color.value, comment=ev.comment, review_request_id=ev.review_request_id,
        deductions=json.dumps([asdict(d) for d in ev.deductions], ensure_ascii=False),
        vetoes=json.dumps(list(ev.vetoes)), template_version=ev.template_version,
    ))
    if transcode is not None:
        session.add(TranscodeRow(
            case_code=ev.case_code, from_color=transcode.from_color.value,
            to_color=transcode.to_color.value, by=transcode.by, at=transcode.at,
            from_version=transcode.from_version, to_version=transcode.to_version))
    case.version, case.score, case.color = ev.version, ev.score, ev.color.value
    if ev.color is not Color.GREEN and case.first_nongreen_at is None:
        case.first_nongreen_at = ev.at
    if ev.color is Color.GREEN and case.first_nongreen_at is not None and case.green_at is None:
        case.green_at = ev.at
    await session.flush()


async def transcodes(session: AsyncSession, code: str) -> list[TranscodeRow]:
    rows = await session.execute(
        select(TranscodeRow).where(TranscodeRow.case_code == code).order_by(TranscodeRow.id))
    return list(rows.scalars())


async def deliveries(session: AsyncSession, code: str) -> list[DeliveryRow]:
    rows = await session.execute(
        select(DeliveryRow).where(DeliveryRow.case_code == code).order_by(DeliveryRow.id))
    return list(rows.scalars())


async def last_delivered_cards_before(session: AsyncSession, code: str, version: int
                                     ) -> list[Message]:
    """The messages of the cards of the latest version before `version` that was delivered
    (the only ones that can still have buttons: each delivery retires the ones before it), in
    the order they were delivered. One statement, not one per card."""
    latest = (select(func.max(DeliveryRow.version))
              .where(DeliveryRow.case_code == code, DeliveryRow.version < version)
              .scalar_subquery())
    rows = await session.execute(
        select(Message).join(DeliveryRow, DeliveryRow.message_id == Message.id)
        .where(DeliveryRow.case_code == code, DeliveryRow.version == latest)
        .order_by(DeliveryRow.id))
    return list(rows.scalars())


@dataclass(frozen=True)
class Receipt:
    """What became of one investigator's card of an evaluation version: delivered (when), its
    send failed for good, or neither yet (being sent, or never sent); and 已知悉 (when)."""

    person_id: str
    delivered_at: datetime | None
    failed: bool
    acknowledged_at: datetime | None


# every investigator of the case, with their card of one version and that card's sends to
# external platforms (none on the console alone): one statement over three indexes
_RECEIPTS = (
    select(CaseInvestigator.person_id, DeliveryRow.at, DeliveryRow.acknowledged_at,
           OutboxItem.status, OutboxItem.sent_at)
    .select_from(CaseInvestigator)
    .outerjoin(DeliveryRow, (DeliveryRow.case_code == CaseInvestigator.case_code)
               & (DeliveryRow.person_id == CaseInvestigator.person_id)
               & (DeliveryRow.version == bindparam("version")))
    .outerjoin(OutboxItem, (OutboxItem.message_id == DeliveryRow.message_id)
               & (OutboxItem.op == "send"))
    .where(CaseInvestigator.case_code == bindparam("code"))
    .order_by(CaseInvestigator.person_id))
_RECEIPTS_ROWS = inline_sqlite.Prepared(_RECEIPTS)


async def receipts(session: AsyncSession, code: str, version: int) -> list[Receipt]:
    """Per investigator of the case (by id), the fate of their card of evaluation `version`.
    A card is delivered when the message log has it and every platform it went out to took it
    (then at the last one's time); a send that failed for good makes it failed; a card
    acknowledged (已知悉) was delivered whatever the outbox says."""
    rows: dict[str, list[Any]] = {}
    for person_id, at, acked, status, sent_at in await inline_sqlite.rows(
            session, _RECEIPTS_ROWS, {"code": code, "version": version}):
        rows.setdefault(person_id, []).append((at, acked, status, sent_at))
    found: list[Receipt] = []
    for person_id, sends in rows.items():
        at, acked = sends[0][0], sends[0][1]
        statuses = {s for _, _, s, _ in sends if s is not None}
        delivered = None
        if at is not None and (acked is not None or statuses <= {"sent"}):
            delivered = max([at, *(t for _, _, _, t in sends if t is not None)])
        found.append(Receipt(person_id, delivered,
                             delivered is None and "failed" in statuses, acked))
    return found


async def delivery_for_message(session: AsyncSession, message_id: int) -> DeliveryRow | None:
    return (await session.execute(
        select(DeliveryRow).where(DeliveryRow.message_id == message_id))).scalar_one_or_none()


async def own_delivery(session: AsyncSession, code: str, version: int, person_id: str
                       ) -> DeliveryRow | None:
    """The person's card of evaluation `version` of the case (the latest, should there be
    several): one read through the deliveries' case index."""
    return await inline_sqlite.first_object(
        session, DeliveryRow, _OWN_DELIVERY,
        {"code": code, "version": version, "person_id": person_id})


_OWN_DELIVERY = inline_sqlite.Prepared(
    select(DeliveryRow).where(DeliveryRow.case_code == bindparam("code"),
                              DeliveryRow.version == bindparam("version"),
                              DeliveryRow.person_id == bindparam("person_id"))
    .order_by(DeliveryRow.id.desc()).limit(1))


async def acknowledge_delivery(session: AsyncSession, delivery_id: int, at: datetime) -> bool:
    """已知悉, compare-and-set: False when the delivery was already acknowledged (of two clicks
    at the same moment on PostgreSQL, exactly one wins)."""
    res = await session.execute(
        update(DeliveryRow).where(DeliveryRow.id == delivery_id,
                                  DeliveryRow.acknowledged_at.is_(None))
        .values(acknowledged_at=at).execution_options(synchronize_session="fetch"))
    return bool(res.rowcount)  # type: ignore[attr-defined]


def add_delivery(session: AsyncSession, case_code: str, version: int, person_id: str,
                 message_id: int, at: datetime) -> None:
    """A case card delivered to an investigator (flushed with the unit of work)."""
    session.add(DeliveryRow(case_code=case_code, version=version, person_id=person_id,
                            message_id=message_id, at=at))


async def add_intake(session: AsyncSession, case: CaseRow, by: str, at: datetime, color: str,
                     decision: str, version: int) -> IntakeRow:
    """An intake decision (扫码分类受理) on evaluation ``version``, also kept on the case as its
    current one."""
    row = IntakeRow(case_code=case.code, by=by, at=at, color=color, decision=decision,
                    version=version)
    session.add(row)
    case.intake = decision
    await session.flush()
    _loaded_intake[case] = row
    return row


async def first_intake_at(session: AsyncSession, code: str, decisions: Collection[str]
                          ) -> datetime | None:
    """When the case first got one of `decisions` at intake (None: never). The statement is
    built once per set of decisions (码 of a case taken in asks this each time)."""
    key = tuple(sorted(decisions))
    prepared = _FIRST_INTAKE.get(key)
    if prepared is None:
        prepared = _FIRST_INTAKE[key] = inline_sqlite.Prepared(
            select(func.min(IntakeRow.at))
            .where(IntakeRow.case_code == bindparam("code"),
                   or_(false(), *(IntakeRow.decision == d for d in key))))
    return (await inline_sqlite.rows(session, prepared, {"code": code}))[0][0]


_FIRST_INTAKE: dict[tuple[str, ...], inline_sqlite.Prepared] = {}


async def intake_decisions(session: AsyncSession, code: str) -> list[IntakeRow]:
    rows = await session.execute(
        select(IntakeRow).where(IntakeRow.case_code == code).order_by(IntakeRow.id))
    return list(rows.scalars())


async def last_intake(session: AsyncSession, code: str) -> IntakeRow | None:
    return (await session.execute(
        select(IntakeRow).where(IntakeRow.case_code == code).order_by(IntakeRow.id.desc())
        .limit(1))).scalar_one_or_none()


async def latest_intake(session: AsyncSession, case: CaseRow) -> IntakeRow | None:
    """The case's last intake decision: the one read with the case by `get_case` (no query),
    else queried, and only when the case has one."""
    if case in _loaded_intake:  # read with the case (None: it had none then)
        loaded = _loaded_intake[case]
        if (loaded.decision if loaded else None) == case.intake:  # and still what it says
            return loaded
    return await last_intake(session, case.code) if case.intake is not None else None


async def set_intake_card(session: AsyncSession, row: IntakeRow, message_id: int) -> None:
    """Remember the case manager's 待定 card of this decision (to redraw it later)."""
    row.message_id = message_id
    await session.flush()


async def add_intake_prompt(session: AsyncSession, row: IntakeRow, message_id: int,
                            by: str) -> None:
    """Remember a card asking the prosecutor to choose on this 待定 decision, sent on `by`'s
    scan."""
    session.add(IntakePromptRow(intake_id=row.id, message_id=message_id, by=by))
    await session.flush()


async def join_intake_prompt(session: AsyncSession, row: IntakeRow, by: str) -> None:
    """`by` scanned this 待定 decision as it was being made: the prosecutor's latest card about
    it asks on their behalf too (no second card), and they are told the choice."""
    latest = await session.scalar(
        select(IntakePromptRow.message_id).where(IntakePromptRow.intake_id == row.id)
        .order_by(IntakePromptRow.id.desc()).limit(1))
    if latest is not None:
        await add_intake_prompt(session, row, latest, by)


async def intake_scanners(session: AsyncSession, row: IntakeRow) -> list[str]:
    """Who scanned this 待定 decision: the case manager who made it, then those who scanned it
    as it was made or again while it waited, once each, in order."""
    rows = await session.execute(
        select(IntakePromptRow.by).where(IntakePromptRow.intake_id == row.id,
                                         IntakePromptRow.by.is_not(None))
        .order_by(IntakePromptRow.id))
    return list(dict.fromkeys([row.by, *(by for by in rows.scalars() if by is not None)]))


async def intake_prompts(session: AsyncSession, intake_ids: Sequence[int]
                         ) -> list[tuple[int, str | None]]:
    """The prosecutor's cards asking about these 待定 decisions, oldest first, each with the
    case manager it asks for (a card shared by scans that raced the decision: once per
    scanner; None: sent before 0011)."""
    if not intake_ids:
        return []
    rows = await session.execute(
        select(IntakePromptRow.message_id, IntakePromptRow.by)
        .where(IntakePromptRow.intake_id.in_(intake_ids)).order_by(IntakePromptRow.id))
    return [(message_id, by) for message_id, by in rows.all()]


@dataclass(frozen=True)
class WaitingCase:
    """An open scored case waiting for intake (扫码分类受理), as 我的案件 lists it to a case
    manager; `pending`: 待定 on its current score, the prosecutor has yet to choose."""

    code: str
    title: str
    color: str
    score: int
    pending: bool


def waiting_for_intake_query(units: Collection[str] | None, pending: str, limit: int,
                             offset: int = 0, color: str | None = None,
                             pending_only: bool = False
                             ) -> Select[str, str, str | None, int | None, int, str, int | None, int]:
    """The statement `waiting_for_intake` runs."""
    where: list[ColumnElement[bool]] = [CaseRow.status == "open", CaseRow.version > 0]
    if units is not None:
        where.append(CaseRow.unit.in_(sorted(units)))
    if color is not None:
        where.append(CaseRow.color == color)
    if pending_only:  # 待定 on the current score
        where += [IntakeRow.decision == pending, IntakeRow.version == CaseRow.version]
    return (select(CaseRow.code, CaseRow.title, CaseRow.color, CaseRow.score, CaseRow.version,
                   IntakeRow.decision, IntakeRow.version, func.count().over())
            .outerjoin(IntakeRow, CaseRow.intake.is_not(None)
                       & (IntakeRow.case_code == CaseRow.code) & (IntakeRow.id == _LAST_INTAKE_ID))
            .where(*where, IntakeRow.id.is_(None)
                   | IntakeRow.version.is_distinct_from(CaseRow.version)
                   | (IntakeRow.decision == pending))
            .order_by(CaseRow.code).limit(limit).offset(offset))


def waiting_for_intake(session: Session, units: Collection[str] | None, pending: str,
                       limit: int, offset: int = 0, color: str | None = None,
                       pending_only: bool = False) -> tuple[list[WaitingCase], int]:
    """The open scored cases of `units` (every case: None) that wait for intake: no decision
    on their current evaluation, or the last one is `pending` (待定) on it; only those of
    `color`, or only the 待定 ones, when asked. `limit` of them by code from `offset`, and how
    many in all (0 past the last one). One statement, through the unit index (`cases.unit`, as
    统计 scopes offices) and each case's last decision by `intake_decisions.case_code`;
    the total is a window count over the same rows, not a second read. Its cost grows with
    the offices' cases: run it through `BulkReader` (storage/bulk.py)."""
    rows = session.execute(waiting_for_intake_query(units, pending, limit, offset, color,
                                                    pending_only)).all()
    return ([WaitingCase(code, title, color or "", score or 0,  # set: the case is scored
                         decision == pending and decided_on == version)
             for code, title, color, score, version, decision, decided_on, _ in rows],
            rows[0][-1] if rows else 0)


@dataclass(frozen=True)
class FactRows:
    """The raw rows the statistics are computed from (plain tuples, safe to hand to a
    thread)."""

    transcodes: Sequence[tuple[str, int]]
    intakes: Sequence[tuple[str, str]]
    cases: Sequence[tuple[Any, ...]]
    evaluations: Sequence[tuple[str, datetime, str]] = ()  # of cases with a custody deadline


def case_fact_rows(session: Session, units: Collection[str] | None = None,
                   created: tuple[datetime, datetime] | None = None) -> FactRows:
    """Everything the statistics need, in four queries: of the cases of `units` (the offices
    the reader oversees), of every case when None; of those created from `created[0]` up to
    (not including) `created[1]` when given (a period: a WHERE on the indexed created_at, not
    a filter after reading). It reads every such case: run it through `BulkReader`
    (storage/bulk.py), which keeps it off the event loop."""
    where: list[ColumnElement[bool]] = []
    if units is not None:
        where.append(CaseRow.unit.in_(sorted(units)))
    if created is not None:
        where += [CaseRow.created_at >= created[0], CaseRow.created_at < created[1]]

    def scoped(code: InstrumentedAttribute[str]) -> ColumnElement[bool]:  # the cases counted
        if not where:
            return true()
        return code.in_(select(CaseRow.code).where(*where))

    tc = session.execute(
        select(TranscodeRow.case_code, func.count()).where(scoped(TranscodeRow.case_code))
        .group_by(TranscodeRow.case_code)).all()
    intakes = session.execute(
        select(IntakeRow.case_code, IntakeRow.color).where(scoped(IntakeRow.case_code))
        .order_by(IntakeRow.id)).all()
    # columns, not ORM objects: this reads every case, and ORM loading is ~5x the cost. A
    # withdrawn case (entered by mistake) is counted nowhere; it was never scored, so it has
    # no transcodes, intakes nor evaluations to leave out
    cases = session.execute(select(
        CaseRow.code, CaseRow.prosecutor, CaseRow.police_unit, CaseRow.color,
        CaseRow.first_nongreen_at, CaseRow.green_at, CaseRow.custody_deadline, CaseRow.status,
        CaseRow.closed_at).where(*where, CaseRow.status != WITHDRAWN)).all()
    # the colour history of cases with a custody deadline: the colour when it came
    evs = session.execute(
        select(EvaluationRow.case_code, EvaluationRow.at, EvaluationRow.color)
        .join(CaseRow, CaseRow.code == EvaluationRow.case_code)
        .where(CaseRow.custody_deadline.is_not(None), *where)
        .order_by(EvaluationRow.case_code, EvaluationRow.version)).all()
    return FactRows([tuple(r) for r in tc], [tuple(r) for r in intakes],  # type: ignore[misc]
                    [tuple(r) for r in cases], [tuple(r) for r in evs])  # type: ignore[misc]


def facts_from(rows: FactRows) -> list[CaseFacts]:
    """Pure: one `CaseFacts` per case (CPU work, run in a worker thread)."""
    tc = dict(rows.transcodes)
    first_intake: dict[str, str] = {}
    for code, color in rows.intakes:
        first_intake.setdefault(code, color)
    history: dict[str, list[tuple[datetime, str]]] = {}
    for code, at, color in rows.evaluations:
        history.setdefault(code, []).append((at, color))
    return [
        CaseFacts(code=code, prosecutor=prosecutor, police_unit=police_unit, color=color,
                  transcodes=tc.get(code, 0), first_nongreen_at=first_nongreen_at,
                  green_at=green_at, first_intake_color=first_intake.get(code),
                  custody_deadline=custody_deadline, history=tuple(history.get(code, ())),
                  closed=status != "open", closed_at=closed_at)
        for (code, prosecutor, police_unit, color, first_nongreen_at, green_at, custody_deadline,
             status, closed_at) in rows.cases
    ]
