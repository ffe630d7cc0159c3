"""/stats in a browser: a leader picks a period with the page's links, its from/to form or its
box (what 统计 takes in chat), the figures and the CSV link follow it, and the forms fit a
narrow phone."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import RED, create_case, evaluate
from tests.conftest import Console


async def test_a_period_is_chosen_on_the_page(console: Console, browser: Browser,
                                              request: Any) -> None:
    await evaluate(console, await create_case(console), RED)  # 2026-11-02
    ctx = await browser.new_context(viewport={"width": 320, "height": 700},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", "p-leader-hc")
    await expect(page.locator("#chatsel")).to_contain_text("海澄")
    await page.goto(str(console.client.make_url("/stats")))
    await expect(page.locator("#period-text")).to_have_text("统计期间：全部")

    await page.get_by_role("link", name="上月", exact=True).click()
    await expect(page.locator("#period-text")).to_have_text(
        "统计期间：2026-10-01 至 2026-10-31（按案件录入日期）")
    await expect(page.locator("#summary")).to_contain_text("案件 0 件")

    await page.fill("input[name=from]", "2026-11-01")
    await page.fill("input[name=to]", "2026-11-02")
    await page.locator("#period").get_by_role("button", name="查看").click()
    await expect(page.locator("#period-text")).to_have_text(
        "统计期间：2026-11-01 至 2026-11-02（按案件录入日期）")
    await expect(page.locator("#summary")).to_contain_text("案件 1 件")
    csv_link = page.get_by_role("link", name="导出 CSV")
    assert await csv_link.get_attribute("href") == "/stats.csv?from=2026-11-01&to=2026-11-02"
    await page.screenshot(path=screenshot_path(request, "period"))
    assert await page.evaluate("() => document.documentElement.scrollWidth <= 320")
    await ctx.close()


async def test_a_period_is_typed_on_the_page(console: Console, browser: Browser,
                                            request: Any) -> None:
    """As after 统计 in chat, on a phone: Enter sends it; a range into January crosses New
    Year; one that cannot be read is answered with the reason."""
    await evaluate(console, await create_case(console), RED)  # 2026-11-02
    ctx = await browser.new_context(viewport={"width": 320, "height": 700},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", "p-leader-hc")
    await expect(page.locator("#chatsel")).to_contain_text("海澄")
    await page.goto(str(console.client.make_url("/stats")))
    box = page.get_by_role("textbox", name="期间")
    await expect(box).to_have_value("")

    await box.fill("10.30-1.10")
    await box.press("Enter")
    await expect(page.locator("#period-text")).to_have_text(
        "统计期间：2026-10-30 至 2027-01-10（按案件录入日期）")
    await expect(page.locator("#summary")).to_contain_text("案件 1 件")
    await expect(box).to_have_value("10.30-1.10")
    await expect(page.locator("input[name=from]")).to_have_value("2026-10-30")
    csv_link = page.get_by_role("link", name="导出 CSV")
    assert await csv_link.get_attribute("href") == "/stats.csv?from=2026-10-30&to=2027-01-10"
    await page.screenshot(path=screenshot_path(request, "typed"))
    assert await page.evaluate("() => document.documentElement.scrollWidth <= 320")

    await page.get_by_role("link", name="上月", exact=True).click()
    await expect(box).to_have_value("2026-10-01 至 2026-10-31")
    await box.fill("上上月")
    await page.locator("#period-typed").get_by_role("button", name="查看").click()
    await expect(page.locator("#error")).to_contain_text("看不懂统计期间「上上月」")
    # the box is on the answer, with what was typed, to correct it there
    box = page.locator("#error").get_by_role("textbox", name="期间")
    await expect(box).to_have_value("上上月")
    assert await page.evaluate("() => document.documentElement.scrollWidth <= 320")
    await box.fill("上月")
    await box.press("Enter")
    await expect(page.locator("#period-text")).to_have_text(
        "统计期间：2026-10-01 至 2026-10-31（按案件录入日期）")
    await page.goto(str(console.client.make_url("/stats?period=1101-1130")))
    await expect(page.locator("#error")).to_contain_text("请写作 11.1-11.30")
    await expect(page.get_by_role("textbox", name="期间")).to_have_value("1101-1130")
    await page.get_by_role("link", name="查看全部案件的统计").click()
    await expect(page.locator("#period-text")).to_have_text("统计期间：全部")
    await ctx.close()
