"""The score form records at most one evaluation: a form opened before someone else scored the
case says so when submitted, instead of filing a version over one its author never saw."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.cases.helpers import PROSECUTOR, RED, create_case, evaluate
from tests.conftest import Console


async def test_a_form_opened_before_another_score_is_refused_and_a_fresh_one_submits(
        console: Console, browser: Browser) -> None:
    code = await create_case(console)
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    page = await ctx.new_page()
    r = await page.request.post(f"{base}/console/api/login", data={"user": PROSECUTOR})
    assert r.ok
    await page.goto(f"{base}/cases/{code}/score")  # opened on an unscored case
    await evaluate(console, code, RED)  # version 1, scored meanwhile another way
    await page.click("#submit")
    name = console.app.services.directory.person_name(PROSECUTOR)
    await expect(page.locator("#result")).to_have_text(
        f"该案件已有第 1 版评分（{name} 2026-11-02 09:30），本次未提交。请重新打开评分表。")
    await page.reload()
    await page.click("#submit")
    await expect(page.locator("#result")).to_contain_text("已提交：第2版")
    await ctx.close()
