"""Long reads (statistics over every case) where they cannot stall the event loop.

A read-only command's statements normally run inline on the loop (storage/inline_sqlite.py),
which is right for point lookups and wrong for a read that takes a second: every other chat
would wait. On SQLite a bulk read runs in a worker thread on its own read-only connection
(the loop keeps answering between the thread's GIL slices); on PostgreSQL the database work is
asynchronous I/O already, so it runs through the main pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

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

    async def run(self, read: Callable[[Session], T]) -> T:
        """`read(session)`, with a session of its own that it only reads through."""
        if self.threaded is not None:
            return await asyncio.to_thread(self._in_thread, read)
        async with AsyncSession(self.engine) as session:
            return await session.run_sync(read)

    def _in_thread(self, read: Callable[[Session], T]) -> T:
        assert self.threaded is not None
        with Session(self.threaded) as session:
            return read(session)

    def dispose(self) -> None:
        if self.threaded is not None:
            self.threaded.dispose()
