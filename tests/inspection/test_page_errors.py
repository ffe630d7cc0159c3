"""Refusals of the inspection pages (/inspection*, /live/*, the report download) are the styled,
phone-sized error page the other pages use, with their status: an unrelated leader opening the
meeting report, an expired 打开大屏 link, a session that does not exist."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import NO_OVERFLOW
from tests.conftest import Console
from tests.inspection.helpers import HOST, card, quick_session, say

VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


async def page_refusal(r: Any, status: int) -> str:
    """The body of a refusal, after checking it is a phone-sized HTML page with `status`."""
    text: str = await r.text()
    assert r.status == status, text
    assert r.content_type == "text/html" and r.charset == "utf-8"
    assert VIEWPORT in text and 'id="error"' in text, text
    return text


async def test_an_unrelated_leader_is_refused_the_report_on_a_styled_page(
        console: Console) -> None:
    s = await quick_session(console)
    await console.client.post("/console/api/login", json={"user": "p-leader-hc"})
    text = await page_refusal(await console.client.get(f"/inspection/{s.id}/report.docx"), 403)
    assert "<title>无权查看</title>" in text and "仅向检务督察、会议群" in text
    assert "联系省院检务督察部门" in text
    text = await page_refusal(await console.client.get("/inspection"), 403)
    assert "仅限检务督察打开" in text


async def test_missing_sessions_and_bad_uploads_are_styled_pages(console: Console) -> None:
    await console.client.post("/console/api/login", json={"user": HOST})
    text = await page_refusal(await console.client.get("/inspection/DD20990101-09/report.docx"),
                              404)
    assert "督导会议 DD20990101-09 不存在" in text
    text = await page_refusal(await console.client.get("/live/DD20990101-09"), 404)
    assert "督导会议 DD20990101-09 不存在" in text
    text = await page_refusal(await console.client.post("/inspection/bank/preview",
                                                        data={"file": "x"}), 400)
    assert "请选择 .yaml、.csv 或 .xlsx 文件" in text


async def live_link(console: Console) -> str:
    agenda = card(await say(console, "开始"), "检务督导面对面")
    return str(next(a["url"] for a in agenda["actions"] if "/live/" in a["url"]))


async def test_an_expired_big_screen_link_says_so_and_where_to_get_a_fresh_one(
        console: Console) -> None:
    await say(console, "督导 新建 过期链接 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    parts = urlsplit(await live_link(console))
    url = f"{parts.path}?{parts.query}"
    assert (await console.client.get(url)).status == 200
    await console.advance("8d")
    text = await page_refusal(await console.client.get(url), 403)
    assert "<title>大屏链接已过期</title>" in text
    assert "该「打开大屏」链接已过期（链接有效期 7 天）" in text
    sid = parts.path.rsplit("/", 1)[1]
    assert f"发送「督导 状态 {sid}」" in text and "请使用群内" not in text
    # a later meeting in the same group since: 督导 状态 <会议号> still names this one, and
    # answers with a link that opens its screen again
    await say(console, "结束 确认")
    await say(console, "督导 新建 下一期 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    reply = "\n".join(m["text"] or "" for m in await say(console, f"督导 状态 {sid.lower()}"))
    assert reply.startswith(f"督导会议 {sid}「过期链接」"), reply
    fresh = urlsplit(reply.split("大屏：", 1)[1].split()[0])
    assert fresh.path == parts.path
    assert (await console.client.get(f"{fresh.path}?{fresh.query}")).status == 200
    missing = "\n".join(m["text"] or "" for m in await say(console, "督导 状态 DD20990101-09"))
    assert missing.startswith("找不到督导会议「DD20990101-09」。发送「督导 列表」")
    # a link that was never valid is not called expired
    text = await page_refusal(await console.client.get(f"{parts.path}?t=forged"), 403)
    assert "该大屏链接无效" in text and "已过期" not in text and "督导 状态" in text
    text = await page_refusal(await console.client.get(parts.path), 403)
    assert "「打开大屏」链接" in text and "督导 状态" in text


@pytest.mark.browser
async def test_an_expired_big_screen_link_is_readable_on_a_phone(
        console: Console, browser: Browser, request: Any) -> None:
    """The refusal is laid out for the phone (390 px wide, not a 980 px page zoomed out)."""
    await say(console, "督导 新建 手机过期 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    parts = urlsplit(await live_link(console))
    await console.advance("8d")
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    r = await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query)
    assert r is not None and r.status == 403
    await expect(page.locator("#error h1")).to_have_text("大屏链接已过期")
    await expect(page.locator("#error")).to_contain_text("督导 状态")
    assert await page.evaluate(NO_OVERFLOW)
    size = await page.locator("#error p").first.evaluate(
        "p => parseFloat(getComputedStyle(p).fontSize)")
    box = await page.locator("#error").bounding_box()
    assert size >= 14 and box is not None and box["width"] >= 300  # read without zooming
    await page.screenshot(path=str(screenshot_path(request, "expired-phone")))
    await ctx.close()
