"""Review requests (复核申请) and the cards sent about them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.review import CHANGED, OPEN, RESCORE_ALWAYS, RESCORE_IF_CHANGED
from storage.cases import CaseRow
from storage.models import Base
from storage.types import UTCDateTime

# A request not settled yet (what `unsettled_for` asks, as SQL): open, or agreed (or changed by
# a joint review) and not answered by a re-score. Migration 0030 creates the index with it.
UNSETTLED = text("status IN ('joint', 'joint_done', 'pending') OR (new_version IS NULL AND "
                 "(status = 'accepted' OR (status IN ('confirmed', 'joint_done') "
                 "AND outcome = 'changed')))")


class ReviewRow(Base):
    __tablename__ = "review_requests"
    # one unsettled request per investigator and case, whatever path or instance files it
    __table_args__ = (Index("uq_review_one_unsettled", "case_code", "filed_by", unique=True,
                            sqlite_where=UNSETTLED, postgresql_where=UNSETTLED),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(ForeignKey("cases.code"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the evaluation version disputed
    filed_by: Mapped[str] = mapped_column(String(80), index=True)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    items: Mapped[str] = mapped_column(Text)  # JSON list of item ids
    notes: Mapped[str] = mapped_column(Text, default="{}")  # JSON {item id: note}
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # see bot.domain.review.State
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # answer time (working days)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(Text)
    joint_time: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(String(20))  # kept | changed
    minutes: Mapped[str | None] = mapped_column(Text)
    participants: Mapped[str | None] = mapped_column(Text)  # JSON list of person ids
    confirmed_by: Mapped[str | None] = mapped_column(String(80))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    new_version: Mapped[int | None] = mapped_column(Integer)  # evaluation that answered it


class ReviewCard(Base):
    """Every card already sent about a request, so each can be updated in place."""

    __tablename__ = "review_cards"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review_requests.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(20))  # prosecutor | receipt | joint | former (改派)


OPEN_STATES = tuple(sorted(s.value for s in OPEN))  # bot.domain.review.OPEN, as stored


async def add_request(session: AsyncSession, **values: Any) -> ReviewRow:
    """A new review request (the columns of `ReviewRow`), flushed so it has its id."""
    row = ReviewRow(**values)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, review_id: int) -> ReviewRow | None:
    return await session.get(ReviewRow, review_id)


async def awaiting_rescore(session: AsyncSession, case_code: str) -> list[ReviewRow]:
    """Requests the prosecutor agreed to (or whose joint review decided 调整) that no
    re-score has answered yet."""
    agreed = ReviewRow.status.in_(RESCORE_ALWAYS) | (
        ReviewRow.status.in_(RESCORE_IF_CHANGED) & (ReviewRow.outcome == CHANGED))
    return list((await session.execute(
        select(ReviewRow).where(ReviewRow.case_code == case_code, ReviewRow.new_version.is_(None),
                                agreed).order_by(ReviewRow.id))).scalars())


async def unsettled_for(session: AsyncSession, case_code: str, filed_by: str) -> list[ReviewRow]:
    """The person's requests on the case not settled yet: open, or agreed (or changed by a
    joint review) and waiting for the re-score."""
    agreed = ReviewRow.status.in_(RESCORE_ALWAYS) | (
        ReviewRow.status.in_(RESCORE_IF_CHANGED) & (ReviewRow.outcome == CHANGED))
    return list((await session.execute(
        select(ReviewRow).where(ReviewRow.case_code == case_code, ReviewRow.filed_by == filed_by,
                                ReviewRow.status.in_(OPEN_STATES)
                                | (agreed & ReviewRow.new_version.is_(None)))
        .order_by(ReviewRow.id))).scalars())


async def for_case(session: AsyncSession, case_code: str) -> list[ReviewRow]:
    return list((await session.execute(select(ReviewRow).where(ReviewRow.case_code == case_code)
                                       .order_by(ReviewRow.id))).scalars())


async def open_for(session: AsyncSession, case_code: str, filed_by: str | None = None
                   ) -> list[ReviewRow]:
    stmt = select(ReviewRow).where(ReviewRow.case_code == case_code,
                                   ReviewRow.status.in_(OPEN_STATES))
    if filed_by is not None:
        stmt = stmt.where(ReviewRow.filed_by == filed_by)
    return list((await session.execute(stmt.order_by(ReviewRow.id))).scalars())


async def cards(session: AsyncSession, review_id: int) -> list[ReviewCard]:
    rows = await session.execute(select(ReviewCard).where(ReviewCard.review_id == review_id)
                                 .order_by(ReviewCard.id))
    return list(rows.scalars())


async def is_card(session: AsyncSession, message_id: int) -> bool:
    """Whether the message is a card about a request (kept in step by the request's own
    changes, `bot.reviews.refresh_cards`)."""
    return await session.scalar(
        select(ReviewCard.id).where(ReviewCard.message_id == message_id).limit(1)) is not None


def add_card(session: AsyncSession, review_id: int, message_id: int, kind: str) -> None:
    """Remember a card sent about a request, so every copy is re-rendered when it changes."""
    session.add(ReviewCard(review_id=review_id, message_id=message_id, kind=kind))


async def transition(session: AsyncSession, review_id: int, from_states: tuple[str, ...],
                     to_state: str, **values: object) -> bool:
    """Compare-and-set on the status: of two concurrent clicks exactly one wins."""
    res = await session.execute(
        update(ReviewRow).where(ReviewRow.id == review_id, ReviewRow.status.in_(from_states))
        .values(status=to_state, **values).execution_options(synchronize_session="fetch"))
    return bool(res.rowcount)  # type: ignore[attr-defined]


async def with_cases(session: AsyncSession, ids: Sequence[int]
                     ) -> list[tuple[ReviewRow, CaseRow]]:
    rows = await session.execute(select(ReviewRow, CaseRow)
                                 .join(CaseRow, CaseRow.code == ReviewRow.case_code)
                                 .where(ReviewRow.id.in_(ids)))
    return [(review, case) for review, case in rows.all()]


async def first_pending_due_between(session: AsyncSession, after: datetime, until: datetime
                                    ) -> datetime | None:
    """The earliest answer time in ``(after, until]`` of a request still pending."""
    return await session.scalar(select(func.min(ReviewRow.due_at)).where(
        ReviewRow.status == "pending", ReviewRow.due_at > after, ReviewRow.due_at <= until))


def items_of(row: ReviewRow) -> list[str]:
    return list(json.loads(row.items))
