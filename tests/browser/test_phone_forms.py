"""Forms on a small phone (360×640), as a first-day walk found them: a rejected field is shown
below the sticky score bar with its message, every tap target is a finger's size, an inline card
form opens wholly in view, and an empty chat says what to type."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, RED, cards, create_case, evaluate
from tests.conftest import Console
from tests.core.test_console_history import fill_chat

INV = INVESTIGATORS[0]
W, H = 360, 640
NO_OVERFLOW = f"() => document.documentElement.scrollWidth <= {W} && document.body.scrollWidth <= {W}"


async def _phone(browser: Browser) -> Page:
    ctx = await browser.new_context(viewport={"width": W, "height": H}, device_scale_factor=3,
                                    is_mobile=True, has_touch=True)
    return await ctx.new_page()


async def _box(loc: Locator) -> dict[str, float]:
    box = await loc.bounding_box()
    assert box is not None
    return box


def _in_view(box: dict[str, float], top: float = 0, bottom: float = H) -> bool:
    return box["height"] > 0 and box["y"] >= top - 0.5 and box["y"] + box["height"] <= bottom + 0.5


async def _score_form(console: Console, browser: Browser) -> Page:
    code = await create_case(console)
    base = str(console.client.make_url("")).rstrip("/")
    page = await _phone(browser)
    r = await page.request.post(f"{base}/console/api/login", data={"user": PROSECUTOR})
    assert r.ok
    await page.goto(f"{base}/cases/{code}/score")
    return page


async def _below_bar(page: Page, *locs: Locator) -> None:
    """Each of `locs` wholly on screen and below the sticky score bar (not covered by it)."""
    bar = await _box(page.locator("#scorebar"))
    assert _in_view(bar)
    for loc in locs:
        box = await _box(loc)
        assert _in_view(box, top=bar["y"] + bar["height"]), (box, bar)


async def test_rejected_deduction_is_shown_below_the_score_bar(
        console: Console, browser: Browser, request: Any) -> None:
    page = await _score_form(console, browser)
    first = page.locator(".item").first
    points = first.locator("input[type=number]")
    await points.fill("20")  # 扣分 20 on an item whose maximum is 12
    await expect(first.locator(".field-error")).to_have_text("第1项扣分超过上限 12 分")
    await page.locator(".item").last.locator("input[type=number]").scroll_into_view_if_needed()
    await page.locator("#submit").tap()  # the browser refuses it and goes back to the field
    await expect(points).to_be_focused()
    await page.wait_for_function("() => window.scrollY < 1000")
    await _below_bar(page, points, first.locator(".field-error"))
    await page.screenshot(path=str(screenshot_path(request, "over-max")))

    # refused by the server (a deduction without 存在问题): the field and the reason shown
    await points.fill("0")
    last = page.locator(".item").last
    await last.locator("input[type=number]").fill("5")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.locator("#submit").tap()
    problem, reason = last.locator("input[name^=problem-]"), last.locator(".item-error")
    await expect(reason).to_be_visible()
    await expect(problem).to_have_attribute("data-error", "")
    await page.wait_for_function("() => window.scrollY > 1000")
    await _below_bar(page, problem, reason)
    await page.screenshot(path=str(screenshot_path(request, "server-error")))
    await page.context.close()


async def test_score_form_tap_targets(console: Console, browser: Browser) -> None:
    page = await _score_form(console, browser)
    item = page.locator(".item").filter(has=page.locator("input[type=checkbox]")).first
    for loc in [item.locator("input[type=number]"), *await item.locator("input[type=text]").all(),
                item.locator("label.veto"), page.locator("#submit"), page.locator("textarea")]:
        assert (await _box(loc))["height"] >= 40, loc
    texts = [await _box(t) for t in await item.locator("input[type=text]").all()]
    for upper, lower in pairwise(texts):  # stacked with a gap between
        assert lower["y"] - (upper["y"] + upper["height"]) >= 6
    # the label is the checkbox's hit area: a tap on its far edge ticks it
    veto, label = item.locator("input[type=checkbox]"), item.locator("label.veto")
    box = await _box(label)
    await page.touchscreen.tap(box["x"] + box["width"] - 4, box["y"] + box["height"] - 4)
    await expect(veto).to_be_checked()
    assert await page.evaluate(NO_OVERFLOW)

    # a desktop keeps its compact row: 扣分 and 一票否决 side by side
    await page.set_viewport_size({"width": 1100, "height": 800})
    pts, lab = await _box(item.locator("label.points")), await _box(label)
    assert lab["x"] > pts["x"] + pts["width"] and abs(lab["y"] - pts["y"]) < 10
    await page.context.close()


async def _console(browser: Browser, console: Console, user: str) -> Page:
    page = await _phone(browser)
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", user)
    return page


async def test_reject_form_opens_in_view(console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [delivery] = cards(await console.messages(f"dm:{INV}"))
    await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "帮助")  # a long answer above the card
    await console.click(INV, delivery["id"], "review.file",
                        {"items": "1,3", "reason": "监控已调取，事实清楚"})
    await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "帮助")  # a long answer below the card
    page = await _console(browser, console, PROSECUTOR)
    card = page.locator(".msg").filter(has=page.locator(".card .head", has_text="复核申请 #1"))
    reject = card.get_by_role("button", name="驳回", exact=True)
    await expect(page.locator(".msg:not(.mine) .bubble").last).to_contain_text("可以使用")
    # scrolled back up until 驳回 just shows at the bottom of the chat
    await page.locator("#log").evaluate("""(log) => { const b = [...log.querySelectorAll('.card button')]
        .find((x) => x.textContent === '驳回'); log.scrollTop += b.getBoundingClientRect().bottom
        - log.getBoundingClientRect().bottom + 4; }""")
    await page.wait_for_function("() => !stuck")  # the reader's place, not the newest message
    assert _in_view(await _box(reject))
    assert (await _box(reject))["height"] >= 40
    await reject.tap()
    reason = card.locator(".form").locator("input, textarea").first
    submit = card.get_by_role("button", name="提交 驳回")
    await expect(reason).to_be_focused()
    log = await _box(page.locator("#log"))  # the chat's view, between the top bar and 发送
    for loc in (reason, submit, card.get_by_role("button", name="取消")):
        box = await _box(loc)
        assert box["height"] >= 40 and _in_view(box, log["y"], log["y"] + log["height"]), (box, log)
    await page.screenshot(path=str(screenshot_path(request, "reject-form")))
    await reason.fill("证据仍不足")
    await submit.tap()
    await expect(card.locator(".card .head")).to_contain_text("已驳回")
    await page.context.close()


async def test_empty_chat_hint_and_older_button(console: Console, browser: Browser) -> None:
    page = await _console(browser, console, INV)
    group = console.app.services.directory.chat("g-case-team")
    assert group is not None
    await page.get_by_role("combobox", name="会话").select_option(label=group.title)
    hint = page.locator("#log").get_by_text("发送「帮助」查看可用命令")
    await expect(hint).to_be_in_viewport()
    await expect(page.locator("#log .msg")).to_have_count(0)
    await page.locator("#text").fill("我是谁")
    await page.get_by_role("button", name="发送").tap()
    await expect(page.locator(".msg.mine .bubble").last).to_have_text("我是谁")
    await expect(hint).to_have_count(0)

    await fill_chat(console, 60, chat=f"dm:{INV}")  # more than one page: 更早的消息
    await page.get_by_role("combobox", name="会话").select_option(label="与 casebot 的单聊")
    older = page.get_by_role("button", name="更早的消息")
    await older.scroll_into_view_if_needed()
    box = await _box(older)
    assert box["height"] >= 40 and _in_view(box)
    await expect(hint).to_have_count(0)
    await page.context.close()
