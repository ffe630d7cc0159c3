"""Autogenerate a migration against a scratch SQLite at head: python scripts/new_migration.py ID MSG"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command

import storage.schema  # noqa: F401  (register every model module on Base.metadata)
from storage import db, migrate


async def main(rev_id: str, message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'scratch.db'}")
        await migrate.upgrade(engine)
        cfg = migrate.alembic_config()

        def _rev(conn: Any) -> None:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)

        async with engine.begin() as conn:
            await conn.run_sync(_rev)
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
