"""The lease on the rows one outbox pass holds (see bot/outbox.py).

A claim leases each row for `lease_seconds`. A pass delivers one chat's rows one after another,
so a row may wait its turn, or a delivery take, longer than that: while the pass holds rows the
lease is renewed every third of `lease_seconds`, in one UPDATE for every row still held
(`claimed_by` = this worker). Only a worker that stops renewing (it died, stalled, or cannot
reach the database) loses its rows to another instance.

The renewal is also how a worker learns it lost a row: a row the UPDATE no longer finds is not
delivered here, and its delivery, if in flight, is cut off. A delivery is cut off too when its
lease runs out without a renewal, whatever the transport's own timeouts: a transport call never
outlives the lease it runs under, so two workers never deliver one row at the same time.

Two clocks: the lease in the database is on the app's clock (as the claim is); the local deadline
is on the event loop's, `lease_seconds` after the last renewal that succeeded was started."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from storage.db import unavailable
from storage.models import OutboxItem

log = logging.getLogger("bot.outbox")


class LeaseLost(Exception):
    """A delivery cut off: its row was taken over, or its lease ran out without a renewal."""


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class Lease:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock, worker_id: str,
                 seconds: float, ids: Iterable[int], since: float) -> None:
        """`since`: the event loop's time when the claim was started."""
        self.db = db
        self.clock = clock
        self.worker_id = worker_id
        self.seconds = seconds
        self.held = set(ids)  # claimed, not finished, not lost
        self.lost: set[int] = set()
        self.deadline = since + seconds
        self._cuts: dict[int, asyncio.Timeout] = {}  # deliveries in flight
        self._lock = asyncio.Lock()
        self._renewing_fails = False  # one warning per outage, not per renewal

    def holds(self, item_id: int) -> bool:
        return item_id in self.held and _loop_time() < self.deadline

    async def confirm(self, item_id: int) -> bool:
        """Before a delivery starts: whether this worker still holds the row. When the lease
        may have run out (no renewal got through in time), it is renewed first."""
        if item_id in self.held and _loop_time() >= self.deadline:
            await self.try_renew()
        return self.holds(item_id)

    def done(self, item_id: int) -> None:
        """The row is being finished: no longer renewed (nor given back)."""
        self.held.discard(item_id)

    @contextlib.asynccontextmanager
    async def finishing(self, item_id: int) -> AsyncIterator[None]:
        """Record a row's result with no renewal running meanwhile (one that did would find
        the row finished and take it for lost); the row is done once the block succeeds, and
        stays held (renewed) if it raised."""
        async with self._lock:
            yield
            self.done(item_id)

    @contextlib.asynccontextmanager
    async def delivering(self, item_id: int) -> AsyncIterator[None]:
        """Run one delivery, cut off with LeaseLost when its row is lost or its lease runs
        out without a renewal."""
        cut = asyncio.timeout_at(self.deadline)
        try:
            async with cut:
                self._cuts[item_id] = cut
                try:
                    yield
                finally:
                    del self._cuts[item_id]
        except TimeoutError:
            if not cut.expired():  # the transport's own timeout: not ours
                raise
            raise LeaseLost("another worker took the row over" if item_id in self.lost
                            else "the lease ran out without a renewal") from None

    async def renew(self) -> None:
        """Extend the lease of every row still held; rows not found any more are lost."""
        async with self._lock:
            ids = sorted(self.held)
            if not ids:
                return
            since = _loop_time()
            until = self.clock.now() + timedelta(seconds=self.seconds)
            async with self.db() as session, session.begin():
                kept = set((await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id.in_(ids), OutboxItem.claimed_by == self.worker_id,
                           OutboxItem.status == "sending")
                    .values(next_attempt_at=until)
                    .returning(OutboxItem.id)
                    .execution_options(synchronize_session=False))).scalars())
            lost = (self.held & set(ids)) - kept  # rows finished meanwhile are not lost
            for item_id in sorted(lost):
                log.warning("outbox %d: another worker took the row over (this worker's lease "
                            "ran out); it is not delivered here", item_id)
            self.held -= lost
            self.lost |= lost
            self.deadline = since + self.seconds
            for item_id, cut in self._cuts.items():
                if not cut.expired():
                    cut.reschedule(_loop_time() if item_id in lost else self.deadline)

    async def try_renew(self) -> bool:
        try:
            await self.renew()
        except Exception as e:
            if not self._renewing_fails:
                log.warning("outbox: could not renew the lease of %d rows (%s); their "
                            "deliveries stop when it runs out", len(self.held),
                            unavailable(e) or repr(e))
            self._renewing_fails = True
            return False
        self._renewing_fails = False
        return True

    async def keep(self) -> None:
        """Renew every third of the lease until cancelled (at the end of the pass)."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            await self.try_renew()

    async def give_back(self) -> None:
        """Rows claimed but never started (the worker is stopping, or a delivery before them
        failed) go back to `pending` at once, not when their lease runs out. Not an attempt."""
        ids = sorted(self.held)
        self.held.clear()
        if not ids:
            return
        try:
            async with self.db() as session, session.begin():
                await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id.in_(ids), OutboxItem.claimed_by == self.worker_id,
                           OutboxItem.status == "sending")
                    .values(status="pending", claimed_by=None, next_attempt_at=self.clock.now())
                    .execution_options(synchronize_session=False))
        except Exception as e:  # they are taken over when their lease runs out
            log.warning("outbox: could not hand back %d rows not started (%s)", len(ids),
                        unavailable(e) or repr(e))
