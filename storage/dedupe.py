"""Inbound de-duplication. Redis answers fast across instances; the database decides for sure
(the processed_events primary key), so losing Redis only costs speed, never correctness."""

from __future__ import annotations

import logging
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.inline_sqlite import InlineWriter
from storage.models import ProcessedEvent, table
from storage.types import Writer, dialect_name

log = logging.getLogger(__name__)


class RedisDedupe:
    def __init__(self, redis: Redis, ttl_seconds: int, prefix: str = "casebot:event:") -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.prefix = prefix
        self.healthy = True

    async def seen(self, event_id: str) -> bool:
        """True when some instance already handled this event (fast path; False when Redis is
        down, and the database check still runs)."""
        try:
            found = await self.redis.exists(self.prefix + event_id)
        except (RedisError, OSError) as e:
            self._lost(e)
            return False
        if not self.healthy:
            log.info("redis reachable again, de-duplicating through it")
        self.healthy = True
        return bool(found)

    async def remember(self, event_id: str) -> None:
        """Mark an event handled, after its transaction committed. Marking it before would lose
        the event if this instance died mid-way: a redelivery to another one would be dropped."""
        try:
            await self.redis.set(self.prefix + event_id, "1", ex=self.ttl)
        except (RedisError, OSError) as e:
            self._lost(e)

    def _lost(self, e: Exception) -> None:
        if self.healthy:
            log.warning("redis unavailable, de-duplicating in the database only: %s", e)
        self.healthy = False


async def claim_in_db(session: AsyncSession, event_id: str, at: datetime) -> bool:
    """Insert the event id inside the handling transaction; False if it was handled before.
    On PostgreSQL a concurrent claim of the same id waits for the first transaction and then
    finds the row; on SQLite the write lock already serialises the two."""
    return event_id in await claim_many(session, [(event_id, at)])


async def was_handled(session: AsyncSession, event_id: str) -> bool:
    """Whether an event id was claimed (handled) before, without claiming it."""
    t = table(ProcessedEvent)
    return (await session.execute(select(t.c.event_id).where(t.c.event_id == event_id))
            ).first() is not None


async def claim_many(session: Writer, events: list[tuple[str, datetime]]) -> set[str]:
    """Claim several event ids in one statement; returns those that were new. Ids are
    inserted in sorted order, so two PostgreSQL transactions claiming overlapping batches
    lock the rows in the same order and wait for each other instead of deadlocking."""
    if not events:
        return set()
    unique = dict(events)  # the same id twice in one statement would conflict with itself
    t = table(ProcessedEvent)
    rows = [{"event_id": e, "at": unique[e]} for e in sorted(unique)]
    if isinstance(session, InlineWriter):
        return set(session.insert(t, rows, returning=t.c.event_id, skip_conflicts=True))
    insert = sqlite_insert if dialect_name(session) == "sqlite" else pg_insert
    stmt = insert(t).on_conflict_do_nothing().returning(t.c.event_id)
    return set((await session.execute(stmt, rows)).scalars())
