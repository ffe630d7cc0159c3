"""De-duplication in a real Redis, shared by two app instances on one database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from bot.app import App
from bot.clock import ManualClock
from bot.events import MessageEvent
from tests.conftest import START, make_settings


async def test_two_instances_handle_an_event_once(tmp_path: Path, redis_url: str) -> None:
    r = aioredis.from_url(redis_url)
    await r.flushdb()
    await r.aclose()
    settings = make_settings(tmp_path, storage={"redis_url": redis_url})
    a, b = App(settings, ManualClock(START)), App(settings, ManualClock(START))
    await a.start()
    await b.start()
    try:
        events = [
            MessageEvent(event_id=f"redis-{i}", platform="console", user_id="p-prosecutor-1",
                         chat="dm:p-prosecutor-1", at=START, text="我是谁")
            for i in range(20)
        ]
        results = await asyncio.gather(*(app.dispatcher.feed(e) for e in events
                                         for app in (a, b)))
        handled = [x for x in results if x.status == "handled"]
        assert len(handled) == 20
        assert sum(1 for x in results if x.status == "duplicate") == 20
        r = aioredis.from_url(redis_url)
        assert await r.exists("casebot:event:redis-0") == 1
        assert await r.ttl("casebot:event:redis-0") > 0
        await r.aclose()
    finally:
        await a.stop()
        await b.stop()


async def test_redis_down_falls_back_to_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, storage={"redis_url": "redis://127.0.0.1:1/0"})
    app = App(settings, ManualClock(START))
    await app.start()
    try:
        ev = MessageEvent(event_id="fallback-1", platform="console", user_id="p-prosecutor-1",
                          chat="dm:p-prosecutor-1", at=START, text="我是谁")
        assert (await app.dispatcher.feed(ev)).status == "handled"
        assert (await app.dispatcher.feed(ev)).status == "duplicate"
        assert app.dispatcher.dedupe is not None and app.dispatcher.dedupe.healthy is False
    finally:
        await app.stop()


async def test_a_redis_that_never_answers_costs_seconds_not_the_answer(tmp_path: Path) -> None:
    """A stalled Redis (it takes the connection, then says nothing) is lost Redis too: each
    message is still answered, a second or two later, not after the library's own timeouts
    (docs/deploy.md, 'What breaks when Redis is lost': slower, nothing wrong)."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = make_settings(tmp_path, storage={"redis_url": f"redis://127.0.0.1:{port}/0"})
    app = App(settings, ManualClock(START))
    await app.start()
    try:
        loop = asyncio.get_running_loop()
        for i in range(2):
            ev = MessageEvent(event_id=f"stalled-{i}", platform="console",
                              user_id="p-prosecutor-1", chat="dm:p-prosecutor-1", at=START,
                              text="我是谁")
            began = loop.time()
            result = await asyncio.wait_for(app.dispatcher.feed(ev), 30)
            took = loop.time() - began
            assert result.status == "handled" and "余斌梅" in (result.messages[0].text or "")
            assert took < 4, f"answered after {took:.1f} s"
        assert app.dispatcher.dedupe is not None and app.dispatcher.dedupe.healthy is False
    finally:
        await app.stop()
        server.close()
        for w in held:
            w.transport.abort()
        await server.wait_closed()
