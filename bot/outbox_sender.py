"""Delivers the outbox (messages owed to external platforms such as DingTalk) with retries.

Each item is claimed atomically with a lease (``status='sending'``, ``next_attempt_at`` =
now + lease, ``attempts`` + 1) and committed *before* the platform is called; success marks
it sent. A process killed between the platform call and the confirmation leaves the item
``sending`` with an expired lease: another sender (or the restarted one) delivers it again.
So nothing is lost, a duplicate needs a crash in that window, at most ``batch`` items per
crash, and every re-delivery is counted in ``attempts``. Failures retry a few times at once
(tenacity, exponential wait), then later with exponential backoff, up to ``max_attempts``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from bot.context import Services
from config.model import ReminderDeliveryConfig
from storage.models import Message, OutboxItem

log = logging.getLogger(__name__)

# (item, message) -> the platform's reference for the message (or None)
Deliver = Callable[[OutboxItem, Message], Awaitable[str | None]]


class OutboxSender:
    def __init__(self, services: Services, deliverers: dict[str, Deliver], worker: str,
                 cfg: ReminderDeliveryConfig | None = None) -> None:
        self.services = services
        self.deliverers = deliverers
        self.worker = worker
        self.cfg = cfg or services.config.reminders.delivery

    async def claim(self) -> list[OutboxItem]:
        now = self.services.clock.now()
        due = (select(OutboxItem.id)
               .where(OutboxItem.transport.in_(list(self.deliverers)),
                      OutboxItem.status.in_(("pending", "sending")),
                      OutboxItem.next_attempt_at <= now)
               .order_by(OutboxItem.next_attempt_at, OutboxItem.id).limit(self.cfg.batch)
               .with_for_update(skip_locked=True))
        async with self.services.db() as session, session.begin():
            res = await session.execute(
                update(OutboxItem).where(OutboxItem.id.in_(due.scalar_subquery()))
                .values(status="sending", claimed_by=self.worker,
                        attempts=OutboxItem.attempts + 1,
                        next_attempt_at=now + timedelta(seconds=self.cfg.lease_seconds))
                .returning(OutboxItem).execution_options(synchronize_session=False))
            items = list(res.scalars())
        return sorted(items, key=lambda i: i.id)

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns the number of items attempted."""
        if not self.deliverers:
            return 0
        items = await self.claim()
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        async with self.services.db() as session:
            msg = await session.get(Message, item.message_id)
        deliver = self.deliverers[item.transport]
        try:
            if msg is None:
                raise LookupError(f"message {item.message_id} is gone")
            ref: str | None = None
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(1 + self.cfg.immediate_retries),
                    wait=wait_exponential(multiplier=0.2, max=2), reraise=True):
                with attempt:
                    ref = await deliver(item, msg)
        except Exception as e:
            await self._failed(item, e)
            return
        values: dict[str, Any] = {"status": "sent", "sent_at": self.services.clock.now(),
                                  "last_error": None}
        async with self.services.db() as session, session.begin():
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == item.id,
                                         OutboxItem.claimed_by == self.worker)
                .values(**values).execution_options(synchronize_session=False))
            if ref and item.op == "send":
                await session.execute(update(Message).where(Message.id == item.message_id)
                                      .values(platform_ref=ref)
                                      .execution_options(synchronize_session=False))

    async def _failed(self, item: OutboxItem, error: Exception) -> None:
        final = item.attempts >= self.cfg.max_attempts
        delay = min(self.cfg.backoff_seconds * 2 ** max(item.attempts - 1, 0),
                    self.cfg.backoff_max_seconds)
        log.warning("outbox %s (%s) attempt %d failed%s: %s", item.id, item.transport,
                    item.attempts, " for good" if final else f", retry in {delay:.0f}s", error)
        async with self.services.db() as session, session.begin():
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == item.id,
                                         OutboxItem.claimed_by == self.worker)
                .values(status="failed" if final else "pending", last_error=str(error)[:2000],
                        next_attempt_at=self.services.clock.now() + timedelta(seconds=delay))
                .execution_options(synchronize_session=False))


def deliverers_of(services: Services) -> dict[str, Deliver]:
    """Transports register their deliver function here (``features["outbox_deliverers"]``)."""
    found: dict[str, Deliver] = services.features.setdefault("outbox_deliverers", {})
    return found
