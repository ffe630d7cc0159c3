"""帮助 on a phone (390×844): a prosecutor reads their commands without scrolling past the
screen; the whole list (帮助 全部) used to take 595 of the chat's 699 px."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import _phone
from tests.cases.helpers import PROSECUTOR
from tests.conftest import Console


async def test_the_prosecutors_help_fits_half_the_chat(console: Console, browser: Browser,
                                                       request: Any) -> None:
    page = await _phone(browser, console)
    await page.select_option("#user", PROSECUTOR)
    await page.locator("#text").fill("帮助")
    await page.get_by_role("button", name="发送").tap()
    answer = page.locator(".msg:not(.mine) .bubble").last
    await expect(answer).to_contain_text("码 HY-2026-0001")
    chat, bubble = await page.locator("#log").bounding_box(), await answer.bounding_box()
    assert chat is not None and bubble is not None
    assert bubble["height"] <= chat["height"] / 2, (bubble["height"], chat["height"])
    await page.screenshot(path=str(screenshot_path(request, "phone-help")))
    await page.context.close()
