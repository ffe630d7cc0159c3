"""Read-only events (码, 帮助 …): handled on a read snapshot and group-committed by the journal.
Through the real dispatcher on a real SQLite file: nothing is lost, each event is answered
once, the audit chain holds, and another process holding the write lock never stalls the bot."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import cases as ops
from bot.app import App
from bot.clock import ManualClock
from bot.context import Context, unit_of_work
from bot.dispatcher import Router
from bot.domain.scoring import Deduction
from bot.events import MessageEvent
from config.loader import Settings
from storage import audit
from storage import messages as msgs
from storage.models import ProcessedEvent
from tests.conftest import START

bad = Router("test-readonly")


@bad.command("改卡", summary="a read-only handler that tries to update a card", readonly=True)
async def _updates_card(event: MessageEvent, ctx: Context) -> None:
    sent = await ctx.reply("first")
    await ctx.update_card(sent, None)  # type: ignore[arg-type]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    a = App(settings, ManualClock(START))
    await a.start()
    a.dispatcher.include(bad)
    yield a
    await a.stop()


async def new_case(app: App) -> str:
    s = app.services
    prosecutor = s.directory.people["p-prosecutor-1"]
    async with unit_of_work(s) as out:
        case = await ops.create_case(out, ops.NewCase(
            "盗窃案", "审查逮捕", "ps-hc-xd", prosecutor.id, ("p-investigator-1",), None, None),
            "test")
        await ops.record_evaluation(out, case, prosecutor, [
            Deduction("causation", 5, "p", "", "", "r")], [], "")
        return case.code


def lookup(code: str, event_id: str, user: str = "p-prosecutor-1") -> MessageEvent:
    return MessageEvent(event_id=event_id, platform="console", user_id=user, chat=f"dm:{user}",
                        at=START, text=f"码 {code}", is_direct=True)


async def test_concurrent_lookups_are_answered_once_each_and_stored(app: App) -> None:
    code = await new_case(app)
    ids = [f"look-{i}" for i in range(40)]
    batches_before = app.services.journal.batches
    # every event delivered twice at the same time, as a platform redelivery would
    results = await asyncio.gather(*(app.dispatcher.feed(lookup(code, i)) for i in ids + ids))
    statuses = [r.status for r in results]
    assert statuses.count("handled") == 40 and statuses.count("duplicate") == 40
    answered = [m for r in results for m in r.messages]
    assert len(answered) == 40
    assert all(m.card and code in m.card for m in answered)
    assert app.services.journal.batches - batches_before < 40  # batched, not one by one

    async with app.services.db() as s:
        stored = await msgs.list_messages(s, "dm:p-prosecutor-1")
        claimed = (await s.execute(select(func.count()).select_from(ProcessedEvent)
                                   .where(ProcessedEvent.event_id.in_(ids)))).scalar_one()
        chain = await audit.verify(s)
    assert claimed == 40
    by_id = {m.id: m for m in stored}
    for m in answered:  # the ids the callers got are the stored rows
        assert by_id[m.id].card == m.card
    asked = [m for m in stored if m.sender == "p-prosecutor-1"]
    assert len(asked) == 40 and all(m.text == f"码 {code}" for m in asked)
    for m in answered:  # each reply follows the person's own message
        mine = next(x for x in asked if x.event_id == m.event_id)
        assert mine.id < m.id
    assert chain.ok and chain.records >= 40


async def test_lookup_after_a_write_shows_the_new_state(app: App) -> None:
    code = await new_case(app)
    first = await app.dispatcher.feed(lookup(code, "before"))
    assert first.messages[0].card and "95" in first.messages[0].card
    prosecutor = app.services.directory.people["p-prosecutor-1"]
    async with unit_of_work(app.services) as out:
        from storage import cases as repo
        case = await repo.get_case(out.session, code)
        assert case is not None
        await ops.record_evaluation(out, case, prosecutor, [
            Deduction("causation", 5, "p", "", "", "r"),
            Deduction("criminal_facts", 15, "p", "", "", "r")], [], "")
    after = await app.dispatcher.feed(lookup(code, "after"))
    card = after.messages[0].card
    assert card and "80" in card and "第2版" in card


async def test_a_held_write_lock_delays_answers_without_stalling_the_bot(
        app: App, tmp_path: Path) -> None:
    code = await new_case(app)
    other = sqlite3.connect(tmp_path / "casebot.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        pending = asyncio.ensure_future(app.dispatcher.feed(lookup(code, "while-locked")))
        ticks = 0
        for _ in range(20):  # the event loop keeps running meanwhile
            await asyncio.sleep(0.005)
            ticks += 1
        assert ticks == 20 and not pending.done()
    finally:
        other.execute("COMMIT")
        other.close()
    result = await asyncio.wait_for(pending, 10)
    assert result.status == "handled" and result.messages[0].id is not None


async def test_read_only_handler_that_writes_gets_the_error_answer(app: App) -> None:
    r = await app.dispatcher.feed(MessageEvent(
        event_id="bad-1", platform="console", user_id="p-prosecutor-1",
        chat="dm:p-prosecutor-1", at=START, text="改卡", is_direct=True))
    assert r.status == "error"
    assert r.messages[0].text and r.messages[0].text.startswith("抱歉，处理时出错")
    async with app.services.db() as s:
        texts = [m.text for m in await msgs.list_messages(s, "dm:p-prosecutor-1")]
    assert "first" not in texts


async def test_one_bad_event_in_a_batch_does_not_fail_the_others(app: App) -> None:
    from storage.journal import PendingWrites

    def writes(event_id: str, at: object = START) -> PendingWrites:
        w = PendingWrites(event_id, START)
        w.messages.append(msgs.new_message(chat="dm:p-prosecutor-1", sender="p-prosecutor-1",
                                           at=at, text=event_id))  # type: ignore[arg-type]
        return w

    journal = app.services.journal
    good = [journal.commit(writes(f"good-{i}")) for i in range(5)]
    bad = journal.commit(writes("bad", at=None))  # violates messages.at NOT NULL
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert results[:5] == [True] * 5
    assert isinstance(results[5], Exception)
    async with app.services.db() as s:
        texts = {m.text for m in await msgs.list_messages(s, "dm:p-prosecutor-1")}
    assert {f"good-{i}" for i in range(5)} <= texts and "bad" not in texts


async def test_inline_writer_stores_the_rows_sqlalchemy_stores(tmp_path: Path) -> None:
    """On SQLite the journal writes through sqlite3 directly (InlineWriter); the same batches
    written through SQLAlchemy (as on PostgreSQL, and as before) leave the same rows, value
    for value and type for type: timestamps as UTCDateTime stores them, ids, the audit chain,
    de-duplication against earlier batches and within one."""
    from contextlib import closing
    from datetime import timedelta, timezone

    from cards.model import Card
    from storage import db, migrate
    from storage.journal import Journal, PendingWrites

    east8 = timezone(timedelta(hours=8))

    def batches() -> list[list[PendingWrites]]:
        out = []
        for b in range(3):
            batch = []
            for i in range(5):
                event_id = "dup" if i == 4 else f"e-{b}-{i}"  # claimed again in later batches
                at = START + timedelta(seconds=b * 10 + i, microseconds=(0, 7, 123456)[i % 3])
                w = PendingWrites(event_id, at.astimezone(east8) if i % 2 else at)
                w.messages.append(msgs.new_message(
                    chat="dm:p-1", sender="p-1", at=w.at, text=f"码 {b}-{i} 「引号」",
                    event_id=event_id))
                reply = msgs.new_message(
                    chat="dm:p-1", sender="bot", at=at + timedelta(microseconds=1),
                    card=Card(title=f"卡片 {i}") if i % 2 else None,
                    text=None if i % 2 else "答复", event_id=event_id,
                    mention="p-1" if i == 1 else None)
                w.messages.append(reply)
                w.outbox += [(reply, "dingtalk"), (reply, "other")]
                w.audits.append(audit.Entry(w.at, "p-1", "case.lookup", f"HY-{b}-{i}",
                                            {"n": i, "文字": "是"} if i % 2 else None))
                batch.append(w)
            batch.append(batch[0])  # the same event twice in one batch
            out.append(batch)
        return out

    dumps = []
    for name in ("sqlalchemy", "inline"):
        url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
        engine = db.create_engine(url)
        await migrate.upgrade(engine)
        journal, conn = (Journal(engine.begin), None) if name == "sqlalchemy" \
            else db.journal_for(engine)
        results = [await journal._write(b) for b in batches()]
        if conn is not None:
            conn.close()
        await engine.dispose()
        with closing(sqlite3.connect(tmp_path / f"{name}.db")) as raw:
            rows = {t: raw.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                    for t in ("processed_events", "messages", "outbox", "audit_log")}
            types = {t: raw.execute(f"SELECT DISTINCT typeof(at) FROM {t}").fetchall()
                     for t in ("processed_events", "messages", "audit_log")}
        dumps.append((results, rows, types))
    (results, rows, types), (results2, rows2, types2) = dumps
    assert results == results2 and types == types2
    for t in rows:
        assert rows[t] == rows2[t], t
    assert results[0] == [True] * 5 + [False] and results[1] == [True] * 4 + [False] * 2
    assert len(rows["messages"]) == 2 * 13 and len(rows["outbox"]) == 2 * 13
    assert all(t == [("text",)] for t in types.values())


async def test_a_connection_returned_mid_transaction_is_rolled_back(tmp_path: Path) -> None:
    """The main SQLite pool rolls back on return only when a transaction is open (the journal
    checks its connection out for every batch, and a needless rollback is a round trip to
    aiosqlite's thread); one that is open is still rolled back, releasing the write lock."""
    from storage import db

    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.execute("BEGIN IMMEDIATE")  # behind SQLAlchemy's back
            assert raw.in_transaction
        async with engine.connect() as conn:  # the pool's only connection, returned
            raw2 = (await conn.get_raw_connection()).driver_connection
            assert raw2 is raw and not raw.in_transaction
        other = sqlite3.connect(tmp_path / "x.db", timeout=0)
        other.execute("BEGIN IMMEDIATE")  # the lock is free
        other.execute("ROLLBACK")
        other.close()
    finally:
        await engine.dispose()


def test_utc_datetime_fast_bind_matches_sqlalchemys() -> None:
    """UTCDateTime's one-step SQLite bind processor (the journal's inline writer's) gives what
    SQLAlchemy's gives: the same stored text, the same error for a naive datetime."""
    from datetime import UTC, datetime, timedelta, timezone

    from storage.inline_sqlite import DIALECT
    from storage.types import UTCDateTime

    impl = UTCDateTime().dialect_impl(DIALECT)
    bind = impl.bind_processor(DIALECT)
    assert bind is not None
    zones = (UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5, minutes=30)))
    values = [datetime(y, 1, 2, 3, 4, 5, us, tzinfo=z) for y in (2026, 999, 1)
              for us in (0, 7, 123456) for z in zones if (y, z) != (1, zones[2])]
    values.append(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    for v in [*values, None]:
        assert UTCDateTime.sqlite_bind(v) == bind(v), v
    naive = values[0].replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive"):
        bind(naive)
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime.sqlite_bind(naive)


# -- stopping: every caller waiting for the journal is answered -------------------------------

async def until(cond: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Poll `cond` (never a bare sleep); fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def queue_behind_a_batch(app: App, events: list[MessageEvent]) -> list[asyncio.Future[Any]]:
    """Feed `events`: the first one is the batch being written (the write lock is held), the
    others wait behind it."""
    journal = app.services.journal
    feeds = [asyncio.ensure_future(app.dispatcher.feed(events[0]))]
    await until(lambda: journal.waiting == 1 and not journal._queue, "the first batch")
    feeds += [asyncio.ensure_future(app.dispatcher.feed(e)) for e in events[1:]]
    await until(lambda: journal.waiting == len(events), "the events queued behind it")
    return feeds


async def test_stopping_writes_the_events_waiting_for_the_journal(
        settings: Settings, tmp_path: Path) -> None:
    """Before: at stop, events queued behind the batch being written were never answered (the
    journal's inline connection was closed under them). Now stop writes what waits first:
    every caller gets its answer, and what they were answered is in the database."""
    app = App(settings, ManualClock(START))
    await app.start()
    code = await new_case(app)
    other = sqlite3.connect(tmp_path / "casebot.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing: the journal's batch waits
    ids = [f"stop-{i}" for i in range(6)]
    try:
        feeds = await queue_behind_a_batch(app, [lookup(code, i) for i in ids])
        stopping = asyncio.ensure_future(app.stop())
        await until(lambda: app.services.journal._closing, "the stop to reach the journal")
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.wait_for(stopping, 10)
    results = await asyncio.wait_for(asyncio.gather(*feeds, return_exceptions=True), 10)
    assert [getattr(r, "status", r) for r in results] == ["handled"] * len(ids)
    with sqlite3.connect(tmp_path / "casebot.db") as conn:  # read after the app stopped
        claimed = {e for (e,) in conn.execute("SELECT event_id FROM processed_events")}
        replies = {e for (e,) in conn.execute(
            "SELECT event_id FROM messages WHERE sender = 'bot'")}
        asked = {e for (e,) in conn.execute(
            "SELECT event_id FROM messages WHERE sender = 'p-prosecutor-1'")}
    assert set(ids) <= claimed and set(ids) <= replies and set(ids) <= asked


async def test_a_cancelled_journal_fails_each_waiting_caller_promptly(
        app: App, tmp_path: Path) -> None:
    """Before: when the journal's writer was cancelled (shutdown), the batch's callers were
    cancelled and those queued behind it waited forever. Now each gets JournalClosed, which
    counts as the database being unavailable (503 over HTTP, a redelivery on DingTalk)."""
    from storage.db import unavailable
    from storage.journal import JournalClosed

    code = await new_case(app)
    journal = app.services.journal
    other = sqlite3.connect(tmp_path / "casebot.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        feeds = await queue_behind_a_batch(app, [lookup(code, f"cancel-{i}") for i in range(5)])
        assert journal._writer is not None
        journal._writer.cancel()
        results = await asyncio.wait_for(asyncio.gather(*feeds, return_exceptions=True), 10)
    finally:
        other.execute("COMMIT")
        other.close()
    assert all(isinstance(r, JournalClosed) for r in results), results
    assert all(unavailable(r) for r in results)  # a 503 / redelivery, not an apology
    assert journal.waiting == 0
    after = await app.dispatcher.feed(lookup(code, "after"))  # a new writer takes over
    assert after.status == "handled"


async def test_a_stopped_journal_refuses_new_events(app: App) -> None:
    from storage.journal import JournalClosed, PendingWrites

    await app.services.journal.close()
    with pytest.raises(JournalClosed):
        await app.services.journal.commit(PendingWrites("late", START))
