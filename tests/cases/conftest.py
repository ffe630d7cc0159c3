"""Fixtures shared by the case-code tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Console, fresh_postgres, make_settings, open_console


@pytest.fixture
async def pg_console(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    """A console on a new, empty PostgreSQL database (dropped afterwards)."""
    async with fresh_postgres("casebot_cases") as url:
        settings = make_settings(tmp_path, storage={"database_url": url},
                                 web={"public_url": f"http://127.0.0.1:{port}"})
        async with open_console(settings, port) as console:
            yield console
