"""Apply Alembic migrations on an async engine (used by `casebot migrate` and at start)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import db
from storage.db import DatabaseUnavailable

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = 7_263_002  # advisory lock id serialising migrations (storage/audit.py uses ...001)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> list[str]:
    """Upgrade to `revision`; returns the revisions applied, in order.

    Several instances may start at once against one PostgreSQL database: a transaction-level
    advisory lock makes them migrate one after the other (the later ones find the schema at
    head and apply nothing). SQLite gets the same from BEGIN IMMEDIATE (storage/db.py)."""
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    await _reachable(engine)

    def _current(conn: Any) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    def _run(conn: Any) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        before = await conn.run_sync(_current)
        pending = [
            s.revision for s in reversed(list(script.walk_revisions("base", revision)))
        ]
        if before is not None:
            pending = pending[pending.index(before) + 1:] if before in pending else []
        for i, rev in enumerate(pending, 1):
            log.info("migration %d/%d: %s", i, len(pending), rev)
        await conn.run_sync(_run)
    return pending


async def _reachable(engine: AsyncEngine) -> None:
    """DatabaseUnavailable, one line, when the database cannot be connected to (server down,
    unknown host, no such database, refused login)."""
    try:
        async with engine.connect():
            pass
    except (SQLAlchemyError, OSError, TimeoutError) as e:
        raise DatabaseUnavailable(_cannot_open(engine.url.render_as_string(hide_password=False),
                                               e)) from None


def _cannot_open(url: str, e: BaseException) -> str:
    reason = " ".join(str(getattr(e, "orig", None) or e).split())
    return f"cannot open database {db.describe(url)}: {reason}"


async def current(engine: AsyncEngine) -> str | None:
    def _current(conn: Any) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def open_existing(url: str, *, readonly: bool) -> AsyncEngine:
    """An engine on a database that exists and is migrated to head, for the commands that must
    neither create nor migrate one (`audit verify`, `draw verify`, the imports); read-only
    when ``readonly``. Raises DatabaseUnavailable with a one-line reason otherwise."""
    where = db.describe(url)
    if readonly:
        engine = db.create_readonly_engine(url)
    else:
        db.require_file(url)
        engine = db.create_engine(url)
    try:
        rev = await current(engine)
        expected = head()
        if rev is None:
            raise DatabaseUnavailable(f"database not migrated (no schema): {where}")
        if rev != expected:
            raise DatabaseUnavailable(f"database at revision {rev}, this casebot needs {expected}:"
                                      f" {where}")
    except DatabaseUnavailable:
        await engine.dispose()
        raise
    except (SQLAlchemyError, OSError, TimeoutError) as e:
        await engine.dispose()
        raise DatabaseUnavailable(_cannot_open(url, e)) from None
    return engine
