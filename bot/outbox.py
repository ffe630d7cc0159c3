"""The outbox delivery worker, transport-agnostic. Handlers only write `outbox` rows (in their own
transaction); this worker claims due rows atomically, hands each to its transport, and marks it
sent or schedules a retry. It is the only way out, so nothing is lost while a platform is down.

Claims are leases: a row in `sending` whose `next_attempt_at` has passed belongs to nobody (its
worker died or stalled) and is claimed again. SQLite claims in one write transaction with
UPDATE … RETURNING; PostgreSQL uses FOR UPDATE SKIP LOCKED so several instances never claim one
row. While a pass holds rows it renews their lease, does not start a row it lost, and cuts off
a delivery whose lease runs out or is lost (bot/outbox_lease.py); rows it has not started when
the worker stops go back to `pending` at once.

One message's rows (its `send`, then each `update` of its card) reach a platform in order, on
any number of instances: only the first unfinished row of a message is claimed (see `claim`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple, Protocol

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.outbox_lease import Lease, LeaseLost
from config.model import OutboxConfig
from storage.db import unavailable
from storage.models import Message, OutboxItem

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "sending")


class DeliveryError(Exception):
    """A failed delivery. `retryable=False` marks the row failed for good (e.g. a 4xx other
    than auth); `retry_after` overrides the backoff (e.g. the platform is throttling);
    `min_delay`: the backoff, but not sooner than this (a rate limit's Retry-After)."""

    def __init__(self, reason: str, *, retryable: bool = True,
                 retry_after: float | None = None, min_delay: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after
        self.min_delay = min_delay


class Postpone(Exception):
    """Not an attempt: wait this long and try again (a rate limit slot, a send not done yet)."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"postponed {seconds:.2f}s")
        self.seconds = seconds


class Deliverer(Protocol):
    async def deliver(self, item: OutboxItem, message: Message) -> None:
        """Deliver one row; may set `message.platform_ref` (saved whatever the outcome)."""
        ...


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base·2^(n-1) plus up to 50 % more, capped."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return min(cap, delay * (1 + random.random() / 2))


@dataclass(frozen=True)
class Claimed:
    item: OutboxItem
    message: Message


class Outcome(NamedTuple):
    """What an attempt leaves: the row's status, when to look again, whether it counts as an
    attempt, and the error to keep."""

    status: str  # sent | pending | failed
    delay: float
    counted: bool
    error: str | None


class OutboxWorker:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock, config: OutboxConfig,
                 transports: Mapping[str, Deliverer], *, dialect: str = "sqlite") -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.transports = dict(transports)
        self.dialect = dialect
        self.worker_id = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._db_down = False
        self.delivered = 0  # counters for logs and the bench
        self.failed = 0
        # metrics: (transport, result) per attempt; result is sent|retry|failed|postponed
        self.on_result: Callable[[str, str], None] = lambda transport, result: None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Started and not stopped: never on an instance with no external transport (console
        only), where nothing is ever queued for it."""
        return self._task is not None

    def start(self) -> None:
        if self._task is None and self.transports:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the deliveries in flight (a cancelled delivery may have reached the platform
        and would be sent twice), hand the claimed rows not started back at once (another
        instance sends them now, not when their lease runs out), then stop; cancel only after
        `grace` seconds."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                busy = 0
                if (why := unavailable(e)) is None:
                    log.exception("outbox pass failed; retrying after the poll interval")
                elif not self._db_down:  # once per outage, not at every poll
                    log.warning("outbox: database unavailable (%s); retrying every %gs", why,
                                self.config.poll_seconds)
                self._db_down = why is not None
            else:
                if self._db_down:
                    log.info("outbox: database reachable again")
                    self._db_down = False
            if busy or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
            self._wake.clear()

    # -- one pass -------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim and deliver one batch; returns how many rows were claimed."""
        since = asyncio.get_running_loop().time()
        claimed = await self.claim()
        if not claimed:
            return 0
        lease = Lease(self.db, self.clock, self.worker_id, self.config.lease_seconds,
                      (c.item.id for c in claimed), since)
        by_chat: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
        for c in claimed:
            by_chat[(c.item.transport, c.message.chat)].append(c)
        keeper = asyncio.create_task(lease.keep(), name="outbox-lease")
        try:
            # one chat's rows in order; different chats side by side, all finished before the
            # lease is let go (a chat whose database write failed stops, the others go on)
            results = await asyncio.gather(
                *(self._deliver_in_order(rows, lease) for rows in by_chat.values()),
                return_exceptions=True)
        finally:
            keeper.cancel()
            await asyncio.wait([keeper])
            await lease.give_back()
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return len(claimed)

    async def _deliver_in_order(self, rows: list[Claimed], lease: Lease) -> None:
        for c in rows:
            if self._stopping:
                return  # the rest is handed back (Lease.give_back)
            if await lease.confirm(c.item.id):
                await self._deliver(c, lease)

    async def claim(self) -> list[Claimed]:
        """Lease a batch of due rows, each the first unfinished row of its message (on its
        transport): a later row waits while an earlier one is in flight (`sending` under a
        live lease) or waiting for its retry (`pending`, not yet due); a `failed` one does not
        hold it up. So one message's rows are claimed one at a time, in order.

        Why this holds under SKIP LOCKED with no further lock: a row leaves `pending`/`sending`
        only when the worker holding it finishes it, so an earlier row being claimed by
        another worker right now (locked, not committed) is still unfinished in any snapshot,
        and the later row is not taken. The ids of one message's rows follow their commits
        (an update locks the message row before it adds its outbox row).

        The message is read after the claim: any change committed later has a row of its own,
        claimed after this one is finished, so the last delivery shows the latest content."""
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        due = and_(
            OutboxItem.transport.in_(list(self.transports)),
            OutboxItem.status.in_(UNFINISHED),
            OutboxItem.next_attempt_at <= now,
        )
        earlier = aliased(OutboxItem)
        first_of_message = ~exists().where(
            earlier.message_id == OutboxItem.message_id, earlier.transport == OutboxItem.transport,
            earlier.id < OutboxItem.id, earlier.status.in_(UNFINISHED))
        ids = (select(OutboxItem.id).where(due, first_of_message).order_by(OutboxItem.id)
               .limit(self.config.batch))
        if self.dialect == "postgresql":
            ids = ids.with_for_update(skip_locked=True)
        stmt = (
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids.scalar_subquery()), due)
            # a row still "sending" was claimed by a worker that died mid-delivery: the platform
            # may have it already, so taking it over counts as an attempt (duplicates counted)
            .values(status="sending", claimed_by=self.worker_id, next_attempt_at=lease_until,
                    attempts=case((OutboxItem.status == "sending", OutboxItem.attempts + 1),
                                  else_=OutboxItem.attempts))
            .returning(OutboxItem.id)
            .execution_options(synchronize_session=False)
        )
        async with self.db() as session, session.begin():
            claimed_ids = sorted((await session.execute(stmt)).scalars())
            if not claimed_ids:
                return []
            items = (await session.execute(
                select(OutboxItem).where(OutboxItem.id.in_(claimed_ids)).order_by(OutboxItem.id)
            )).scalars().all()
            msg_ids = {i.message_id for i in items}
            messages = {m.id: m for m in (await session.execute(
                select(Message).where(Message.id.in_(msg_ids)))).scalars()}
        return [Claimed(i, messages[i.message_id]) for i in items]

    async def _deliver(self, c: Claimed, lease: Lease) -> None:
        item, message = c.item, c.message
        ref_before = message.platform_ref
        try:
            outcome = await self._attempt(item, message, lease)
        except asyncio.CancelledError:
            lease.done(item.id)
            await self._finish(item, message, ref_before,
                               Outcome("pending", 0.0, False, "cancelled during delivery"))
            raise
        if outcome.status == "sent":
            held = await self._record_sent(item, message, ref_before, outcome, lease)
        else:
            lease.done(item.id)
            held = await self._finish(item, message, ref_before, outcome)
        if not held:
            await lease.try_renew()  # its lease ran out: did others of this pass go too?

    async def _record_sent(self, item: OutboxItem, message: Message, ref_before: str | None,
                           outcome: Outcome, lease: Lease) -> bool:
        """Record a delivery that got through. While the database cannot be reached the row
        stays leased (the pass's keeper renews it) and recording is retried with backoff, so
        no other worker takes it over and sends it again: until the database answers, the
        renewal finds the row taken over, or the worker is cancelled (the end of `stop`'s
        grace). One warning per outage (the worker's), not per retry."""
        try:
            return await self._retry_recording(item, message, ref_before, outcome, lease)
        except asyncio.CancelledError:
            lease.done(item.id)  # not handed back as not started: it was delivered
            log.warning("outbox %d (%s %s, message %d): delivered, but stopped before it was "
                        "recorded; another worker delivers it again when its lease runs out",
                        item.id, item.transport, item.op, item.message_id)
            raise

    async def _retry_recording(self, item: OutboxItem, message: Message,
                               ref_before: str | None, outcome: Outcome, lease: Lease) -> bool:
        tries = 0
        while True:
            try:
                async with lease.finishing(item.id):
                    held = await self._finish(item, message, ref_before, outcome)
            except Exception as e:
                if (why := unavailable(e)) is None:
                    raise
                if item.id in lease.lost:  # the renewal got through: another worker has it
                    log.warning("outbox %d (%s %s, message %d): delivered, but another worker "
                                "had taken the row over before it was recorded; the platform "
                                "may show it twice", item.id, item.transport, item.op,
                                item.message_id)
                    return False
                tries += 1
                # at most a poll apart: recorded soon after the database is back, before
                # a lease that ran out meanwhile lets another instance take the row
                delay = backoff(tries, self.config.retry_base_seconds,
                                min(self.config.retry_max_seconds, self.config.poll_seconds))
                if not self._db_down:
                    log.warning("outbox: database unavailable (%s) to record delivered row %d "
                                "(%s %s, message %d); retrying with backoff, its lease kept",
                                why, item.id, item.transport, item.op, item.message_id)
                    self._db_down = True
                else:
                    log.debug("outbox %d: still cannot record its delivery (%s); retry %d in "
                              "%.2fs", item.id, why, tries, delay)
                await asyncio.sleep(delay)
                continue
            if tries:
                log.debug("outbox %d: delivery recorded after %d retries", item.id, tries)
            return held

    async def _attempt(self, item: OutboxItem, message: Message, lease: Lease) -> Outcome:
        """One delivery through the transport, and what to record."""
        try:
            async with lease.delivering(item.id):
                await self.transports[item.transport].deliver(item, message)
        except LeaseLost as e:
            log.warning("outbox %d (%s %s): delivery cut off, %s", item.id, item.transport,
                        item.op, e)
            # it may have reached the platform: counted, as a takeover is
            return Outcome("pending", 0.0, True, f"delivery cut off: {e}")
        except Postpone as p:
            return Outcome("pending", p.seconds, False, None)
        except DeliveryError as e:
            if not e.retryable:
                self.failed += 1
                log.error("outbox %d (%s %s, message %d) failed for good: %s", item.id,
                          item.transport, item.op, item.message_id, e)
                return Outcome("failed", 0.0, True, str(e))
            delay = e.retry_after if e.retry_after is not None else \
                max(self._backoff(item), e.min_delay or 0.0)
            log.warning("outbox %d (%s %s) attempt %d failed, retry in %.2fs: %s", item.id,
                        item.transport, item.op, item.attempts + 1, delay, e)
            return Outcome("pending", delay, True, str(e))
        except Exception as e:
            delay = self._backoff(item)
            log.exception("outbox %d (%s %s) attempt %d crashed, retry in %.2fs", item.id,
                          item.transport, item.op, item.attempts + 1, delay)
            return Outcome("pending", delay, True, f"{type(e).__name__}: {e}")
        self.delivered += 1
        return Outcome("sent", 0.0, True, None)

    def _backoff(self, item: OutboxItem) -> float:
        return backoff(item.attempts + 1, self.config.retry_base_seconds,
                       self.config.retry_max_seconds)

    async def _finish(self, item: OutboxItem, message: Message, ref_before: str | None,
                      outcome: Outcome) -> bool:
        """Record the outcome, only if this worker still holds the row; False (and a warning)
        when another worker had taken it over meanwhile."""
        status, delay, count, error = outcome
        self.on_result(item.transport, status if status != "pending" else
                       "retry" if count else "postponed")
        now = self.clock.now()
        values: dict[str, object] = {
            "status": status, "claimed_by": None,
            "next_attempt_at": now + timedelta(seconds=delay),
        }
        if count:
            values["attempts"] = OutboxItem.attempts + 1
        if error is not None or status == "sent":
            values["last_error"] = error
        if status == "sent":
            values["sent_at"] = now
        async with self.db() as session, session.begin():
            res = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id, OutboxItem.claimed_by == self.worker_id)
                .values(**values).execution_options(synchronize_session=False))
            held = bool(res.rowcount)  # type: ignore[attr-defined]
            if held and message.platform_ref != ref_before:  # else the new holder's to keep
                await session.execute(
                    update(Message).where(Message.id == message.id)
                    .values(platform_ref=message.platform_ref)
                    .execution_options(synchronize_session=False))
        if not held:
            log.warning("outbox %d (%s %s, message %d): another worker had taken the row over "
                        "(this worker's lease ran out) before this %s attempt was recorded; the "
                        "platform may show it twice", item.id, item.transport, item.op,
                        item.message_id, status)
        return held


async def pending_count(db: async_sessionmaker[AsyncSession], transport: str) -> int:
    """Rows not yet delivered (for health checks and tests)."""
    async with db() as session:
        rows = await session.execute(select(OutboxItem.id).where(
            OutboxItem.transport == transport,
            or_(OutboxItem.status == "pending", OutboxItem.status == "sending")))
        return len(rows.all())
