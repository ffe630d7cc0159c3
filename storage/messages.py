"""Repository functions for the message log and the outbox."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from cards.model import Card, card_from_dict, card_to_dict
from storage.models import Message, OutboxItem


async def add_message(session: AsyncSession, *, chat: str, sender: str, at: datetime,
                      text: str | None = None, card: Card | None = None,
                      event_id: str | None = None) -> Message:
    """Insert with one Core statement (the hot path: every event logs one or two messages); the
    returned object is not attached to the session."""
    values = {"chat": chat, "sender": sender, "at": at, "text": text, "event_id": event_id,
              "card": json.dumps(card_to_dict(card), ensure_ascii=False) if card else None}
    new_id = (await session.execute(insert(Message).values(**values).returning(Message.id))
              ).scalar_one()
    return Message(id=new_id, **values)


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


def message_card(msg: Message) -> Card | None:
    return card_from_dict(json.loads(msg.card)) if msg.card else None


async def set_card(session: AsyncSession, msg: Message, card: Card, at: datetime) -> None:
    """Works for attached and detached messages alike: one UPDATE, and the object reflects it."""
    card_json = json.dumps(card_to_dict(card), ensure_ascii=False)
    await session.execute(update(Message).where(Message.id == msg.id)
                          .values(card=card_json, updated_at=at))
    set_committed_value(msg, "card", card_json)
    set_committed_value(msg, "updated_at", at)


async def list_messages(session: AsyncSession, chat: str, after: int = 0,
                        limit: int = 500) -> list[Message]:
    rows = await session.execute(
        select(Message).where(Message.chat == chat, Message.id > after)
        .order_by(Message.id).limit(limit)
    )
    return list(rows.scalars())


async def enqueue(session: AsyncSession, *, message_id: int, transport: str, op: str,
                  at: datetime) -> OutboxItem:
    item = OutboxItem(message_id=message_id, transport=transport, op=op, status="pending",
                      attempts=0, created_at=at, next_attempt_at=at)
    session.add(item)
    await session.flush()
    return item
