"""Scan the QR from the card (zxing-cpp), open the link in headless Chromium, see the case."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import zxingcpp
from PIL import Image
from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.cases.helpers import (
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
)
from tests.conftest import Console


async def _login(page: Any, base: str, user: str) -> None:
    r = await page.request.post(f"{base}/console/api/login", data={"user": user})
    assert r.ok


async def test_scan_qr_and_open_code_page(console: Console, browser: Browser,
                                          request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    card = cards(await console.messages(f"dm:{inv}"))[0]["card"]
    png = await (await console.client.get(urlsplit(card["image"]).path)).read()
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    link = barcode.text
    assert link == card["actions"][0]["url"]
    assert code not in link  # nothing but the opaque token in the QR

    base = str(console.client.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 420, "height": 900})
    page = await context.new_page()
    await _login(page, base, inv)
    await page.goto(link)
    await expect(page.locator("#code")).to_have_text(code)
    await expect(page.locator("#badge")).to_contain_text("红码")
    await expect(page.locator("#score")).to_have_text("66")
    items = page.locator("#deductions .ded .item")
    await expect(items).to_have_count(3)
    await expect(items).to_have_text(["犯罪事实与行为", "危害后果", "因果关系"])
    await expect(page.locator("#deductions")).to_contain_text("嫌疑人零口供，痕迹物证灭失")
    await page.screenshot(path=str(screenshot_path(request, "code-page")), full_page=True)

    # one character changed in the token → the 403 page says so
    token = link.rsplit("/", 1)[1]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    resp = await page.goto(link.rsplit("/", 1)[0] + "/" + flipped)
    assert resp is not None and resp.status == 403
    await expect(page.locator("#error")).to_contain_text("链接无效或已过期")

    # an unrelated user's session gets 403
    other = await browser.new_context()
    other_page = await other.new_page()
    await _login(other_page, base, "p-investigator-5")
    resp = await other_page.goto(link)
    assert resp is not None and resp.status == 403
    await expect(other_page.locator("#error")).to_contain_text("无权查看")
    await context.close()
    await other.close()


async def test_review_form_on_code_page(console: Console, browser: Browser, request: Any) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[1]
    link = cards(await console.messages(f"dm:{inv}"))[0]["card"]["actions"][0]["url"]
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 420, "height": 900})
    page = await ctx.new_page()
    await _login(page, base, inv)
    await page.goto(link)
    stale = await ctx.new_page()  # the same page in a second tab, opened before filing
    await stale.goto(link)
    await page.check("input[name=items][value=criminal_facts]")
    await page.fill("#reason", "零口供但有监控，事实清楚")
    await page.click("#review-submit")
    await expect(page.locator("#review-result")).to_contain_text("复核申请 #1 已提交")
    await page.screenshot(path=str(screenshot_path(request, "review")), full_page=True)
    pcard = cards(await console.messages("dm:p-prosecutor-1"))[-1]["card"]
    assert "复核申请 #1" in pcard["title"] and "零口供但有监控" in pcard["body"]
    # the button stays off after a filed request
    await expect(page.locator("#review-submit")).to_be_disabled()
    # the form of the older tab, submitted now, is refused with a pointer to the open one
    await stale.check("input[name=items][value=criminal_facts]")
    await stale.fill("#reason", "再次申请")
    await stale.click("#review-submit")
    await expect(stale.locator("#review-result")).to_contain_text("已有一个未办结的复核申请（#1")
    await expect(stale.locator("#review-submit")).to_be_enabled()
    # reloaded, the page shows the open request instead of a form to fill in for nothing
    await page.reload()
    await expect(page.locator("#open-review h2")).to_have_text("您的复核申请 #1 · 待处理")
    await expect(page.locator("#open-review-items")).to_have_text("犯罪事实与行为（−16分）")
    await expect(page.locator("#open-review-next")).to_contain_text("撤回申请")
    assert await page.locator("#review-form").count() == 0
    await page.screenshot(path=str(screenshot_path(request, "open-review")), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 420
    # the prosecutor sees the page but no review form; an outsider gets 403
    other = await browser.new_context()
    p2 = await other.new_page()
    await _login(p2, base, "p-prosecutor-1")
    await p2.goto(link)
    await expect(p2.locator("#code")).to_have_text(code)
    assert await p2.locator("#review-form").count() == 0
    r = await p2.request.post(link + "/review", data={"items": ["causation"], "reason": "x"})
    assert r.status == 403
    await ctx.close()
    await other.close()


async def test_review_double_click_on_code_page_files_once_and_says_so(
        console: Console, browser: Browser) -> None:
    """An investigator double-taps 提交复核申请 on a phone: one request is filed and the page
    keeps saying so, instead of the second tap's refusal (已有一个未办结的复核申请) replacing the
    confirmation as if the request had failed."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    link = cards(await console.messages(f"dm:{inv}"))[0]["card"]["actions"][0]["url"]
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    page = await ctx.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    await _login(page, base, inv)
    await page.goto(link)
    await page.check("input[name=items][value=criminal_facts]")
    await page.fill("#reason", "监控已调取")
    await page.dblclick("#review-submit")
    result = page.locator("#review-result")
    await expect(result).to_contain_text("复核申请 #1 已提交")
    await expect(page.locator("#review-submit")).to_be_disabled()
    await expect(page.locator("#review-submit")).to_have_text("已提交")
    assert [u for u in posts if u.endswith("/review")] == [link + "/review"]
    await expect(result).not_to_have_class("error")
    filed = [c for c in cards(await console.messages("dm:p-prosecutor-1"))
             if "复核申请 #" in c["card"]["title"]]
    assert len(filed) == 1
    await ctx.close()


async def test_score_form_from_a_review_names_it_and_an_answered_link_still_submits(
        console: Console, browser: Browser, request: Any) -> None:
    """去调整评分 on a phone: the form says which request it answers, which items it disputes
    and why. Opened again from the link in the chat once that request was re-scored, the form
    scores without it instead of refusing every 提交评分 (该复核申请已重新评分)."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    [card] = cards(await console.messages(f"dm:{inv}"))
    await console.click(inv, card["id"], "review.file", {"items": "1,3", "reason": "监控已调取"})
    [decision] = [m for m in cards(await console.messages("dm:p-prosecutor-1"))
                  if "复核申请 #1" in m["card"]["title"]]
    await console.click("p-prosecutor-1", decision["id"], "review.accept")
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    page = await ctx.new_page()
    await _login(page, base, "p-prosecutor-1")
    form = f"{base}/cases/{code}/score?review=1"
    await page.goto(form)
    note = page.locator("#review-note")
    await expect(note).to_have_text("按复核申请 #1（申请人 胡宇）调整评分。有异议的项目："
                                    "犯罪事实与行为、因果关系；复核理由：监控已调取")
    disputed = page.locator(".item:has(.disputed)")
    await expect(disputed).to_have_count(2)
    assert [await d.get_attribute("data-item") for d in await disputed.all()] == [
        "criminal_facts", "causation"]
    await page.fill("input[name=points-criminal_facts]", "0")
    await page.click("#submit")
    await expect(page.locator("#result")).to_have_text(
        "已提交：第2版，黄码 82分。如需再次评分，请刷新本页。")
    await page.screenshot(path=str(screenshot_path(request, "score-review")), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    await page.goto(form)  # the same link, from the chat history
    await expect(note).to_have_text("复核申请 #1 已于第2版重新评分，本次评分不关联复核申请。")
    await expect(disputed).to_have_count(0)
    await page.fill("input[name=points-harmful_consequence]", "0")
    await page.click("#submit")
    await expect(page.locator("#result")).to_have_text(
        "已提交：第3版，绿码 92分。如需再次评分，请刷新本页。")
    await ctx.close()


async def test_code_page_on_a_phone_shows_the_intake(console: Console, browser: Browser,
                                                     request: Any) -> None:
    """An investigator opens 查看详情 of the 受理结果 card on a phone: the page says the case
    was returned at intake, by whom and when, at the top beside the code's colour."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await console.advance("5h")  # 14:30 in Asia/Shanghai
    await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")
    inv = INVESTIGATORS[0]
    notice = cards(await console.messages(f"dm:{inv}"))[-1]["card"]
    assert notice["title"] == f"受理结果 {code} · 退回"
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    page = await ctx.new_page()
    await _login(page, base, inv)
    await page.goto(notice["actions"][0]["url"])
    line = page.locator("#intake")
    await expect(line).to_have_text("受理：退回（李平 2026-11-02 14:30，第1版评分）")
    await expect(line).to_be_in_viewport()  # seen without scrolling
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(screenshot_path(request, "intake")), full_page=True)
    await ctx.close()


async def test_a_withdrawn_case_reads_as_withdrawn_with_nothing_to_do(
        console: Console, browser: Browser, request: Any) -> None:
    """撤销案件: the code page (an old 查看详情 link) says 已撤销 by whom, when and why, and
    offers neither 去评分 nor the outline."""
    code = await create_case(console)
    prosecutor = "p-prosecutor-1"
    chat = f"dm:{prosecutor}"
    [shown] = (await console.send(prosecutor, chat, f"码 {code}"))["messages"]
    link = next(a["url"] for a in shown["card"]["actions"] if a["id"] == "case.open")
    await console.send(prosecutor, chat, f"撤销案件 {code} 重复录入 确认")

    base = str(console.client.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 420, "height": 900})
    page = await context.new_page()
    await _login(page, base, prosecutor)
    await page.goto(link)
    await expect(page.locator("#badge")).to_have_text("已撤销")
    await expect(page.locator("#withdrawn")).to_have_text("已撤销（余斌梅 2026-11-02：重复录入）")
    await expect(page.get_by_text("去评分")).to_have_count(0)
    await expect(page.get_by_text("下载 Word")).to_have_count(0)
    await page.screenshot(path=str(screenshot_path(request, "withdrawn")), full_page=True)
    resp = await page.goto(f"{base}/cases/{code}/score")
    assert resp is not None and resp.status == 409
    await expect(page.locator("#error")).to_contain_text("已撤销（余斌梅 2026-11-02：重复录入），不能评分")
    await context.close()


async def test_a_closed_case_reads_as_closed_with_no_review_form(
        console: Console, browser: Browser, request: Any) -> None:
    """结案 by the case-management system: the investigator's 查看详情 opens a page that says
    已结案 (when) and offers no 申请复核 form; reopened, the form is back."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    card = next(m for m in cards(await console.messages(f"dm:{inv}"))
                if m["card"]["title"].startswith(f"案件码 {code}"))
    link = next(a["url"] for a in card["card"]["actions"] if a["id"] == "case.open")
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "closed"},
                                   headers={"Authorization": "Bearer test-token"})
    assert r.status == 200, await r.text()

    base = str(console.client.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await _login(page, base, inv)
    await page.goto(link)
    await expect(page.locator("#closed")).to_have_text("已结案（2026-11-02 09:30），不再受理复核申请")
    await expect(page.locator("#review-form")).to_have_count(0)
    await expect(page.get_by_text("提交复核申请")).to_have_count(0)
    await page.screenshot(path=str(screenshot_path(request, "closed")), full_page=True)
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "open"},
                                   headers={"Authorization": "Bearer test-token"})
    assert r.status == 200, await r.text()
    await page.reload()
    await expect(page.locator("#review-form")).to_have_count(1)
    await expect(page.locator("#closed")).to_have_count(0)
    await context.close()


async def test_the_intake_button_says_what_was_decided(console: Console, browser: Browser,
                                                      request: Any) -> None:
    """扫码受理 on the code page: the button reads the decision (a red case 已退回, a yellow one
    待定), never 已受理 for a case that was not taken in."""
    red, yellow = await create_case(console), await create_case(console)
    await evaluate(console, red, RED)
    await evaluate(console, yellow, YELLOW)
    base = str(console.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    page = await ctx.new_page()
    await _login(page, base, MANAGER)
    for code, label, said in ((red, "已退回", f"受理 {red} · 退回"),
                              (yellow, "待定（等待检察官选择）", "选择延期受理或先收后补")):
        [card] = cards((await console.send(MANAGER, f"dm:{MANAGER}", f"码 {code}"))["messages"])
        await page.goto(card["card"]["actions"][0]["url"])
        await page.click("#intake-submit")
        await expect(page.locator("#intake-result")).to_contain_text(said)
        button = page.locator("#intake-submit")
        await expect(button).to_have_text(label)
        await expect(button).to_be_disabled()
    await page.screenshot(path=str(screenshot_path(request, "intake-button")), full_page=True)
    await ctx.close()


async def test_a_leader_doing_accountability_sees_veto_review_and_custody_on_the_page(
        console: Console, browser: Browser, request: Any) -> None:
    """责任倒查 from an escalation's 查看案件: the headline says 一票否决 as the chat card does,
    an open request with its 共同评议 time is shown, and a passed 羁押期限 reads 已届满 (at the
    end of that day, not before)."""
    code = await create_case(console, custody_deadline="2026-11-02")
    veto = {"item": "criminal_capacity", "points": 0, "problem": "精神状况存疑，未作鉴定",
            "requirement": "委托司法精神病鉴定"}
    await evaluate(console, code, [veto], vetoes=["criminal_capacity"])
    inv = INVESTIGATORS[0]
    card = next(m for m in cards(await console.messages(f"dm:{inv}"))
                if m["card"]["title"].startswith(f"案件码 {code}"))
    r = await console.click(inv, card["id"], "review.file", {"items": "1", "reason": "已鉴定"})
    assert "已提交" in r["messages"][-1]["text"], r
    ask = next(m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
               if "复核申请 #1" in m["card"]["title"])
    await console.click(PROSECUTOR, ask["id"], "review.joint", {"time": "2026-11-06 14:30"})
    link = next(a["url"] for a in card["card"]["actions"] if a["id"] == "case.open")

    base = str(console.client.make_url("")).rstrip("/")
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await _login(page, base, "p-leader-hc")
    await page.goto(link)
    await expect(page.locator("#badge")).to_have_text("红码 · 100分（一票否决）")
    await expect(page.locator("#custody")).to_have_text("2026-11-02（周一）")  # its last day: not yet
    reviews = page.locator("#reviews")
    await expect(reviews).to_contain_text("#1 · 共同评议")
    await expect(reviews).to_contain_text("胡宇")
    await expect(reviews.locator(".joint-time")).to_have_text("2026-11-06 14:30")
    await page.screenshot(path=str(screenshot_path(request, "leader")), full_page=True)

    await console.advance("14h")
    await console.advance("30m")  # Tuesday 00:00: custody ran out at the end of Monday
    await _login(page, base, "p-leader-hc")  # the session of the day before has run out
    await page.reload()
    await expect(page.locator("#custody-passed")).to_have_text("已届满")
    await context.close()
