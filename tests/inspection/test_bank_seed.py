"""Seeding the question bank at start: two instances starting together on an empty database
import it once — one audit record, each question once — and the one that finds it seeded says
nothing misleading ("imported 0 questions")."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.app import App
from bot.clock import ManualClock
from bot.domain.question_bank import parse_file
from config.loader import DEFAULT_DIR, Settings
from storage import db
from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import START, fresh_postgres, make_settings

DEMO_BANK = "questions.demo.yaml"


def demo_ids() -> set[str]:
    questions, _ = parse_file(DEMO_BANK, (DEFAULT_DIR / DEMO_BANK).read_bytes())
    return {q.id for q in questions}


async def bank_state(app: App) -> tuple[list[str], list[dict[str, object]]]:
    """The bank's question ids (as many times as stored) and the bank import audit records."""
    async with app.services.db() as session:
        ids = list((await session.execute(select(store.Question.id))).scalars())
        records = [json.loads(r.data) for r in (await session.execute(
            select(AuditRecord).where(AuditRecord.action == "inspection.bank.import"))).scalars()]
    return ids, records


def import_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("imported ")]


async def waiting_on_bank_lock(conn: AsyncConnection) -> int:
    """Sessions of this database waiting for the bank's advisory lock."""
    return int((await conn.execute(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
        "AND NOT granted AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())"), {"k": store._PG_BANK_LOCK})).scalar_one())


@pytest.mark.postgres
async def test_two_instances_starting_together_on_postgresql_seed_the_bank_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The race held open: the bank's lock is taken before both start, released once both
    wait for it; the one that gets it second finds the bank seeded."""
    caplog.set_level(logging.DEBUG, logger="bot.inspection")
    async with fresh_postgres("casebot_seed") as url:
        settings: Settings = make_settings(tmp_path, storage={"database_url": url})
        apps = [App(settings, ManualClock(START)) for _ in range(2)]
        holder = db.create_engine(url)
        try:
            async with holder.connect() as conn:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": store._PG_BANK_LOCK})
                await conn.commit()
                starts = [asyncio.create_task(a.start()) for a in apps]
                deadline = time.monotonic() + 60
                while await waiting_on_bank_lock(conn) < 2:
                    for t in starts:  # one that failed (or did not wait) stops the test here
                        assert not t.done(), t.exception() or "started without waiting for the lock"
                    assert time.monotonic() < deadline, "the instances never reached the bank"
                    await asyncio.sleep(0.02)
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": store._PG_BANK_LOCK})
                await conn.commit()
                await asyncio.gather(*starts)
            ids, records = await bank_state(apps[0])
        finally:
            for a in apps:
                await a.stop()
            await holder.dispose()
    assert sorted(ids) == sorted(demo_ids())
    assert records == [{"file": DEMO_BANK, "added": len(demo_ids()), "demo": True}]
    assert import_lines(caplog) == [f"imported {len(demo_ids())} questions from {DEMO_BANK}"]


async def test_a_restart_finds_the_bank_seeded_and_writes_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.inspection")
    settings = make_settings(tmp_path)
    for _ in range(2):
        app = App(settings, ManualClock(START))
        await app.start()
        try:
            ids, records = await bank_state(app)
        finally:
            await app.stop()
    assert sorted(ids) == sorted(demo_ids())
    assert len(records) == 1
    assert import_lines(caplog) == [f"imported {len(demo_ids())} questions from {DEMO_BANK}"]
