"""Outbox leases with two instances' workers on one database (SQLite file and PostgreSQL), while
the platform holds a delivery open longer than the lease: a worker that is alive keeps its rows
(the person never gets a message twice), a dead or cut-off one loses them after the lease to the
other, which delivers them exactly once. The lease in the database is on a ManualClock; the
renewal period and the local deadline are real time (a lease of 1.2 s, renewed every 0.4 s)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import App
from bot.clock import ManualClock
from bot.context import Outbound
from bot.outbox import OutboxWorker
from config.model import OutboxConfig
from storage import db
from storage.models import Message, OutboxItem
from tests.conftest import START, fresh_postgres, make_settings

LEASE = 1.2
CONFIG = OutboxConfig(poll_seconds=0.05, retry_base_seconds=0.01, retry_max_seconds=0.05,
                      lease_seconds=LEASE)
PAST_THE_LEASE = timedelta(seconds=LEASE + 0.4)
CHAT = "dm:p-prosecutor-1"


class Platform:
    """What reached the person. The first delivery is held open until `release()` (a slow
    platform); `cut` is set if that delivery is cancelled before it got through."""

    def __init__(self) -> None:
        self.received: list[int] = []  # message ids, in the order the person got them
        self.holding = asyncio.Event()
        self.cut = asyncio.Event()
        self._gate = asyncio.Event()
        self._hold = True

    def release(self) -> None:
        self._gate.set()

    async def deliver(self, item: OutboxItem, message: Message) -> None:
        if self._hold:
            self._hold = False
            self.holding.set()
            try:
                await self._gate.wait()
            except asyncio.CancelledError:
                self.cut.set()
                raise
        self.received.append(message.id)


class Unreachable:
    async def __aenter__(self) -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")

    async def __aexit__(self, *_: object) -> None:
        return None


class Link:
    """One instance's way to its database, which the test can cut (the instance dies, or
    loses its network)."""

    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self.maker = maker
        self.down = False
        self.refused = 0  # sessions asked for while down

    def __call__(self) -> Any:
        if self.down:
            self.refused += 1
            return Unreachable()
        return self.maker()


@pytest.fixture(params=["sqlite", "postgresql"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[App]:
    async with contextlib.AsyncExitStack() as stack:
        url = f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}"
        if request.param == "postgresql":
            url = await stack.enter_async_context(fresh_postgres("casebot_lease"))
        a = App(make_settings(tmp_path, storage={"database_url": url}), ManualClock(START),
                scheduler=False)
        await a.start()
        a.services.external_transports = ("fake",)
        yield a
        await a.stop()


Workers = tuple[OutboxWorker, OutboxWorker, Link, Platform]


@pytest.fixture
async def workers(app: App) -> AsyncIterator[Workers]:
    """Instance A's and instance B's outbox workers, each with its own connection pool, on one
    platform; A's link to the database can be cut."""
    url = app.settings.config.storage.database_url
    engines = [db.create_engine(url) for _ in range(2)]
    link = Link(db.sessionmaker(engines[0]))
    platform = Platform()
    dialect = engines[0].dialect.name
    a = OutboxWorker(link, app.clock, CONFIG, {"fake": platform},  # type: ignore[arg-type]
                     dialect=dialect)
    b = OutboxWorker(db.sessionmaker(engines[1]), app.clock, CONFIG, {"fake": platform},
                     dialect=dialect)
    yield a, b, link, platform
    platform.release()
    await a.stop()
    for e in engines:
        await e.dispose()


def clock(app: App) -> ManualClock:
    assert isinstance(app.clock, ManualClock)
    return app.clock


async def send(app: App, text: str) -> int:
    async with app.services.db() as session, session.begin():
        return (await Outbound(app.services, session).send(CHAT, text=text)).id


async def rows(app: App) -> list[OutboxItem]:
    async with app.services.db() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def until(cond: Callable[[], Awaitable[bool]], what: str, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def held_delivery(a: OutboxWorker, platform: Platform) -> asyncio.Task[int]:
    """A's pass, its first delivery held open by the platform."""
    task = asyncio.create_task(a.run_once())
    await asyncio.wait_for(platform.holding.wait(), 5)
    return task


async def test_a_worker_that_renews_keeps_its_row(app: App, workers: Workers) -> None:
    a, b, _, platform = workers
    msg = await send(app, "开庭通知")
    task = await held_delivery(a, platform)
    for _ in range(4):  # four renewals: held well past the lease, on either clock
        clock(app).advance(PAST_THE_LEASE)  # the lease A has would have run out by now

        async def renewed() -> bool:
            [row] = await rows(app)
            return row.next_attempt_at > app.clock.now()

        await until(renewed, "A to renew its lease")
        assert await b.run_once() == 0  # B leaves it alone
    platform.release()
    assert await asyncio.wait_for(task, 5) == 1
    assert platform.received == [msg] and not platform.cut.is_set()
    [row] = await rows(app)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)


async def test_a_killed_workers_row_is_taken_over_after_the_lease_once(
        app: App, workers: Workers) -> None:
    a, b, link, platform = workers
    msg = await send(app, "开庭通知")
    task = await held_delivery(a, platform)
    link.down = True  # A dies mid-delivery: nothing more reaches its database
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert platform.received == []

    assert await b.run_once() == 0  # A's lease is still running
    clock(app).advance(PAST_THE_LEASE)
    assert await b.run_once() == 1  # taken over
    assert await b.run_once() == 0
    assert platform.received == [msg]
    [row] = await rows(app)
    assert (row.status, row.attempts) == ("sent", 2)  # the dead worker's attempt counted


async def test_a_delivery_is_cut_off_when_its_lease_cannot_be_renewed(
        app: App, workers: Workers) -> None:
    """A stalls (its database out of reach) with a delivery in flight: the delivery is
    abandoned when the lease runs out, before B may take the row over."""
    a, b, link, platform = workers
    msg = await send(app, "开庭通知")
    task = await held_delivery(a, platform)
    link.down = True
    await asyncio.wait_for(platform.cut.wait(), 5)
    with pytest.raises(ConnectionRefusedError):  # A could not record it either
        await task
    clock(app).advance(PAST_THE_LEASE)
    assert await b.run_once() == 1
    assert platform.received == [msg]


async def test_rows_taken_over_are_not_delivered_by_the_worker_that_lost_them(
        app: App, workers: Workers, caplog: pytest.LogCaptureFixture) -> None:
    """B's clock runs an hour ahead, so it takes A's two rows while A holds them. A's next
    renewal finds them gone: the delivery in flight is cut off, the next one not started."""
    a, _, _, platform = workers
    first, second = await send(app, "第一条"), await send(app, "第二条")
    task = await held_delivery(a, platform)
    ahead = ManualClock(app.clock.now() + timedelta(hours=1))
    b = OutboxWorker(app.services.db, ahead, CONFIG, {"fake": platform}, dialect=a.dialect)
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        assert await b.run_once() == 2
        await asyncio.wait_for(platform.cut.wait(), 5)
        assert await asyncio.wait_for(task, 5) == 2
    assert platform.received == [first, second]  # each once, from B
    assert a.delivered == 0 and b.delivered == 2
    assert [(r.status, r.attempts) for r in await rows(app)] == [("sent", 2), ("sent", 2)]
    assert "another worker took the row over" in caplog.text


async def test_stopping_hands_back_the_rows_not_started(app: App, workers: Workers) -> None:
    a, b, _, platform = workers
    first, second = await send(app, "第一条"), await send(app, "第二条")
    a.start()
    await asyncio.wait_for(platform.holding.wait(), 5)  # A has both; the first in flight
    stopping = asyncio.create_task(a.stop(grace=10))
    await asyncio.sleep(0)  # one loop turn: stop() has begun (it sets its flag before waiting)
    platform.release()
    await asyncio.wait_for(stopping, 5)
    assert platform.received == [first]  # the delivery in flight was finished
    assert [(r.status, r.attempts, r.claimed_by) for r in await rows(app)] == \
        [("sent", 1, None), ("pending", 0, None)]
    assert await b.run_once() == 1  # at once, not after A's lease
    assert platform.received == [first, second]


def recording_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "bot.outbox" and r.levelno == logging.WARNING]


async def test_a_delivery_not_recorded_yet_keeps_its_lease(
        app: App, workers: Workers, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The platform has the message, but recording it fails (the database does not answer
    that UPDATE): A keeps renewing the row's lease and retries, so B never takes it over and
    the person gets it once."""
    a, b, _, platform = workers
    msg = await send(app, "开庭通知")
    failures = 0
    finish = a._finish

    async def flaky_finish(*args: Any) -> bool:
        nonlocal failures
        if recording_fails:
            failures += 1
            raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")
        return await finish(*args)

    recording_fails = True
    monkeypatch.setattr(a, "_finish", flaky_finish)
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        task = await held_delivery(a, platform)
        platform.release()

        async def failed_twice() -> bool:
            return failures >= 2 or task.done()

        await until(failed_twice, "A to fail to record the delivery")
        for _ in range(3):  # three renewals: held past the lease on either clock
            clock(app).advance(PAST_THE_LEASE)

            async def renewed() -> bool:
                [row] = await rows(app)
                return row.next_attempt_at > app.clock.now() or task.done()

            await until(renewed, "A to renew its lease")
            assert await b.run_once() == 0  # B leaves it alone
        recording_fails = False
        assert await asyncio.wait_for(task, 5) == 1
    assert failures >= 3
    assert platform.received == [msg]
    [row] = await rows(app)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)
    [warning] = recording_warnings(caplog)  # one for the outage, not one per retry
    assert warning.startswith("outbox: database unavailable (ConnectionRefusedError: ")
    assert "to record delivered row" in warning
    clock(app).advance(PAST_THE_LEASE)
    assert await b.run_once() == 0
    assert platform.received == [msg]


async def test_a_delivery_is_recorded_once_the_database_is_back(
        app: App, workers: Workers, caplog: pytest.LogCaptureFixture) -> None:
    """A loses the database right after the platform took the message: A retries recording it
    until the database answers again, and the row ends sent, delivered once."""
    a, b, link, platform = workers
    msg = await send(app, "开庭通知")
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        task = await held_delivery(a, platform)
        link.down = True
        platform.release()

        async def retried() -> bool:
            return link.refused >= 5 or task.done()

        await until(retried, "A to retry recording the delivery")
        assert await b.run_once() == 0  # A's lease is still running
        link.down = False
        await asyncio.wait([task], timeout=5)
    clock(app).advance(PAST_THE_LEASE)
    await b.run_once()  # nothing left to take over
    assert platform.received == [msg]
    assert task.result() == 1
    [row] = await rows(app)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)
    warnings = recording_warnings(caplog)
    assert len(warnings) == len(set(warnings))  # none repeated per retry
    assert sum("to record delivered row" in w for w in warnings) == 1


async def test_a_stopping_worker_gives_up_recording_after_its_grace(
        app: App, workers: Workers, caplog: pytest.LogCaptureFixture) -> None:
    """The retries end with the stop's grace: the row, delivered but not recorded, stays
    leased, and is delivered again once its lease runs out (the window docs/deploy.md names)."""
    a, b, link, platform = workers
    msg = await send(app, "开庭通知")
    a.start()
    await asyncio.wait_for(platform.holding.wait(), 5)
    link.down = True
    platform.release()

    async def retried() -> bool:
        return link.refused >= 3

    await until(retried, "A to retry recording the delivery")
    with caplog.at_level(logging.WARNING, logger="bot.outbox"):
        await asyncio.wait_for(a.stop(grace=0.2), 5)
    assert "delivered, but stopped before it was recorded" in caplog.text
    [row] = await rows(app)
    assert (row.status, row.claimed_by) == ("sending", a.worker_id)  # not handed back
    assert await b.run_once() == 0  # A's lease is still running
    clock(app).advance(PAST_THE_LEASE)
    assert await b.run_once() == 1
    assert platform.received == [msg, msg]
