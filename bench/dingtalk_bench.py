"""DingTalk end-to-end throughput and latency through the fake gateway (not a test).

A real app (SQLite, the dingtalk-stream SDK classes, the outbox worker) connects to the fake
DingTalk from tests/dingtalk/fake.py on loopback. Each message is a Stream frame in; it counts
as done when the bot's reply reaches the fake (sessionWebhook or OpenAPI). Prints messages/s
and p50/p99 latency, one at a time and in a burst.

    /path/to/python bench/dingtalk_bench.py [--messages 300] [--openapi]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from tests.dingtalk.conftest import PROSECUTOR, dingtalk_settings, test_router  # noqa: E402
from tests.dingtalk.fake import CLIENT_ID, CLIENT_SECRET, FakeDingTalk  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def wait_for(cond: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("bench stalled")
        await asyncio.sleep(0.001)


async def run(n: int, webhook: bool) -> None:
    fake = FakeDingTalk().start()
    os.environ.update({"DINGTALK_CLIENT_ID": CLIENT_ID, "DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
                       "NO_PROXY": "127.0.0.1,localhost"})
    with tempfile.TemporaryDirectory() as tmp:
        settings = dingtalk_settings(Path(tmp), fake, delivery={"robot_per_minute": 10**6,
                                                               "conversation_per_minute": 10**6})
        app = App(settings, SystemClock())
        await app.start()
        app.dispatcher.include(test_router)
        try:
            await wait_for(lambda: fake.ws is not None, 10)
            replies: dict[str, float] = {}
            seen = [0]

            def arrived() -> None:
                new = fake.sent[seen[0]:]
                seen[0] += len(new)
                for s in new:
                    replies[s.text] = s.at

            async def one_at_a_time(count: int) -> list[float]:
                lat = []
                for i in range(count):
                    key = f"seq{i}"
                    t0 = time.perf_counter()
                    fake.send_message(f"回声 {key}", staff_id=PROSECUTOR[1], webhook=webhook)
                    await wait_for(lambda k=key: (arrived(), f"回声：{k}" in replies)[1], 30)
                    lat.append(replies[f"回声：{key}"] - t0)
                return lat

            seq = await one_at_a_time(min(100, n))
            sent_at: dict[str, float] = {}

            def push_all() -> None:
                for i in range(n):
                    sent_at[f"回声：burst{i}"] = time.perf_counter()
                    fake.send_message(f"回声 burst{i}", staff_id=PROSECUTOR[1], webhook=webhook)

            t0 = time.perf_counter()
            await asyncio.gather(asyncio.to_thread(push_all), wait_for(
                lambda: (arrived(), all(f"回声：burst{i}" in replies for i in range(n)))[1], 300))
            elapsed = time.perf_counter() - t0
            burst = [replies[k] - v for k, v in sent_at.items()]
        finally:
            await app.stop()
            fake.stop()
    path = "sessionWebhook" if webhook else "OpenAPI (oToMessages/batchSend)"
    ms = 1000
    print(f"DingTalk end to end (frame in → reply out via {path}), SQLite, 1 process")
    print(f"  one at a time: {len(seq)} msgs, p50 {statistics.median(seq) * ms:.1f} ms, "
          f"p99 {pct(seq, 99) * ms:.1f} ms")
    print(f"  burst:         {n} msgs in {elapsed:.2f} s = {n / elapsed:.0f} msgs/s, "
          f"p50 {statistics.median(burst) * ms:.1f} ms, p99 {pct(burst, 99) * ms:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--openapi", action="store_true", help="no sessionWebhook: reply via OpenAPI")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.messages, webhook=not args.openapi))


if __name__ == "__main__":
    main()
