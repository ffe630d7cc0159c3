"""Shared fixtures: a real app on a real SQLite file, a console API client, real services."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, create_web_app
from bot.clock import ManualClock
from config.loader import DEFAULT_CONFIG, Settings, load_config

START = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # Monday 09:30 in Asia/Shanghai


def require(service: str, available: bool) -> None:
    """Skip when a service is missing on a developer's machine; fail under CI=true."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{service} is required in CI but is not available")
    pytest.skip(f"{service} not available")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback only: any other address is a bug."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])
            if not (host.startswith("127.") or host in ("::1", "localhost")):
                raise RuntimeError(f"test tried to reach {host}: only loopback is allowed")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def fresh_postgres(prefix: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    from storage import db

    require("PostgreSQL on 127.0.0.1:5432", port_open("127.0.0.1", 5432))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = db.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.dispose()


@pytest.fixture
def redis_url() -> str:
    require("Redis on 127.0.0.1:6379", port_open("127.0.0.1", 6379))
    return "redis://127.0.0.1:6379/15"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "storage": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}"},
        "transports": {"console": {"enabled": True, "test_clock": True}},
    }
    for k, v in overrides.items():
        base[k] = {**base.get(k, {}), **v} if isinstance(v, dict) else v
    return load_config(DEFAULT_CONFIG, base, env={"CASEBOT_API_TOKEN": "test-token",
                                                  "CASEBOT_LINK_KEYS": "test-link-key"})


@dataclass
class Console:
    """A console API client speaking SPEC §5, over real HTTP to a real app."""

    client: TestClient[Any, Any]
    app: App
    clock: ManualClock

    async def send(self, user: str, chat: str, text: str, **extra: Any) -> dict[str, Any]:
        r = await self.client.post("/console/api/send",
                                   json={"user": user, "chat": chat, "text": text, **extra})
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
        return data

    async def click(self, user: str, message_id: int, action: str,
                    form: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.client.post("/console/api/click", json={
            "user": user, "message_id": message_id, "action": action, "form": form or {}})
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
        return data

    async def messages(self, chat: str, after: int = 0) -> list[dict[str, Any]]:
        r = await self.client.get("/console/api/messages", params={"chat": chat, "after": after})
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
        return list(data["messages"])

    async def advance(self, duration: str) -> dict[str, Any]:
        r = await self.client.post("/console/api/clock", json={"advance": duration})
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
        return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    return make_settings(tmp_path, web={"public_url": f"http://127.0.0.1:{port}"})


@asynccontextmanager
async def open_console(settings: Settings, port: int, start: datetime = START
                       ) -> AsyncIterator[Console]:
    """The app on ``settings`` with its web server on ``port``, on the test clock (at
    ``start``)."""
    clock = ManualClock(start)
    app = App(settings, clock)
    server = TestServer(create_web_app(app), host="127.0.0.1", port=port)
    client = TestClient(server)
    await client.start_server()
    try:
        yield Console(client, app, clock)
    finally:
        await client.close()


@pytest.fixture
async def console(settings: Settings, port: int) -> AsyncIterator[Console]:
    async with open_console(settings, port) as c:
        yield c


@pytest.fixture
async def pg_console(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    """A console on a new, empty PostgreSQL database (dropped afterwards)."""
    async with fresh_postgres("casebot_pg") as url:
        settings = make_settings(tmp_path, storage={"database_url": url},
                                 web={"public_url": f"http://127.0.0.1:{port}"})
        async with open_console(settings, port) as c:
            yield c


@pytest.fixture(scope="session")
def chromium_path() -> Iterator[str]:
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    require("Debian chromium", Path(path).exists())
    yield path
