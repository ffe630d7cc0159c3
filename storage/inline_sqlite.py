"""SQLite connections that run on the event loop's own thread, for read-only events: their
reads, through SQLAlchemy's sync API (`InlineSession`), and the journal's batched writes,
straight through sqlite3 (`InlineWriter`, storage/journal.py).

Why: an indexed SQLite read takes ~10 µs. Through aiosqlite each statement costs three or four
hops to the connection's thread and back, and through SQLAlchemy's asyncio layer a greenlet
switch per call; for point lookups those cost far more than the work. A statement on these
connections runs to completion without yielding to the loop, so callers never interleave on
one. The hottest reads (a 码 lookup's) skip SQLAlchemy's execution path too (`Prepared`).
All other work keeps aiosqlite's thread: a reminder sweep or a statistics query may take
seconds, which must not stall the loop.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Column, Select, Table, create_engine
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, Dialect, Engine, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeEngine

BUSY_TIMEOUT_S = 0.2
T = TypeVar("T")

# each inline engine's one DB-API connection (StaticPool), for `Prepared` reads
_connections: weakref.WeakKeyDictionary[Engine, sqlite3.Connection] = \
    weakref.WeakKeyDictionary()


def connect(path: str, *, readonly: bool) -> sqlite3.Connection:
    """One inline connection to `path`.

    The read-only one is in autocommit mode and holds no transaction, so every statement sees
    the latest commit; it waits at most 200 ms for a lock (only WAL recovery takes one). The
    writer waits not at all: `BEGIN IMMEDIATE` fails at once while another connection writes,
    and the journal retries after an asyncio sleep instead of blocking the loop. Its WAL
    checkpoints are left to the journal, off the loop."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S if readonly else 0,
                           isolation_level=None, check_same_thread=False)
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    else:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def engine(path: str) -> Engine:
    """The read-only inline connection as a SQLAlchemy engine (for `InlineSession`)."""

    def connect_and_keep() -> sqlite3.Connection:
        conn = connect(path, readonly=True)
        _connections[eng] = conn  # (the pool connects only once `eng` is assigned below)
        return conn

    eng = create_engine("sqlite://", creator=connect_and_keep, poolclass=StaticPool)
    return eng


def dbapi_connection(eng: Engine) -> sqlite3.Connection:
    """The inline engine's one sqlite3 connection (connected on first use)."""
    conn = _connections.get(eng)
    if conn is None:
        eng.connect().close()
        conn = _connections[eng]
    return conn


# a Prepared's SQL, its parameters in order (name, value of a literal or None), its result
# converters
_Compiled = tuple[str, list[tuple[str, Any]], list[tuple[int, Callable[[Any], Any]]]]


class Prepared:
    """A Core select compiled once for SQLite and run by `rows` straight on an inline
    session's sqlite3 connection, its columns converted as Core would (dates, UTC datetimes).

    Why: for a point lookup, SQLAlchemy's execution path costs far more than SQLite: ~100 µs
    through the ORM, ~40 through Core, ~12 here. Parameters are plain values (str, int: no
    bind processing); the cursor is read to the end, so no statement keeps a read snapshot
    open on the autocommit connection."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None
        self._keys: tuple[str, ...] | None = None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        assert compiled.positiontup is not None
        params: list[tuple[str, Any]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding or bind.type.dialect_impl(dialect).bind_processor(dialect):
                raise TypeError(f"Prepared: parameter {name!r} needs processing")
            params.append((name, None if bind.required else bind.value))  # None: the caller's
        converters: list[tuple[int, Callable[[Any], Any]]] = [
            (i, p) for i, c in enumerate(self.statement.selected_columns)
            if (p := c.type.dialect_impl(dialect).result_processor(dialect, None))]
        return str(compiled), params, converters

    def keys(self, cls: type[Any]) -> tuple[str, ...]:
        """The attributes of `cls` that the columns of a select of `cls` load."""
        if self._keys is None:
            mapper = class_mapper(cls)
            self._keys = tuple(mapper.get_property_by_column(c).key
                               for c in self.statement.selected_columns)
        return self._keys

    def run(self, eng: Engine, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self._compiled is None:
            self._compiled = self._compile(eng.dialect)
        sql, params, converters = self._compiled
        found = dbapi_connection(eng).execute(
            sql, [values[name] if literal is None else literal for name, literal in params]
        ).fetchall()
        if not converters:
            return found
        converted = []
        for row in found:
            r = list(row)
            for i, convert in converters:
                if r[i] is not None:  # NULL is None whatever the type (as for Core's types)
                    r[i] = convert(r[i])
            converted.append(tuple(r))
        return converted


async def rows(session: AsyncSession, prepared: Prepared, values: dict[str, Any]
               ) -> Sequence[Sequence[Any]]:
    """The rows of `prepared`: on an inline session straight on its connection, else through
    Core on the session's connection (no ORM execution path, no autoflush)."""
    if isinstance(session, InlineSession):
        return prepared.run(session.inline_bind, values)
    return (await (await session.connection()).execute(prepared.statement, values)).all()


async def first_object(session: AsyncSession, cls: type[T], prepared: Prepared,
                       values: dict[str, Any]) -> T | None:
    """The first row of `prepared`, a select of `cls`: on an inline session an object in no
    session (see `detached`), else the ORM's (in the session's identity map, as writes need)."""
    if not isinstance(session, InlineSession):
        return (await session.execute(prepared.statement, values)).scalars().first()
    found = prepared.run(session.inline_bind, values)
    return detached(cls, prepared.keys(cls), found[0]) if found else None


def detached(cls: type[T], keys: Sequence[str], values: Sequence[Any]) -> T:
    """An instance of a mapped class with attributes `keys` set to `values`, in no session:
    for an inline session's reads, which never write it back. ~2 µs where the ORM's loading
    path costs tens (and calling the class, with its attribute events, ~25)."""
    obj: T = class_mapper(cls).class_manager.new_instance()
    obj.__dict__.update(zip(keys, values, strict=True))
    return obj


class InlineSession(AsyncSession):
    """An AsyncSession whose statements run synchronously on an inline engine. Repository
    functions take it like any AsyncSession; the calls they make skip the greenlet."""

    def __init__(self, *, inline_bind: Engine, **kw: Any) -> None:
        super().__init__(**kw)
        self.sync_session.bind = self.inline_bind = inline_bind

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


# SQLAlchemy's SQLite dialect: the same identifier quoting and value conversion as its engines'
DIALECT: Dialect = SQLiteDialect_pysqlite()


class InlineWriter:
    """The journal's connection on SQLite: a batch's rows go to sqlite3 directly, in multi-row
    INSERTs, without SQLAlchemy's per-statement work (compiling, result objects, events),
    which cost more than SQLite's own. The SQL is derived from the tables' SQLAlchemy
    definitions, and each value passes through its column type's bind processor (e.g.
    UTCDateTime's), so the stored rows are the ones SQLAlchemy would write."""

    dialect = DIALECT

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._max_vars = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def insert(self, t: Table, rows: Sequence[dict[str, Any]], *,
               returning: Column[Any] | None = None, skip_conflicts: bool = False) -> list[Any]:
        """Insert `rows` (dicts with the same keys); the `returning` column of the rows
        inserted, in no particular order. `skip_conflicts`: ON CONFLICT DO NOTHING."""
        if not rows:
            return []
        keys = tuple(rows[0])
        n = len(keys)
        # every row's values in one flat list, then the columns whose type has a processor
        # converted in place (most have none)
        get = itemgetter(*keys) if n > 1 else lambda r: (r[keys[0]],)
        values = [v for r in rows for v in get(r)]
        for i, process in _processors(t, keys):
            values[i::n] = map(process, values[i::n])
        per_statement = min(500, self._max_vars // n)
        found: list[Any] = []
        for start in range(0, len(rows), per_statement):
            count = min(per_statement, len(rows) - start)
            sql = _insert_sql(t, keys, count, None if returning is None else returning.name,
                              skip_conflicts)
            found += [r[0] for r in self._run(sql, values[start * n:(start + count) * n])]
        return found

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[InlineWriter]:
        """One write transaction (committed when the block ends without error, else rolled
        back). BEGIN IMMEDIATE fails at once while another connection holds the lock."""
        self._run("BEGIN IMMEDIATE", ())
        try:
            yield self
            self._run("COMMIT", ())
        except BaseException:
            self.conn.rollback()  # a no-op when no transaction is open (a failed COMMIT undid it)
            raise

    def first(self, query: Select[Any]) -> tuple[Any, ...] | None:
        """The first row of a query without parameters (values as stored: no conversion)."""
        row: tuple[Any, ...] | None = self._run(_select_sql(query), ()).fetchone()
        return row

    def _run(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as e:  # as SQLAlchemy raises it (the journal retries "locked")
            raise DBAPIError.instance(sql, params, e, sqlite3.Error) from e


@lru_cache(maxsize=64)
def _processors(t: Table, keys: tuple[str, ...]) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, bind processor) of the columns among `keys` whose type has one."""
    return [(i, p) for i, k in enumerate(keys) if (p := _bind_processor(t.c[k].type))]


def _bind_processor(type_: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """The type's SQLite bind processor: its own one-step equivalent (`sqlite_bind`, e.g.
    UTCDateTime's) if it has one, else SQLAlchemy's."""
    fast: Callable[[Any], Any] | None = getattr(type_, "sqlite_bind", None)
    return fast or type_.dialect_impl(DIALECT).bind_processor(DIALECT)


@lru_cache(maxsize=512)
def _insert_sql(t: Table, keys: tuple[str, ...], rows: int, returning: str | None,
                skip_conflicts: bool) -> str:
    quote = DIALECT.identifier_preparer.quote
    one = "(" + ", ".join("?" * len(keys)) + ")"
    return (f"INSERT INTO {quote(t.name)} ({', '.join(quote(k) for k in keys)}) "
            f"VALUES {', '.join([one] * rows)}"
            + (" ON CONFLICT DO NOTHING" if skip_conflicts else "")
            + (f" RETURNING {quote(returning)}" if returning else ""))


@lru_cache(maxsize=16)
def _select_sql(query: Select[Any]) -> str:
    return str(query.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))
