from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from config.loader import Settings
from storage import db, migrate


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
