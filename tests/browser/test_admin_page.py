"""/admin/roster in headless Chromium: the admin searches the roster, uploads a roster CSV,
reads the preview and confirms; the new county office and its chief are listed at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from bot.roster import COLUMNS
from config.loader import Settings
from tests.browser.conftest import screenshot_path
from tests.conftest import Console, make_settings

CSV = (",".join(COLUMNS) + "\n"
       "c12,新设市人民检察院,city,prov,,p-chief-c12,周新,dt-9001\n"
       "c12-01,新设市新城区人民检察院,county,c12,XQ,p-chief-c12-01,吴城,\n")


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    """On a copy of the demo roster: the import writes to it."""
    import shutil

    from config.loader import DEFAULT_DIR

    shutil.copy(DEFAULT_DIR / "org.yaml", tmp_path / "org.yaml")
    return make_settings(tmp_path, org=str(tmp_path / "org.yaml"),
                         web={"public_url": f"http://127.0.0.1:{port}"})


async def test_admin_searches_previews_and_imports(console: Console, browser: Browser,
                                                   request: Any, tmp_path: Path) -> None:
    base = str(console.client.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    assert (await page.request.post(f"{base}/console/api/login", data={"user": "p-admin-1"})).ok
    await page.goto(f"{base}/admin/roster")
    await expect(page.locator("#units")).to_contain_text("示范市海澄县人民检察院")
    await expect(page.locator("#reload-note")).to_contain_text("无需重启")

    await page.fill("#q", "余斌梅")
    await page.press("#q", "Enter")
    await expect(page.locator("#search-summary")).to_contain_text("人员 1 人")
    await expect(page.locator("#people tr[data-person]")).to_have_count(1)
    await expect(page.locator("#people")).to_contain_text("dt-0129")

    await page.set_input_files("#file", files=[{
        "name": "新设市名册.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    await page.click("#preview-btn")
    await expect(page.locator("#preview")).to_contain_text("新增单位 2 个")
    await expect(page.locator("#preview h2")).to_have_text("导入预览：新设市名册.csv")
    await expect(page.locator("#preview-changes")).to_contain_text("新设市新城区人民检察院")
    await page.screenshot(path=str(screenshot_path(request, "preview")), full_page=False)
    assert "新设市" not in (tmp_path / "org.yaml").read_text(encoding="utf-8")

    await page.click("#apply")
    await expect(page.locator("#import-result")).to_contain_text("导入成功")
    await expect(page.locator("#people tr[data-person='p-chief-c12-01']")).to_contain_text("吴城")
    await expect(page.locator("#units")).to_contain_text("新设市新城区人民检察院")
    await page.screenshot(path=str(screenshot_path(request, "applied")), full_page=False)
    assert "新设市新城区人民检察院" in (tmp_path / "org.yaml").read_text(encoding="utf-8")
    await context.close()
