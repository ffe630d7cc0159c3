"""The console web chat in a real headless Chromium: pick a user, type 帮助, see the answer."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.conftest import Console


async def test_pick_user_and_ask_for_help(console: Console, browser: Browser,
                                          request: Any) -> None:
    base = str(console.client.make_url("/console"))
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.goto(base)
    await page.select_option("#user", "p-inspector-1")
    await expect(page.locator(".chat.active")).to_have_text("与 casebot 的单聊")
    await page.fill("#text", "帮助")
    await page.press("#text", "Enter")
    bot_reply = page.locator(".msg:not(.mine) .bubble").last
    await expect(bot_reply).to_contain_text("可以使用")
    await expect(bot_reply).to_contain_text("我是谁")
    await expect(page.locator(".msg.mine .bubble").last).to_have_text("帮助")
    # the group chat appears for a member, and the conversation went to the server
    await expect(page.locator(".chat", has_text="检务督导面对面")).to_be_visible()
    log = await console.messages("dm:p-inspector-1")
    assert log[0]["text"] == "帮助"
    await page.screenshot(path=str(screenshot_path(request, "help")))
    await page.close()
