from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from bot.app import App
from bot.clock import ManualClock
from bot.events import MessageEvent
from config.loader import Settings
from storage import db, migrate
from tests.conftest import START, fresh_postgres, make_settings, port_open, require


async def test_upgrade_from_empty_then_noop(settings: Settings) -> None:
    engine = db.create_engine(settings.config.storage.database_url)
    applied = await migrate.upgrade(engine)
    assert applied and applied[0] == "0001_core"
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    assert {"messages", "outbox", "processed_events", "audit_log"} <= tables
    assert mode == "wal" and fks == 1
    assert await migrate.upgrade(engine) == []
    assert await migrate.current(engine) == applied[-1]
    await engine.dispose()


def _migrate_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    src = Path(__file__).resolve().parents[2] / "config"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"org: {src / 'org.yaml'}\nscore_template: {src / 'score_template.yaml'}\n"
                   f"storage: {{database_url: "
                   f"'sqlite+aiosqlite:///{tmp_path / 'sub' / 'x.db'}'}}\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "bot.cli", "migrate", "--config", str(cfg),
                           *args], capture_output=True, text=True)


def test_migrate_cli_shows_progress(tmp_path: Path) -> None:
    r = _migrate_cli(tmp_path)
    assert r.returncode == 0, r.stderr
    n = len(re.findall(r"^\[\d+/", r.stdout, re.M))
    assert n > 2 and r.stdout.startswith(f"[1/{n}] applied 0001_core (")
    assert f"[2/{n}] applied 0002_cases (" in r.stdout
    assert r.stdout.endswith(f"database at {migrate.head()}\n")
    assert "0001_core" not in r.stderr  # each migration once, not also in the log
    assert (tmp_path / "sub" / "x.db").exists()


async def test_progress_is_reported_as_each_migration_is_applied(settings: Settings) -> None:
    """A slow migration shows which one runs: the progress of migration i comes once i is
    applied, before the next one starts (not all at once, before or after the run)."""
    engine = db.create_engine(settings.config.storage.database_url)
    seen: list[tuple[int, int, str, set[str]]] = []

    def progress(i: int, n: int, rev: str, seconds: float) -> None:
        assert seconds >= 0
        seen.append((i, n, rev, set(applied_so_far)))
        applied_so_far.add(rev)

    applied_so_far: set[str] = set()
    applied = await migrate.upgrade(engine, "0003_reviews", progress=progress)
    await engine.dispose()
    assert applied == ["0001_core", "0002_cases", "0003_reviews"]
    assert seen == [(1, 3, "0001_core", set()), (2, 3, "0002_cases", {"0001_core"}),
                    (3, 3, "0003_reviews", {"0001_core", "0002_cases"})]


async def test_an_older_casebot_keeps_running_on_a_newer_schema(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A rolling upgrade: the newer casebot migrated the database; an old instance that
    restarts (a crash, the supervisor) starts and answers, with one warning naming both
    revisions, instead of dying in a traceback. Its `migrate` says so in one line."""
    settings = make_settings(tmp_path)
    url = settings.config.storage.database_url
    engine = db.create_engine(url)
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    await engine.dispose()
    caplog.set_level(logging.WARNING)
    app = App(settings, ManualClock(START))
    await app.start()
    try:
        ev = MessageEvent(event_id="old-1", platform="console", user_id="p-prosecutor-1",
                          chat="dm:p-prosecutor-1", at=START, text="我是谁")
        assert (await app.dispatcher.feed(ev)).status == "handled"
    finally:
        await app.stop()
    warned = [r.getMessage() for r in caplog.records if "0099_future" in r.getMessage()]
    assert len(warned) == 1 and f"newer than this casebot ({migrate.head()})" in warned[0]
    engine = db.create_engine(url)
    assert await migrate.current(engine) == "0099_future"  # nothing was touched
    await engine.dispose()

    (tmp_path / "sub").mkdir()
    (tmp_path / "casebot.db").rename(tmp_path / "sub" / "x.db")
    r = _migrate_cli(tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: database at revision 0099_future, newer than this "
                               f"casebot ({migrate.head()}): a newer casebot migrated it, use that version: ")
    assert len(r.stderr.splitlines()) == 1 and "`casebot migrate" not in r.stderr


T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # the backfill tests' time 0


def _clock(url: str) -> Callable[[int], Any]:
    """`hours` after T0 as a raw statement on that database stores a time (naive UTC on
    SQLite, as UTCDateTime writes it)."""
    sqlite = url.startswith("sqlite")

    def at(hours: int) -> Any:
        value = T0 + timedelta(hours=hours)
        return value.replace(tzinfo=None) if sqlite else value

    return at


async def _intake_versions_backfilled(url: str) -> None:
    """0008: an intake decision recorded before the upgrade gets the evaluation version that
    was current when it was made (so a later scan of the same version is seen as a repeat)."""
    engine = db.create_engine(url)
    await migrate.upgrade(engine, "0007_case_external_id")
    at = _clock(url)
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO cases (code, unit, title, stage, police_unit, prosecutor, status, "
            "created_at, created_by, version) VALUES ('HY-2026-0001', 'u', 't', '审查逮捕', "
            "'ps', 'p', 'open', :at, 'p', 2)"), {"at": at(0)})
        for version, hours in ((1, 0), (2, 5)):
            await conn.execute(text(
                "INSERT INTO evaluations (case_code, version, by, at, score, color, deductions, "
                "vetoes, comment) VALUES ('HY-2026-0001', :v, 'p', :at, 80, 'yellow', '[]', "
                "'[]', '')"), {"v": version, "at": at(hours)})
        for decision, hours in (("待定", 1), ("放行", 6)):
            await conn.execute(text(
                "INSERT INTO intake_decisions (case_code, by, at, color, decision) VALUES "
                "('HY-2026-0001', 'm', :at, 'yellow', :d)"), {"d": decision, "at": at(hours)})
    assert await migrate.upgrade(engine, "0008_intake_version_card") == [
        "0008_intake_version_card"]
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT decision, version, message_id FROM intake_decisions ORDER BY id"))).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [("待定", 1, None), ("放行", 2, None)]


async def test_intake_versions_are_backfilled_on_sqlite(settings: Settings) -> None:
    await _intake_versions_backfilled(settings.config.storage.database_url)


async def test_intake_versions_are_backfilled_on_postgresql() -> None:
    require("PostgreSQL on 127.0.0.1:5432", port_open("127.0.0.1", 5432))
    async with fresh_postgres("casebot_migrate") as url:
        await _intake_versions_backfilled(url)


async def _closing_times_backfilled(url: str) -> None:
    """0009: a case closed before the upgrade gets its closing time from the audit trail (the
    first close since it was last reopened); open cases, and a case closed with no trace in
    the trail, get none."""
    engine = db.create_engine(url)
    await migrate.upgrade(engine, "0008_intake_version_card")
    at = _clock(url)
    cases = {"HY-2026-0001": "closed",  # closed once
             "HY-2026-0002": "closed",  # closed, reopened, closed, closed again
             "HY-2026-0003": "open",  # closed, then reopened
             "HY-2026-0004": "closed",  # no case.update in the trail
             "HY-2026-0005": "open"}  # never closed; a deadline changed
    updates = [("HY-2026-0001", 1, '{"custody_deadline":"2026-12-01"}'),
               ("HY-2026-0001", 2, '{"status":"closed"}'),
               ("HY-2026-0002", 3, '{"status":"closed"}'),
               ("HY-2026-0002", 4, '{"custody_deadline":"2026-12-01","status":"open"}'),
               ("HY-2026-0002", 5, '{"status":"closed"}'),
               ("HY-2026-0002", 6, '{"status":"closed"}'),
               ("HY-2026-0003", 7, '{"status":"closed"}'),
               ("HY-2026-0003", 8, '{"status":"open"}'),
               ("HY-2026-0005", 9, '{"investigation_deadline":"2026-12-01"}')]
    async with engine.begin() as conn:
        for code, status in cases.items():
            await conn.execute(text(
                "INSERT INTO cases (code, unit, title, stage, police_unit, prosecutor, status, "
                "created_at, created_by, version) VALUES (:code, 'u', 't', '审查逮捕', 'ps', "
                "'p', :status, :at, 'p', 0)"), {"code": code, "status": status, "at": at(0)})
        for seq, (code, hours, data) in enumerate(updates, 1):
            await conn.execute(text(
                "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) "
                "VALUES (:seq, :at, 'api', 'case.update', :code, :data, '', :hash)"),
                {"seq": seq, "at": at(hours), "code": code, "data": data, "hash": f"h{seq}"})
        # a case's own closing time is what counts, not that of the one audited after it
        await conn.execute(text(
            "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) "
            "VALUES (99, :at, 'p', 'case.view', 'HY-2026-0004', '{\"status\":\"closed\"}', "
            "'', 'h99')"), {"at": at(10)})
    assert await migrate.upgrade(engine, "0009_case_closed_at") == ["0009_case_closed_at"]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT code, closed_at FROM cases ORDER BY code"))).all()
    await engine.dispose()

    def utc(value: Any) -> datetime | None:
        if value is None:
            return None
        value = datetime.fromisoformat(value) if isinstance(value, str) else value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    assert {code: utc(closed) for code, closed in rows} == {
        "HY-2026-0001": T0 + timedelta(hours=2), "HY-2026-0002": T0 + timedelta(hours=5),
        "HY-2026-0003": None, "HY-2026-0004": None, "HY-2026-0005": None}


async def test_closing_times_are_backfilled_on_sqlite(settings: Settings) -> None:
    await _closing_times_backfilled(settings.config.storage.database_url)


async def test_closing_times_are_backfilled_on_postgresql() -> None:
    require("PostgreSQL on 127.0.0.1:5432", port_open("127.0.0.1", 5432))
    async with fresh_postgres("casebot_migrate") as url:
        await _closing_times_backfilled(url)
