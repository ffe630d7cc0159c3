"""Repository functions for the message log and the outbox."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cards.model import Card, card_from_dict, card_to_dict
from storage.models import Message, OutboxItem


async def add_message(session: AsyncSession, *, chat: str, sender: str, at: datetime,
                      text: str | None = None, card: Card | None = None,
                      event_id: str | None = None) -> Message:
    msg = Message(
        chat=chat, sender=sender, at=at, text=text,
        card=json.dumps(card_to_dict(card), ensure_ascii=False) if card else None,
        event_id=event_id,
    )
    session.add(msg)
    await session.flush()
    return msg


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


def message_card(msg: Message) -> Card | None:
    return card_from_dict(json.loads(msg.card)) if msg.card else None


async def set_card(session: AsyncSession, msg: Message, card: Card, at: datetime) -> None:
    msg.card = json.dumps(card_to_dict(card), ensure_ascii=False)
    msg.updated_at = at
    await session.flush()


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
