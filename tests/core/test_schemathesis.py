"""Schemathesis against /api/v1/openapi.json and the console API: no 5xx, responses match."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bot.app import App, create_web_app
from bot.clock import ManualClock
from bot.web.openapi import OPENAPI, console_openapi
from tests.conftest import START, free_port, make_settings

API = schemathesis.openapi.from_dict(OPENAPI)
CONSOLE = schemathesis.openapi.from_dict(console_openapi())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on a real port, in its own thread and event loop (schemathesis is sync)."""
    port = free_port()
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    app = App(make_settings(tmp, web={"public_url": f"http://127.0.0.1:{port}"}),
              ManualClock(START))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_web_app(app))
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(30)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.filter_too_much])


# Ids must name real people, units and cases: a schema cannot say that, so a schema-valid
# request may still be refused with 4xx. Every other check stays on (no 5xx, response schemas,
# content types, malformed input refused).
EXCLUDED = [positive_data_acceptance]


@API.parametrize()
@FUZZ
def test_integration_api(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers={"Authorization": "Bearer test-token"},
                           excluded_checks=EXCLUDED)


@CONSOLE.parametrize()
@FUZZ
def test_console_api(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, excluded_checks=EXCLUDED)
