"""Exactly once across real OS processes (SPEC §3): two bot processes sweep the same 1,000 due
reminders on one SQLite file, and on one PostgreSQL database; a process SIGKILLed while
delivering and restarted loses nothing, and its duplicates are bounded and counted."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.reminder_seed import PROSECUTOR, seed
from bot.clock import SystemClock
from storage import db, migrate
from storage.models import Message, OutboxItem
from storage.reminders import Reminder, ReminderMessage
from tests.conftest import fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
N = 1000


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        return
    async with fresh_postgres("casebot_rem") as url:
        yield url


async def prepare(url: str) -> None:
    engine = db.create_engine(url)
    await migrate.upgrade(engine)
    await seed(engine, N, N, SystemClock().now())
    await engine.dispose()


def spawn(url: str, log: Path, name: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reminders.worker", url, str(log), name, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    stats: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return stats


def deliveries(log: Path) -> Counter[int]:
    return Counter(int(line.split()[0]) for line in log.read_text().splitlines() if line)


async def db_facts(url: str) -> dict[str, Any]:
    engine = db.create_engine(url)
    async with db.sessionmaker(engine)() as s:
        by_status = dict((await s.execute(select(Reminder.status, func.count())
                                          .group_by(Reminder.status))).all())
        per_reminder = Counter((await s.execute(select(ReminderMessage.reminder_id))).scalars())
        dms = await s.scalar(select(func.count()).select_from(Message)
                             .where(Message.chat == f"dm:{PROSECUTOR}"))
        outbox = dict((await s.execute(select(OutboxItem.status, func.count())
                                       .group_by(OutboxItem.status))).all())
        retried = await s.scalar(select(func.count()).select_from(OutboxItem)
                                 .where(OutboxItem.attempts > 1))
        outbox_ids = set((await s.execute(select(OutboxItem.id))).scalars())
    await engine.dispose()
    return {"status": by_status, "per_reminder": per_reminder, "dms": dms, "outbox": outbox,
            "retried": retried, "outbox_ids": outbox_ids}


async def test_two_processes_deliver_each_reminder_exactly_once(db_url: str, tmp_path: Path
                                                                ) -> None:
    await prepare(db_url)
    log = tmp_path / "delivered.log"
    start = str(time.time() + 4)  # both processes up, then sweep at the same moment
    procs = [spawn(db_url, log, name, "--batch", "50", "--start-at", start) for name in ("a", "b")]
    stats = [await asyncio.to_thread(finish, p) for p in procs]
    facts = await db_facts(db_url)

    assert sum(s["sent"] for s in stats) == N, stats
    assert facts["status"] == {"sent": N, "pending": N}  # + each case's next weekly slot
    assert len(facts["per_reminder"]) == N and set(facts["per_reminder"].values()) == {1}
    assert facts["dms"] == N
    assert facts["outbox"] == {"sent": N} and facts["retried"] == 0
    delivered = deliveries(log)
    assert set(delivered) == facts["outbox_ids"] and set(delivered.values()) == {1}
    print(f"\n{db_url.split(':')[0]}: sweeps {[(s['name'], s['sent']) for s in stats]}, "
          f"deliveries {[(s['name'], s['delivered']) for s in stats]}")


async def test_sigkill_during_delivery_then_restart(db_url: str, tmp_path: Path) -> None:
    await prepare(db_url)
    log = tmp_path / "delivered.log"
    opts = ("--delay-ms", "4", "--lease", "1.5", "--idle", "3")
    victim = spawn(db_url, log, "victim", *opts)
    deadline = time.monotonic() + 60
    while (not log.exists() or len(log.read_text().splitlines()) < N // 4):
        assert victim.poll() is None, victim.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no deliveries"
        await asyncio.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    before = sum(deliveries(log).values())
    assert before < N, "killed too late: everything was already delivered"

    stats = await asyncio.to_thread(finish, spawn(db_url, log, "restarted", *opts))
    facts = await db_facts(db_url)
    delivered = deliveries(log)
    duplicates = sum(delivered.values()) - len(delivered)
    # nothing lost: every reminder got its one message, every outbox item reached the platform
    assert facts["status"] == {"sent": N, "pending": N}
    assert len(facts["per_reminder"]) == N and set(facts["per_reminder"].values()) == {1}
    assert facts["dms"] == N and facts["outbox"] == {"sent": N}
    assert set(delivered) == facts["outbox_ids"]
    # duplicates: only the batch in flight at the kill (delivery batch 20), each one counted
    assert duplicates <= 20
    assert facts["retried"] >= duplicates
    print(f"\n{db_url.split(':')[0]}: killed after {before} deliveries; restart delivered "
          f"{stats['delivered']}; duplicates {duplicates}; outbox items retried "
          f"{facts['retried']}")
