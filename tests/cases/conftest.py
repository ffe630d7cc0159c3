"""Fixtures shared by the case-code tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cases.helpers import (
    CASE_GROUP,
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    org_with_second_county,
)
from tests.conftest import Console, make_settings, open_console


@pytest.fixture
async def case_group_console(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    """The console on a roster with a second county and CASE_GROUP, a group of people who
    may all see the test cases."""
    path = org_with_second_county(tmp_path, chats=[
        {"id": CASE_GROUP, "title": "本案协作群", "members": [PROSECUTOR, MANAGER, *INVESTIGATORS]}])
    settings = make_settings(tmp_path, org=str(path),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as c:
        yield c
