"""Group commit for read-only events (码, 我的案件, 帮助 …).

Such an event changes no state; it only has to write what it leaves behind: its de-duplication
claim, the person's message, the bot's replies (with their outbox rows) and audit records.
Instead of one write transaction per event, waiting events are written together, in one
transaction per batch, by whichever caller finds the journal idle. Every caller still waits
for *its* commit before answering, so nothing accepted is lost; a batch costs a handful of
statements however many events it holds, which is what lets SQLite's single writer keep up.
At stop (`close`) what waits is written first; a caller whose event could not be written gets
JournalClosed (a "database unavailable" error), never silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import OperationalError

from storage import audit
from storage import messages as msgs
from storage.dedupe import claim_many
from storage.models import Message
from storage.types import Writer

log = logging.getLogger(__name__)


@dataclass
class PendingWrites:
    """What one read-only event writes, gathered while its handler runs."""

    event_id: str
    at: datetime
    messages: list[Message] = field(default_factory=list)  # ids are set at commit
    outbox: list[tuple[Message, str]] = field(default_factory=list)  # (message, transport)
    audits: list[audit.Entry] = field(default_factory=list)


class JournalClosed(ConnectionError):
    """The journal stopped before writing the event: nothing of it was stored. A connection
    error, so callers treat it as the database being unavailable (503, or the platform
    redelivers) rather than answering as if it were handled."""


@dataclass
class _Waiting:
    writes: PendingWrites
    done: asyncio.Future[bool]


class Journal:
    """`begin` opens the transaction a batch is written in. On SQLite that is on an inline
    connection (storage/db.py `journal_for`): `exclusive` then checks out the main pool's only
    connection for the batch, so no transaction of this process holds the write lock
    meanwhile, and `checkpoint` copies the WAL back into the database, off the loop, every so
    many batches."""

    def __init__(self, begin: Callable[[], AbstractAsyncContextManager[Writer]], *,
                 exclusive: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
                 checkpoint: Callable[[], Awaitable[None]] | None = None,
                 checkpoint_every: int = 500, max_batch: int = 256,
                 lock_wait_s: float = 30.0) -> None:
        self.begin = begin
        self.exclusive = exclusive
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.max_batch = max_batch
        self.lock_wait_s = lock_wait_s
        self._queue: list[_Waiting] = []
        self._batch: list[_Waiting] = []  # being written
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self.batches = 0  # for benchmarks
        self.on_batch: Callable[[int], None] = lambda size: None  # metrics: events per batch

    @property
    def waiting(self) -> int:
        """Callers waiting for their commit (in the batch being written, or behind it)."""
        return sum(not w.done.done() for w in (*self._batch, *self._queue))

    async def commit(self, writes: PendingWrites) -> bool:
        """Write and commit; True once durable, False when the event id was already handled
        (the writes are then dropped: the first delivery answered). JournalClosed once the
        journal is stopping, or when it stopped before this was written."""
        if self._closing:
            raise JournalClosed("the bot is stopping: not written")
        waiting = _Waiting(writes, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await waiting.done

    async def _drain(self) -> None:
        from storage.db import unavailable  # storage.db imports this module

        try:
            while self._queue:
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
                self._batch = batch
                try:
                    await self._settle(batch)
                except Exception as e:
                    if unavailable(e) is not None:
                        # the database cannot be reached: each event fails alike, and each
                        # caller answers 503 and logs it (one line per request, not three)
                        for w in batch:
                            if not w.done.done():
                                w.done.set_exception(e)
                        continue
                    # One bad event must not fail the others: write them one by one.
                    log.warning("journal: a batch of %d failed (%s: %s); writing its events "
                                "one by one", len(batch), type(e).__name__, e)
                    for w in batch:
                        await self._settle([w], alone=True)
                if self.checkpoint is not None and self.batches % self.checkpoint_every == 0 \
                        and self._checkpointing is None:
                    self._checkpointing = asyncio.create_task(self._checkpoint())
        finally:
            # cancelled (the app stopping): whoever still waits, in this batch or behind it,
            # is answered with an error, not left waiting forever
            self._writer = None
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        waiting, self._batch, self._queue = [*self._batch, *self._queue], [], []
        for w in waiting:
            if not w.done.done():
                w.done.set_exception(JournalClosed("the journal stopped before writing it"))

    async def _settle(self, batch: list[_Waiting], alone: bool = False) -> None:
        """Write a batch and resolve its callers. With `alone`, a failure goes to the caller
        (who answers with an error and is not marked handled, so a redelivery retries)."""
        try:
            results = await self._write_waiting([w.writes for w in batch])
        except Exception as e:
            if not alone:
                raise
            log.warning("journal: event %s not written: %s", batch[0].writes.event_id, e)
            if not batch[0].done.done():
                batch[0].done.set_exception(e)
            return
        for w, ok in zip(batch, results, strict=True):
            if not w.done.done():
                w.done.set_result(ok)

    async def _write_waiting(self, batch: list[PendingWrites]) -> list[bool]:
        """Write a batch; while another process holds SQLite's write lock, wait in asyncio
        (the inline connection never blocks the loop on the lock)."""
        delay, waited = 0.001, 0.0
        while True:
            try:
                async with self.exclusive() if self.exclusive else nullcontext():
                    return await self._write(batch)
            except OperationalError as e:
                if "locked" not in str(e) or waited >= self.lock_wait_s:
                    raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)

    async def _checkpoint(self) -> None:
        assert self.checkpoint is not None
        try:
            await self.checkpoint()
        except Exception:
            log.exception("WAL checkpoint failed; the next one will catch up")
        finally:
            self._checkpointing = None

    async def close(self, grace: float = 5.0) -> None:
        """On stop, before the database is closed: take no more events, write those already
        waiting (their callers were promised a commit), for up to `grace` seconds; then stop
        the writer, and whoever still waits gets JournalClosed."""
        self._closing = True
        writer = self._writer
        if writer is not None:
            done, _ = await asyncio.wait({writer}, timeout=grace)
            if not done:
                log.warning("journal: %d event(s) not written within %.0fs of stopping",
                            len(self._batch) + len(self._queue), grace)
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
        self._fail_waiting()
        if self._checkpointing is not None:
            await self._checkpointing

    async def _write(self, batch: list[PendingWrites]) -> list[bool]:
        async with self.begin() as session:
            claimed = await claim_many(session, [(w.event_id, w.at) for w in batch])
            results: list[bool] = []
            for w in batch:  # the same id twice in one batch: the first one wins
                results.append(w.event_id in claimed)
                claimed.discard(w.event_id)
            fresh = [w for w, ok in zip(batch, results, strict=True) if ok]
            await msgs.add_many(session, [m for w in fresh for m in w.messages])
            await msgs.enqueue_many(session, [o for w in fresh for o in w.outbox], op="send")
            await audit.append_many(session, [a for w in fresh for a in w.audits])
        self.batches += 1
        self.on_batch(len(batch))
        return results

