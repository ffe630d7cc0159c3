"""Sweep time for 10,000 due reminders among 100,000 and among 1,000,000 open cases (SQLite).

The target: the sweep cost depends on the due count, not on the total (ratio <= 1.5).
Each open case is red with one pending re-evaluation reminder; 10,000 of them are due now.
The sweep claims them, re-plans their cases, writes one DM (messages row) each, marks them
sent and plans each case's next weekly slot.

    python bench/reminder_sweep.py [--due 10000] [--sizes 100000,1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reminder_seed import seed_sqlite
from bot.app import App
from bot.clock import ManualClock
from bot.reminders import service_of
from config.loader import DEFAULT_CONFIG, load_config
from storage import db, migrate

NOW = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)  # Wednesday 11:00 in Shanghai


async def one(size: int, due: int, workdir: Path) -> float:
    path = workdir / f"bench_{size}.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = db.create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    t0 = time.perf_counter()

    def progress(n: int) -> None:
        print(f"  seeding {size:,} open cases: {n:,} ({time.perf_counter() - t0:.0f}s)",
              flush=True)

    await asyncio.to_thread(seed_sqlite, str(path), size, due, NOW, progress)
    settings = load_config(DEFAULT_CONFIG, {"storage": {"database_url": url, "redis_url": None}},
                           env={"CASEBOT_API_TOKEN": "t", "CASEBOT_LINK_KEYS": "bench-link-key-0123456789"})
    app = App(settings, ManualClock(NOW), scheduler=False)
    await app.start()
    svc = service_of(app.services)
    print(f"  sweeping {due:,} due among {size:,} …", flush=True)
    t = time.perf_counter()
    result = await svc.sweep()
    elapsed = time.perf_counter() - t
    await app.stop()
    assert result.sent == due, result
    print(f"  {size:>9,} open cases: {result.sent:,} sent in {elapsed:.2f}s "
          f"({elapsed / due * 1e6:.0f} µs per reminder)", flush=True)
    return elapsed


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--due", type=int, default=10_000)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--keep", help="keep the databases in this directory")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="casebot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        times = {size: await one(size, args.due, workdir) for size in sizes}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nreminder sweep, {args.due:,} due (SQLite):")
    for size, t in times.items():
        print(f"  among {size:>9,} open cases: {t:.2f}s")
    small, large = times[sizes[0]], times[sizes[-1]]
    ratio = large / small
    verdict = "OK" if ratio <= 1.5 else "ABOVE TARGET"
    print(f"  ratio {sizes[-1]:,} / {sizes[0]:,}: {ratio:.2f} (target <= 1.5: {verdict})")


if __name__ == "__main__":
    asyncio.run(main())
