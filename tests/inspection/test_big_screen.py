"""The big screen /live/<session> in headless Chromium follows the host's chat commands."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect

from bot import inspection as service
from storage import inspection as store
from storage.inspection import Question
from tests.browser.conftest import screenshot_path
from tests.conftest import Console
from tests.inspection.helpers import asks, bank, card, city_chief, run_unit, say, session_row


@pytest.mark.browser
async def test_big_screen_shows_draw_then_question(console: Console, browser: Browser,
                                                   request: Any) -> None:
    await say(console, "督导 新建 大屏测试 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
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
    await say(console, "督导 新建 权限测试 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
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
    await say(console, "督导 新建 手机大屏 单位数=4 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
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
    await say(console, "督导 新建 投影答案 单位数=3 题数=4 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
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


# every box of the panel inside it and the page, none over another: a list of what is wrong
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const panel = document.querySelector(".panel").getBoundingClientRect();
  const shown = (e) => e && e.getClientRects().length && e.getBoundingClientRect().height > 0;
  const boxes = ["#current", "#phase", "#qmeta", "#question", "#answers", "#pager", "#timer"]
    .map((s) => document.querySelector(s)).filter(shown)
    .map((e) => [e.id, e.getBoundingClientRect()]);
  const rows = [...document.querySelectorAll("#phase .reports li")].map((li) => [
    li.querySelector(".rname").getBoundingClientRect(),
    li.querySelector(".rstatus").getBoundingClientRect(),
    li.querySelector(".rcount")?.getBoundingClientRect()]);
  for (const [id, b] of boxes) {
    if (b.left < panel.left - 1 || b.right > panel.right + 1 || b.bottom > panel.bottom + 1)
      problems.push(id + " outside the panel");
  }
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i][1], boxes[j][1]];
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        problems.push(boxes[i][0] + " over " + boxes[j][0]);
    }
  // two boxes overlap: across and down (a phone puts the count and status below the name)
  const over = (a, b) => a.right > b.left + 1 && b.right > a.left + 1
    && a.bottom > b.top + 1 && b.bottom > a.top + 1;
  for (const [name, status, count] of rows) {
    if (over(name, status)) problems.push("a unit's name under its status");
    if (count && (over(name, count) || over(count, status)))
      problems.push("a unit's 已报告完成 count over its name or status");
    if (status.right > panel.right + 1) problems.push("a status outside the panel");
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push("sideways scroll");
  if (window.innerWidth > 720 && document.documentElement.scrollHeight > window.innerHeight)
    problems.push("the projector scrolls");
  return problems;
}"""


@pytest.mark.browser
async def test_big_screen_shows_what_the_room_does_between_questions(
        console: Console, browser: Browser, request: Any) -> None:
    """Between the questions the projector (1920×1080) and a phone (390×844) show what the room
    is doing, never an instruction to the host: the unit to be questioned after 抽签, who
    comments during 点评 (the city chief, by name and office), the units reporting during
    整改汇报 with each one's status as the host records it — updated without a reload, nothing
    overlapping, and no question text before its reveal."""
    d = console.app.services.directory
    due = ["c02-03", "c05-02"]
    await say(console, "督导 新建 过场大屏 单位数=1 题数=2 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 "
                       "整改汇报=" + ",".join(due))
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    url = str(console.client.make_url(parts.path)) + "?" + parts.query
    projector = await browser.new_page(viewport={"width": 1920, "height": 1080})
    phone_ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                          device_scale_factor=3, is_mobile=True, has_touch=True)
    phone = await phone_ctx.new_page()
    pages = {"projector": projector, "phone": phone}
    for page in pages.values():
        await page.goto(url)
        await expect(page.locator("#conn")).to_have_text("● 实时")
        await expect(page.locator("#phase")).to_contain_text("即将抽签")
    loaded = {n: await p.evaluate("performance.getEntriesByType('resource').length")
              for n, p in pages.items()}

    async def check(moment: str) -> None:
        for name, page in pages.items():
            assert "主持人" not in await page.evaluate("document.body.innerText"), (name, moment)
            assert await page.evaluate(LAYOUT_PROBLEMS) == [], (name, moment)
            await page.wait_for_function(
                "document.getAnimations().every(a => a.playState !== 'running')")
            await page.screenshot(path=str(screenshot_path(request, f"{moment}-{name}")),
                                  full_page=name == "phone")

    await check("agenda")
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    [unit] = {a.unit_id for a in await asks(console, s.id)}
    questions = [(await bank(console))[a.question_id].text for a in await asks(console, s.id)]
    chief = d.chief_of(unit)
    assert chief is not None
    for page in pages.values():
        phase = page.locator("#phase")
        await expect(phase).to_contain_text("即将问询第 1 个单位")
        await expect(phase).to_contain_text(d.units[unit].name)
        await expect(phase).to_contain_text(f"检察长{chief.name}")
        html = await page.content()
        assert not any(q in html for q in questions)  # nothing asked yet
    await check("drawn")

    for _ in range(2):
        await say(console, "下一题")
    for page in pages.values():
        await expect(page.locator("#question")).to_have_text(questions[1])
        await expect(page.locator("#phase")).to_be_hidden()  # the question has the screen
    await say(console, "点评")
    city = d.city_of(unit)
    assert city is not None
    commenter = d.chief_of(city.id)
    assert commenter is not None
    for page in pages.values():
        phase = page.locator("#phase")
        await expect(phase).to_contain_text("点评")
        await expect(phase.locator(".who")).to_have_text(f"{commenter.name}{city.name}检察长")
        await expect(phase).to_contain_text(f"对{d.units[unit].name}的回答进行点评")
    await check("comment")

    await say(console, "公布答案")
    await say(console, "整改汇报")
    names = [d.units[u].name for u in due]
    for page in pages.values():
        rows = page.locator("#phase .reports li")
        await expect(rows).to_have_count(2)
        for row, name in zip(await rows.all(), names, strict=True):
            await expect(row.locator(".rname")).to_contain_text(name)
            await expect(row.locator(".rstatus")).to_have_text("待汇报")
        await expect(page.locator("#question")).to_have_text("")
    await say(console, "整改汇报 1 已整改 台账已建立")
    await say(console, "整改汇报 2 整改中")
    for page in pages.values():
        await expect(page.locator("#phase .rstatus")).to_have_text(["已整改", "整改中"])
    # an item of the second unit its chief reports done meanwhile: counted, pushed live
    async with console.app.services.db() as db, db.begin():
        item = await store.add_rectification(
            db, session_id=s.id, unit_id=due[1], owner_person_id=f"p-chief-{due[1]}",
            text="建立月报制度", due_date=date(2026, 12, 31), at=console.app.services.clock.now())
    await say(console, f"整改完成 #{item.id} 台账已建立", user=f"p-chief-{due[1]}",
              chat=f"dm:p-chief-{due[1]}")
    for page in pages.values():
        await expect(page.locator("#phase .rcount")).to_have_text(["已报告完成 1 项"])
        await expect(page.locator("#phase .reports li").nth(1).locator(".rcount")).to_be_visible()
    await check("reports")
    await say(console, f"退回整改 #{item.id} 月报只报了一期")  # sent back: no longer counted
    for page in pages.values():
        await expect(page.locator("#phase .rcount")).to_have_count(0)
    await say(console, "整改汇报 2 未整改")  # a correction replaces what the screen shows
    for page in pages.values():
        await expect(page.locator("#phase .rstatus")).to_have_text(["已整改", "未整改"])

    await say(console, "结束 确认")
    for n, page in pages.items():
        await expect(page.locator("#phase")).to_have_text("会议已结束")
        # all of it pushed over the one event stream: no polling, no reload
        assert await page.evaluate("performance.getEntriesByType('resource').length") == loaded[n]
    await projector.close()
    await phone_ctx.close()


async def test_screen_state_names_the_commenter_and_the_reports(console: Console) -> None:
    """/live/<session>/state, which the screen renders: during 点评 the city chief who comments,
    during 整改汇报 each unit due to report with its latest status."""
    d = console.app.services.directory
    due = ["c02-03", "c05-02"]
    await say(console, "督导 新建 状态 单位数=1 题数=1 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 "
                       "整改汇报=" + ",".join(due))
    await say(console, "开始")
    await say(console, "抽签 3 8 3")
    s = await session_row(console)

    async def phase() -> Any:
        r = await console.client.get(f"/live/{s.id}/state")
        assert r.status == 200
        return (await r.json())["phase"]

    await console.client.post("/console/api/login", json={"user": "p-inspector-1"})
    [unit] = {a.unit_id for a in await asks(console, s.id)}
    assert (await phase())["unit"]["name"] == d.units[unit].name
    await say(console, "下一题")
    assert await phase() is None
    await say(console, "点评")
    city = d.city_of(unit)
    assert city is not None
    chief = d.chief_of(city.id)
    assert chief is not None
    assert await phase() == {"kind": "comment", "title": "点评", "unit": d.units[unit].name,
                             "commenter": chief.name, "office": city.name}
    await say(console, "公布答案")
    await say(console, "整改汇报")
    await say(console, "整改汇报 2 未整改")
    got = await phase()
    assert [(u["name"], u["status"]) for u in got["units"]] == [
        (d.units[due[0]].name, None), (d.units[due[1]].name, "未整改")]


# the left edge of each line a text wraps onto, where it is written in #answers
LINE_STARTS = """(text) => {
  const walker = document.createTreeWalker(document.querySelector("#answers"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at); range.setEnd(node, at + text.length);
    const lines = new Map();
    for (const r of range.getClientRects()) {
      const top = Math.round(r.top);
      if (r.width > 0) lines.set(top, Math.min(lines.get(top) ?? 1e9, r.left));
    }
    const box = document.querySelector("#answers").getBoundingClientRect().left;
    return { starts: [...lines.values()], box };
  }
  return null;
}"""


@pytest.mark.browser
async def test_long_answer_points_wrap_aligned_on_a_phone(
        console: Console, browser: Browser, request: Any) -> None:
    """公布答案 followed on a phone (390 px): a long answer point wraps onto lines that start
    where its first line's text starts, right of its bullet, not back under the bullet; a long
    question wraps aligned after its number the same way."""
    await say(console, "督导 新建 手机答案 单位数=3 题数=1 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    [ask] = [a for a in await asks(console, s.id) if a.position == 0]
    point = ("建立健全案件质量评查、流程监控、案例指导等制度机制，定期通报典型问题，"
             "对发现的突出问题逐项明确整改责任人和整改时限")
    question = "结合本院实际，谈谈你院在" + "落实上级院部署、" * 4 + "方面有哪些具体做法和成效？"
    async with console.app.services.db() as db, db.begin():
        q = await db.get(Question, ask.question_id)
        assert q is not None
        q.text = question
        q.answer_points = json.dumps(["要点较短", point], ensure_ascii=False)
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query)
    await expect(page.locator("#conn")).to_have_text("● 实时")
    await say(console, "下一题")
    await say(console, "公布答案")
    await expect(page.locator("#answers")).to_contain_text(point)
    await expect(page.locator("#answers")).to_contain_text(f"1. {question}")
    await page.screenshot(path=str(screenshot_path(request, "answers-phone")), full_page=True)
    for text in (point, question):
        got = await page.evaluate(LINE_STARTS, text)
        assert got is not None and len(got["starts"]) >= 2, got  # it does wrap on a phone
        assert max(got["starts"]) - min(got["starts"]) <= 1, got  # every line starts alike
        assert min(got["starts"]) > got["box"] + 4, got  # right of its bullet or number
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await ctx.close()


@pytest.mark.browser
async def test_no_unit_is_current_once_the_session_is_closed(
        console: Console, browser: Browser, request: Any) -> None:
    """结束 while a unit is being questioned: the draw list stops marking that unit as the
    current one (the yellow bar), in the state and on the screen, as the panel says 会议已结束."""
    await say(console, "督导 新建 结束高亮 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    await say(console, "抽签 3 8 3")
    await say(console, "下一题")
    s = await session_row(console)
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query)
    await expect(page.locator("#conn")).to_have_text("● 实时")
    first = next(a for a in await asks(console, s.id) if a.revealed_at is not None)
    name = console.app.services.directory.units[first.unit_id].name
    await expect(page.locator("#units .unit.current")).to_have_count(1)
    await expect(page.locator("#units .unit.current")).to_contain_text(name)

    await say(console, "结束 确认")
    await expect(page.locator("#stage")).to_have_text("已结束")
    await expect(page.locator("#phase")).to_have_text("会议已结束")
    await expect(page.locator("#units .unit")).to_have_count(3)
    await expect(page.locator("#units .unit.current")).to_have_count(0)
    await page.screenshot(path=str(screenshot_path(request, "closed")))
    await page.close()
    r = await console.client.get(f"/live/{s.id}/state?{parts.query}")
    assert r.status == 200
    state = await r.json()
    assert state["stage"] == "closed" and state["current"] is None
    assert [u["current"] for u in state["draw"]["units"]] == [False, False, False]


# what the projector shows of the published answers: the questions on screen, any line of
# their text cut off (outside #answers or the window), the smallest type in #answers (shown or
# on another page), the page indicator, whether anything scrolls
ANSWERS_SHOWN = """() => {
  const a = document.querySelector("#answers"), box = a.getBoundingClientRect();
  const shown = [...a.querySelectorAll(".ans")].filter((x) => x.getClientRects().length);
  const inside = (r) => r.top >= Math.max(box.top, 0) - 1 && r.left >= Math.max(box.left, 0) - 1
    && r.bottom <= Math.min(box.bottom, innerHeight) + 1 && r.right <= Math.min(box.right, innerWidth) + 1;
  const clipped = [];
  for (const x of shown) {
    const walker = document.createTreeWalker(x, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(walker.currentNode);
      if (![...range.getClientRects()].every(inside)) clipped.push(walker.currentNode.data);
    }
  }
  const sizes = [a, ...a.querySelectorAll("*")].map((e) => parseFloat(getComputedStyle(e).fontSize));
  return {shown: shown.map((x) => x.querySelector(".atext .t").textContent), clipped,
          smallest: Math.min(...sizes), pager: document.querySelector("#pager").innerText,
          scrolls: a.scrollHeight > a.clientHeight || a.scrollWidth > a.clientWidth,
          pageScrolls: document.documentElement.scrollHeight > innerHeight
                       || document.documentElement.scrollWidth > innerWidth};
}"""


def floor_px(height: int) -> int:
    """The smallest type the room can read on the projector: 20 px at 720p, 2.8 % of the
    screen's height above it."""
    return max(20, round(height * 0.028))


def readable(floor: int) -> str:
    """A condition for wait_for_function: the answers on screen are whole and at least floor."""
    return (f"() => {{ const g = ({ANSWERS_SHOWN})(); return g.shown.length > 0"
            f" && g.clipped.length === 0 && g.smallest >= {floor} && !g.scrolls"
            " && !g.pageScrolls; }")


@pytest.mark.browser
async def test_long_answers_fit_a_720p_projector(console: Console, browser: Browser,
                                                 request: Any) -> None:
    """公布答案 of four questions with three long answer points each, on a 1280×720 projector
    (and 1366×768, 1024×768, 1920×1080): the type never goes below what the back of the room
    reads (20 px at 720p); the newest answer, the one being discussed, is on screen at once,
    whole; the rest turn in pages by themselves (第 n/N 页) so each question comes up. A live
    update with nothing new leaves the page being read alone. A phone still scrolls the page."""
    await say(console, "督导 新建 小投影 单位数=3 题数=4 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    url = str(console.client.make_url(parts.path)) + "?" + parts.query
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    first = sorted((a for a in await asks(console, s.id) if a.position == 0), key=lambda a: a.seq)
    texts = []
    async with console.app.services.db() as db, db.begin():
        for n, ask in enumerate(first, 1):
            q = await db.get(Question, ask.question_id)
            assert q is not None
            q.text = f"第{n}题：结合本院实际，谈谈你院落实上级院关于加强法律监督工作部署的具体措施和成效？"
            q.answer_points = json.dumps(
                [f"（要点{n}-{k}）建立健全案件质量评查、流程监控和案例指导等制度机制，"
                 f"定期通报典型问题并逐项明确整改责任人和整改时限" for k in (1, 2, 3)],
                ensure_ascii=False)
            texts.append(q.text)
    newest = texts[-1]
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await page.clock.install()  # the pages turn when the test moves the clock on
    await page.goto(url)
    await expect(page.locator("#conn")).to_have_text("● 实时")
    for _ in range(4):
        await say(console, "下一题")
    await say(console, "公布答案")
    # at once: the page with the newest answer, whole, at 20 px or more
    await page.wait_for_function(
        f"() => {{ const g = ({ANSWERS_SHOWN})(); return g.shown.includes({json.dumps(newest)})"
        " && g.clipped.length === 0; }", timeout=10_000)
    got = await page.evaluate(ANSWERS_SHOWN)
    assert got["smallest"] >= 20 and not got["scrolls"] and not got["pageScrolls"], got
    pages = re.fullmatch(r"第 (\d+)/(\d+) 页", got["pager"])
    assert pages is not None, got  # four long answers do not all fit at 20 px on 720p
    total = int(pages[2])
    assert 2 <= total <= 4 and int(pages[1]) == total, got  # the newest is on the last page
    await page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')")
    assert await page.evaluate(LAYOUT_PROBLEMS) == []
    await page.screenshot(path=str(screenshot_path(request, "answers-1280-newest")))

    # a live update with nothing new: the page being read stays as it is, nothing rebuilt
    await page.evaluate("""() => {
      const render = window.render; window.renders = 0;
      window.render = (s) => { render(s); window.renders++; };
      document.querySelector("#answers .ans").dataset.kept = "1";
    }""")
    await service.publisher(console.app.services).hub.publish(
        service.channel(s.id), {"session": s.id})
    await page.wait_for_function("window.renders > 0")
    assert await page.evaluate(ANSWERS_SHOWN) == got
    assert await page.locator("#answers .ans[data-kept]").count() == 1

    async def every_page(width: int, height: int) -> None:
        """Let the pages turn once round: each whole and at the floor or larger; together they
        show every question."""
        seen: list[str] = []
        pagers: list[str] = []
        while True:
            await page.wait_for_function(readable(floor_px(height)), timeout=10_000)
            got = await page.evaluate(ANSWERS_SHOWN)
            assert await page.evaluate(LAYOUT_PROBLEMS) == [], (width, got)
            if got["pager"] in pagers or not got["pager"]:  # round, or all on one page
                break
            seen += got["shown"]
            pagers.append(got["pager"])
            await page.wait_for_function(
                "document.getAnimations().every(a => a.playState !== 'running')")
            await page.screenshot(path=str(screenshot_path(request, f"answers-{width}-{len(pagers)}")))
            # a page stays 15 s to a minute: move the clock on until the next one comes up
            for _ in range(5):
                await page.clock.run_for(14_000)
                if await page.locator("#pager").inner_text() != got["pager"]:
                    break
            else:
                raise AssertionError(f"the page {got['pager']} did not turn ({width})")
        if pagers:
            total = len(pagers)
            assert sorted(pagers) == [f"第 {k}/{total} 页" for k in range(1, total + 1)], pagers
        else:
            seen = got["shown"]
        assert sorted(seen) == sorted(texts), (width, pagers, seen)

    await every_page(1280, 720)
    for width, height in ((1366, 768), (1024, 768), (1920, 1080)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_function(  # laid out again for the new size
            "([w, h]) => innerWidth === w && innerHeight === h", arg=[width, height])
        await every_page(width, height)
        gap = await page.evaluate("""() => document.querySelector(
            "#answers .ans:not([hidden]) .atext").getBoundingClientRect().top
            - document.querySelector("#current").getBoundingClientRect().bottom""")
        assert gap <= 24, (width, gap)
    await page.close()

    # a phone scrolls the page as before: every answer there, at its own type, no pages
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    phone = await ctx.new_page()
    await phone.goto(url)
    await expect(phone.locator("#answers .ans")).to_have_count(4)
    for n, text in enumerate(texts, 1):
        await expect(phone.locator("#answers .ans").nth(n - 1)).to_be_visible()
        await expect(phone.locator("#answers .ans").nth(n - 1)).to_contain_text(f"{n}. {text}")
    await expect(phone.locator("#pager")).to_be_hidden()
    got = await phone.evaluate(ANSWERS_SHOWN)
    assert got["smallest"] == 16 and got["pageScrolls"], got
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await expect(phone.locator("#answers .ans").last).to_be_in_viewport()
    await ctx.close()


# where a text is on the projector: whether all of it is on screen (inside #answers or
# #question as clipped, and the window), and the pager of its box
TEXT_ON_SCREEN = """([box, text]) => {
  const b = document.querySelector(box), r = b.getBoundingClientRect();
  const clip = /inset\\(0px 0px ([\\d.]+)px 0px\\)/.exec(getComputedStyle(b).clipPath);
  const bottom = Math.min(r.bottom - (clip ? parseFloat(clip[1]) : 0), innerHeight);
  const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at); range.setEnd(node, at + text.length);
    const rects = [...range.getClientRects()].filter((x) => x.width > 0);
    return rects.length > 0 && rects.every((x) => x.top >= Math.max(r.top, 0) - 1
      && x.bottom <= bottom + 1 && x.right <= Math.min(r.right, innerWidth) + 1);
  }
  return false;
}"""


@pytest.mark.browser
async def test_a_long_answer_and_question_page_through_by_screens(
        console: Console, browser: Browser, request: Any) -> None:
    """On a 720p projector one published answer several screens long at 20 px: it is shown a
    screenful at a time by itself (第 1/N 屏 … 第 N/N 屏) until its last line is on screen,
    never below 20 px and never scrolling the page. The next question, revealed meanwhile,
    replaces it at once; a question longer than the room left to it pages the same way, and
    the next unit's question is not on the page before its reveal. A short answer has no pager."""
    await say(console, "督导 新建 长答案 单位数=3 题数=1 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    order = sorted(await asks(console, s.id), key=lambda a: a.position)
    last_point = "（最后一条）逐项对账销号，整改情况于会后一个月内书面报告"
    long_question = ("结合本院实际，" + "谈谈你院落实上级院关于加强法律监督工作部署的具体措施、"
                     "存在问题和下一步打算，" * 9 + "请逐项说明？")
    async with console.app.services.db() as db, db.begin():
        q1 = await db.get(Question, order[0].question_id)
        q2 = await db.get(Question, order[1].question_id)
        assert q1 is not None and q2 is not None
        q1.answer_points = json.dumps(
            [f"（要点{k}）建立健全案件质量评查、流程监控和案例指导等制度机制，"
             "定期通报典型问题并明确整改责任人和时限" for k in range(1, 19)] + [last_point],
            ensure_ascii=False)
        q2.text = long_question
        q2.answer_points = json.dumps(["要点较短"], ensure_ascii=False)
    third = (await bank(console))[order[2].question_id].text
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query + "&dwell=1")
    await expect(page.locator("#conn")).to_have_text("● 实时")
    await run_unit(console, 1, order[0].unit_id, "回答到位")
    pager = page.locator("#pager")
    await expect(pager).to_have_text(re.compile(r"^第 1/\d+ 屏$"))
    total = int(re.findall(r"\d+", await pager.inner_text())[1])
    assert total >= 3, total
    assert not await page.evaluate(TEXT_ON_SCREEN, ["#answers", last_point])
    await page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')")
    await page.screenshot(path=str(screenshot_path(request, "long-answer-1")))
    # the screens come by themselves until the answer's last line is in view, on the last one
    await page.wait_for_function(f"() => ({TEXT_ON_SCREEN})(['#answers', {json.dumps(last_point)}])",
                                 timeout=15_000)
    await expect(pager).to_have_text(f"第 {total}/{total} 屏")
    got = await page.evaluate(ANSWERS_SHOWN)
    assert got["smallest"] >= 20 and not got["pageScrolls"], got
    assert await page.evaluate(LAYOUT_PROBLEMS) == []
    await page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')")
    await page.screenshot(path=str(screenshot_path(request, "long-answer-last")))
    await expect(pager).to_have_text(f"第 1/{total} 屏")  # and round again from the top

    # the next unit's long question, revealed while the answer is paging: on screen at once
    await say(console, "下一题")
    await expect(page.locator("#question")).to_have_text(long_question, timeout=2_000)
    await expect(page.locator("#answers")).to_be_hidden()
    await expect(pager).to_be_hidden()
    qpager = page.locator("#qpager")
    await expect(qpager).to_have_text(re.compile(r"^第 1/[2-9] 屏$"))
    assert float(await page.locator("#question").evaluate(
        "q => parseFloat(getComputedStyle(q).fontSize)")) >= 20
    assert await page.evaluate(LAYOUT_PROBLEMS) == []
    await expect(page.locator("#timer")).to_be_in_viewport()
    await page.wait_for_function(f"() => ({TEXT_ON_SCREEN})(['#question', '请逐项说明？'])",
                                 timeout=15_000)
    assert third not in await page.content()  # not revealed: never on the page
    await page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')")
    await page.screenshot(path=str(screenshot_path(request, "long-question-last")))

    # its short answer: whole on one screen, no pager
    await say(console, "点评")
    await say(console, "点评 回答到位", user=city_chief(console, order[1].unit_id))
    await say(console, "公布答案")
    await expect(page.locator("#answers")).to_contain_text("要点较短")
    await expect(qpager).to_be_hidden()
    await expect(pager).to_be_hidden()
    got = await page.evaluate(ANSWERS_SHOWN)
    assert got["clipped"] == [] and not got["scrolls"], got
    assert await page.locator("#answers .ans").evaluate("x => x.style.transform") == ""
    await page.close()


# each unit's name, and its chief's, on lines of their own: a line count per text, and the
# chief's name never cut in two (「检察长张」 / 「磊」)
REPORT_ROWS = """() => [...document.querySelectorAll("#phase .reports li .rname")].map((n) => {
  const lines = (node) => { const r = document.createRange(); r.selectNodeContents(node);
    return new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size; };
  return [n.firstChild.textContent, lines(n.firstChild), lines(n.querySelector("small").firstChild)];
})"""


@pytest.mark.browser
async def test_reports_on_a_small_phone_keep_each_name_on_one_line(
        console: Console, browser: Browser, request: Any) -> None:
    """During 整改汇报 on a 360 px phone, a unit whose chief reported items done shows its name,
    then 已报告完成 N 项 and its status below: the name is not squeezed into three lines beside
    them, nor the chief's name broken 「张 / 磊」."""
    d = console.app.services.directory
    due = ["c09-01", "c02-02"]  # 云台市长湖区人民检察院, 东川市乐宝区人民检察院
    await say(console, "督导 新建 小屏汇报 单位数=1 题数=1 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 "
                       "整改汇报=" + ",".join(due))
    agenda = card(await say(console, "开始"), "检务督导面对面")
    live = next(a["url"] for a in agenda["actions"] if "/live/" in a["url"])
    parts = urlsplit(live)
    await say(console, "抽签 3 8 3")
    s = await session_row(console)
    for u in due:
        async with console.app.services.db() as db, db.begin():
            item = await store.add_rectification(
                db, session_id=s.id, unit_id=u, owner_person_id=f"p-chief-{u}", text="建立月报制度",
                due_date=date(2026, 12, 31), at=console.app.services.clock.now())
        await say(console, f"整改完成 #{item.id} 台账已建立", user=f"p-chief-{u}", chat=f"dm:p-chief-{u}")
    await say(console, "下一题")
    await say(console, "公布答案")
    await say(console, "整改汇报")
    await say(console, "整改汇报 2 整改中")
    ctx = await browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                    is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url(parts.path)) + "?" + parts.query)
    await expect(page.locator("#phase .rcount")).to_have_text(["已报告完成 1 项"] * 2)
    await page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')")
    await page.screenshot(path=str(screenshot_path(request, "reports-360")), full_page=True)
    rows = await page.evaluate(REPORT_ROWS)
    assert [r[0] for r in rows] == [d.units[u].name for u in due]
    assert all(r[1] == 1 and r[2] == 1 for r in rows), rows
    assert await page.evaluate(LAYOUT_PROBLEMS) == []
    await ctx.close()
