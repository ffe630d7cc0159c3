"""The generic outbox worker and the rate limiters, against a real SQLite file (and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import ManualClock, SystemClock
from bot.context import Outbound
from bot.outbox import DeliveryError, OutboxWorker, Postpone
from bot.ratelimit import Limit, MemoryRateLimiter, RedisRateLimiter
from config.loader import Settings
from config.model import OutboxConfig
from storage import messages as msgs
from storage.models import Message, OutboxItem

FAST = OutboxConfig(poll_seconds=0.05, retry_base_seconds=0.01, retry_max_seconds=0.05,
                    lease_seconds=60)


class Recorder:
    def __init__(self, outcomes: list[Exception | None] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.calls: list[tuple[int, str]] = []

    async def deliver(self, item: OutboxItem, message: Message) -> None:
        self.calls.append((message.id, item.op))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    a = App(settings, SystemClock())
    await a.start()
    yield a
    await a.stop()


async def enqueue(app: App, n: int, chat: str = "dm:p-prosecutor-1") -> list[int]:
    async with app.services.db() as session, session.begin():
        out = Outbound(app.services, session)
        ids = []
        for i in range(n):
            msg = await out.send(chat, text=f"t{i}")
            await msgs.enqueue(session, message_id=msg.id, transport="fake", op="send",
                               at=app.clock.now())
            ids.append(msg.id)
    return ids


def worker(app: App, transport: Recorder, config: OutboxConfig = FAST) -> OutboxWorker:
    return OutboxWorker(app.services.db, app.clock, config, {"fake": transport})


async def rows(app: App) -> list[OutboxItem]:
    async with app.services.db() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def test_delivers_in_order_and_marks_sent(app: App) -> None:
    ids = await enqueue(app, 3)
    rec = Recorder()
    assert await worker(app, rec).run_once() == 3
    assert rec.calls == [(i, "send") for i in ids]
    assert [(r.status, r.attempts) for r in await rows(app)] == [("sent", 1)] * 3


async def test_two_workers_never_claim_the_same_row(app: App) -> None:
    await enqueue(app, 40)
    a, b = worker(app, Recorder()), worker(app, Recorder())
    got_a, got_b = await asyncio.gather(a.claim(), b.claim())
    ids_a = {c.item.id for c in got_a}
    ids_b = {c.item.id for c in got_b}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 40


async def test_retry_with_backoff_then_sent(app: App) -> None:
    await enqueue(app, 1)
    rec = Recorder([DeliveryError("boom"), RuntimeError("crash"), None])
    w = worker(app, rec)
    for _ in range(3):
        await wait_due(app)
        await w.run_once()
    [row] = await rows(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


async def wait_due(app: App) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        rs = await rows(app)
        if any(r.status == "pending" and r.next_attempt_at <= app.clock.now() for r in rs):
            return
        assert asyncio.get_running_loop().time() < deadline, "no row became due"
        await asyncio.sleep(0.01)


async def test_permanent_error_fails_for_good(app: App) -> None:
    await enqueue(app, 1)
    w = worker(app, Recorder([DeliveryError("400 bad", retryable=False)]))
    await w.run_once()
    [row] = await rows(app)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "400 bad")
    assert await w.run_once() == 0


async def enqueue_update(app: App, message_id: int) -> None:
    async with app.services.db() as session, session.begin():
        await msgs.enqueue(session, message_id=message_id, transport="fake", op="update",
                           at=app.clock.now())


async def test_an_update_waits_while_its_card_waits_for_a_retry(app: App) -> None:
    [card] = await enqueue(app, 1)
    await enqueue_update(app, card)
    clock = ManualClock(app.clock.now())
    rec = Recorder([DeliveryError("timeout", retry_after=60)])
    w = OutboxWorker(app.services.db, clock, FAST, {"fake": rec})
    assert await w.run_once() == 1  # the card's creation fails: retried in a minute
    assert await w.run_once() == 0  # its update does not go ahead of it
    clock.advance(timedelta(seconds=61))
    assert await w.run_once() == 1
    assert await w.run_once() == 1
    assert rec.calls == [(card, "send"), (card, "send"), (card, "update")]


async def test_a_card_failed_for_good_does_not_hold_back_its_updates(app: App) -> None:
    [card] = await enqueue(app, 1)
    await enqueue_update(app, card)
    rec = Recorder([DeliveryError("400 bad", retryable=False)])
    w = worker(app, rec)
    assert await w.run_once() == 1
    assert await w.run_once() == 1
    assert rec.calls == [(card, "send"), (card, "update")]
    assert [r.status for r in await rows(app)] == ["failed", "sent"]


async def test_postpone_is_not_an_attempt(app: App) -> None:
    await enqueue(app, 1)
    await worker(app, Recorder([Postpone(30)])).run_once()
    [row] = await rows(app)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at > app.clock.now() + timedelta(seconds=20)


async def test_a_dead_workers_lease_is_taken_over(app: App) -> None:
    """(With two workers delivering, on SQLite and PostgreSQL: tests/core/test_outbox_lease.py.)"""
    await enqueue(app, 1)
    clock = ManualClock(app.clock.now())
    dead = OutboxWorker(app.services.db, clock, FAST, {"fake": Recorder()})
    assert len(await dead.claim()) == 1  # claimed, then the worker "dies"
    rec = Recorder()
    alive = OutboxWorker(app.services.db, clock, FAST, {"fake": rec})
    assert await alive.run_once() == 0
    clock.advance(timedelta(seconds=FAST.lease_seconds + 1))
    assert await alive.run_once() == 1
    assert len(rec.calls) == 1 and (await rows(app))[0].status == "sent"


async def test_platform_ref_is_saved_even_when_the_attempt_fails(app: App) -> None:
    await enqueue(app, 1)

    class SetsRef:
        async def deliver(self, item: OutboxItem, message: Message) -> None:
            message.platform_ref = "track-1"
            raise DeliveryError("timeout after create")

    await OutboxWorker(app.services.db, app.clock, FAST, {"fake": SetsRef()}).run_once()
    async with app.services.db() as session:
        [msg] = (await session.execute(select(Message))).scalars().all()
    assert msg.platform_ref == "track-1"


async def test_worker_task_wakes_and_stops(app: App) -> None:
    rec = Recorder()
    w = worker(app, rec, OutboxConfig(poll_seconds=30))
    w.start()
    await enqueue(app, 1)
    w.wake()
    deadline = asyncio.get_running_loop().time() + 5
    while not rec.calls:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    await w.stop()


# -- rate limiters --------------------------------------------------------------------------------
async def test_memory_limiter_sliding_window_and_block() -> None:
    now = [100.0]
    lim = MemoryRateLimiter(lambda: now[0])
    robot, conv = Limit("robot", 3, 60), Limit("conv:a", 2, 60)
    assert await lim.acquire([robot, conv]) == 0
    assert await lim.acquire([robot, conv]) == 0
    assert await lim.acquire([robot, conv]) == pytest.approx(60)  # conversation full
    assert await lim.acquire([robot, Limit("conv:b", 2, 60)]) == 0  # robot has one left
    assert await lim.acquire([robot, Limit("conv:c", 2, 60)]) > 0  # robot full
    now[0] += 60.5
    assert await lim.acquire([robot, conv]) == 0
    await lim.block("robot", 600)
    assert await lim.acquire([robot]) == pytest.approx(600)


async def test_redis_limiter_is_shared_between_instances(redis_url: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_url)
    try:
        await r.delete("casebot:test-rate:shared", "casebot:test-rate:shared:blocked")
        a, b = RedisRateLimiter(r, "casebot:test-rate:"), RedisRateLimiter(r, "casebot:test-rate:")
        limit = [Limit("shared", 2, 60)]
        assert await a.acquire(limit) == 0
        assert await b.acquire(limit) == 0
        assert 0 < await a.acquire(limit) <= 60
        await r.delete("casebot:test-rate:shared")
        await b.block("shared", 30)
        assert 0 < await a.acquire(limit) <= 30
    finally:
        await r.delete("casebot:test-rate:shared", "casebot:test-rate:shared:blocked")
        await r.aclose()


async def test_redis_limiter_outage_is_one_warning_and_one_recovery_line(
        redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A dead Redis while sends retry: one WARNING for the outage (not one per send), the limit
    still holds in memory, and one INFO line once Redis answers again."""
    import redis.asyncio as aioredis

    from tests.conftest import free_port

    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    live = aioredis.from_url(redis_url)
    prefix = f"casebot:test-rate-outage-{free_port()}:"
    lim = RedisRateLimiter(dead, prefix)
    limit = [Limit("robot", 3, 60)]
    try:
        with caplog.at_level("INFO", logger="bot.ratelimit"):
            waits = [await lim.acquire(limit) for _ in range(20)]
            await lim.block("robot", 1)
            assert waits[:3] == [0, 0, 0] and all(w > 0 for w in waits[3:])  # in memory
            lines = [(r.levelname, r.getMessage()) for r in caplog.records]
            assert len(lines) == 1 and lines[0][0] == "WARNING"
            assert lines[0][1].startswith("redis rate limiter unavailable, limiting in memory")
            lim.redis = live  # Redis answers again
            for _ in range(5):
                await lim.acquire([Limit("other", 100, 60)])
            lines = [(r.levelname, r.getMessage()) for r in caplog.records]
            assert lines[1:] == [("INFO", "redis rate limiter reachable again: one window "
                                          "across instances")]
    finally:
        await live.delete(f"{prefix}other", f"{prefix}robot", f"{prefix}robot:blocked")
        await live.aclose()
        await dead.aclose()
