"""The score form on a phone (390×844): ten items of four fields each make a page several
screens tall. The live score and colour stay in view while any item is edited, and they never
show a colour for deductions the form will refuse: the wrong field is marked and the bar says
what is wrong."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import NO_OVERFLOW
from tests.cases.helpers import PROSECUTOR, create_case
from tests.conftest import Console

# the bar entirely inside the visible part of the page
IN_VIEW = """(el) => { const b = el.getBoundingClientRect();
  return b.height > 0 && b.top >= 0 && b.bottom <= window.innerHeight; }"""


async def _phone_form(console: Console, browser: Browser) -> Page:
    code = await create_case(console)
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    r = await page.request.post(f"{base}/console/api/login", data={"user": PROSECUTOR})
    assert r.ok
    await page.goto(f"{base}/cases/{code}/score")
    return page


async def test_score_bar_stays_in_view_and_refuses_to_colour_an_over_limit_deduction(
        console: Console, browser: Browser, request: Any) -> None:
    page = await _phone_form(console, browser)
    bar, badge, score = page.locator("#scorebar"), page.locator("#live-badge"), page.locator("#live-score")
    problem = page.locator("#live-problem")
    await expect(badge).to_have_text("绿码")
    await expect(score).to_have_text("100")
    assert await page.evaluate("document.documentElement.scrollHeight") > 3 * 844  # a long page

    last = page.locator(".item").last
    field = last.locator("input[type=number]")
    await field.scroll_into_view_if_needed()
    assert await page.evaluate("window.scrollY") > 2 * 844  # far below the page's header
    assert await bar.evaluate(IN_VIEW)
    assert await field.evaluate(IN_VIEW)
    await field.fill("8")  # the tenth item's whole 8 points: seen without scrolling back
    await expect(score).to_have_text("92")
    await expect(badge).to_have_text("绿码")
    assert await bar.evaluate(IN_VIEW)
    # the bar does not cover the field being edited
    assert await page.evaluate("""([b, f]) => b.getBoundingClientRect().bottom
                                    <= f.getBoundingClientRect().top""",
                               [await bar.element_handle(), await field.element_handle()])

    await field.fill("20")  # over the item's 8 points: the form would refuse it
    await expect(field).to_have_class("invalid")
    await expect(last.locator(".field-error")).to_have_text("第10项扣分超过上限 8 分")
    await expect(problem).to_contain_text("第10项扣分超过上限 8 分")
    await expect(badge).to_have_text("待更正")
    await expect(score).to_have_text("—")
    assert await bar.evaluate(IN_VIEW)
    await page.screenshot(path=str(screenshot_path(request, "over-limit")))

    first = page.locator(".item").first.locator("input[type=number]")
    await first.fill("13")  # the first item's limit is 12: two fields wrong, both said
    await expect(problem).to_contain_text("第1项扣分超过上限 12 分（另有 1 处有误）")
    await first.fill("-2")
    await expect(problem).to_contain_text("第1项扣分不能为负数")
    await first.fill("2.5")
    await expect(problem).to_contain_text("第1项扣分须为整数")
    await first.fill("2")
    await expect(problem).to_have_text("第10项扣分超过上限 8 分，请更正后再看得分")
    await expect(first).not_to_have_class("invalid")

    await field.fill("6")  # corrected: the preview is back, the marks gone
    await expect(problem).to_be_hidden()
    await expect(field).not_to_have_class("invalid")
    await expect(last.locator(".field-error")).to_be_hidden()
    await expect(score).to_have_text("92")
    await expect(badge).to_have_text("绿码")
    await page.fill("input[name=points-criminal_facts]", "5")
    await expect(score).to_have_text("87")
    await expect(badge).to_have_text("黄码")
    assert await page.evaluate(NO_OVERFLOW)
    await page.context.close()
