"""Two instances' journals on one PostgreSQL database, claiming overlapping event ids at once
(a platform redelivering every event to both): each event is answered by exactly one, and the
batches never deadlock (a deadlock would fail a batch, which the journal logs before writing
its events one by one)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage import audit, db, migrate
from storage import messages as msgs
from storage.journal import Journal, PendingWrites

AT = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)


def writes(i: int) -> PendingWrites:
    w = PendingWrites(f"redelivered-{i:04d}", AT)
    w.messages.append(msgs.new_message(chat="dm:p-prosecutor-1", sender="p-prosecutor-1", at=AT,
                                       text=f"码 {i}", event_id=w.event_id))
    w.audits.append(audit.Entry(AT, "p-prosecutor-1", "case.view", f"HY-2026-{i:04d}"))
    return w


async def test_overlapping_batches_from_two_instances(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    a, b = db.create_engine(pg_url), db.create_engine(pg_url)
    try:
        await migrate.upgrade(a)
        for engine in (a, b):  # both pools connected, so both batches start together
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        n = 2000
        ja, jb = Journal(a.begin, max_batch=n), Journal(b.begin, max_batch=n)
        # instance A sees the events in order, instance B in reverse, each in one batch: the two
        # transactions claim the same ids at the same time
        results = await asyncio.gather(
            asyncio.gather(*(ja.commit(writes(i)) for i in range(n))),
            asyncio.gather(*(jb.commit(writes(i)) for i in reversed(range(n)))))
        got_a = dict(zip(range(n), results[0], strict=True))
        got_b = dict(zip(reversed(range(n)), results[1], strict=True))
        assert all(got_a[i] != got_b[i] for i in range(n))  # exactly one of the two answered
        async with db.sessionmaker(a)() as s:
            stored = await msgs.list_messages(s, "dm:p-prosecutor-1", limit=5000)
            chain = await audit.verify(s)
        assert sorted(m.text or "" for m in stored) == sorted(f"码 {i}" for i in range(n))
        assert chain.ok and chain.records == n
        assert not [r for r in caplog.records if "batch" in r.getMessage()]
    finally:
        await a.dispose()
        await b.dispose()
