"""Liveness, readiness and metrics; Redis lost while running → the bot keeps answering."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import reminders as reminder_service
from bot.app import App, create_web_app
from bot.clock import ManualClock
from bot.events import MessageEvent
from tests.conftest import START, Console, free_port, make_settings, port_open, require


async def test_health_ready_and_metrics(console: Console) -> None:
    c = console.client
    assert (await c.get("/healthz")).status == 200
    r = await c.get("/readyz")
    assert r.status == 200
    assert await r.json() == {"ready": True, "database": "ok", "redis": "not configured"}
    await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "帮助")
    text = await (await c.get("/metrics")).text()
    assert 'casebot_events_total{kind="message",platform="console",status="handled"} 1.0' in text
    assert "casebot_handler_seconds_bucket" in text
    assert "casebot_outbox_depth 0.0" in text
    assert "casebot_journal_batch_events_count 1.0" in text  # 帮助 is read-only: journaled
    # only the series docs/deploy.md names: no *_created beside each counter and histogram
    assert "_created" not in text


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("redis-server")
    require("redis-server binary", exe is not None)
    assert exe is not None
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL)
    for _ in range(100):
        if port_open("127.0.0.1", port):
            break
        time.sleep(0.05)  # poll the port until the server listens
    return proc


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = start_redis(port, tmp_path)
    yield port, proc
    proc.kill()
    proc.wait()


async def test_redis_stopped_bot_keeps_answering(tmp_path: Path,
                                                 own_redis: tuple[int, subprocess.Popen[bytes]]
                                                 ) -> None:
    port, proc = own_redis
    settings = make_settings(tmp_path, storage={"redis_url": f"redis://127.0.0.1:{port}/0"})
    client = TestClient(TestServer(create_web_app(App(settings, ManualClock(START)))))
    await client.start_server()
    try:
        body = {"user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": "我是谁"}
        r = await client.post("/console/api/send", json={**body, "event_id": "a"})
        assert (await r.json())["status"] == "handled"
        assert (await client.get("/readyz")).status == 200
        proc.kill()
        proc.wait()
        r = await client.post("/console/api/send", json={**body, "event_id": "b"})
        data = await r.json()
        assert data["status"] == "handled" and "承办检察官" in data["messages"][0]["text"]
        # de-duplication falls back to the database
        r = await client.post("/console/api/send", json={**body, "event_id": "b"})
        assert (await r.json())["status"] == "duplicate"
        ready = await client.get("/readyz")
        assert ready.status == 503
        info = await ready.json()
        assert info["database"] == "ok" and info["redis"].startswith("error")
    finally:
        await client.close()


async def test_a_redis_outage_is_one_log_line_each_way(
        tmp_path: Path, own_redis: tuple[int, subprocess.Popen[bytes]],
        caplog: pytest.LogCaptureFixture) -> None:
    """The operator reads when Redis was lost and when it came back, not one warning per
    reminder sweep (one a minute) for as long as the outage lasts."""
    port, proc = own_redis
    settings = make_settings(tmp_path, storage={"redis_url": f"redis://127.0.0.1:{port}/0"})
    app = App(settings, ManualClock(START))
    await app.start()
    sweeps = reminder_service.service_of(app.services)
    body = {"user_id": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": "我是谁",
            "platform": "console", "at": START}
    try:
        await sweeps.sweep()
        caplog.set_level(logging.INFO)
        caplog.clear()
        proc.kill()
        proc.wait()
        for i in range(3):
            await sweeps.sweep()
            await app.dispatcher.feed(MessageEvent(event_id=f"down-{i}", **body))
        down = [(r.name, r.levelname) for r in caplog.records if "redis" in r.getMessage()]
        assert down == [("bot.reminders", "WARNING"), ("storage.dedupe", "WARNING")]
        caplog.clear()
        back = start_redis(port, tmp_path)
        try:
            for i in range(3):
                await sweeps.sweep()
                await app.dispatcher.feed(MessageEvent(event_id=f"up-{i}", **body))
            lines = [(r.name, r.levelname) for r in caplog.records if "redis" in r.getMessage()]
            assert sorted(lines) == [("bot.reminders", "INFO"), ("storage.dedupe", "INFO")]
        finally:
            back.kill()
            back.wait()
    finally:
        await app.stop()


async def test_readyz_names_the_redis_address_and_why_without_its_password(
        tmp_path: Path) -> None:
    """An operator reading /readyz sees which Redis failed and how, never its password."""
    from tests.conftest import free_port

    port = free_port()  # nothing listens there
    settings = make_settings(tmp_path, storage={
        "redis_url": f"redis://:hunter2@127.0.0.1:{port}/3"})
    client = TestClient(TestServer(create_web_app(App(settings, ManualClock(START)))))
    await client.start_server()
    try:
        ready = await client.get("/readyz")
        info = await ready.json()
        assert ready.status == 503 and info["database"] == "ok"
        assert info["redis"].startswith(f"error at 127.0.0.1:{port}/3: ConnectionError: "), info
        assert "Error 111 connecting" in info["redis"] and "hunter2" not in info["redis"]
    finally:
        await client.close()
