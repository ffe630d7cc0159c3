"""The console page while messages keep arriving: a half-filled card form, the typed text and
the caret survive new messages and card updates; a refused submission keeps the form and says
why; the log scrolls like a chat."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import INVESTIGATORS, RED, YELLOW, cards, create_case, evaluate
from tests.conftest import Console

INV = INVESTIGATORS[0]  # p-investigator-1

AT_BOTTOM = "() => { const l = document.querySelector('#log');" \
            " return l.scrollHeight - l.scrollTop - l.clientHeight < 2; }"


async def _open(browser: Browser, console: Console, height: int = 800) -> Page:
    page = await browser.new_page(viewport={"width": 1100, "height": height})
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", INV)
    await expect(page.locator(".chat.active")).to_have_text("与 casebot 的单聊")
    return page


def _card(page: Page, code: str) -> Locator:
    return page.locator(".msg").filter(has=page.locator(".card .head", has_text=code))


async def test_open_form_survives_new_messages_and_refusal(console: Console, browser: Browser,
                                                           request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [delivery] = cards(await console.messages(f"dm:{INV}"))
    page = await _open(browser, console)
    card = _card(page, code)
    await card.get_by_role("button", name="申请复核").click()
    items = card.get_by_placeholder("有异议的扣分项序号，如 1,3（必填）")
    reason = card.get_by_placeholder("复核理由（必填）")
    await items.fill("1,3")
    await reason.click()
    await page.keyboard.type("监控已调取")

    # a second case is scored: its card arrives in the same chat while the form is open
    other = await create_case(console, title="王某盗窃案")
    await evaluate(console, other, YELLOW)
    await expect(_card(page, other)).to_be_visible()
    await expect(items).to_have_value("1,3")
    await expect(reason).to_have_value("监控已调取")
    await expect(reason).to_be_focused()

    # the same card is updated elsewhere (已知悉 from the phone): the page shows the update,
    # the form stays open and typing goes on where it was
    await console.click(INV, delivery["id"], "case.ack")
    await expect(card.locator(".foot")).to_contain_text("已知悉")
    await expect(card.get_by_role("button", name="已知悉")).to_have_count(0)
    await page.keyboard.type("，事实清楚")
    await expect(reason).to_have_value("监控已调取，事实清楚")
    await expect(items).to_have_value("1,3")

    # refused: the form stays with what was typed, the refusal is shown next to it
    await reason.fill("   ")
    await card.get_by_role("button", name="提交 申请复核").click()
    await expect(card.locator(".form")).to_contain_text("请填写复核理由。")
    await expect(items).to_have_value("1,3")
    await expect(reason).to_be_visible()
    await page.screenshot(path=str(screenshot_path(request, "refused")))

    # accepted: the form closes, the answer is in the chat, the button can be used again
    await reason.fill("监控已调取，事实清楚")
    await card.get_by_role("button", name="提交 申请复核").click()
    await expect(page.locator(".msg:not(.mine) .bubble").last).to_contain_text("复核申请 #1 已提交")
    await expect(card.locator(".form")).to_have_count(0)
    await expect(card.get_by_role("button", name="申请复核")).to_be_enabled()
    texts = [m["text"] for m in await console.messages(f"dm:{INV}") if m["text"]]
    assert texts.count("请填写复核理由。") == 1 and any("复核申请 #1 已提交" in t for t in texts)
    await page.close()


async def test_log_scrolls_like_a_chat(console: Console, browser: Browser) -> None:
    for title in ("何某强奸案", "王某盗窃案"):
        await evaluate(console, await create_case(console, title=title), RED)
    page = await _open(browser, console, height=600)
    await expect(page.locator(".card")).to_have_count(2)
    await page.wait_for_function(AT_BOTTOM)  # a chat opens at its newest message

    # at the bottom: a new card arrives and the log follows it (images included)
    third = await create_case(console, title="李某诈骗案")
    await evaluate(console, third, RED)
    await expect(_card(page, third)).to_be_visible()
    await page.wait_for_function(AT_BOTTOM)

    # scrolled up to read: a new card arrives and the view does not move
    await page.locator("#log").hover()
    await page.mouse.wheel(0, -400)
    await page.wait_for_function("() => !(" + AT_BOTTOM + ")()")
    before = await page.locator("#log").evaluate("l => l.scrollTop")
    assert before > 0
    fourth = await create_case(console, title="赵某抢劫案")
    await evaluate(console, fourth, RED)
    await expect(_card(page, fourth)).to_have_count(1)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#log img')].every(i => i.complete)")
    assert await page.locator("#log").evaluate("l => l.scrollTop") == before
    await page.close()
