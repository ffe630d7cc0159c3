"""The roster on a copy of the demo org.yaml (imports write to it), with the admin also in the
case team's group, to ask from a group."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.roster import read_org_file, write_org_file
from config.loader import DEFAULT_DIR, Settings
from tests.conftest import make_settings

ADMIN = "p-admin-1"


@pytest.fixture
def org_path(tmp_path: Path) -> Path:
    path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", path)
    data = read_org_file(path)
    next(c for c in data["chats"] if c["id"] == "g-case-team")["members"].append(ADMIN)
    write_org_file(path, data)
    return path


@pytest.fixture
def settings(tmp_path: Path, port: int, org_path: Path) -> Settings:
    return make_settings(tmp_path, org=str(org_path),
                         web={"public_url": f"http://127.0.0.1:{port}"})
