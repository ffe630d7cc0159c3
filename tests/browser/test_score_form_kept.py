"""What a prosecutor types on the score form, and an investigator on the code page's review
form, is never lost on a phone (390×844): texts on an item left at 扣分 0 are refused next to
the item instead of dropped, a form submitted after the 12-hour login comes back from the card,
and the server's field errors stand next to their item, not nine screens below."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import (
    AUTH,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    ded,
    evaluate,
)
from tests.conftest import Console

PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
                         "is_mobile": True, "has_touch": True}
ZERO = "已填写存在问题/补侦要求，但扣分为 0：请填写扣分，或清空这些文字"
EXPIRED_KEPT = ("登录已过期，本次未提交，已填写的内容已保存在本机。"
                "请从聊天中的卡片重新打开此页面，内容会自动恢复。")
RESTORED = "已恢复您上次未提交的内容"
# the element at least partly inside the visible part of the page
IN_VIEW = """(el) => { const b = el.getBoundingClientRect();
  return b.height > 0 && b.bottom > 0 && b.top < window.innerHeight; }"""


async def _chat(console: Console, browser: Browser, user: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(**PHONE)
    chat = await ctx.new_page()
    await chat.goto(str(console.client.make_url("/console")))
    await chat.select_option("#user", user)
    await expect(chat.locator(".chat.active")).to_have_text("与 casebot 的单聊")
    return ctx, chat


async def _score_link(chat: Page, code: str) -> Locator:
    """The 打开评分表 link of the card `评分 <code>` brings (a tap on it logs in again)."""
    await chat.locator("#text").fill(f"评分 {code}")
    await chat.get_by_role("button", name="发送").tap()
    card = chat.locator(".card").filter(has=chat.locator(".head", has_text=code)).last
    link = card.get_by_role("link", name="打开评分表")
    await expect(link).to_be_visible()
    return link


async def _open(ctx: BrowserContext, link: Locator) -> Page:
    async with ctx.expect_page() as opened:
        await link.tap()
    page = await opened.value
    await expect(page.locator("#submit")).to_be_visible()
    return page


async def _case(console: Console, code: str) -> dict[str, Any]:
    r = await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)
    data: dict[str, Any] = await r.json()
    return data


def _item(page: Page, n: int) -> Locator:
    return page.locator(".item").nth(n - 1)


async def test_texts_on_an_item_left_at_zero_are_refused_next_to_it(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    ctx, chat = await _chat(console, browser, PROSECUTOR)
    page = await _open(ctx, await _score_link(chat, code))
    item3 = _item(page, 3)
    await item3.locator("input[name=problem-subjective_intent]").fill("非法占有目的证据不足")
    await item3.locator("input[name=requirement-subjective_intent]").fill("补充销赃去向")
    await page.get_by_role("button", name="提交评分").tap()

    error = item3.locator(".item-error")
    await expect(error).to_have_text(ZERO)
    assert await error.evaluate(IN_VIEW)  # scrolled to it from the submit button
    await expect(item3.locator("input[name=points-subjective_intent]")).to_have_attribute(
        "aria-invalid", "true")
    await expect(page.locator("#result")).to_have_text("未提交：第3项" + ZERO)
    await page.screenshot(path=str(screenshot_path(request, "zero-refused")))
    await expect(page.get_by_role("button", name="提交评分")).to_be_enabled()
    assert (await _case(console, code))["history"] == []  # nothing recorded

    # the form's own endpoint refuses the same, sent by something else than this page
    r = await page.request.post(str(console.client.make_url(f"/cases/{code}/score")), data={
        "deductions": [{"item": "causation", "points": 0, "problem": "因果关系不明",
                        "requirement": "补充鉴定"}]})
    assert r.status == 422
    assert (await r.json())["errors"] == [{"field": "deductions[0].points",
                                           "reason": "扣分须在 1 到 8 之间"}]
    assert (await _case(console, code))["history"] == []

    # points typed: the mark goes, and the requirement reaches the investigators
    await item3.locator("input[name=points-subjective_intent]").fill("4")
    await expect(error).to_be_hidden()
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_have_text(
        "已提交：第1版，绿码 96分。如需再次评分，请刷新本页。")
    body = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[-1]["card"]["body"]
    assert "补侦要求：补充销赃去向" in body

    # 销号 still works: the item of the current score set to 0, its texts as they were
    page = await _open(ctx, await _score_link(chat, code))
    item3 = _item(page, 3)
    await expect(item3.locator("input[name=requirement-subjective_intent]")).to_have_value("补充销赃去向")
    await item3.locator("input[name=points-subjective_intent]").fill("0")
    await expect(item3.locator(".item-note")).to_have_text("扣分为 0：提交后本项销号")
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_have_text(
        "已提交：第2版，绿码 100分。如需再次评分，请刷新本页。")
    body = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[-1]["card"]["body"]
    assert "已销号：主观故意或过失" in body
    await ctx.close()


async def test_a_score_typed_before_the_login_ran_out_comes_back_from_the_card(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    other = await create_case(console, title="李某诈骗案")
    ctx, chat = await _chat(console, browser, PROSECUTOR)
    link = await _score_link(chat, code)
    page = await _open(ctx, link)
    await expect(page.locator("#draft")).to_be_hidden()  # nothing kept before
    item2 = _item(page, 2)
    await item2.locator("input[name=points-criminal_facts]").fill("8")
    await item2.locator("input[name=problem-criminal_facts]").fill("销赃去向未查明")
    await item2.locator("input[name=requirement-criminal_facts]").fill("调取交易记录")
    await page.locator("textarea[name=comment]").fill("请两周内补齐")

    await console.advance("13h")  # the night: past the 12-hour login
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_have_text(EXPIRED_KEPT)
    assert (await _case(console, code))["history"] == []
    await page.close()

    # a draft never lands on another case
    page = await _open(ctx, await _score_link(chat, other))
    await expect(page.locator("input[name=points-criminal_facts]")).to_have_value("0")
    await expect(page.locator("input[name=problem-criminal_facts]")).to_have_value("")
    await expect(page.locator("#draft")).to_be_hidden()
    await page.close()

    # the card again (the tap logs in again): everything is back, and said
    page = await _open(ctx, link)
    await expect(page.locator("#draft")).to_contain_text(RESTORED)
    item2 = _item(page, 2)
    await expect(item2.locator("input[name=points-criminal_facts]")).to_have_value("8")
    await expect(item2.locator("input[name=problem-criminal_facts]")).to_have_value("销赃去向未查明")
    await expect(item2.locator("input[name=requirement-criminal_facts]")).to_have_value("调取交易记录")
    await expect(page.locator("textarea[name=comment]")).to_have_value("请两周内补齐")
    await expect(page.locator("#live-score")).to_have_text("92")
    await page.screenshot(path=str(screenshot_path(request, "restored")))
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_have_text(
        "已提交：第1版，绿码 92分。如需再次评分，请刷新本页。")
    await expect(page.locator("#draft")).to_be_hidden()
    ev = (await _case(console, code))["history"][-1]
    assert [(d["item"], d["points"], d["requirement"]) for d in ev["deductions"]] == [
        ("criminal_facts", 8, "调取交易记录")]

    # filed: reopening shows the form as the score prefills it, no draft
    page = await _open(ctx, link)
    await expect(page.locator("#draft")).to_be_hidden()
    await expect(page.locator("input[name=points-criminal_facts]")).to_have_value("8")
    await expect(page.locator("textarea[name=comment]")).to_have_value("")

    # typed over version 1, left, the case scored again meanwhile: said, not restored silently
    await page.locator("input[name=points-causation]").fill("5")
    await page.locator("input[name=problem-causation]").fill("鉴定意见缺失")
    await page.close()
    await evaluate(console, code, RED)  # version 2, from the case-management system
    page = await _open(ctx, link)
    notice = page.locator("#draft")
    await expect(notice).to_contain_text(
        "本案在您上次填写后已重新评分（现为第2版），您未提交的内容没有自动恢复")
    await expect(page.locator("input[name=problem-causation]")).to_have_value("证据不足")  # v2's
    await expect(page.locator("input[name=points-causation]")).to_have_value("8")
    await page.screenshot(path=str(screenshot_path(request, "rescored")))
    await notice.get_by_role("button", name="恢复草稿").tap()
    await expect(page.locator("#draft-text")).to_have_text(
        "已恢复草稿中的 1 项（因果关系），其中「因果关系」已按草稿替换第2版的内容，"
        "本案第2版的其他扣分保持不变，请核对后提交。")
    await expect(page.locator("input[name=problem-causation]")).to_have_value("鉴定意见缺失")
    await expect(page.locator("input[name=points-causation]")).to_have_value("5")
    # not typed on: version 2's −16, not version 1's −8 the draft repeated
    await expect(page.locator("input[name=points-criminal_facts]")).to_have_value("16")
    await notice.get_by_role("button", name="清空重填").tap()  # back to version 2 as it is
    await expect(page.locator("input[name=points-causation]")).to_have_value("8")
    await expect(notice).to_be_hidden()
    await ctx.close()


async def test_a_draft_restored_onto_a_newer_score_keeps_what_it_left_empty(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    ctx, chat = await _chat(console, browser, PROSECUTOR)
    link = await _score_link(chat, code)
    page = await _open(ctx, link)
    item2, item3 = _item(page, 2), _item(page, 3)
    await item2.locator("input[name=points-criminal_facts]").fill("10")
    await item2.locator("input[name=problem-criminal_facts]").fill("销赃去向未查明")
    await item2.locator("input[name=requirement-criminal_facts]").fill("调取交易记录")
    await item3.locator("input[name=points-subjective_intent]").fill("4")
    await item3.locator("input[name=problem-subjective_intent]").fill("非法占有目的证据不足")
    await item3.locator("input[name=requirement-subjective_intent]").fill("补充销赃去向")
    await console.advance("13h")
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_have_text(EXPIRED_KEPT)
    await page.close()
    # meanwhile scored through the API: version 1, 因果关系 −8
    await evaluate(console, code, [ded("causation", 8, "鉴定意见缺失", "补充鉴定意见")])

    page = await _open(ctx, link)
    notice = page.locator("#draft")
    await expect(notice).to_contain_text("本案在您上次填写后已重新评分（现为第1版）")
    await notice.get_by_role("button", name="恢复草稿").tap()
    await expect(page.locator("#draft-text")).to_have_text(
        "已恢复草稿中的 2 项（犯罪事实与行为、主观故意或过失），"
        "本案第1版的其他扣分保持不变，请核对后提交。")
    await expect(page.locator("input[name=points-criminal_facts]")).to_have_value("10")
    await expect(page.locator("input[name=problem-criminal_facts]")).to_have_value("销赃去向未查明")
    await expect(page.locator("input[name=points-subjective_intent]")).to_have_value("4")
    await expect(page.locator("input[name=points-causation]")).to_have_value("8")  # version 1's
    await expect(page.locator("input[name=requirement-causation]")).to_have_value("补充鉴定意见")
    await expect(_item(page, 5).locator(".item-note")).to_be_hidden()  # no 销号 announced
    await expect(page.locator("#live-score")).to_have_text("78")
    await page.screenshot(path=str(screenshot_path(request, "merged")))
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_have_text(
        "已提交：第2版，黄码 78分。如需再次评分，请刷新本页。")
    body = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[-1]["card"]["body"]
    assert "已销号" not in body
    assert "补侦要求：补充鉴定意见" in body and "补侦要求：调取交易记录" in body
    ev = (await _case(console, code))["history"][-1]
    assert [(d["item"], d["points"]) for d in ev["deductions"]] == [
        ("criminal_facts", 10), ("subjective_intent", 4), ("causation", 8)]

    # typed over version 2 (an item of it changed), version 3 filed meanwhile: the draft's item
    # replaces version 3's, and the notice says so
    page = await _open(ctx, link)
    await page.locator("input[name=points-criminal_facts]").fill("12")
    await page.close()
    await evaluate(console, code, [ded("criminal_facts", 6), ded("causation", 8)])
    page = await _open(ctx, link)
    await page.locator("#draft").get_by_role("button", name="恢复草稿").tap()
    await expect(page.locator("#draft-text")).to_have_text(
        "已恢复草稿中的 1 项（犯罪事实与行为），其中「犯罪事实与行为」已按草稿替换第3版的内容，"
        "本案第3版的其他扣分保持不变，请核对后提交。")
    await expect(page.locator("input[name=points-criminal_facts]")).to_have_value("12")
    await expect(page.locator("input[name=problem-criminal_facts]")).to_have_value("销赃去向未查明")
    # version 2's 主观故意, dropped by version 3 and not typed on, does not come back
    await expect(page.locator("input[name=points-subjective_intent]")).to_have_value("0")
    await ctx.close()


async def test_a_server_error_on_a_field_stands_next_to_its_item(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    ctx, chat = await _chat(console, browser, PROSECUTOR)
    page = await _open(ctx, await _score_link(chat, code))
    item2 = _item(page, 2)
    await item2.locator("input[name=points-criminal_facts]").fill("8")  # no texts
    await page.get_by_role("button", name="提交评分").tap()

    error = item2.locator(".item-error")
    await expect(error).to_have_text("请填写存在问题；请填写补侦要求")
    await expect(page.locator("#result")).to_contain_text(
        "输入有误：「犯罪事实与行为」请填写存在问题")  # the summary stays below
    await page.wait_for_function(f"({IN_VIEW})(document.querySelectorAll('.item-error')[1])")
    problem = item2.locator("input[name=problem-criminal_facts]")
    await expect(problem).to_have_attribute("data-error", "")
    await expect(item2.locator("input[name=purpose-criminal_facts]")).not_to_have_attribute(
        "data-error", "")
    await expect(_item(page, 1).locator(".item-error")).to_be_hidden()
    await page.screenshot(path=str(screenshot_path(request, "field-error")))
    assert (await _case(console, code))["history"] == []

    await problem.fill("销赃去向未查明")  # corrected: the item's marks go
    await expect(error).to_be_hidden()
    await item2.locator("input[name=requirement-criminal_facts]").fill("调取交易记录")
    await page.get_by_role("button", name="提交评分").tap()
    await expect(page.locator("#result")).to_contain_text("已提交：第1版")
    await ctx.close()


async def test_a_review_typed_before_the_login_ran_out_comes_back_from_the_card(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    other = await create_case(console, title="李某诈骗案")
    await evaluate(console, code, RED)
    await evaluate(console, other, RED)
    inv = INVESTIGATORS[0]
    ctx, chat = await _chat(console, browser, inv)

    def detail(case: str) -> Locator:
        card = chat.locator(".msg").filter(has=chat.locator(".card .head", has_text=case))
        return card.get_by_role("link", name="查看详情")

    async def code_page(case: str) -> Page:
        async with ctx.expect_page() as opened:
            await detail(case).tap()
        page = await opened.value
        await expect(page.locator("#code")).to_have_text(case)
        return page

    page = await code_page(code)
    await expect(page.locator("#review-draft")).to_be_hidden()
    await page.check("input[name=items][value=criminal_facts]")
    await page.fill("#reason", "零口供但有监控，事实清楚")
    await page.fill("#note", "监控已调取")
    await console.advance("13h")
    await page.get_by_role("button", name="提交复核申请").tap()
    await expect(page.locator("#review-result")).to_have_text(EXPIRED_KEPT)
    await page.close()

    page = await code_page(other)  # another case: its form as it is
    await expect(page.locator("#reason")).to_have_value("")
    await expect(page.locator("input[name=items][value=criminal_facts]")).not_to_be_checked()
    await expect(page.locator("#review-draft")).to_be_hidden()
    await page.close()

    page = await code_page(code)
    await expect(page.locator("#review-draft")).to_contain_text(RESTORED)
    await expect(page.locator("input[name=items][value=criminal_facts]")).to_be_checked()
    await expect(page.locator("input[name=items][value=causation]")).not_to_be_checked()
    await expect(page.locator("#reason")).to_have_value("零口供但有监控，事实清楚")
    await expect(page.locator("#note")).to_have_value("监控已调取")
    await page.screenshot(path=str(screenshot_path(request, "review-restored")), full_page=True)
    await page.get_by_role("button", name="提交复核申请").tap()
    await expect(page.locator("#review-result")).to_contain_text("复核申请 #1 已提交")
    await expect(page.locator("#review-draft")).to_be_hidden()
    pcard = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1]["card"]
    assert "复核申请 #1" in pcard["title"] and "零口供但有监控" in pcard["body"]
    assert await page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith("
                               "'casebot.review-draft.'))") == []
    await ctx.close()


async def test_a_review_draft_on_a_rescored_case_is_offered_not_restored(
        console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    await evaluate(console, code, YELLOW)  # version 2: 犯罪事实与行为 −10, 因果关系 −5
    inv = INVESTIGATORS[0]
    ctx, chat = await _chat(console, browser, inv)

    async def code_page() -> Page:
        card = chat.locator(".msg").filter(has=chat.locator(".card .head", has_text=code)).last
        async with ctx.expect_page() as opened:
            await card.get_by_role("link", name="查看详情").tap()
        page = await opened.value
        await expect(page.locator("#code")).to_have_text(code)
        return page

    page = await code_page()
    await page.check("input[name=items][value=criminal_facts]")
    await page.fill("#reason", "零口供但有监控，事实清楚")
    await page.fill("#note", "监控已调取")
    await page.close()
    # the prosecutor scores again: 犯罪事实与行为 cleared, 主观故意 −10 added
    await evaluate(console, code, [ded("causation", 5), ded("subjective_intent", 10)])

    page = await code_page()
    notice = page.locator("#review-draft")
    await expect(page.locator("#review-draft-text")).to_have_text(
        "本案在您上次填写后已重新评分（现为第3版），您勾选的「犯罪事实与行为」已不在本版扣分中。"
        "是否恢复理由？")
    await expect(page.locator("#reason")).to_have_value("")  # offered, not restored
    await expect(page.locator("input[name=items]:checked")).to_have_count(0)
    await page.screenshot(path=str(screenshot_path(request, "review-offered")), full_page=True)
    await notice.get_by_role("button", name="恢复理由").tap()
    await expect(page.locator("#reason")).to_have_value("零口供但有监控，事实清楚")
    await expect(page.locator("#note")).to_have_value("监控已调取")
    await expect(page.locator("input[name=items]:checked")).to_have_count(0)  # no ticks
    await expect(page.locator("#review-draft-text")).to_have_text(
        "已恢复理由，请按本版扣分勾选有异议的项目后提交。")
    await expect(notice.get_by_role("button", name="恢复理由")).to_be_hidden()
    await page.close()

    # kept over version 3 now: reopening restores it as typed; 不恢复 is not offered
    page = await code_page()
    await expect(page.locator("#review-draft-text")).to_have_text(
        "已恢复您上次未提交的内容，请核对后提交。")
    await expect(page.locator("#reason")).to_have_value("零口供但有监控，事实清楚")
    await expect(page.locator("#review-draft").get_by_role("button", name="不恢复")).to_be_hidden()
    await page.close()

    # offered again after another score, and 不恢复 drops it
    await evaluate(console, code, [ded("subjective_intent", 10)])
    page = await code_page()
    await expect(page.locator("#review-draft-text")).to_contain_text("现为第4版")
    await page.locator("#review-draft").get_by_role("button", name="不恢复").tap()
    await expect(page.locator("#review-draft")).to_be_hidden()
    await expect(page.locator("#reason")).to_have_value("")
    assert await page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith("
                               "'casebot.review-draft.'))") == []
    await ctx.close()
