"""Tables of the core. Feature tables live beside their repositories and share `Base`."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime


class Base(DeclarativeBase):
    pass


def table(model: type[Base]) -> Table:
    """A model's table, for Core statements on hot paths (no ORM unit-of-work bookkeeping)."""
    return cast(Table, model.__table__)


class Message(Base):
    """Every message in every chat, as the console shows it; cards are kept as JSON."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat: Mapped[str] = mapped_column(String(80), index=True)
    sender: Mapped[str] = mapped_column(String(80))  # a person id, or "bot"
    # indexed (0032): a case's cards are found again among those sent since it was created
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    card: Mapped[str | None] = mapped_column(Text)  # JSON of cards.Card
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_id: Mapped[str | None] = mapped_column(String(160))  # the inbound event it answers
    platform_ref: Mapped[str | None] = mapped_column(String(200))  # e.g. DingTalk outTrackId
    # whom a reply @-mentions, as its transport encodes it (set by transports that need it
    # beyond their memory: a DingTalk sender not in the roster)
    mention: Mapped[str | None] = mapped_column(Text)


_UNFINISHED = text("status IN ('pending', 'sending')")


class OutboxItem(Base):
    """A send or card update owed to an external platform, delivered with retries."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    transport: Mapped[str] = mapped_column(String(20))
    op: Mapped[str] = mapped_column(String(10))  # "send" | "update" | "retire"
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    # ix_outbox_message: a claim looks for an earlier unfinished row of the same message;
    # ix_outbox_unfinished: claims read the unfinished rows in id order, not the sent history
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_message", "message_id"),
                      Index("ix_outbox_unfinished", "id", postgresql_where=_UNFINISHED,
                            sqlite_where=_UNFINISHED))


class ProcessedEvent(Base):
    """One row per handled inbound event: the database's word on de-duplication."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    """Append-only, hash-chained: hash = SHA-256(prev_hash + canonical record)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(160))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
