"""Every field of the score form and of the code page's 申请复核 form has a name of its own
(a label or aria-label), not only a placeholder: a placeholder goes away as soon as one types,
and a screen reader otherwise reads 「存在问题」 ten times without saying for which item."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, RED, cards, create_case, evaluate
from tests.conftest import Console

# the visible fields with neither a <label> nor aria-label / aria-labelledby
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')].filter(el =>
  !['hidden', 'submit', 'button'].includes(el.type) && !el.hidden && !el.labels.length
  && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')).map(el => el.name)"""


async def _page(console: Console, browser: Browser, user: str
                ) -> tuple[BrowserContext, Page, str]:
    ctx = await browser.new_context(viewport={"width": 360, "height": 740},
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
    base = str(console.client.make_url("")).rstrip("/")
    assert (await ctx.request.post(f"{base}/console/api/login", data={"user": user})).ok
    return ctx, await ctx.new_page(), base


async def test_score_form_fields_are_named_with_their_item(console: Console,
                                                           browser: Browser) -> None:
    code = await create_case(console)
    ctx, page, base = await _page(console, browser, PROSECUTOR)
    await page.goto(f"{base}/cases/{code}/score")
    assert await page.evaluate(UNLABELLED) == []
    item = page.locator(".item[data-item=criminal_facts]")
    fields = {"存在问题": "problem", "补侦目的": "purpose", "补侦事项": "matters",
              "补侦要求": "requirement"}
    for word, name in fields.items():
        field = page.get_by_role("textbox", name=f"犯罪事实与行为：{word}", exact=True)
        await expect(field).to_have_attribute("name", f"{name}-criminal_facts")
        await expect(item.get_by_placeholder(word, exact=True)).to_have_count(1)  # still shown
    await page.get_by_role("spinbutton", name="犯罪事实与行为：扣分", exact=True).fill("16")
    await expect(page.locator("#live-score")).to_have_text("84")
    await expect(page.get_by_role("textbox", name="评分说明（可选）", exact=True)).to_be_visible()
    await ctx.close()


async def test_review_form_fields_are_labelled(console: Console, browser: Browser) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    link = cards(await console.messages(f"dm:{inv}"))[0]["card"]["actions"][0]["url"]
    ctx, page, _ = await _page(console, browser, inv)
    await page.goto(link)
    await expect(page.locator("#review-form")).to_be_visible()
    assert await page.evaluate(UNLABELLED) == []
    await page.get_by_role("textbox", name="复核理由（必填）", exact=True).fill("证据已补充")
    await expect(page.locator("#reason")).to_have_value("证据已补充")
    await expect(page.get_by_role("textbox", name="补充说明（可选）", exact=True)).to_be_visible()
    await ctx.close()
