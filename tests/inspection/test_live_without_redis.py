"""Redis lost during a live inspection (docs/deploy.md, "What breaks when Redis is lost"): the
big screens stop updating, the chat goes on, and the log says so in one line, not with a
traceback for every reconnect of every screen and every publish."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.inspection import publisher
from bot.live import MemoryHub, Publisher
from tests.conftest import free_port, make_settings, open_console
from tests.inspection.helpers import card, say


async def test_big_screens_while_redis_is_down(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    settings = make_settings(tmp_path, web={"public_url": f"http://127.0.0.1:{port}"},
                             storage={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with open_console(settings, port) as console:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            await say(console, "督导 新建 断线测试 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
            agenda = card(await say(console, "开始"), "检务督导面对面")  # its publish fails
            live = urlsplit(next(a["url"] for a in agenda["actions"] if "/live/" in a["url"]))
            for _ in range(3):  # a screen's EventSource reconnecting
                r = await console.client.get(f"{live.path}/events?{live.query}")
                assert r.status == 200  # an event stream that ends: EventSource reconnects
                body = await asyncio.wait_for(r.text(), 5)
                assert body.startswith("retry: ")  # ... not at once
            for text in ("抽签 3 8 3", "下一题", "下一题 确认"):  # the chat goes on; each
                await say(console, text)  # publish fails, one line for all of them
                await publisher(console.app.services).drain()
        logged = [(rec.levelname, rec.getMessage()) for rec in caplog.records
                  if rec.name.startswith(("bot.web", "bot.live", "aiohttp"))
                  and rec.name != "aiohttp.access"]
        assert all(rec.exc_info is None for rec in caplog.records), logged
        assert len(logged) == 2, logged
        assert logged[1][0] == "WARNING" and "big screens stopped updating" in logged[1][1]
        assert logged[0][0] == "WARNING" and logged[0][1].startswith("live publish on ")
        assert "until redis answers again" in logged[0][1]


class FlakyHub(MemoryHub):
    """A hub whose Redis is down for the first `down` publishes."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down = down

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        if self.down > 0:
            self.down -= 1
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        await super().publish(channel, message)


async def test_a_redis_outage_is_one_warning_and_one_line_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    pub = Publisher(FlakyHub(down=3))
    with caplog.at_level(logging.INFO, logger="bot.live"):
        for n in range(5):
            pub._spawn("inspection:S1", pub.hub.publish("inspection:S1", {"n": n}))
            await pub.drain()
    logged = [(rec.levelname, rec.getMessage()) for rec in caplog.records]
    assert [level for level, _ in logged] == ["WARNING", "INFO"], logged
    assert "big screens miss updates until redis answers again" in logged[0][1]
    assert logged[1][1] == "live: redis reachable again, publishing to big screens"
