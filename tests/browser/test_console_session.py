"""A link tapped in the console opens its page as the user chosen in the console, however long
the console has been open: the web session (12 h on the bot's clock) is renewed on the tap.
A page opened without a session says what to do and leads back to the console."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, RED, cards, create_case, evaluate
from tests.conftest import Console

INV = INVESTIGATORS[0]  # p-investigator-1


async def _console_as(page: Page, console: Console, user: str) -> None:
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", user)
    await expect(page.locator(".chat.active")).to_have_text("与 casebot 的单聊")


async def test_detail_link_works_after_the_clock_moves_past_the_session(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    ctx = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await ctx.new_page()
    await _console_as(page, console, INV)
    card = page.locator(".msg").filter(has=page.locator(".card .head", has_text=code))
    detail = card.get_by_role("link", name="查看详情")
    await expect(detail).to_be_visible()

    # 8 days on the test clock, through the endpoint the demo uses: the session the console
    # started when the user was picked has expired
    r = await page.request.post(str(console.client.make_url("/console/api/clock")),
                                data={"advance": "8d"})
    assert r.ok, await r.text()

    async with ctx.expect_page() as opened:
        await detail.click()
    case_page = await opened.value
    await expect(case_page.locator("#code")).to_have_text(code)
    await expect(case_page.locator("#badge")).to_contain_text("红码")
    await expect(case_page.locator("#error")).to_have_count(0)
    await case_page.screenshot(path=str(screenshot_path(request, "after-8d")), full_page=True)

    # a second console tab as someone else (off the case) shares the cookie: a tap in the first
    # tab still opens the page as the user chosen there
    other = await ctx.new_page()
    await _console_as(other, console, "p-investigator-5")
    async with ctx.expect_page() as opened:
        await detail.click()
    again = await opened.value
    await expect(again.locator("#code")).to_have_text(code)
    await ctx.close()


async def test_score_form_opened_after_a_jump_and_submitted_after_another(
        console: Console, browser: Browser) -> None:
    """打开评分表 after 8 days opens the form; a form left open past the session says why its
    score was not filed and what to do, and the card's link opens it again."""
    code = await create_case(console)
    ctx = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await ctx.new_page()
    await _console_as(page, console, PROSECUTOR)
    await page.fill("#text", f"评分 {code}")
    await page.press("#text", "Enter")
    link = page.get_by_role("link", name="打开评分表")
    await expect(link).to_be_visible()
    await console.advance("8d")
    async with ctx.expect_page() as opened:
        await link.click()
    form = await opened.value
    await expect(form.locator("#submit")).to_be_visible()

    await console.advance("13h")
    await form.click("#submit")
    await expect(form.locator("#result")).to_contain_text("登录已过期，本次未提交")
    await expect(form.locator("#result")).to_contain_text("重新打开此页面")
    async with ctx.expect_page() as opened:
        await link.click()
    form = await opened.value
    await form.click("#submit")
    await expect(form.locator("#result")).to_contain_text("已提交：第1版")  # none filed before
    await ctx.close()


async def test_login_page_says_what_to_do_and_leads_back_to_the_console(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = cards(await console.messages(f"dm:{INV}"))[0]["card"]["actions"][0]["url"]
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    page = await ctx.new_page()
    await _console_as(page, console, INV)

    # the link opened some other way than a tap in the console (pasted into a tab) after the
    # session ran out: 请先登录, with what to do and the way back
    await console.advance("13h")
    resp = await page.goto(link)
    assert resp is not None and resp.status == 401
    error = page.locator("#error")
    await expect(error).to_contain_text("请先登录")
    await expect(error).to_contain_text("未登录或登录已过期")
    await expect(error).to_contain_text("在卡片上重新点开")
    await page.screenshot(path=str(screenshot_path(request, "login-page")), full_page=True)
    back = error.get_by_role("link", name="打开控制台")
    await expect(back).to_be_visible()
    await back.click()

    # back in the console as the same user: the card's link now opens the case
    await expect(page.locator("#user")).to_have_value(INV)
    detail = page.locator(".msg").filter(
        has=page.locator(".card .head", has_text=code)).get_by_role("link", name="查看详情")
    async with ctx.expect_page() as opened:
        await detail.click()
    case_page = await opened.value
    await expect(case_page.locator("#code")).to_have_text(code)
    await ctx.close()


async def test_login_page_from_the_console_says_back(console: Console) -> None:
    """Opened from the console (its Referer), the way back is 返回控制台."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = cards(await console.messages(f"dm:{INV}"))[0]["card"]["actions"][0]["url"]
    r = await console.client.get(urlsplit(link).path, headers={
        "Referer": str(console.client.make_url("/console"))})
    assert r.status == 401
    page = await r.text()
    assert "返回控制台" in page and 'href="/console"' in page
