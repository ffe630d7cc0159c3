"""/admin/roster on a phone (390×844) with the demo roster of 111 offices, as a QA walk found it:
the page listed every person (about 65,000 px) and the import form and its result sat far from
reach. Now the import comes first, the people list is paged and folded until the admin opens it
or searches, and the unit tree folds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FilePayload, expect

from config.loader import Settings
from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import NO_OVERFLOW
from tests.browser.test_pages_phone import CSV, phone_page
from tests.conftest import Console, make_settings

SCREEN = 844


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    """On a copy of the demo roster: the import writes to it."""
    import shutil

    from config.loader import DEFAULT_DIR

    shutil.copy(DEFAULT_DIR / "org.yaml", tmp_path / "org.yaml")
    return make_settings(tmp_path, org=str(tmp_path / "org.yaml"),
                         web={"public_url": f"http://127.0.0.1:{port}"})


async def test_roster_page_is_short_on_a_phone_with_the_import_first(
        console: Console, browser: Browser, request: Any) -> None:
    ctx, page = await phone_page(console, browser, "p-admin-1")
    await page.goto(str(console.client.make_url("/admin/roster")))
    await page.screenshot(path=screenshot_path(request, "top"))
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height < 5 * SCREEN, height
    assert await page.evaluate(NO_OVERFLOW)
    # the import form is on the first screen, above the people list
    box = await page.locator("#import-form").bounding_box()
    assert box is not None and box["y"] + box["height"] < SCREEN
    people = await page.locator("#people-list").bounding_box()
    assert people is not None and box["y"] < people["y"]
    await expect(page.locator("#people-list summary")).to_contain_text("人员 139 人")

    # the whole list, 50 a page, opens on a tap and pages with 下一页
    await page.click("#people-list summary")
    await expect(page.locator("#people tr[data-person]")).to_have_count(50)
    await expect(page.locator("#people-list")).to_contain_text("第 1–50 人，共 139 人")
    await page.click("#people-next")
    await expect(page.locator("#people-list")).to_contain_text("第 51–100 人，共 139 人")
    await expect(page.locator("#people tr[data-person]").first).to_be_visible()
    assert await page.evaluate(NO_OVERFLOW)

    # a name searched shows that person, on the first screen's reach
    await page.fill("#q", "余斌梅")
    await page.press("#q", "Enter")
    await expect(page.locator("#search-summary")).to_contain_text("人员 1 人")
    row = page.locator("#people tr[data-person]")
    await expect(row).to_have_count(1)
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("dt-0129")
    await page.screenshot(path=screenshot_path(request, "search"))
    assert await page.evaluate("document.documentElement.scrollHeight") < 5 * SCREEN

    # the unit tree folds: opened, it shows the county offices
    await page.goto(str(console.client.make_url("/admin/roster")))
    await expect(page.locator("#units")).not_to_contain_text("人员 139 人")
    await page.click("#units-tree > summary")
    await expect(page.locator("#units .tree").first).to_be_visible()

    # the import's preview and result come first, without scrolling past any list
    upload: FilePayload = {"name": "新设市名册.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    await page.set_input_files("#file", files=[upload])
    await page.click("#preview-btn")
    await expect(page.locator("#preview")).to_contain_text("新增单位 2 个")
    await page.click("#apply")
    await expect(page.locator("#import-result")).to_contain_text("导入成功")
    result = await page.locator("#import-result").bounding_box()
    assert result is not None and result["y"] < SCREEN
    await expect(page.locator("#people tr[data-person='p-chief-c12-01']")).to_be_visible()
    await page.screenshot(path=screenshot_path(request, "applied"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollHeight") < 5 * SCREEN
    await ctx.close()
