from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from config.loader import Settings
from storage import db, migrate
from tests.conftest import fresh_postgres, port_open, require


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


def test_migrate_cli_shows_progress(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "config"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"org: {src / 'org.yaml'}\nscore_template: {src / 'score_template.yaml'}\n"
                   f"storage: {{database_url: "
                   f"'sqlite+aiosqlite:///{tmp_path / 'sub' / 'x.db'}'}}\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bot.cli", "migrate", "--config", str(cfg)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "[1/" in r.stdout and "applied 0001_core" in r.stdout and "applied 0002_cases" in r.stdout
    assert (tmp_path / "sub" / "x.db").exists()


async def _intake_versions_backfilled(url: str) -> None:
    """0008: an intake decision recorded before the upgrade gets the evaluation version that
    was current when it was made (so a later scan of the same version is seen as a repeat)."""
    engine = db.create_engine(url)
    await migrate.upgrade(engine, "0007_case_external_id")
    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    sqlite = url.startswith("sqlite")

    def at(hours: int) -> Any:
        value = t0 + timedelta(hours=hours)
        return value.replace(tzinfo=None) if sqlite else value

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
    assert await migrate.upgrade(engine) == ["0008_intake_version_card"]
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
