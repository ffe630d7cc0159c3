"""Repository functions for the message log and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class

from cards.model import Card, card_from_dict, card_to_dict
from storage import jsonio
from storage.inline_sqlite import InlineWriter
from storage.models import Message, OutboxItem, table
from storage.types import Writer, dialect_name


async def add_message(session: AsyncSession, *, chat: str, sender: str, at: datetime,
                      text: str | None = None, card: Card | None = None,
                      event_id: str | None = None, mention: str | None = None) -> Message:
    """Insert with one Core statement (the hot path: every event logs one or two messages); the
    returned object is not attached to the session."""
    msg = new_message(chat=chat, sender=sender, at=at, text=text, card=card, event_id=event_id,
                      mention=mention)
    msg.id = (await session.execute(insert(Message).values(**_row(msg)).returning(Message.id))
              ).scalar_one()
    return msg


def _row(m: Message) -> dict[str, Any]:
    return {"chat": m.chat, "sender": m.sender, "at": m.at, "text": m.text, "card": m.card,
            "event_id": m.event_id, "mention": m.mention}


async def add_many(session: Writer, messages: list[Message]) -> None:
    """Insert detached messages and set their ids, in the given order. SQLite: multi-row
    INSERTs (the inline writer's, or SQLAlchemy's insertmanyvalues) whose rows get ascending
    ids in VALUES order, so the sorted RETURNING ids line up with the input; SQLAlchemy's
    ordered mode would send one INSERT per row there. PostgreSQL: SQLAlchemy's ordered
    insertmanyvalues."""
    if not messages:
        return
    rows = [_row(m) for m in messages]
    t = table(Message)
    if isinstance(session, InlineWriter):
        ids = sorted(session.insert(t, rows, returning=t.c.id))
    elif dialect_name(session) != "sqlite":
        result = await session.execute(
            insert(t).returning(t.c.id, sort_by_parameter_order=True), rows)
        ids = list(result.scalars())
    else:
        ids = sorted((await session.execute(insert(t).returning(t.c.id), rows))
                     .scalars())
    for m, new_id in zip(messages, ids, strict=True):
        m.id = new_id


_new_instance = manager_of_class(Message).new_instance


def new_message(*, chat: str, sender: str, at: datetime, text: str | None = None,
                card: Card | None = None, event_id: str | None = None,
                mention: str | None = None) -> Message:
    """A message not yet stored (its id is set when it is): a transient Message whose values
    go straight into its __dict__, as the ORM fills a loaded row, instead of through
    `Message(...)`'s attribute events (~10 µs less per message; every reply is one). Stored
    by Core inserts (`add_many`, `add_message`), which read the attributes."""
    msg: Message = _new_instance()
    msg.__dict__.update(
        chat=chat, sender=sender, at=at, text=text, event_id=event_id, mention=mention,
        card=jsonio.dumps(card_to_dict(card)) if card else None)
    return msg


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


# how far back from a reply its event's own message is looked for: it is stored in the same
# transaction (or journal batch) just before the replies, so a few rows back at most
SENDER_LOOKBACK = 1000


async def sender_of_event(session: AsyncSession, reply: Message) -> str | None:
    """Who sent the message `reply` answers (a person id): the message with the reply's
    event_id in its chat, stored shortly before it. None when there is none (a sender not in
    the roster has no message stored). A bounded primary-key range: event_id has no index."""
    if not reply.event_id:
        return None
    return (await session.execute(
        select(Message.sender)
        .where(Message.id.between(reply.id - SENDER_LOOKBACK, reply.id - 1),
               Message.chat == reply.chat, Message.event_id == reply.event_id,
               Message.sender != "bot")
        .order_by(Message.id.desc()).limit(1))).scalar()


def message_card(msg: Message) -> Card | None:
    return card_from_dict(jsonio.loads(msg.card)) if msg.card else None


async def set_card(session: AsyncSession, msg: Message, card: Card, at: datetime) -> None:
    """Works for attached and detached messages alike: one UPDATE, and the object reflects it."""
    card_json = jsonio.dumps(card_to_dict(card))
    await session.execute(update(Message).where(Message.id == msg.id)
                          .values(card=card_json, updated_at=at))
    set_committed_value(msg, "card", card_json)
    set_committed_value(msg, "updated_at", at)


async def list_messages(session: AsyncSession, chat: str, after: int = 0,
                        limit: int = 500, *, before: int | None = None,
                        latest: bool = False) -> list[Message]:
    """A chat's messages with after < id (< before), oldest first, at most ``limit``: the
    oldest of them, or with ``latest`` the newest (to open a chat at its end, or to page back
    through its history with ``before``)."""
    query = select(Message).where(Message.chat == chat, Message.id > after)
    if before is not None:
        query = query.where(Message.id < before)
    if latest:
        rows = list((await session.execute(query.order_by(Message.id.desc()).limit(limit)))
                    .scalars())
        rows.reverse()
        return rows
    return list((await session.execute(query.order_by(Message.id).limit(limit))).scalars())


async def bot_cards_since(session: AsyncSession, chats: list[str], since: datetime,
                          limit: int = 20) -> list[Message]:
    """The first cards the bot sent to these chats at or after ``since``, oldest first (a
    card sent in the transaction of a change at ``since``, found again without its id)."""
    return list((await session.execute(
        select(Message).where(Message.chat.in_(chats), Message.sender == "bot",
                              Message.card.is_not(None), Message.at >= since)
        .order_by(Message.id).limit(limit))).scalars())


async def bot_cards_mentioning(session: AsyncSession, chats: list[str] | None,
                               since: datetime, needle: str) -> list[Message]:
    """The cards the bot sent to these chats (None: to any chat, wherever they went) at or
    after ``since`` whose JSON contains ``needle`` (e.g. a case code), oldest first: earlier
    cards about a subject, found again to be redrawn when it changes (the caller checks what
    each card is). Without chats it reads the messages since ``since`` through ix_messages_at,
    not the whole table: ordered by time, as that index is (ordered by id, SQLite would
    rather scan the table in id order than sort)."""
    query = select(Message).where(Message.sender == "bot", Message.card.is_not(None),
                                  Message.at >= since,
                                  Message.card.contains(needle, autoescape=True))
    if chats is not None:
        query = query.where(Message.chat.in_(chats))
    return list((await session.execute(query.order_by(Message.at, Message.id))).scalars())


async def list_updated(session: AsyncSession, chat: str, *, since: datetime, upto: int,
                       start: int = 0, limit: int = 500) -> list[Message]:
    """A chat's messages with start <= id <= upto whose card changed at or after ``since``,
    oldest first (at most ``limit``, the most recently changed). Bounded by ids, the scan
    stays within the window a reader holds."""
    rows = list((await session.execute(
        select(Message).where(Message.chat == chat, Message.id >= start, Message.id <= upto,
                              Message.updated_at.is_not(None), Message.updated_at >= since)
        .order_by(Message.updated_at.desc(), Message.id.desc()).limit(limit)
    )).scalars())
    rows.sort(key=lambda m: m.id)
    return rows


async def enqueue_many(session: Writer, items: list[tuple[Message, str]], *,
                       op: str) -> None:
    """Outbox rows for stored (message, transport) pairs, in one statement."""
    if not items:
        return
    rows = [{"message_id": m.id, "transport": t, "op": op, "status": "pending", "attempts": 0,
             "created_at": m.at, "next_attempt_at": m.at} for m, t in items]
    if isinstance(session, InlineWriter):
        session.insert(table(OutboxItem), rows)
    else:
        await session.execute(insert(table(OutboxItem)), rows)


async def enqueue(session: AsyncSession, *, message_id: int, transport: str, op: str,
                  at: datetime) -> OutboxItem:
    item = OutboxItem(message_id=message_id, transport=transport, op=op, status="pending",
                      attempts=0, created_at=at, next_attempt_at=at)
    session.add(item)
    await session.flush()
    return item
