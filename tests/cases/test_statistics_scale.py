"""统计 reads every case: however long that takes, everyone else keeps getting answers.

On SQLite the read itself is the long part (statements normally run inline on the loop);
on PostgreSQL the read is asynchronous I/O and the long part is processing the rows. Each
test holds its backend's long part open and checks that another person is answered
meanwhile; done on the event loop, the held step would hold up the loop itself."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from storage import cases as repo
from storage.cases import CaseRow
from tests.conftest import Console
from tests.dingtalk.conftest import eventually

CASES = 5_000


async def seed_unscored_cases(console: Console, n: int) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    async with console.app.services.db() as s, s.begin():
        await s.execute(insert(CaseRow), [
            {"code": f"BX-2026-{i:07d}", "unit": "c01-01", "title": f"案件{i}",
             "stage": "审查逮捕", "police_unit": "ps-hc-xd", "prosecutor": "p-prosecutor-1",
             "status": "open", "created_at": at, "created_by": "test", "version": 0}
            for i in range(n)])


async def answered_while_held(console: Console, monkeypatch: pytest.MonkeyPatch,
                              step: str) -> None:
    await seed_unscored_cases(console, CASES)
    reading, release = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    real = getattr(repo, step)

    def held(*args: Any) -> Any:
        reading.set()
        released_in_time.append(release.wait(timeout=3))
        return real(*args)

    monkeypatch.setattr(repo, step, held)
    stats = asyncio.create_task(console.send("p-leader-hc", "dm:p-leader-hc", "统计"))
    await eventually(reading.is_set, within=10, what=f"{step} to start")
    other = await console.send("p-investigator-1", "dm:p-investigator-1", "帮助")
    assert not stats.done()  # answered while the statistics were still being worked out
    release.set()
    r = await stats
    assert other["messages"] and "码" in other["messages"][0]["text"]
    assert released_in_time == [True]
    assert f"案件总数：{CASES}" in r["messages"][0]["card"]["body"]


async def test_another_person_is_answered_while_statistics_are_being_read(
        console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    await answered_while_held(console, monkeypatch, "case_fact_rows")


async def test_on_postgresql_the_rows_are_processed_off_the_loop(
        pg_console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    await answered_while_held(pg_console, monkeypatch, "facts_from")
