"""The console page as testers use it: on a phone-sized screen, in a browser whose time zone is
not the bot's, and in a chat longer than one answer of the messages API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import INVESTIGATORS, RED, YELLOW, cards, create_case, evaluate
from tests.conftest import START, Console
from tests.core.test_console_history import fill_chat

INV = INVESTIGATORS[0]  # p-investigator-1
# 390 CSS pixels, not window.innerWidth: a mobile browser widens its layout viewport (and
# zooms out) to take in content that overflows, which is how the page became 401px wide
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= 390" \
              " && document.body.scrollWidth <= 390 && window.innerWidth === 390"


async def _phone(browser: Browser, console: Console) -> Page:
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    return page


def _inside(box: dict[str, float] | None, width: float) -> bool:
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5


async def test_phone_layout_fits_and_sends(console: Console, browser: Browser,
                                           request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    page = await _phone(browser, console)
    await page.select_option("#user", INV)
    card = page.locator(".card").filter(has=page.locator(".head", has_text=code))
    qr = card.locator("img")
    await expect(qr).to_be_visible()
    await page.wait_for_function("() => [...document.querySelectorAll('#log img')]"
                                 ".every(i => i.complete && i.naturalWidth > 0)")
    await page.wait_for_function(NO_OVERFLOW, timeout=5000)  # nothing to scroll sideways

    # the log, the card and its QR code use the width and stay inside it
    log_box = await page.locator("#log").bounding_box()
    assert log_box is not None and log_box["width"] >= 380
    assert _inside(await card.bounding_box(), 390) and _inside(await qr.bounding_box(), 390)
    for button in await card.locator(".actions button, .actions a").all():
        box = await button.bounding_box()
        assert _inside(box, 390) and box is not None and box["height"] >= 40  # a finger's size

    # 发送 is whole, on one line, inside the screen, and works with a tap
    send = page.get_by_role("button", name="发送")
    box = await send.bounding_box()
    assert _inside(box, 390) and box is not None and box["height"] >= 40
    assert box["width"] > box["height"]  # not wrapped into a column of characters
    await page.locator("#text").fill("帮助")
    await send.tap()
    await expect(page.locator(".msg:not(.mine) .bubble").last).to_contain_text("可以使用")
    await page.wait_for_function(NO_OVERFLOW, timeout=5000)
    await page.screenshot(path=str(screenshot_path(request, "phone-card")))

    # the chat list became a picker in the top bar; the group chat is one pick away
    await expect(page.locator("#chats")).to_be_hidden()
    chat_pick = page.get_by_role("combobox", name="会话")
    await expect(chat_pick.locator("option:checked")).to_have_text("与 casebot 的单聊")
    group = console.app.services.directory.chat("g-case-team")
    assert group is not None and INV in group.members
    await chat_pick.select_option(label=group.title)
    await expect(page.locator("#log .msg")).to_have_count(0)
    await page.locator("#text").fill("我是谁")
    await send.tap()
    await expect(page.locator(".msg.mine .bubble").last).to_have_text("我是谁")
    assert (await console.messages("g-case-team"))[0]["text"] == "我是谁"
    await page.screenshot(path=str(screenshot_path(request, "phone")))
    await page.context.close()


async def test_times_are_the_bots_time_zone(console: Console, browser: Browser) -> None:
    assert START.isoformat() == "2026-11-02T01:30:00+00:00"  # 09:30 in Shanghai
    await console.send(INV, f"dm:{INV}", "我是谁")
    console.clock.advance(timedelta(hours=21, minutes=53))  # 23:23 UTC: 07:23 the next day
    await console.send(INV, f"dm:{INV}", "帮助")
    person = console.app.services.directory.person(INV)
    assert person is not None
    ctx = await browser.new_context(timezone_id="UTC", viewport={"width": 1100, "height": 800})
    page = await ctx.new_page()
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "UTC"
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", INV)
    mine = page.locator(".msg.mine")
    await expect(mine.filter(has_text="我是谁").locator(".meta")).to_have_text(
        f"{person.name} · 2026-11-02 09:30")
    await expect(mine.filter(has_text="帮助").locator(".meta")).to_have_text(
        f"{person.name} · 2026-11-03 07:23")
    await expect(page.locator(".msg:not(.mine) .meta").last).to_have_text(
        "casebot · 2026-11-03 07:23")
    await ctx.close()


async def test_long_chat_shows_newest_and_keeps_up(console: Console, browser: Browser) -> None:
    await fill_chat(console, 560)  # more than one answer of the messages API (500)
    code = await create_case(console)
    await evaluate(console, code, RED)
    [delivery] = cards(await console.messages(f"dm:{INV}", after=560))
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", INV)

    # the chat opens at its end: the newest card, not the first 500 messages
    card = page.locator(".msg").filter(has=page.locator(".card .head", has_text=code))
    await expect(card).to_be_visible()
    await expect(page.locator(".msg", has_text="旧消息 560")).to_be_visible()
    await expect(page.locator(".msg", has_text="旧消息 1")).to_have_count(0)

    # a new message arrives, and the card already shown is updated in place
    other = await create_case(console, title="王某盗窃案")
    await evaluate(console, other, YELLOW)
    await expect(page.locator(".card .head", has_text=other)).to_be_visible()
    console.clock.advance(timedelta(minutes=3))
    await console.click(INV, delivery["id"], "case.ack")
    await expect(card.locator(".foot")).to_contain_text("已知悉")
    await expect(card.get_by_role("button", name="已知悉")).to_have_count(0)

    # what I type arrives too, and older history is there on request
    await page.fill("#text", "帮助")
    await page.press("#text", "Enter")
    await expect(page.locator(".msg.mine .bubble").last).to_have_text("帮助")
    await expect(page.locator(".msg:not(.mine) .bubble").last).to_contain_text("可以使用")
    shown = await page.locator(".msg").count()
    older = page.get_by_role("button", name="更早的消息")
    await older.click()
    await expect(page.locator(".msg")).to_have_count(shown + 50)
    await expect(page.locator(".msg", has_text="旧消息 500")).to_be_attached()
    ids = await page.locator(".msg").evaluate_all("rs => rs.map(r => Number(r.dataset.id))")
    assert ids == sorted(ids)
    await page.close()
