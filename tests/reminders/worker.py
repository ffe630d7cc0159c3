"""A bot process for the exactly-once tests: starts an App on the given database and runs the
reminder sweep and the outbox sender in a loop until idle. The external platform is a file:
each delivery appends one line "<outbox id> <message id> <worker>" (O_APPEND, so concurrent
writers never interleave and a SIGKILL loses nothing already written).

python -m tests.reminders.worker DB_URL DELIVERY_LOG NAME [--delay-ms N] [--lease S] [--idle S]
    [--batch N] [--start-at UNIX_TIME]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import time
from typing import Any

from bot.app import App
from bot.clock import SystemClock
from bot.outbox import OutboxWorker
from bot.reminders import service_of
from config.loader import DEFAULT_CONFIG, load_config
from storage.models import Message, OutboxItem


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("log")
    ap.add_argument("name")
    ap.add_argument("--delay-ms", type=float, default=0)
    ap.add_argument("--lease", type=float, default=120)
    ap.add_argument("--idle", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--start-at", type=float, default=0)  # time.time() to start sweeping at
    args = ap.parse_args()
    settings = load_config(DEFAULT_CONFIG, {
        "storage": {"database_url": args.db, "redis_url": None},
        # this test is about exactly-once under concurrency and kills, at whatever hour it runs
        # (the whole day: a time of day past 23:59, which the config's HH:MM cannot say)
        "office_hours": {"start": dt.time(0, 0), "end": dt.time.max},
        "reminders": {"batch_size": args.batch, "office_hours_workdays_only": False},
        "transports": {"outbox": {"batch": 20, "lease_seconds": args.lease}},
    }, env={"CASEBOT_API_TOKEN": "t", "CASEBOT_LINK_KEYS": "k"})
    app = App(settings, SystemClock(), scheduler=False)
    await app.start()
    app.services.external_transports = ("fake",)
    fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    class FilePlatform:
        async def deliver(self, item: OutboxItem, msg: Message) -> None:
            os.write(fd, f"{item.id} {msg.id} {args.name}\n".encode())
            if args.delay_ms:  # the platform got it but answers slowly: a kill now duplicates it
                await asyncio.sleep(args.delay_ms / 1000)

    svc = service_of(app.services)
    assert app.engine is not None
    sender = OutboxWorker(app.services.db, app.services.clock,
                          app.settings.config.transports.outbox, {"fake": FilePlatform()},
                          dialect=app.engine.dialect.name)
    stats: dict[str, Any] = {"name": args.name, "sent": 0, "delivered": 0}
    idle_since: float | None = None
    if args.start_at > time.time():  # both processes started: sweep at the same moment
        await asyncio.sleep(args.start_at - time.time())
    while True:
        swept = (await svc.sweep()).sent
        delivered = await sender.run_once()
        stats["sent"] += swept
        stats["delivered"] += delivered
        if swept or delivered:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > args.idle:
            break
        else:
            await asyncio.sleep(0.05)
    os.close(fd)
    await app.stop()
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
