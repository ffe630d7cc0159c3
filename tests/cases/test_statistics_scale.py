"""统计 reads every case: however long that takes, everyone else keeps getting answers."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.domain.stats import CaseFacts
from storage import cases as repo
from tests.conftest import Console
from tests.dingtalk.conftest import eventually

CASES = 5_000


def seed_unscored_cases(db: Path, n: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO cases (code, unit, title, stage, police_unit, prosecutor, status,"
            " created_at, created_by, version) VALUES (?, 'c01-01', ?, '审查逮捕', 'ps-hc-xd',"
            " 'p-prosecutor-1', 'open', '2026-01-01 00:00:00.000000', 'test', 0)",
            ((f"BX-2026-{i:07d}", f"案件{i}") for i in range(n)))


async def test_another_person_is_answered_while_statistics_are_being_read(
        console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_url(console.app.settings.config.storage.database_url).database
    assert db is not None
    seed_unscored_cases(Path(db), CASES)
    reading, release = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    real = repo.case_facts

    def slow_case_facts(session: Session) -> list[CaseFacts]:
        """The read, held open until the test lets it go (as a read over very many cases
        would take its time). Read on the event loop, this would hold up the loop itself."""
        reading.set()
        released_in_time.append(release.wait(timeout=3))
        return real(session)

    monkeypatch.setattr(repo, "case_facts", slow_case_facts)
    stats = asyncio.create_task(console.send("p-leader-hc", "dm:p-leader-hc", "统计"))
    await eventually(reading.is_set, within=10, what="the statistics read to start")
    other = await console.send("p-investigator-1", "dm:p-investigator-1", "帮助")
    assert not stats.done()  # answered while the statistics were still being read
    release.set()
    r = await stats
    assert other["messages"] and "码" in other["messages"][0]["text"]
    assert released_in_time == [True]
    assert f"案件总数：{CASES}" in r["messages"][0]["card"]["body"]
