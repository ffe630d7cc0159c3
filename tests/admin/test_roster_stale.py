"""Two administrators on /admin/roster at once: a confirmation previewed before the other's
import is refused (409) instead of saving over it; the page names who saved the newer version
and when, lists what it changed, and previews the admin's own file again against the roster in
use, kept on the page, so a second 确认导入 imports both admins' rows. The command line plans
again on top of an import that landed while it ran."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import roster_versions
from bot.roster import read_org_file, write_org_file
from tests.admin.conftest import ADMIN
from tests.admin.test_roster_page import GOOD, HEADER, hidden, login, preview
from tests.conftest import Console

OTHER = "p-admin-2"
# the first admin's import: a new county office, and a new name for one that GOOD renames too
THEIRS = (HEADER + "c01-40,示范市新区人民检察院,county,c01,,,,\n"
          + "c01-02,示范市乐顺县人民检察院,county,c01,,,,\n")


@pytest.fixture
def org_path(org_path: Path) -> Path:
    """The demo roster with a second administrator."""
    data = read_org_file(org_path)
    data["people"].append({"id": OTHER, "name": "钱敏", "unit": "prov", "roles": ["admin"],
                           "ids": {"dingtalk": "dt-9100"}})
    write_org_file(org_path, data)
    return org_path


@pytest.fixture
async def other(console: Console) -> AsyncIterator[aiohttp.ClientSession]:
    """The second administrator's browser: a session of its own (own cookie)."""
    async with aiohttp.ClientSession(str(console.client.make_url("")),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        r = await s.post("/console/api/login", json={"user": OTHER})
        assert r.status == 200
        yield s


async def preview_as(s: aiohttp.ClientSession, body: str) -> str:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("file", body.encode(), filename="钱敏的名册.csv", content_type="text/csv")
    r = await s.post("/admin/roster/preview", data=form)
    assert r.status == 200
    return await r.text()


async def test_a_confirmation_previewed_before_another_import_is_refused_and_redone(
        console: Console, other: aiohttp.ClientSession, org_path: Path) -> None:
    await login(console, ADMIN)
    mine = hidden(await preview_as(other, GOOD))  # 钱敏 previews first …
    _, page = await preview(console, THEIRS)
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    assert r.status == 200 and "导入成功" in await r.text()  # … 邓建 imports meanwhile
    saved = org_path.read_bytes()

    r = await other.post("/admin/roster/apply", data=mine)  # 钱敏 confirms her old preview
    page = await r.text()
    assert r.status == 409
    assert "名册在预览之后已被修改，本次未导入" in page
    assert "邓建（p-admin-1）于 2026-11-02 09:30 在名册页面导入了新版本" in page
    assert "新增单位：示范市新区人民检察院（c01-40）" in page
    assert "修改单位：示范市乐顺县人民检察院（c01-02）" in page
    assert org_path.read_bytes() == saved  # nothing of hers saved over his
    assert console.app.services.directory.unit("c01-02").name == "示范市乐顺县人民检察院"
    # her file is still there: to copy, and previewed again against the roster in use, where
    # her rename of c01-02 now changes his name (marked), ready to confirm again
    assert "c12-01,新设市新城区人民检察院,county,c12,XQ,p-chief-c12-01,吴城," in page
    assert "乐顺县人民检察院 → 示范市乐顺区人民检察院" in page and "刚被他人修改" in page
    again = hidden(page)
    assert again["csv"] == mine["csv"] and again["base"] != mine["base"]

    r = await other.post("/admin/roster/apply", data=again)
    assert r.status == 200 and "导入成功" in await r.text()
    d = console.app.services.directory
    assert d.unit("c01-40") is not None and d.unit("c12-01") is not None  # both imports
    assert d.unit("c01-02").name == "示范市乐顺区人民检察院"  # hers, confirmed knowingly


async def test_imports_one_after_the_other_are_not_refused(
        console: Console, other: aiohttp.ClientSession) -> None:
    await login(console, ADMIN)
    _, page = await preview(console, THEIRS)
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    assert r.status == 200 and "导入成功" in await r.text()
    r = await other.post("/admin/roster/apply", data=hidden(await preview_as(other, GOOD)))
    page = await r.text()
    assert r.status == 200 and "导入成功" in page and "名册在预览之后已被修改" not in page
    d = console.app.services.directory
    assert d.unit("c01-40") is not None and d.unit("c12-01") is not None


async def test_a_handover_that_arose_meanwhile_is_offered_checked(
        console: Console, other: aiohttp.ClientSession) -> None:
    """邓建 imported 新设市 with its chief first: her row naming another chief for it is now a
    handover (换任) her preview never offered; the new preview offers it, checked as always."""
    await login(console, ADMIN)
    mine = hidden(await preview_as(other, GOOD))
    _, page = await preview(console, HEADER + "c12,新设市人民检察院,city,prov,,p-chief-x,赵先,\n")
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    assert r.status == 200
    r = await other.post("/admin/roster/apply", data=mine)
    page = await r.text()
    assert r.status == 409 and "换任：撤销 赵先 的检察长身份" in page
    assert '<input type="checkbox" name="replace" value="c12" checked>' in page


async def test_the_cli_plans_again_when_an_import_lands_while_it_runs(
        console: Console, org_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`casebot import roster` read the roster in use; 邓建 then imported through the page.
    Nobody confirmed the command's plan, so it is made again on top of his import instead of
    saving over it: both imports are in the roster."""
    await login(console, ADMIN)
    real = roster_versions.current
    reads = 0

    async def current_then_an_import(session: Any, path: Path) -> roster_versions.Current:
        nonlocal reads
        base = await real(session, path)
        reads += 1
        if reads == 1:  # the page's import lands after the command read the roster
            await session.rollback()  # (its read ends: SQLite has one writer at a time)
            _, page = await preview(console, THEIRS)
            r = await console.client.post("/admin/roster/apply", data=hidden(page))
            assert r.status == 200
        return base

    monkeypatch.setattr(roster_versions, "current", current_then_an_import)
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(GOOD, encoding="utf-8")
    done = await roster_versions.import_roster(console.app.settings, console.clock, csv_path,
                                               org_path)
    assert reads == 2 and done.version_id is not None
    await console.advance("1m")  # the bot takes the newest version at its next tick
    d = console.app.services.directory
    assert d.unit("c01-40") is not None and d.unit("c12-01") is not None
    assert d.unit("c01-02").name == "示范市乐顺区人民检察院"  # the command's row, last
