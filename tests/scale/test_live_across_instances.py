"""Live fan-out across instances: a big screen following `/live/<session>/events` (SSE) on
instance B receives the update caused by a chat command handled on instance A, through Redis
pub/sub. Without Redis each instance only reaches its own pages (docs/deploy.md says so)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from config.loader import DEFAULT_DIR
from storage import db
from storage import inspection as store
from tests.scale.conftest import Cluster, Instance, RedisSpace, cli
from tests.scale.test_two_instances import TIMEOUT

HOST = "p-inspector-1"
GROUP = "g-inspection"
BANK = str(DEFAULT_DIR / "questions.demo.yaml")


async def say(http: aiohttp.ClientSession, inst: Instance, text: str) -> dict[str, Any]:
    async with http.post(f"{inst.url}/console/api/send",
                         json={"user": HOST, "chat": GROUP, "text": text}) as r:
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
    assert data["status"] == "handled", data
    return data


class Screen:
    """A big-screen page's EventSource, reduced to: the next `state` event, or None."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def next_state(self, within: float) -> dict[str, Any] | None:
        async def read() -> dict[str, Any]:
            event = None
            while True:
                line = (await self.resp.content.readline()).decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "state":
                    state: dict[str, Any] = json.loads(line.split(":", 1)[1])
                    return state

        try:
            return await asyncio.wait_for(read(), within)
        except TimeoutError:
            return None


@asynccontextmanager
async def screen(inst: Instance, sid: str) -> AsyncIterator[Screen]:
    """Log in on `inst` as a group member and open the session's event stream there."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar,
                                     timeout=aiohttp.ClientTimeout(sock_read=None)) as http:
        async with http.post(f"{inst.url}/console/api/login", json={"user": HOST}) as r:
            assert r.status == 200
        async with http.get(f"{inst.url}/live/{sid}/events") as resp:
            assert resp.status == 200 and resp.content_type == "text/event-stream"
            yield Screen(resp)


async def open_session(cluster: Cluster) -> str:
    a = cluster.instances[0]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        await say(http, a, "督导 新建 第一期 单位数=3 题数=3 熵源=福彩3D第2026318期开奖号码 熵格式=3x1")
        await say(http, a, "开始")
        await say(http, a, "抽签 5 2 8")
    engine = db.create_engine(cluster.db_url)
    try:
        async with db.sessionmaker(engine)() as s:
            row = await store.latest_in_chat(s, GROUP)
    finally:
        await engine.dispose()
    assert row is not None
    return row.id


@pytest.mark.postgres
@pytest.mark.redis
async def test_screen_on_b_follows_a_command_handled_on_a(
        pg_url: str, shared_redis: RedisSpace, cluster_factory: Any) -> None:
    cluster: Cluster = cluster_factory(pg_url, shared_redis, question_bank=BANK)
    await cluster.start()  # no `casebot migrate` first: concurrent starts must be safe too
    a, b = cluster.instances
    sid = await open_session(cluster)
    async with screen(b, sid) as on_b, aiohttp.ClientSession(timeout=TIMEOUT) as http:
        first = await on_b.next_state(10)
        assert first is not None and first["question"] is None
        for n in (1, 2):
            loop = asyncio.get_running_loop()
            sent = loop.time()
            await say(http, a, "下一题" if n == 1 else "下一题 确认")  # 确认: at once
            state = await on_b.next_state(10)
            assert state is not None, "instance B's screen got no update from instance A"
            assert state["current"]["revealed"] == n and state["question"]["seq"] == n, state
            print(f"\nquestion {n} revealed on A → state on B's screen after "
                  f"{(loop.time() - sent) * 1000:.0f} ms")
        # a rolling restart: B stops (SIGTERM) with the screen still connected; the stream
        # ends at once (the page's EventSource reconnects elsewhere), B exits without waiting
        assert b.proc is not None
        stopping = loop.time()
        b.proc.terminate()
        assert (await asyncio.wait_for(on_b.resp.content.read(), 10)).strip() == b""
        await asyncio.to_thread(b.proc.wait, 10)
        took = loop.time() - stopping
        assert b.proc.returncode == 0 and took < 5, (b.proc.returncode, took, b.tail())
        assert not b.errors(), b.tail()
        print(f"B stopped in {took:.1f} s with a screen connected")


@pytest.mark.postgres
async def test_without_redis_a_screen_only_follows_its_own_instance(
        pg_url: str, cluster_factory: Any) -> None:
    cluster: Cluster = cluster_factory(pg_url, None, question_bank=BANK)
    assert cli("migrate", "--config", str(cluster.instances[0].config)).returncode == 0
    await cluster.start()
    a, b = cluster.instances
    sid = await open_session(cluster)
    async with screen(a, sid) as on_a, screen(b, sid) as on_b, \
            aiohttp.ClientSession(timeout=TIMEOUT) as http:
        assert await on_a.next_state(10) is not None and await on_b.next_state(10) is not None
        await say(http, a, "下一题")
        state = await on_a.next_state(10)
        assert state is not None and state["current"]["revealed"] == 1
        assert await on_b.next_state(3) is None  # no cross-instance fan-out without Redis
