"""Long reads (statistics over every case) where they cannot stall the event loop.

A read-only command's statements normally run inline on the loop (storage/inline_sqlite.py),
which is right for point lookups and wrong for a read that takes a second: every other chat
would wait. On SQLite a bulk read runs in a worker thread on its own read-only connection
(the loop keeps answering between the thread's GIL slices); on PostgreSQL the database work is
asynchronous I/O already, so the read runs through the main pool and only the processing of
the rows goes to a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

R = TypeVar("R")
T = TypeVar("T")


class BulkReader:
    def __init__(self, engine: AsyncEngine, sqlite_path: str | None = None) -> None:
        self.engine = engine
        self.threaded: Engine | None = None
        if sqlite_path is not None:
            self.threaded = create_engine(f"sqlite:///{sqlite_path}", pool_size=2,
                                          max_overflow=2)

            @event.listens_for(self.threaded, "connect")
            def _read_only(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute("PRAGMA query_only=ON")

    async def run(self, read: Callable[[Session], R], process: Callable[[R], T]) -> T:
        """`process(read(session))`: `read` fetches plain rows through a session of its own
        that it only reads through, `process` is the CPU work over them. On SQLite both run
        in a worker thread; on PostgreSQL `read` awaits the database on the loop (the work
        there is I/O) and `process` runs in a worker thread."""
        if self.threaded is not None:
            return await asyncio.to_thread(self._in_thread, read, process)
        async with AsyncSession(self.engine) as session:
            rows = await session.run_sync(read)
        return await asyncio.to_thread(process, rows)

    def _in_thread(self, read: Callable[[Session], R], process: Callable[[R], T]) -> T:
        assert self.threaded is not None
        with Session(self.threaded) as session:
            rows = read(session)
        return process(rows)

    def dispose(self) -> None:
        if self.threaded is not None:
            self.threaded.dispose()
