"""The inspection pages on a phone (the DingTalk in-app browser): the 复核抽签 link of the group
card opens /draw/verify, and inspectors open /inspection from their phones. Without a viewport
meta tag a mobile browser lays them out 980 px wide and zooms out to unreadable text."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import NO_OVERFLOW
from tests.cases.helpers import GREEN, RED, YELLOW, create_case, evaluate
from tests.conftest import Console
from tests.inspection.helpers import HOST, quick_session, run_unit, say

# the menu items whose text runs over more than one line
MENU_ITEMS_ON_ONE_LINE = """() => [...document.querySelectorAll('header.top > *')].filter(el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
}).map(el => el.textContent)"""


async def test_inspection_pages_fit_a_phone(console: Console, browser: Browser,
                                            request: Any) -> None:
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", HOST)  # signs the inspector in for the pages
    await expect(page.locator("#chatsel")).to_contain_text("检务督导面对面")
    s = await quick_session(console)  # a drawn session: hashes and full addresses to wrap
    for path in ("/draw/verify", f"/draw/verify?session={s.id}", "/inspection", "/inspection/bank"):
        await page.goto(str(console.client.make_url(path)))
        name = path.strip("/").replace("/", "-").replace("?session=", "-")
        await page.screenshot(path=screenshot_path(request, name))
        assert await page.evaluate(NO_OVERFLOW), path
        # the top menu wraps by whole items: every label stays on one line
        assert await page.evaluate(MENU_ITEMS_ON_ONE_LINE) == [], path
    # the bank's table scrolls sideways in its box: 题号, 类别, 出题部门 each on one line
    wrapped = await page.locator("table.bank td.nw").evaluate_all(
        """cells => cells.filter(c => {
             const r = document.createRange(); r.selectNodeContents(c);
             return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size > 1;
           }).map(c => c.textContent)""")
    assert await page.locator("table.bank td.nw").count() > 100 and wrapped == []


async def test_stats_tables_on_a_phone_do_not_squeeze_names(
        console: Console, browser: Browser, request: Any) -> None:
    """/stats on a phone: the per-group tables (ten columns) turn into one block per row
    (test_pages_phone.py checks every column is on screen); a prosecutor's or a unit's name
    stays on one line instead of wrapping one character per line."""
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", "p-leader-hc")
    await expect(page.locator("#chatsel")).to_contain_text("海澄")
    await page.goto(str(console.client.make_url("/stats")))
    await page.screenshot(path=screenshot_path(request, "stats"))
    assert await page.evaluate(NO_OVERFLOW)
    names = page.locator("table.groups tr td:first-child")
    assert await names.count() > 0
    for i in range(await names.count()):
        name = names.nth(i)
        text = (await name.inner_text()).strip()
        assert await name.evaluate(LINES_OF, [text]) == [1], text


# how many lines each of `words` (texts inside the element, across its child elements) takes
LINES_OF = """(el, words) => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), nodes = [];
  let text = '', n;
  while ((n = walker.nextNode())) { nodes.push([n, text.length]); text += n.data; }
  const at = i => { const [node, start] = nodes.filter(([, s]) => s <= i).pop(); return [node, i - start]; };
  return words.map(w => {
    const i = text.indexOf(w);
    if (i < 0) return -1;
    const r = document.createRange();
    r.setStart(...at(i));
    const [node, off] = at(i + w.length - 1);
    r.setEnd(node, off + 1);
    return new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top))).size;
  });
}"""


async def test_stats_summary_keeps_each_colour_and_its_count_on_one_line_on_a_phone(
        console: Console, browser: Browser) -> None:
    """The summary above the tables wraps on a phone between its parts, never inside one:
    「未评分 1」, not 「未评」 at the end of a line and 「分 1」 on the next."""
    for deductions in (RED, YELLOW, GREEN, None):
        code = await create_case(console)
        if deductions is not None:
            await evaluate(console, code, deductions)
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "closed"},
                                   headers={"Authorization": "Bearer test-token"})
    assert r.status == 200
    words = ["案件 4 件", "（其中已结案 1 件）", "红码 1", "黄码 1", "绿码 1", "未评分 1"]
    lines = {}
    for width in (320, 360, 375, 390, 414):  # phones' widths: the line breaks fall elsewhere
        ctx = await browser.new_context(viewport={"width": width, "height": 844},
                                        device_scale_factor=3, is_mobile=True, has_touch=True)
        page = await ctx.new_page()
        await page.goto(str(console.client.make_url("/console")))
        await page.select_option("#user", "p-leader-hc")
        await expect(page.locator("#chatsel")).to_contain_text("海澄")
        await page.goto(str(console.client.make_url("/stats")))
        lines[width] = await page.locator("#summary").evaluate(LINES_OF, words)
        await ctx.close()
    assert lines == {w: [1] * len(words) for w in lines}


async def test_bank_import_is_previewed_then_confirmed_in_a_browser(
        console: Console, browser: Browser, tmp_path: Any) -> None:
    """Upload → preview (nothing written) → 确认导入: the confirm form carries the parsed
    questions back unchanged through a real browser's form encoding."""
    from tests.inspection.helpers import bank

    upload = tmp_path / "bank.csv"
    upload.write_text("编号,类别,题目,参考答案要点,出题部门,标签\n"
                      'B901,其他,"浏览器导入题：含 <标记> & ""引号""？","要点一\n要点二",办公室,甲\n',
                      encoding="utf-8")
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", HOST)
    await expect(page.locator("#chatsel")).to_contain_text("检务督导面对面")
    await page.goto(str(console.client.make_url("/inspection/bank")))
    await page.set_input_files("#file", str(upload))
    await page.click("form button")
    await expect(page.locator("#summary")).to_contain_text("新增 1 道")
    await expect(page.locator("#new")).to_contain_text("B901")
    assert "B901" not in await bank(console)
    await page.click("#confirm button")
    await expect(page.locator("p.ok")).to_contain_text("新增1道")
    row = (await bank(console))["B901"]
    assert row.text == '浏览器导入题：含 <标记> & "引号"？' and row.points == ["要点一", "要点二"]


async def test_bank_preview_on_a_phone_names_the_columns_and_sheets_passed_over(
        console: Console, browser: Browser, tmp_path: Any) -> None:
    """A workbook as kept in WPS (a 填表说明 sheet, 序号/备注/难度 columns) uploaded from a phone:
    the preview says what was passed over, readable without scrolling sideways."""
    from tests.inspection.helpers import bank
    from tests.inspection.test_bank_spreadsheets import IGNORED, SKIPPED, noted_workbook

    upload = tmp_path / "题库.xlsx"
    upload.write_bytes(noted_workbook())
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", HOST)
    await expect(page.locator("#chatsel")).to_contain_text("检务督导面对面")
    await page.goto(str(console.client.make_url("/inspection/bank")))
    await page.set_input_files("#file", str(upload))
    await page.click("form button")
    await expect(page.locator("#summary")).to_contain_text("共 2 道：新增 2 道")
    notes = page.locator("#passed-over li")
    await expect(notes).to_have_text([SKIPPED, IGNORED])
    await expect(notes.first).to_be_visible()
    assert await page.evaluate(NO_OVERFLOW)
    await page.click("#confirm button")
    await expect(page.locator("p.ok")).to_contain_text("新增2道")
    assert {"N1", "N2"} <= set(await bank(console))
    await ctx.close()


async def test_stats_tables_fit_a_desktop_page(console: Console, browser: Browser) -> None:
    """On a desktop the statistics page is wide enough that every column shows unscrolled."""
    await evaluate(console, await create_case(console), RED)  # a row: 刑事侦查大队's long name
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.select_option("#user", "p-leader-hc")
    await expect(page.locator("#chatsel")).to_contain_text("海澄")
    await page.goto(str(console.client.make_url("/stats")))
    fits = await page.locator(".scroll-x").evaluate_all(
        "boxes => boxes.map(b => b.scrollWidth <= b.clientWidth)")
    assert fits == [True, True]


async def test_verify_form_reads_the_id_as_typed_and_never_reds_an_unknown_one(
        console: Console, browser: Browser) -> None:
    """A reader types the session id on a phone: in lower case it is found and re-run (green
    复核一致); an unknown id checked nothing: 无法复核 in neutral grey, not the red 复核不一致."""
    s = await quick_session(console)
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    outcome = page.locator("#outcome")
    for typed, text, colour in ((s.id.lower(), "复核一致", "rgb(31, 157, 85)"),
                                ("hello", "无法复核", "rgb(85, 85, 85)")):
        await page.goto(str(console.client.make_url("/draw/verify")))
        await page.fill("#session", typed)
        await page.click("text=按会议编号复核")
        await expect(outcome).to_have_text(text)
        assert await outcome.evaluate("h => getComputedStyle(h).color") == colour, typed
    await expect(page.locator("#line")).to_contain_text("没有编号为「HELLO」的督导会议")
    await ctx.close()


async def test_verify_form_says_what_to_fill_in_and_keeps_an_unknown_id(
        console: Console, browser: Browser) -> None:
    """Either button tapped with its field empty says what to fill in (not 「粘贴的内容不是
    合法的 JSON」 when nothing was pasted), and an id that found no session stays in its field
    to be corrected."""
    await quick_session(console)
    ctx = await browser.new_context(viewport={"width": 360, "height": 740},
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    line = page.locator("#line")
    await page.goto(str(console.client.make_url("/draw/verify")))
    await page.click("text=按会议编号复核")
    await expect(line).to_have_text("无法复核：请填写会议编号（形如 DD20261102-01）")
    await page.get_by_role("button", name="复核", exact=True).click()
    await expect(line).to_have_text("无法复核：请粘贴公布的抽签数据（publication.json 的全部内容）")
    await expect(page.locator("#outcome")).to_have_text("无法复核")

    await page.fill("#session", "DD20261102-1")  # a digit short
    await page.click("text=按会议编号复核")
    await expect(line).to_contain_text("没有编号为「DD20261102-1」的督导会议")
    await expect(page.get_by_label("会议编号")).to_have_value("DD20261102-1")
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    await ctx.close()


async def test_the_create_form_shows_the_note_on_a_special_question_asked_before(
        console: Console, browser: Browser, request: Any) -> None:
    """Created from the web form on a phone, a session whose 专项 question an earlier session
    asked and answered in public: the page after creating says so at the top, as the chat
    command does."""
    first = await quick_session(console)
    drawn = json.loads(first.result or "")
    await run_unit(console, 3, drawn["units"][0], "好")
    await say(console, "结束 确认")
    published = drawn["questions"][0][0]
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
    base = str(console.client.make_url("")).rstrip("/")
    assert (await ctx.request.post(f"{base}/console/api/login", data={"user": HOST})).ok
    page = await ctx.new_page()
    await page.goto(f"{base}/inspection")
    await page.fill("#title", "第二次督导")
    await page.fill("#entropy_name", "福彩3D 第2026318期开奖号码")
    await page.fill("#special", f"c05-02: {published}")
    await page.click("button[type=submit]")
    await expect(page.locator("#created")).to_contain_text("已创建督导会议")
    note = page.locator("#created-note")
    await expect(note).to_have_text(f"注意：{published} 已在 {first.id} 问询并公布答案。")
    await expect(note).to_be_in_viewport()
    await page.screenshot(path=screenshot_path(request, "created"))
    assert await page.evaluate(NO_OVERFLOW)
    await ctx.close()
