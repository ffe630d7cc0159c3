"""What /readyz and /metrics say about the DingTalk stream: the real SDK client against the fake
gateway (up, refusing the credentials) or against a closed port; the console keeps answering."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, create_web_app
from bot.clock import SystemClock
from tests.conftest import free_port
from tests.dingtalk.conftest import dingtalk_settings, eventually
from tests.dingtalk.fake import FakeDingTalk

Serve = Callable[..., Awaitable[tuple[TestClient[Any, Any], App]]]


@pytest.fixture
async def serve(tmp_path: Path, fake: FakeDingTalk, dt_env: None) -> AsyncIterator[Serve]:
    """The whole web app (console on) with DingTalk enabled, as a deployment runs it."""
    clients: list[TestClient[Any, Any]] = []

    async def start(**dingtalk: Any) -> tuple[TestClient[Any, Any], App]:
        app = App(dingtalk_settings(tmp_path / f"app{len(clients)}", fake, **dingtalk),
                  SystemClock())
        client = TestClient(TestServer(create_web_app(app)))
        await client.start_server()
        clients.append(client)
        return client, app

    yield start
    for client in clients:
        await client.close()


async def ready(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    r = await client.get("/readyz")
    return r.status, await r.json()


def metric(text: str, series: str) -> float:
    """The value of one series in /metrics' text (fails when it is not there)."""
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert m, f"{series} not in /metrics"
    return float(m.group(1))


async def test_unreachable_gateway_is_not_ready_after_the_grace_period(serve: Serve) -> None:
    port = free_port()  # nothing listens there
    client, _ = await serve(api_base=f"http://127.0.0.1:{port}", oapi_base=f"http://127.0.0.1:{port}",
                         stream={"ready_grace_seconds": 2.0})
    # within the grace period: still ready, but the field says what is wrong
    status, body = await ready(client)
    assert status == 200 and body["ready"] is True and body["dingtalk"] != "ok"
    seen: dict[str, Any] = {}

    async def disconnected() -> bool:
        seen["status"], seen["body"] = await ready(client)
        return str(seen["body"]["dingtalk"]).startswith("disconnected since")

    await eventually(disconnected, what="readyz naming the failure")
    assert re.fullmatch(
        rf"disconnected since \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00: refused: Cannot connect "
        rf"to host 127\.0\.0\.1:{port}.*", seen["body"]["dingtalk"]), seen["body"]

    async def not_ready() -> bool:
        seen["status"], seen["body"] = await ready(client)
        return seen["status"] == 503

    await eventually(not_ready, what="503 after the grace period")
    assert seen["body"]["ready"] is False
    assert seen["body"]["database"] == "ok" and seen["body"]["redis"] == "not configured"
    assert seen["body"]["dingtalk"].startswith("disconnected since")

    text = await (await client.get("/metrics")).text()
    assert metric(text, "casebot_dingtalk_stream_connected") == 0
    assert metric(text, 'casebot_dingtalk_stream_failures_total{reason="refused"}') >= 1
    assert metric(text, 'casebot_dingtalk_stream_failures_total{reason="auth"}') == 0

    # the console (and the rest of the web side) still answers
    r = await client.post("/console/api/send", json={
        "user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": "我是谁"})
    data = await r.json()
    assert r.status == 200 and data["status"] == "handled", data
    assert "承办检察官" in data["messages"][0]["text"]


async def test_refused_credentials_are_named_once(serve: Serve, fake: FakeDingTalk,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DINGTALK_CLIENT_SECRET", "a-wrong-secret")
    with caplog.at_level(logging.DEBUG, logger="bot.transports.dingtalk.stream"):
        client, _ = await serve(stream={"ready_grace_seconds": 0.3})
        await eventually(lambda: len(fake.opens) >= 4, what="several refused opens")
        seen: dict[str, Any] = {}

        async def not_ready() -> bool:
            seen["status"], seen["body"] = await ready(client)
            return seen["status"] == 503

        await eventually(not_ready, what="503 after the grace period")
    assert seen["body"]["dingtalk"] == ("credentials refused (401 InvalidClient): check "
                                        "DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET")
    stream_records = [r for r in caplog.records if r.name == "bot.transports.dingtalk.stream"]
    [error] = [r for r in stream_records if r.levelno >= logging.WARNING]  # one, not one a retry
    assert error.levelno == logging.ERROR
    assert "DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET" in error.getMessage()
    assert "HTTP 401 InvalidClient" in error.getMessage()
    assert "a-wrong-secret" not in caplog.text  # the secret is never logged

    text = await (await client.get("/metrics")).text()
    assert metric(text, 'casebot_dingtalk_stream_failures_total{reason="auth"}') >= 4
    assert metric(text, "casebot_dingtalk_stream_connected") == 0


async def test_connected_stream_is_ready(serve: Serve, fake: FakeDingTalk) -> None:
    client, app = await serve(stream={"ready_grace_seconds": 0.0})  # only connected is ok
    assert app.dingtalk is not None
    stream = app.dingtalk.stream
    await eventually(stream.connected.is_set, what="the stream is up")
    status, body = await ready(client)
    assert (status, body) == (200, {"ready": True, "database": "ok", "redis": "not configured",
                                    "dingtalk": "ok"})
    text = await (await client.get("/metrics")).text()
    assert metric(text, "casebot_dingtalk_stream_connected") == 1
    assert metric(text, 'casebot_dingtalk_stream_failures_total{reason="refused"}') == 0

    # DingTalk closes the connection: the field says so until the bot is back
    fake.clean_closes_left = 1000  # every new socket is closed at once, as the first
    assert fake.ws is not None
    fake.call(fake.ws.close())

    async def dropped() -> bool:
        status, body = await ready(client)
        return status == 503 and "connection closed by DingTalk" in body["dingtalk"]

    await eventually(dropped, what="readyz naming the drop")
    text = await (await client.get("/metrics")).text()
    assert metric(text, 'casebot_dingtalk_stream_failures_total{reason="dropped"}') >= 1
    fake.clean_closes_left = 0
    await eventually(lambda: fake.connections >= 2, what="a lasting connection again")
    await eventually(stream.connected.is_set, what="the stream is up again")
    assert (await ready(client))[0] == 200


async def test_without_dingtalk_there_is_no_dingtalk_field_nor_series(
        tmp_path: Path, fake: FakeDingTalk) -> None:
    settings = dingtalk_settings(tmp_path, fake, enabled=False)
    client = TestClient(TestServer(create_web_app(App(settings, SystemClock()))))
    await client.start_server()
    try:
        assert "dingtalk" not in (await ready(client))[1]
        assert "casebot_dingtalk" not in await (await client.get("/metrics")).text()
    finally:
        await client.close()


async def test_the_outbox_worker_is_logged_only_where_one_runs(
        serve: Serve, tmp_path: Path, fake: FakeDingTalk, caplog: pytest.LogCaptureFixture) -> None:
    """With DingTalk the start says which worker delivers to it; console only (nothing is ever
    queued) it says nothing of a worker, which did not start."""
    caplog.set_level(logging.INFO, logger="bot.app")

    def worker_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "outbox worker" in r.getMessage()]

    _, app = await serve()
    assert app.outbox is not None and app.outbox.running
    assert worker_lines() == [f"outbox worker {app.outbox.worker_id} started (delivers to dingtalk)"]
    caplog.clear()
    settings = dingtalk_settings(tmp_path / "console-only", fake, enabled=False)
    console_only = App(settings, SystemClock())
    client = TestClient(TestServer(create_web_app(console_only)))
    await client.start_server()
    try:
        assert console_only.outbox is not None and not console_only.outbox.running
        assert worker_lines() == []
    finally:
        await client.close()
