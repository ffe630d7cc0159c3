"""SQLite connections that run on the event loop's own thread, through SQLAlchemy's sync API,
for read-only events: their reads (`InlineSession`) and the journal's batched writes
(`InlineConnection`, storage/journal.py).

Why: an indexed SQLite read takes ~10 µs. Through aiosqlite each statement costs three or four
hops to the connection's thread and back, and through SQLAlchemy's asyncio layer a greenlet
switch per call; for point lookups those cost far more than the work. A statement on these
connections runs to completion without yielding to the loop, so callers never interleave on
one. All other work keeps aiosqlite's thread: a reminder sweep or a statistics query may take
seconds, which must not stall the loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine, Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_S = 0.2


def engine(path: str, *, readonly: bool) -> Engine:
    """One inline connection to `path`.

    The read-only one is in autocommit mode and holds no transaction, so every statement sees
    the latest commit; it waits at most 200 ms for a lock (only WAL recovery takes one). The
    writer waits not at all: `BEGIN IMMEDIATE` fails at once while another connection writes,
    and the journal retries after an asyncio sleep instead of blocking the loop. Its WAL
    checkpoints are left to the journal, off the loop."""

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S if readonly else 0,
                               isolation_level=None, check_same_thread=False)
        if readonly:
            conn.execute("PRAGMA query_only=ON")
        else:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    eng = create_engine("sqlite://", creator=connect, poolclass=StaticPool)
    if not readonly:
        @event.listens_for(eng, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return eng


class InlineSession(AsyncSession):
    """An AsyncSession whose statements run synchronously on an inline engine. Repository
    functions take it like any AsyncSession; the calls they make skip the greenlet."""

    def __init__(self, *, inline_bind: Engine, **kw: Any) -> None:
        super().__init__(**kw)
        self.sync_session.bind = inline_bind

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.sync_session.execute(statement, params, **kw)

    async def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.sync_session.scalar(statement, params, **kw)

    async def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.sync_session.scalars(statement, params, **kw)

    async def get(self, *args: Any, **kw: Any) -> Any:
        return self.sync_session.get(*args, **kw)

    async def connection(self, *args: Any, **kw: Any) -> Any:
        """The session's connection, for Core reads without the ORM's execution path."""
        return InlineConnection(self.sync_session.connection(*args, **kw))

    async def close(self) -> None:
        self.sync_session.close()

    async def __aexit__(self, *exc: object) -> None:
        self.sync_session.close()  # AsyncSession's runs close() as a task


class InlineConnection:
    """What the journal's repository calls need of an AsyncConnection (`execute`, `dialect`),
    over a sync connection on an inline engine."""

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn

    @property
    def dialect(self) -> Dialect:
        return self.sync_connection.dialect

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        return self.sync_connection.execute(statement, params)


@asynccontextmanager
async def begin(eng: Engine) -> AsyncIterator[InlineConnection]:
    """One transaction on an inline engine (committed when the block ends without error)."""
    with eng.begin() as conn:
        yield InlineConnection(conn)
