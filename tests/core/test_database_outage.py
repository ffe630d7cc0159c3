"""PostgreSQL lost while the bot runs (docs/deploy.md, "What breaks when PostgreSQL is lost"):
requests fail with a 503 naming the cause, the log has one line per failed request instead of a
traceback, and the bot answers again once the database is back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from unittest.mock import Mock

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, create_web_app
from bot.clock import ManualClock
from bot.outbox import OutboxWorker
from config.model import OutboxConfig
from tests.conftest import START, free_port, fresh_postgres, make_settings


class Cable:
    """A TCP proxy to PostgreSQL that can be unplugged (server closed, connections cut)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.stalled = False  # connections stay open, nothing gets through (a cut-off host)

    async def plug(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def unplug(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stalled:
            self.writers.add(writer)
            return
        up_r, up_w = await asyncio.open_connection("127.0.0.1", 5432)
        self.writers |= {writer, up_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    if self.stalled:
                        continue
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        self.writers -= {writer, up_w}


async def test_requests_in_a_database_outage(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    async with fresh_postgres("casebot_outage") as url:
        cable = Cable(free_port())
        await cable.plug()
        url = url.replace("127.0.0.1:5432", f"127.0.0.1:{cable.port}")
        settings = make_settings(tmp_path, storage={"database_url": url})
        app = App(settings, ManualClock(START))
        client = TestClient(TestServer(create_web_app(app)))
        await client.start_server()
        auth = {"Authorization": "Bearer test-token"}
        body = {"user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": "我的案件"}
        try:
            assert (await client.post("/console/api/send", json=body)).status == 200
            await cable.unplug()
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                r = await client.post("/console/api/send", json=body)
                assert r.status == 503
                assert (await r.json())["error"].startswith("数据库暂不可用")
                # a read-only command that reads nothing first fails at its journal write:
                # the same one line
                r = await client.post("/console/api/send", json={**body, "text": "我是谁"})
                assert r.status == 503
                assert (await r.json())["error"].startswith("数据库暂不可用")
                r = await client.get("/api/v1/cases/HY-2026-0001", headers=auth)
                assert r.status == 503
                # an outbox worker polling meanwhile (one for DingTalk, say): one line, not one
                # traceback per poll
                worker = OutboxWorker(app.services.db, app.clock, OutboxConfig(poll_seconds=0.1),
                                      {"dingtalk": Mock()}, dialect="postgresql")
                worker.start()
                await asyncio.sleep(1)
                await worker.stop()
                await app._tick()  # what the scheduler runs every minute
            failed = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
            assert [(rec.name, rec.getMessage().split(":")[0]) for rec in failed] == [
                ("bot.web", "POST /console/api/send"), ("bot.web", "POST /console/api/send"),
                ("bot.web", "GET /api/v1/cases/HY-2026-0001"),
                ("bot.outbox", "outbox"), ("bot.app", "periodic work")]
            assert all(rec.exc_info is None and "unavailable" in rec.getMessage()
                       for rec in failed)
            await cable.plug()
            r = await client.post("/console/api/send", json=body)
            assert r.status == 200, await r.text()
            r = await client.post("/console/api/send", json={**body, "text": "我是谁"})
            assert r.status == 200 and "余斌梅" in (await r.json())["messages"][0]["text"]
        finally:
            await client.close()
            await cable.unplug()


async def test_readyz_when_the_database_stops_answering(tmp_path: Path) -> None:
    """A PostgreSQL cut off without a reset (connections open, no answer): /readyz still
    answers, 503 naming it, in seconds, so the load balancer's check reads why."""
    async with fresh_postgres("casebot_stall") as url:
        cable = Cable(free_port())
        await cable.plug()
        url = url.replace("127.0.0.1:5432", f"127.0.0.1:{cable.port}")
        app = App(make_settings(tmp_path, storage={"database_url": url}), ManualClock(START))
        client = TestClient(TestServer(create_web_app(app)))
        await client.start_server()
        try:
            assert (await client.get("/readyz")).status == 200
            cable.stalled = True
            r = await asyncio.wait_for(client.get("/readyz"), 30)
            assert r.status == 503
            assert (await r.json())["database"] == "error: TimeoutError: no answer in 5 s"
        finally:
            await cable.unplug()
            await client.close()


async def test_requests_when_the_database_stops_answering(tmp_path: Path) -> None:
    """A PostgreSQL cut off without a reset (connections open, no answer): a person's message
    and an API call are answered 503 once storage.statement_timeout_seconds pass, instead of
    waiting for ever, and answered again once the database is back."""
    async with fresh_postgres("casebot_stall_req") as url:
        cable = Cable(free_port())
        await cable.plug()
        url = url.replace("127.0.0.1:5432", f"127.0.0.1:{cable.port}")
        settings = make_settings(tmp_path, storage={"database_url": url,
                                                    "statement_timeout_seconds": 2})
        app = App(settings, ManualClock(START))
        client = TestClient(TestServer(create_web_app(app)))
        await client.start_server()
        body = {"user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": "我的案件"}
        try:
            assert (await client.post("/console/api/send", json=body)).status == 200
            cable.stalled = True
            # the test's own bound, far above the 2 s: without the timeout this never returns
            r = await asyncio.wait_for(client.post("/console/api/send", json=body), 30)
            assert r.status == 503
            assert (await r.json())["error"].startswith("数据库暂不可用")
            r = await asyncio.wait_for(client.get(
                "/api/v1/cases/HY-2026-0001", headers={"Authorization": "Bearer test-token"}), 30)
            assert r.status == 503
            cable.stalled = False
            await cable.unplug()  # the stalled connections are cut; new ones get through
            await cable.plug()
            r = await client.post("/console/api/send", json=body)
            assert r.status == 200, await r.text()
        finally:
            await cable.unplug()
            await client.close()
