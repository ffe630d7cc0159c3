"""Apply Alembic migrations on an async engine (used by `casebot migrate` and at start)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> list[str]:
    """Upgrade to `revision`; returns the revisions applied, in order."""
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)

    def _current(conn: Any) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        before = await conn.run_sync(_current)
    pending = [
        s.revision for s in reversed(list(script.walk_revisions("base", revision)))
    ]
    if before is not None:
        pending = pending[pending.index(before) + 1:] if before in pending else []

    def _run(conn: Any) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    for i, rev in enumerate(pending, 1):
        log.info("migration %d/%d: %s", i, len(pending), rev)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    return pending


async def current(engine: AsyncEngine) -> str | None:
    def _current(conn: Any) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)
