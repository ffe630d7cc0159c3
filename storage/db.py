"""Engine set-up. SQLite: WAL, foreign keys, busy timeout, and BEGIN IMMEDIATE so that two
writers queue on the lock instead of failing halfway through a transaction. Read-only events
(`readonly=True` commands) use two more SQLite connections that run inline on the
event loop: one for their reads, one for the journal that group-commits their writes."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState

from storage import inline_sqlite
from storage.bulk import BulkReader
from storage.inline_sqlite import InlineSession
from storage.journal import Journal
from storage.sqlite_driver import OneTripDBAPI


def create_engine(url: str, *, timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """`timeout` (PostgreSQL): seconds a statement or a connection attempt may go without an
    answer before it fails (asyncpg's command_timeout and connect timeout); None: the
    driver's (no limit on statements), for commands whose work may legitimately take long."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has a single writer anyway, and queueing on the pool (an
        # asyncio wait) is far cheaper than SQLite's busy handler, which sleeps in steps of up
        # to 100 ms while another connection holds the write lock.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        kwargs.setdefault("pool_reset_on_return", None)  # _rollback_if_open instead
        kwargs.setdefault("module", OneTripDBAPI())  # one trip to aiosqlite's thread a statement
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    if timeout is not None:
        kwargs["connect_args"] = {"command_timeout": timeout, "timeout": timeout,
                                  **kwargs.get("connect_args", {})}
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


class DatabaseUnavailable(Exception):
    """The database a command needs is missing, not migrated, behind the code or unreachable.
    The message is one line for the user."""


def unavailable(e: BaseException) -> str | None:
    """One line when `e` says the database cannot be reached (connection refused, lost or timed
    out, host unknown): the caller answers 503 or retries, with no traceback in the log. None
    for any other error."""
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return " ".join(str(e.orig or e).split())
    cause = e.orig if isinstance(e, DBAPIError) else e
    if isinstance(cause, ConnectionError | TimeoutError | socket.gaierror):
        return f"{type(cause).__name__}: {cause}".removesuffix(": ")
    return None


def describe(url: str) -> str:
    """The database for a message: the SQLite file's absolute path, else the URL without its
    password."""
    path = _sqlite_file(url)
    if path is not None:
        return str(Path(path).resolve())
    return make_url(url).render_as_string(hide_password=True)


def require_file(url: str) -> None:
    """SQLite: DatabaseUnavailable unless the file exists (PostgreSQL: nothing to check here).
    For commands that must not create a database by opening one."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return
    path = _sqlite_file(url)
    if path is None:
        raise DatabaseUnavailable("an in-memory SQLite database is empty in a new process")
    if not Path(path).is_file():
        raise DatabaseUnavailable(f"database not found: {describe(url)}")


def create_readonly_engine(url: str) -> AsyncEngine:
    """An engine that cannot write: SQLite opened with ``mode=ro`` (an existing file only, no
    WAL switch, no BEGIN IMMEDIATE), PostgreSQL sessions with ``default_transaction_read_only``.
    DatabaseUnavailable when the SQLite file does not exist."""
    require_file(url)
    path = _sqlite_file(url)
    if path is not None:
        uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"

        def connect() -> Any:
            return aiosqlite.connect(uri, uri=True, timeout=30)

        return create_async_engine("sqlite+aiosqlite://", async_creator=connect)
    return create_async_engine(url, pool_pre_ping=True, connect_args={
        "server_settings": {"default_transaction_read_only": "on"}})


def create_read_engine(url: str) -> Engine | None:
    """SQLite only: the read-only connection for read-only events, run inline on the event
    loop (storage/inline_sqlite.py). In WAL mode readers never wait for the writer, so these
    events do not queue behind writes. (PostgreSQL: None; the main pool serves.)

    One connection serves every read-only session: it holds no transaction, and an inline
    statement runs to completion without yielding to the loop, so sessions cannot interleave
    on it. A 码 lookup reads the case and its current evaluation in one statement."""
    path = _sqlite_file(url)
    return None if path is None else inline_sqlite.engine(path)


def read_sessionmaker(engine: Engine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(class_=InlineSession, inline_bind=engine, expire_on_commit=False)


def journal_for(engine: AsyncEngine) -> tuple[Journal, sqlite3.Connection | None]:
    """The journal for this database, and the inline connection it owns (to close at stop).
    SQLite: batches go through one inline writer connection (InlineWriter), while the main
    pool's only connection is checked out (`exclusive`), so no transaction of this process
    holds the write lock meanwhile; WAL checkpoints run on a thread. PostgreSQL: the main
    pool, through SQLAlchemy."""
    url = engine.url.render_as_string(hide_password=False)
    path = _sqlite_file(url)
    if path is None:
        return Journal(engine.begin), None
    inline = inline_sqlite.InlineWriter(inline_sqlite.connect(path, readonly=False))

    async def checkpoint() -> None:
        async with aiosqlite.connect(path) as conn:
            await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    return Journal(inline.begin, exclusive=engine.connect,
                   checkpoint=checkpoint), inline.conn


def bulk_reader(engine: AsyncEngine) -> BulkReader:
    """For reads over every row (statistics): off the event loop (storage/bulk.py)."""
    return BulkReader(engine, _sqlite_file(engine.url.render_as_string(hide_password=False)))


def _sqlite_file(url: str) -> str | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or ":memory:" in u.database:
        return None
    return u.database


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "reset")
    def _rollback_if_open(dbapi_conn: Any, _record: Any, state: PoolResetState) -> None:
        """The pool's rollback on return, only when a transaction is open: sqlite3 would find
        none and do nothing, after a round trip to aiosqlite's thread (on every return, e.g.
        each journal batch's `exclusive` checkout). sqlite3 knows without a query."""
        if state.asyncio_safe and not state.transaction_was_reset \
                and dbapi_conn.driver_connection.in_transaction:
            dbapi_conn.rollback()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
