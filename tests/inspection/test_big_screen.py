"""The big screen /live/<session> in headless Chromium follows the host's chat commands."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.conftest import Console
from tests.inspection.helpers import asks, bank, card, city_chief, say, session_row


@pytest.mark.browser
async def test_big_screen_shows_draw_then_question(console: Console, browser: Browser,
                                                   request: Any) -> None:
    await say(console, "督导 新建 大屏测试 单位数=3 题数=3 熵格式=3x1")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    url = str(console.client.make_url(parts.path)) + "?" + parts.query
    page = await browser.new_page(viewport={"width": 1600, "height": 900})
    await page.goto(url)
    await expect(page.locator("#conn")).to_have_text("● 实时")
    await expect(page.locator("#stage")).to_have_text("开场")
    await expect(page.locator("#units")).to_contain_text("尚未抽签")
    requests_before = await page.evaluate("performance.getEntriesByType('resource').length")

    t0 = time.monotonic()
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    d = console.app.services.directory
    drawn = [a.unit_id for a in await asks(console, s.id) if a.seq == 0]
    for unit in drawn:
        await expect(page.locator("#units")).to_contain_text(d.units[unit].name)
    draw_latency = time.monotonic() - t0
    await expect(page.locator("#stage")).to_have_text("已抽签")
    assert await page.locator("#question").text_content() == ""

    t1 = time.monotonic()
    await say(console, "下一题")
    first = next(a for a in await asks(console, s.id) if a.revealed_at is not None)
    text = (await bank(console))[first.question_id].text
    await expect(page.locator("#question")).to_have_text(text)
    question_latency = time.monotonic() - t1
    await expect(page.locator("#current")).to_contain_text(d.units[first.unit_id].name)
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^[0-3]:[0-5]\d$"))
    # pushed over the one event stream: the page made no further requests (no polling, no reload)
    assert await page.evaluate("performance.getEntriesByType('resource').length") == requests_before
    # never an unrevealed question anywhere on the page
    html = await page.content()
    for a in await asks(console, s.id):
        if a.revealed_at is None:
            assert (await bank(console))[a.question_id].text not in html
    await page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')")
    await page.screenshot(path=str(screenshot_path(request, "big-screen")))
    print(f"big screen latency: draw {draw_latency:.3f}s, question {question_latency:.3f}s")
    # the rest of the first unit: each published answer is shown under its own question
    for _ in range(2):
        await say(console, "下一题")
    await say(console, "点评")
    await say(console, "点评 回答到位", user=city_chief(console, first.unit_id))
    await say(console, "公布答案")
    questions = [(await bank(console))[a.question_id]
                 for a in sorted(await asks(console, s.id), key=lambda a: a.seq)
                 if a.unit_id == first.unit_id]
    for n, q in enumerate(questions, 1):
        await expect(page.locator("#answers")).to_contain_text(f"{n}. {q.text}")
    await page.close()


async def test_big_screen_needs_the_link_or_a_member(console: Console) -> None:
    await say(console, "督导 新建 权限测试 熵格式=3x1")
    s = await session_row(console)
    assert (await console.client.get(f"/live/{s.id}")).status == 403
    assert (await console.client.get(f"/live/{s.id}/state?t=forged")).status == 403
    assert (await console.client.get("/live/nope")).status == 404
    await console.client.post("/console/api/login", json={"user": "p-chief-c01-01"})
    r = await console.client.get(f"/live/{s.id}/state")
    assert r.status == 200
    state = await r.json()
    assert state["stage"] == "created" and state["question"] is None and state["draw"] is None


@pytest.mark.browser
async def test_big_screen_fits_a_phone(console: Console, browser: Browser, request: Any) -> None:
    """A county chief taps 打开大屏 in the group on a phone (390 px): the page is one column
    that fits the screen — no sideways scrolling, the question readable in lines of more than
    a few characters — with the current unit and question above the draw list."""
    await say(console, "督导 新建 手机大屏 单位数=4 题数=3 熵格式=3x1")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    await say(console, "抽签 3 8 3")
    await say(console, "下一题")
    s = await session_row(console)
    first = next(a for a in await asks(console, s.id) if a.revealed_at is not None)
    text = (await bank(console))[first.question_id].text
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query)
    await expect(page.locator("#question")).to_have_text(text)
    await expect(page.locator("#conn")).to_have_text("● 实时")
    await page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')")
    await page.screenshot(path=str(screenshot_path(request, "big-screen-phone")), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    question = await page.locator("#question").bounding_box()
    assert question is not None and question["width"] >= 300  # not a narrow column of text
    # what is being asked comes first; the draw list follows
    current = await page.locator("#current").bounding_box()
    units = await page.locator("#units").bounding_box()
    assert current is not None and units is not None and current["y"] < units["y"]
    await ctx.close()


@pytest.mark.browser
async def test_big_screen_answers_fill_the_projector_without_repeating_the_question(
        console: Console, browser: Browser, request: Any) -> None:
    """公布答案 on the projector (1920×1080) with four questions: the published list shows
    every question with its answer points, all of it on screen (nobody scrolls a projector);
    the last question is not shown a second time above the list. The footer names the verify
    page by its full address, which the audience can type."""
    await say(console, "督导 新建 投影答案 单位数=3 题数=4 熵格式=3x1")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query)
    await expect(page.locator("#conn")).to_have_text("● 实时")
    for _ in range(4):
        await say(console, "下一题")
    await say(console, "公布答案")
    first = sorted((a for a in await asks(console, s.id) if a.position == 0), key=lambda a: a.seq)
    questions = [(await bank(console))[a.question_id] for a in first]
    for n, q in enumerate(questions, 1):
        await expect(page.locator("#answers")).to_contain_text(f"{n}. {q.text}")
    await expect(page.locator("#question")).to_have_text("")
    visible = await page.evaluate("document.body.innerText")
    assert all(visible.count(q.text) == 1 for q in questions)
    fits = await page.locator("#answers").evaluate("a => a.scrollHeight <= a.clientHeight + 1")
    assert fits, "the answer points are cut off on the projector"
    await expect(page.locator("#verify")).to_contain_text(
        f"{console.app.services.config.web.base_url}/draw/verify?session={s.id}")
    await page.screenshot(path=str(screenshot_path(request, "big-screen-answers")))
    await page.close()
