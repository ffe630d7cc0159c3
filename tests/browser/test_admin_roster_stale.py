"""/admin/roster on a phone, two administrators: 钱敏 previews her file, 邓建 imports his
meanwhile; her 确认导入 is refused with who saved the newer version and when, her file stays on
the page (previewed again, its text to copy) and a second 确认导入 imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from bot.roster import read_org_file, write_org_file
from config.loader import Settings
from tests.admin.test_roster_page import hidden, login, preview
from tests.admin.test_roster_stale import OTHER, THEIRS
from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import NO_OVERFLOW
from tests.browser.test_pages_phone import CSV, phone_page
from tests.conftest import Console, make_settings


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    """A copy of the demo roster (imports write to it) with a second administrator."""
    import shutil

    from config.loader import DEFAULT_DIR

    org = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", org)
    data = read_org_file(org)
    data["people"].append({"id": OTHER, "name": "钱敏", "unit": "prov", "roles": ["admin"],
                           "ids": {"dingtalk": "dt-9100"}})
    write_org_file(org, data)
    return make_settings(tmp_path, org=str(org), web={"public_url": f"http://127.0.0.1:{port}"})


async def test_a_stale_confirmation_is_refused_and_the_file_kept(
        console: Console, browser: Browser, request: Any) -> None:
    ctx, page = await phone_page(console, browser, OTHER)
    await page.goto(str(console.client.make_url("/admin/roster")))
    await page.set_input_files("#file", files=[{
        "name": "新设市名册.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    await page.click("#preview-btn")
    await expect(page.locator("#preview")).to_contain_text("新增单位 2 个")

    await login(console, "p-admin-1")  # 邓建, in his own session, imports meanwhile
    _, his = await preview(console, THEIRS)
    r = await console.client.post("/admin/roster/apply", data=hidden(his))
    assert r.status == 200

    await page.click("#apply")
    conflict = page.locator("#conflict")
    await expect(conflict).to_contain_text("名册在预览之后已被修改，本次未导入")
    await expect(conflict).to_contain_text(
        "邓建（p-admin-1）于 2026-11-02 09:30 在名册页面导入了新版本")
    await expect(page.locator("#newer-changes")).to_contain_text(
        "新增单位：示范市新区人民检察院（c01-40）")
    await expect(page.locator("#my-csv")).to_have_value(CSV)  # her file, to copy
    await expect(page.locator("#preview-changes")).to_contain_text("新设市新城区人民检察院")
    await expect(page.locator("#reload")).to_have_attribute("href", "/admin/roster")
    await conflict.screenshot(path=str(screenshot_path(request, "conflict")))
    assert await page.evaluate(NO_OVERFLOW)
    assert console.app.services.directory.unit("c12-01") is None  # nothing of hers yet

    await page.click("#apply")
    await expect(page.locator("#import-result")).to_contain_text("导入成功")
    await expect(page.locator("#units")).to_contain_text("新设市新城区人民检察院")
    await expect(page.locator("#units")).to_contain_text("示范市新区人民检察院")  # his kept
    await ctx.close()
