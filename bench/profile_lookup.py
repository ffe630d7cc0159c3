"""Profile `码 <code>` events in process (no HTTP, no client): where does an event's time go?

Run: .venv/bin/python bench/profile_lookup.py [--events 2000] [--concurrency 16]
        [--profile [tottime|cumulative]] [--intake]
Prints events/s, wall and CPU milliseconds per event; with --profile, the top functions.
With --intake every case has been taken in (受理: 放行) before the lookups, so the cards show it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import cases as ops  # noqa: E402
from bot.app import App  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.context import unit_of_work  # noqa: E402
from bot.domain.scoring import Deduction  # noqa: E402
from bot.events import MessageEvent  # noqa: E402
from config.loader import DEFAULT_CONFIG, load_config  # noqa: E402


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--profile", nargs="?", const="tottime", choices=("tottime", "cumulative"))
    ap.add_argument("--intake", action="store_true", help="take every case in first (放行)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        settings = load_config(DEFAULT_CONFIG, {
            "storage": {"database_url": f"sqlite+aiosqlite:///{d}/p.db"},
            "inspection": {"question_bank": None}},
            env={"CASEBOT_API_TOKEN": "t", "CASEBOT_LINK_KEYS": "bench-link-key-0123456789"})
        app = App(settings, SystemClock(), scheduler=False)
        await app.start()
        s = app.services
        prosecutor = s.directory.people["p-prosecutor-1"]
        manager = s.directory.people["p-case-manager-1"]
        codes = []
        for i in range(50):
            async with unit_of_work(s) as out:
                case = await ops.create_case(out, ops.NewCase(
                    f"案件{i}", "审查逮捕", "ps-hc-xd", prosecutor.id, ("p-investigator-1",),
                    None, None), "bench")
                ev = await ops.record_evaluation(out, case, prosecutor, [
                    Deduction("causation", 5, "p", "", "", "r")], [], "")
                if args.intake:
                    await ops.record_intake(out, case, manager, ev, "放行")
                codes.append(case.code)

        def event(i: int) -> MessageEvent:
            return MessageEvent(event_id=f"p:{uuid.uuid4().hex}", platform="console",
                                user_id=prosecutor.id, chat=f"dm:{prosecutor.id}",
                                at=s.clock.now(), text=f"码 {codes[i % len(codes)]}",
                                is_direct=True, raw={})

        async def run(n: int) -> float:
            queue = list(range(n))

            async def worker() -> None:
                while queue:
                    i = queue.pop()
                    r = await app.dispatcher.feed(event(i))
                    assert r.status == "handled" and r.messages[0].card, r

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            return time.perf_counter() - t0

        await run(200)
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        batches0 = s.journal.batches
        cpu0 = time.process_time()
        elapsed = await run(args.events)
        cpu = time.process_time() - cpu0
        batches = s.journal.batches - batches0
        if prof:
            prof.disable()
        print(f"{args.events / elapsed:.0f} events/s, {1000 * elapsed / args.events:.2f} ms/event, "
              f"{1000 * cpu / args.events:.2f} ms CPU/event (concurrency {args.concurrency}); "
              f"{args.events / max(1, batches):.1f} events per journal batch")
        await app.stop()
        if prof:
            pstats.Stats(prof).sort_stats(args.profile).print_stats(45)


if __name__ == "__main__":
    asyncio.run(main())
