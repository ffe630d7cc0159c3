"""Redis lost during a live inspection (docs/deploy.md, "What breaks when Redis is lost"): the
big screens stop updating, the chat goes on, and the log says so in one line, not with a
traceback for every reconnect of every screen and every publish."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.inspection import publisher
from tests.conftest import free_port, make_settings, open_console
from tests.inspection.helpers import card, say


async def test_big_screens_while_redis_is_down(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    settings = make_settings(tmp_path, web={"public_url": f"http://127.0.0.1:{port}"},
                             storage={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with open_console(settings, port) as console:
        await say(console, "督导 新建 断线测试 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
        agenda = card(await say(console, "开始"), "检务督导面对面")
        live = urlsplit(next(a["url"] for a in agenda["actions"] if "/live/" in a["url"]))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(3):  # a screen's EventSource reconnecting
                r = await console.client.get(f"{live.path}/events?{live.query}")
                assert r.status == 200  # an event stream that ends: EventSource reconnects
                body = await asyncio.wait_for(r.text(), 5)
                assert body.startswith("retry: ")  # ... not at once
            await say(console, "抽签 3 8 3")  # the chat goes on; its publish fails
            await publisher(console.app.services).drain()
        logged = [(rec.levelname, rec.getMessage()) for rec in caplog.records
                  if rec.name.startswith(("bot.web", "bot.live", "aiohttp"))]
        assert all(rec.exc_info is None for rec in caplog.records), logged
        assert len(logged) == 2, logged
        assert logged[0][0] == "WARNING" and "big screens stopped updating" in logged[0][1]
        assert logged[1][0] == "WARNING" and logged[1][1].startswith("live publish on ")
