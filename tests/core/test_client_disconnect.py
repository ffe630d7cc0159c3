"""A browser or phone that goes away while sending its request body (a dropped connection, a
cancelled upload) is not a database outage: no 'database unavailable' line for operators to
chase. The 503 handling (docs/deploy.md, "What breaks when PostgreSQL is lost") took the
ConnectionResetError that aiohttp raises for the lost client for the database's."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import App, create_web_app
from bot.clock import ManualClock
from tests.conftest import START, free_port, make_settings


@pytest.mark.parametrize("path, content_type, start", [
    ("/console/api/send", "application/json", b'{"user": '),
    ("/draw/verify", "application/x-www-form-urlencoded", b"text=abc"),
])
async def test_a_client_gone_mid_body_is_not_a_database_outage(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        path: str, content_type: str, start: bytes) -> None:
    port = free_port()
    app = App(make_settings(tmp_path, web={"public_url": f"http://127.0.0.1:{port}"}),
              ManualClock(START))
    # as `casebot serve` runs it (web.run_app: a handler is not cancelled when its client
    # leaves; aiohttp's TestServer cancels it)
    runner = web.AppRunner(create_web_app(app))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        caplog.set_level(logging.INFO)
        caplog.clear()  # the start's own warnings (calendar)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n".encode()
                     + start)
        await writer.drain()
        await asyncio.sleep(0.3)
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.5)
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                    and r.name.startswith(("bot", "aiohttp"))]
    finally:
        await runner.cleanup()
