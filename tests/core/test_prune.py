"""`casebot prune`: the de-duplication keys of events handled long ago are deleted, the recent
ones (a redelivery may still come) kept; one line says how many."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from storage import db
from storage.models import ProcessedEvent
from tests.core.test_startup_errors import cli, config


def test_prune_deletes_old_processed_events_only(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}"
    path = config(tmp_path, storage={"database_url": url})
    assert cli("migrate", "--config", str(path)).returncode == 0
    now = datetime.now(UTC)

    async def rows(add: dict[str, datetime] | None = None) -> list[str]:
        engine = db.create_engine(url)
        try:
            async with db.sessionmaker(engine)() as session, session.begin():
                session.add_all(ProcessedEvent(event_id=k, at=v) for k, v in (add or {}).items())
            async with db.sessionmaker(engine)() as session:
                return sorted((await session.execute(select(ProcessedEvent.event_id))).scalars())
        finally:
            await engine.dispose()

    asyncio.run(rows({"old-1": now - timedelta(days=40), "old-2": now - timedelta(days=31),
                      "recent": now - timedelta(days=29), "now": now}))
    r = cli("prune", "--config", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("processed_events: 2 rows handled before ")
    assert r.stdout.endswith(" deleted (30 days and older)\n")
    assert asyncio.run(rows()) == ["now", "recent"]
    r = cli("prune", "--config", str(path), "--older-than-days", "1")  # one row, one day
    assert r.stdout.startswith("processed_events: 1 row handled before ")
    assert r.stdout.endswith(" deleted (1 day and older)\n")
    assert asyncio.run(rows()) == ["now"]
    r = cli("prune", "--config", str(path), "--older-than-days", "0")
    assert (r.returncode, r.stderr) == (2, "error: --older-than-days 0: at least 1, beyond the "
                                           "redelivery window\n")
    # more days than a date can go back: a usage error, not an OverflowError traceback
    for days in ("36501", "99999999999999999999"):
        r = cli("prune", "--config", str(path), "--older-than-days", days)
        assert (r.returncode, r.stderr) == (2, f"error: --older-than-days {days}: at most "
                                               "36500 (100 years)\n")
    r = cli("prune", "--config", str(path), "--older-than-days", "36500")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("processed_events: 0 rows handled before 1926-")
