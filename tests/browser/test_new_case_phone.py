"""新建案件 on a phone: the demo prosecutor types the command in the console, taps the card's
link, fills the form (a wrong pick of investigators is said next to them), submits and lands on
the new case's score form; the 1:1 chat has the 「已录入案件」 card."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import AUTH, PROSECUTOR, cards
from tests.conftest import Console

FITS = "() => document.documentElement.scrollWidth <= 390 && document.body.scrollWidth <= 390"


async def test_a_prosecutor_creates_a_case_on_a_phone(console: Console, browser: Browser,
                                                       request: Any) -> None:
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                    is_mobile=True, has_touch=True)
    chat = await ctx.new_page()
    await chat.goto(str(console.client.make_url("/console")))
    await chat.select_option("#user", PROSECUTOR)
    await chat.locator("#text").fill("新建案件 张某某涉嫌盗窃案")
    await chat.get_by_role("button", name="发送").tap()
    card = chat.locator(".card").filter(has=chat.locator(".head", has_text="新建案件"))
    async with ctx.expect_page() as opened:
        await card.get_by_role("link", name="填写案件信息").tap()
    page = await opened.value

    # the form, as the prosecutor: the title typed after the command, 审查逮捕 chosen
    await expect(page.locator("h1")).to_have_text("新建案件")
    await expect(page.locator("#title")).to_have_value("张某某涉嫌盗窃案")
    await expect(page.locator("#stage")).to_have_value("审查逮捕")
    await page.wait_for_function(FITS)  # nothing to scroll sideways
    await page.locator("#stage").select_option("提前介入")

    # investigators of two police units: said next to them, before and after submitting
    await page.get_by_label("胡宇").check()
    await page.get_by_label("萧宇梅").check()
    error = page.locator('.field-error[data-for="investigators"]')
    await expect(error).to_contain_text("所选侦查人员须属于同一侦查单位")
    await page.locator("#investigation_deadline").fill("2026-12-20")
    # a 羁押期限 before today (the test clock's 2026-11-02): a typo, said next to it
    await page.locator("#custody_deadline").fill("2026-10-31")
    await page.get_by_role("button", name="提交并去评分").tap()
    await expect(error).to_have_text("所选侦查人员须属于同一侦查单位，现分属："
                                     "示范市海澄县公安局、示范市海澄县公安局刑事侦查大队")
    custody = page.locator('.field-error[data-for="custody_deadline"]')
    await expect(custody).to_have_text("羁押期限不能早于今天")
    await page.screenshot(path=str(screenshot_path(request, "refused")), full_page=True)
    assert (await console.client.get("/api/v1/cases/HY-2026-0001", headers=AUTH)).status == 404

    await page.get_by_label("萧宇梅").uncheck()
    await page.get_by_label("张洋艳").check()
    await expect(error).to_be_empty()
    await page.locator("#custody_deadline").fill("2026-12-31")
    await page.get_by_role("button", name="提交并去评分").tap()

    # on to the score form of the new case
    await expect(page).to_have_url(re.compile(r"/cases/HY-2026-0001/score$"))
    await expect(page.locator("h1")).to_have_text("HY-2026-0001 张某某涉嫌盗窃案")
    await expect(page.get_by_role("button", name="提交评分")).to_be_visible()
    await page.screenshot(path=str(screenshot_path(request, "score-form")))
    case = await (await console.client.get("/api/v1/cases/HY-2026-0001", headers=AUTH)).json()
    assert (case["stage"], case["police_unit"], case["prosecutor"]) == (
        "提前介入", "ps-hc-xd", PROSECUTOR)
    assert case["investigators"] == ["p-investigator-1", "p-investigator-2"]
    assert (case["investigation_deadline"], case["custody_deadline"]) == ("2026-12-20", "2026-12-31")

    # the chat has the card with 去评分
    created = chat.locator(".card").filter(has=chat.locator(".head", has_text="已录入案件 HY-2026-0001"))
    await expect(created).to_contain_text("侦查人员：胡宇、张洋艳")
    await expect(created.get_by_role("link", name="去评分")).to_be_visible()
    assert [m["card"]["title"] for m in cards(await console.messages(f"dm:{PROSECUTOR}"))] == [
        "新建案件", "已录入案件 HY-2026-0001"]
    await ctx.close()


async def _form_from_card(console: Console, browser: Browser, text: str
                          ) -> tuple[BrowserContext, Page, Locator]:
    """(context, chat page, card) of the console as the prosecutor, after sending `text`."""
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                    is_mobile=True, has_touch=True)
    chat = await ctx.new_page()
    await chat.goto(str(console.client.make_url("/console")))
    await chat.select_option("#user", PROSECUTOR)
    await chat.locator("#text").fill(text)
    await chat.get_by_role("button", name="发送").tap()
    card = chat.locator(".card").filter(has=chat.locator(".head", has_text="新建案件"))
    return ctx, chat, card


async def _open(ctx: BrowserContext, card: Locator) -> Page:
    async with ctx.expect_page() as opened:
        await card.get_by_role("link", name="填写案件信息").tap()
    page: Page = await opened.value
    await expect(page.locator("h1")).to_have_text("新建案件")
    return page


async def test_the_same_case_entered_twice_is_asked_about(console: Console, browser: Browser,
                                                          request: Any) -> None:
    ctx, chat, card = await _form_from_card(console, browser, "新建案件 张某某涉嫌盗窃案")
    page = await _open(ctx, card)
    await page.get_by_label("胡宇").check()
    await page.get_by_role("button", name="提交并去评分").tap()
    await expect(page).to_have_url(re.compile(r"/cases/HY-2026-0001/score$"))

    # the card's button tapped again: a new form, the same case entered again
    page = await _open(ctx, card)
    await page.get_by_label("胡宇").check()
    await page.get_by_role("button", name="提交并去评分").tap()
    question = page.locator("#namesakes")
    await expect(question).to_be_visible()
    await expect(question).to_contain_text(
        "您已有同名在办案件 HY-2026-0001（2026-11-02 录入，尚未评分），确定仍要新建吗？")
    await expect(question.get_by_role("link", name="打开 HY-2026-0001")).to_have_attribute(
        "href", "/cases/HY-2026-0001/score")
    await page.wait_for_function(FITS)
    await page.screenshot(path=str(screenshot_path(request, "namesake")), full_page=True)
    assert (await console.client.get("/api/v1/cases/HY-2026-0002", headers=AUTH)).status == 404

    # another title: the question is gone, and asked afresh on submitting
    await page.locator("#title").fill("张某某涉嫌盗窃案（二）")
    await expect(question).to_be_hidden()
    await page.locator("#title").fill("张某某涉嫌盗窃案")
    await page.get_by_role("button", name="提交并去评分").tap()
    await expect(question).to_be_visible()
    await question.get_by_role("button", name="仍要新建").tap()
    await expect(page).to_have_url(re.compile(r"/cases/HY-2026-0002/score$"))
    case = await (await console.client.get("/api/v1/cases/HY-2026-0002", headers=AUTH)).json()
    assert case["title"] == "张某某涉嫌盗窃案" and case["investigators"] == ["p-investigator-1"]
    assert [m["card"]["title"] for m in cards(await console.messages(f"dm:{PROSECUTOR}"))] == [
        "新建案件", "已录入案件 HY-2026-0001", "已录入案件 HY-2026-0002"]
    await chat.close()
    await ctx.close()


DRAFT = "casebot.new-case-draft." + PROSECUTOR
EXPIRED_KEPT = ("登录已过期，本次未提交，已填写的内容已保存在本机。"
                "请从聊天中的卡片重新打开此页面，内容会自动恢复。")


async def _fill(page: Page) -> None:
    """The whole form, the title edited from the one the card prefilled."""
    await page.locator("#title").fill("张某某涉嫌盗窃、诈骗案")
    await page.locator("#stage").select_option("提前介入")
    await page.get_by_label("胡宇").check()
    await page.get_by_label("张洋艳").check()
    await page.locator("#investigation_deadline").fill("2026-12-20")
    await page.locator("#custody_deadline").fill("2026-12-31")
    await page.locator("#external_id").fill("A3301000000002026110001")


async def test_a_form_left_open_overnight_comes_back_from_the_card(
        console: Console, browser: Browser, request: Any) -> None:
    ctx, _, card = await _form_from_card(console, browser, "新建案件 张某某涉嫌盗窃案")
    page = await _open(ctx, card)
    await expect(page.locator("#draft")).to_be_hidden()  # nothing kept before
    await _fill(page)

    # the night: 13 hours on the bot's clock, past the 12-hour login
    r = await page.request.post(str(console.client.make_url("/console/api/clock")),
                                data={"advance": "13h"})
    assert r.ok, await r.text()
    await page.get_by_role("button", name="提交并去评分").tap()
    await expect(page.locator("#result")).to_have_text(EXPIRED_KEPT)
    await page.screenshot(path=str(screenshot_path(request, "expired")), full_page=True)
    assert (await console.client.get("/api/v1/cases/HY-2026-0001", headers=AUTH)).status == 404
    await page.close()

    # as the message says: the card again (the tap logs in again), everything is back
    page = await _open(ctx, card)
    await expect(page.locator("#draft")).to_contain_text("已恢复您在本机保存的未提交内容")
    await expect(page.get_by_role("button", name="恢复草稿")).to_be_hidden()  # done
    await expect(page.locator("#title")).to_have_value("张某某涉嫌盗窃、诈骗案")
    await expect(page.locator("#stage")).to_have_value("提前介入")
    await expect(page.get_by_label("胡宇")).to_be_checked()
    await expect(page.get_by_label("张洋艳")).to_be_checked()
    await expect(page.get_by_label("萧宇梅")).not_to_be_checked()
    await expect(page.locator("#investigation_deadline")).to_have_value("2026-12-20")
    await expect(page.locator("#custody_deadline")).to_have_value("2026-12-31")
    await expect(page.locator("#external_id")).to_have_value("A3301000000002026110001")
    await page.wait_for_function(FITS)
    await page.screenshot(path=str(screenshot_path(request, "restored")), full_page=True)
    await page.get_by_role("button", name="提交并去评分").tap()
    await expect(page).to_have_url(re.compile(r"/cases/HY-2026-0001/score$"))
    case = await (await console.client.get("/api/v1/cases/HY-2026-0001", headers=AUTH)).json()
    assert (case["title"], case["stage"], case["investigators"], case["investigation_deadline"],
            case["custody_deadline"], case["external_id"]) == (
        "张某某涉嫌盗窃、诈骗案", "提前介入", ["p-investigator-1", "p-investigator-2"],
        "2026-12-20", "2026-12-31", "A3301000000002026110001")

    # the case created, the draft is gone: the card opens the form as it prefills it
    assert await page.evaluate("(key) => localStorage.getItem(key)", DRAFT) is None
    page = await _open(ctx, card)
    await expect(page.locator("#title")).to_have_value("张某某涉嫌盗窃案")
    await expect(page.locator("#stage")).to_have_value("审查逮捕")
    await expect(page.get_by_label("胡宇")).not_to_be_checked()
    await expect(page.locator("#external_id")).to_have_value("")
    await expect(page.locator("#draft")).to_be_hidden()
    await ctx.close()


async def test_a_draft_of_another_case_is_offered_not_mixed_in(console: Console, browser: Browser,
                                                               request: Any) -> None:
    ctx, chat, card = await _form_from_card(console, browser, "新建案件 张某某涉嫌盗窃案")
    page = await _open(ctx, card)
    await _fill(page)
    await page.close()

    # a card for another case: its title, nothing of the other case's
    await chat.locator("#text").fill("新建案件 李某诈骗案")
    await chat.get_by_role("button", name="发送").tap()
    other = chat.locator(".card").filter(has=chat.locator(".body", has_text="李某诈骗案"))
    page = await _open(ctx, other)
    await expect(page.locator("#title")).to_have_value("李某诈骗案")
    await expect(page.get_by_label("胡宇")).not_to_be_checked()
    await expect(page.locator("#external_id")).to_have_value("")
    notice = page.locator("#draft")
    await expect(notice).to_contain_text("本机保存有未提交的「张某某涉嫌盗窃、诈骗案」，是否恢复？")
    await page.wait_for_function(FITS)
    await page.screenshot(path=str(screenshot_path(request, "offered")))
    # … restored when asked
    await notice.get_by_role("button", name="恢复草稿").tap()
    await expect(notice.get_by_role("button", name="恢复草稿")).to_be_hidden()
    await expect(notice).to_contain_text("已恢复您在本机保存的未提交内容")
    await expect(page.locator("#title")).to_have_value("张某某涉嫌盗窃、诈骗案")
    await expect(page.get_by_label("胡宇")).to_be_checked()
    await expect(page.locator("#external_id")).to_have_value("A3301000000002026110001")
    # 清空重填: the form as the card opened it, nothing kept
    await notice.get_by_role("button", name="清空重填").tap()
    await expect(page.locator("#title")).to_have_value("李某诈骗案")
    await expect(page.get_by_label("胡宇")).not_to_be_checked()
    await expect(notice).to_be_hidden()
    assert await page.evaluate("(key) => localStorage.getItem(key)", DRAFT) is None

    # a draft older than 7 days is dropped, not restored
    await page.evaluate("""(key) => localStorage.setItem(key, JSON.stringify({
        title: "王某故意伤害案", stage: "提前介入", investigators: ["p-investigator-1"],
        prefill: "", saved: Date.now() - 8 * 864e5}))""", DRAFT)
    await chat.locator("#text").fill("新建案件")
    await chat.get_by_role("button", name="发送").tap()
    new_cards = chat.locator(".card").filter(has=chat.locator(".head", has_text="新建案件"))
    await expect(new_cards).to_have_count(3)
    page = await _open(ctx, new_cards.last)
    await expect(page.locator("#title")).to_have_value("")
    await expect(page.locator("#draft")).to_be_hidden()
    assert await page.evaluate("(key) => localStorage.getItem(key)", DRAFT) is None
    await ctx.close()
