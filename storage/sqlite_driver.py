"""SQLAlchemy's aiosqlite driver with one trip to aiosqlite's thread per statement.

Its cursor costs four trips: create the cursor, execute, fetch the rows, close. Each trip is
a queue put, a wake of the connection's thread and a wake of the event loop through its
self-pipe, ~50–100 µs on a busy 2-core machine: more than SQLite takes for the statement
itself. An evaluation runs ~14 statements (bench/console_bench.py, section 2), so the trips
were most of its time. Here the statement runs whole on the thread (cursor, execute,
fetchall, close) in one trip; what SQLAlchemy reads afterwards (description, rowcount,
lastrowid) stays on the closed sqlite3 cursor. Server-side cursors (streaming) keep
aiosqlite's.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


def _execute(conn: sqlite3.Connection, operation: str, parameters: Any
             ) -> tuple[sqlite3.Cursor, list[Any] | None]:
    """On the connection's thread: the statement, its rows (None for no result set)."""
    cur = conn.cursor()
    try:
        if parameters is None:
            cur.execute(operation)
        else:
            cur.execute(operation, parameters)
        return cur, (cur.fetchall() if cur.description else None)
    finally:
        cur.close()


def _executemany(conn: sqlite3.Connection, operation: str, seq: Any) -> sqlite3.Cursor:
    cur = conn.cursor()
    try:
        cur.executemany(operation, seq)
        return cur
    finally:
        cur.close()


class _Unexecuted:
    """A cursor's state before its first statement, as sqlite3's."""

    description = None
    rowcount = -1
    lastrowid = None
    arraysize = 1

    def close(self) -> None:
        pass


_UNEXECUTED: Any = _Unexecuted()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False  # `close` only drops the rows: sqlite3's is closed

    def __init__(self, adapt_connection: Any) -> None:  # no trip: the cursor is made later
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _UNEXECUTED
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        connection = cast(aiosqlite.Connection, self._connection)
        async with self._adapt_connection._execute_mutex:
            self._cursor, rows = await connection._execute(
                _execute, connection._conn, operation, parameters)
            if rows is not None:
                self._rows = collections.deque(rows)
        return self

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        connection = cast(aiosqlite.Connection, self._connection)
        async with self._adapt_connection._execute_mutex:
            self._cursor = await connection._execute(
                _executemany, connection._conn, operation, seq_of_parameters)
        return self


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to create_async_engine for a sqlite+aiosqlite URL."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        return _OneTripConnection(self, super().connect(*arg, **kw)._connection)
