"""aiosqlite's connection API over a plain `sqlite3` connection that runs on the calling
(event-loop) thread, for the read-only pool only.

Why: an indexed SQLite read takes ~10 µs, while each aiosqlite call is a hop to the
connection's thread and back (~40-80 µs, and SQLAlchemy makes three or four per statement).
For point lookups the hop costs far more than the work, so the read pool runs them inline.
Used for the read-only connection and for the journal's batched writes (storage/journal.py); all
other work keeps aiosqlite's thread (a reminder sweep or a statistics query may take seconds).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

BUSY_TIMEOUT_S = 0.2


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()
                      ) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, seq)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """Quacks like `aiosqlite.Connection` as far as SQLAlchemy's aiosqlite dialect uses it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # the dialect checks this is set

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._connection = None
        self._conn.close()

    def stop(self) -> None:
        self._connection = None
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def connector(path: str, *, readonly: bool) -> Any:
    """An `async_creator` for `create_async_engine`: inline connections to `path`.

    Read-only ones wait at most 200 ms for a lock (only WAL recovery takes one). The writer
    waits not at all: `BEGIN IMMEDIATE` fails at once while another connection writes, and
    the caller retries after an asyncio sleep instead of blocking the loop (storage/journal.py).
    Its WAL checkpoints are left to the caller, off the loop."""

    async def connect() -> InlineConnection:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S if readonly else 0,
                               isolation_level=None, check_same_thread=False)
        if readonly:
            conn.execute("PRAGMA query_only=ON")
        else:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return InlineConnection(conn)

    return connect
