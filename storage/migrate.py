"""Apply Alembic migrations on an async engine (used by `casebot migrate` and at start)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import db
from storage.db import DatabaseUnavailable

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = 7_263_002  # advisory lock id serialising migrations (storage/audit.py uses ...001)


Progress = Callable[[int, int, str, float], None]  # (i, n, revision, seconds it took)


class SchemaTooNew(DatabaseUnavailable):
    """The database is at a revision this casebot does not know: a newer casebot migrated it
    (a rolling upgrade in progress, or a roll-back). Old code runs on it (docs/deploy.md,
    Migrations) but cannot migrate it."""

    def __init__(self, where: str, revision: str) -> None:
        self.revision = revision
        super().__init__(f"database at revision {revision}, newer than this casebot ({head()}):"
                         f" a newer casebot migrated it, use that version: {where}")


def _log_progress(i: int, n: int, rev: str, seconds: float) -> None:
    log.info("migration %d/%d applied: %s (%.1f s)", i, n, rev, seconds)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head",
                  progress: Progress = _log_progress) -> list[str]:
    """Upgrade to `revision`; returns the revisions applied, in order. ``progress`` is called
    as each one is applied (on PostgreSQL all of them commit together at the end).

    A database at a revision this code does not know (migrated by a newer casebot) raises
    SchemaTooNew, and nothing is changed.

    Several instances may start at once against one PostgreSQL database: a transaction-level
    advisory lock makes them migrate one after the other (the later ones find the schema at
    head and apply nothing). SQLite gets the same from BEGIN IMMEDIATE (storage/db.py)."""
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    await _reachable(engine)

    def _current(conn: Any) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    def _run(conn: Any, pending: list[str]) -> None:
        started = [time.monotonic()]

        def applied(*, step: Any, **_: Any) -> None:
            rev = step.up_revision_id
            if rev in pending:
                progress(pending.index(rev) + 1, len(pending), rev,
                         time.monotonic() - started[0])
            started[0] = time.monotonic()

        cfg.attributes["connection"] = conn
        cfg.attributes["on_version_apply"] = applied
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        before = await conn.run_sync(_current)
        if before is not None and not _known(script, before):
            raise SchemaTooNew(db.describe(engine.url.render_as_string(hide_password=False)),
                               before)
        pending = [
            s.revision for s in reversed(list(script.walk_revisions("base", revision)))
        ]
        if before is not None:
            pending = pending[pending.index(before) + 1:] if before in pending else []
        await conn.run_sync(_run, pending)
    return pending


def _known(script: ScriptDirectory, rev: str) -> bool:
    try:
        return script.get_revision(rev) is not None
    except CommandError:
        return False


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
        if rev != expected and not _known(ScriptDirectory.from_config(alembic_config()), rev):
            raise SchemaTooNew(where, rev)
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
