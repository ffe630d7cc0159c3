"""统计 reads every case: with many cases it must not hold up everyone else's messages."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import Console

CASES = 40_000


def seed_unscored_cases(db: Path, n: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO cases (code, unit, title, stage, police_unit, prosecutor, status,"
            " created_at, created_by, version) VALUES (?, 'c01-01', ?, '审查逮捕', 'ps-hc-xd',"
            " 'p-prosecutor-1', 'open', '2026-01-01 00:00:00.000000', 'test', 0)",
            ((f"BX-2026-{i:07d}", f"案件{i}") for i in range(n)))


async def test_statistics_over_many_cases_leave_the_bot_answering_meanwhile(
        console: Console) -> None:
    db = make_url(console.app.settings.config.storage.database_url).database
    assert db is not None
    seed_unscored_cases(Path(db), CASES)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        """How long the loop goes without a turn (a probe, not a wait)."""
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.002)
            gaps.append(loop.time() - last)
            last = loop.time()

    beating = asyncio.create_task(heartbeat())
    started = loop.time()
    r = await console.send("p-leader-hc", "dm:p-leader-hc", "统计")
    took = loop.time() - started
    done.set()
    await beating
    assert f"案件总数：{CASES}" in r["messages"][0]["card"]["body"]
    # read on the loop, the longest gap would be the whole read; off the loop, the loop gets
    # a turn at least every few GIL switch intervals
    assert max(gaps) < took / 3, (max(gaps), took)
