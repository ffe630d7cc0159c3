"""The inspection index, the question bank, the roster admin page and /stats on a phone
(390×844, as a QA walk saw them): nothing wider than the screen, no label squeezed into a column
of single characters, every question readable in full, and /stats saying something when there is
nothing to count."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, BrowserContext, FilePayload, Page, ViewportSize, expect

from bot.roster import COLUMNS
from tests.browser.conftest import screenshot_path
from tests.browser.test_console_phone import NO_OVERFLOW
from tests.cases.helpers import GREEN, RED, YELLOW, create_case, evaluate
from tests.conftest import Console
from tests.inspection.helpers import HOST, quick_session

PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                         "is_mobile": True, "has_touch": True}

# visible elements matching the selector whose text (two characters or more) has less than two
# characters' width to sit in: 「标题」 laid out one character per line
SQUEEZED = """sel => [...document.querySelectorAll(sel)].filter(el => {
  const text = el.textContent.trim(), r = el.getBoundingClientRect();
  if (text.length < 2 || r.width === 0 || r.height === 0) return false;
  const s = getComputedStyle(el);
  const inner = r.width - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)
                - parseFloat(s.borderLeftWidth) - parseFloat(s.borderRightWidth);
  return inner < 2 * parseFloat(s.fontSize) - 0.5;
}).map(el => el.textContent.trim())"""

# visible elements matching the selector whose text runs over more than one line
WRAPPED = """sel => [...document.querySelectorAll(sel)].filter(el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const rects = [...range.getClientRects()].filter(b => b.width > 0);
  return new Set(rects.map(b => Math.round(b.top))).size > 1;
}).map(el => el.textContent.trim())"""

# the selects that cut off one of their options' text or stick out of the screen (the arrow
# takes about 20 px of the box)
CUT_SELECTS = """() => [...document.querySelectorAll('select')].filter(s => {
  const st = getComputedStyle(s), ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${st.fontWeight} ${st.fontSize} ${st.fontFamily}`;
  const widest = Math.max(...[...s.options].map(o => ctx.measureText(o.text).width));
  const room = s.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight) - 20;
  return widest > room || s.getBoundingClientRect().right > innerWidth;
}).map(s => s.id)"""


async def phone_page(console: Console, browser: Browser, user: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(**PHONE)
    base = str(console.client.make_url("")).rstrip("/")
    assert (await ctx.request.post(f"{base}/console/api/login", data={"user": user})).ok
    return ctx, await ctx.new_page()


async def test_inspection_index_reads_as_cards_on_a_phone(console: Console, browser: Browser,
                                                          request: Any) -> None:
    s = await quick_session(console)
    ctx, page = await phone_page(console, browser, HOST)
    await page.goto(str(console.client.make_url("/inspection")))
    await page.screenshot(path=screenshot_path(request, "index"), full_page=True)
    assert await page.evaluate(NO_OVERFLOW)
    assert await page.evaluate(SQUEEZED, "main th, main td, main td *, label") == []
    row = page.locator(f"#sessions tr[data-session='{s.id}']")
    # the group by its name, not its id g-inspection
    await expect(row).to_contain_text("检务督导面对面（省院视频会议群）")
    await expect(row).not_to_contain_text("g-inspection")
    await expect(row).to_contain_text(s.title)
    # 清单 · 复核 · 大屏 · 报告: a finger's size each, each on one line
    links = row.locator("a")
    assert await links.count() == 4
    for box in [await links.nth(i).bounding_box() for i in range(4)]:
        assert box is not None and box["height"] >= 40 and box["x"] + box["width"] <= 390
    assert await page.evaluate(WRAPPED, "#sessions a") == []
    assert await page.evaluate(CUT_SELECTS) == []
    await ctx.close()


async def test_inspection_index_keeps_its_table_on_a_desktop(console: Console,
                                                             browser: Browser) -> None:
    s = await quick_session(console)
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    base = str(console.client.make_url("")).rstrip("/")
    assert (await ctx.request.post(f"{base}/console/api/login", data={"user": HOST})).ok
    page = await ctx.new_page()
    await page.goto(f"{base}/inspection")
    await expect(page.locator("#sessions th").first).to_be_visible()
    cells = page.locator(f"#sessions tr[data-session='{s.id}'] td")
    tops = {round((await cells.nth(i).bounding_box() or {"y": -1})["y"]) for i in range(5)}
    assert len(tops) == 1  # one table row
    await ctx.close()


async def test_bank_shows_each_question_in_full_on_a_phone(console: Console, browser: Browser,
                                                           request: Any) -> None:
    ctx, page = await phone_page(console, browser, HOST)
    await page.goto(str(console.client.make_url("/inspection/bank")))
    await page.screenshot(path=screenshot_path(request, "bank"))
    assert await page.evaluate(NO_OVERFLOW)
    texts = page.locator("table.bank td.q")
    assert await texts.count() > 100
    # every line of every question lies inside the screen, and nothing around it scrolls sideways
    outside = await texts.evaluate_all("""cells => cells.filter(c => {
        const r = document.createRange(); r.selectNodeContents(c);
        const off = [...r.getClientRects()].some(b => b.left < 0 || b.right > innerWidth);
        let clipped = false;
        for (let el = c; el; el = el.parentElement) clipped ||= el.scrollWidth > el.clientWidth + 1;
        return off || clipped;
      }).map(c => c.textContent.slice(0, 20))""")
    assert outside == []
    # 题号 · 类别 · 状态 on one line above the text; then the points, then 出题部门
    first = page.locator("table.bank tr[data-q]").first
    parts = {k: await first.locator(f"td.{k}").bounding_box()
             for k in ("id", "cat", "q", "points", "dept")}
    assert all(b is not None for b in parts.values())
    b = {k: v for k, v in parts.items() if v is not None}
    assert abs(b["id"]["y"] - b["cat"]["y"]) < 4
    assert b["cat"]["y"] < b["q"]["y"] < b["points"]["y"] < b["dept"]["y"]
    assert b["q"]["width"] > 250  # the text has the screen's width
    await expect(page.locator("table.bank th").first).to_be_hidden()
    await ctx.close()


async def test_bank_keeps_its_table_on_a_desktop(console: Console, browser: Browser) -> None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    base = str(console.client.make_url("")).rstrip("/")
    assert (await ctx.request.post(f"{base}/console/api/login", data={"user": HOST})).ok
    page = await ctx.new_page()
    await page.goto(f"{base}/inspection/bank")
    await expect(page.locator("table.bank th").first).to_be_visible()
    row = page.locator("table.bank tr[data-q]").first
    tops = {round((await row.locator("td").nth(i).bounding_box() or {"y": -1})["y"])
            for i in range(6)}
    assert len(tops) == 1
    await ctx.close()


CSV = (",".join(COLUMNS) + "\n"
       "c12,新设市人民检察院,city,prov,,p-chief-c12,周新,dt-9001\n"
       "c12-01,新设市新城区人民检察院,county,c12,XQ,p-chief-c12-01,吴城,\n")


async def test_roster_page_and_preview_fit_a_phone(console: Console, browser: Browser,
                                                   request: Any) -> None:
    ctx, page = await phone_page(console, browser, "p-admin-1")
    await page.goto(str(console.client.make_url("/admin/roster")))
    await page.screenshot(path=screenshot_path(request, "roster"))
    assert await page.evaluate(NO_OVERFLOW)
    upload: FilePayload = {"name": "新设市名册.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    await page.set_input_files("#file", files=[upload])
    await page.click("#preview-btn")
    await expect(page.locator("#preview")).to_contain_text("新增单位 2 个")
    await page.locator("#preview").screenshot(path=screenshot_path(request, "preview"))
    assert await page.evaluate(NO_OVERFLOW)
    assert await page.evaluate(SQUEEZED, "#preview th, #preview td") == []
    # 操作, 对象, 变化, 新增, 第 2 行 each on one line
    assert await page.evaluate(WRAPPED, "#preview-changes th, #preview-changes td.nw") == []
    assert await page.locator("#preview-changes td.nw").count() >= 3 * 4
    await ctx.close()


async def test_stats_without_cases_says_so_on_a_phone(console: Console, browser: Browser,
                                                      request: Any) -> None:
    # 乐顺's 检察长: no case, no prosecutor on the roster, no police unit
    ctx, page = await phone_page(console, browser, "p-chief-c01-02")
    await page.goto(str(console.client.make_url("/stats")))
    await page.screenshot(path=screenshot_path(request, "stats-empty"), full_page=True)
    assert await page.evaluate(NO_OVERFLOW)
    await expect(page.locator("#scope")).to_contain_text("示范市乐顺市人民检察院")
    await expect(page.locator("#empty")).to_have_text("本院（统计范围内）暂无案件")
    await expect(page.locator("#bar")).to_have_count(0)
    # no header-only tables and no 「共 0 人」 under the sentence
    await expect(page.locator("table.groups")).to_have_count(0)
    await expect(page.get_by_text("共 0")).to_have_count(0)
    await ctx.close()
    # a county with people but no case: the sentence, and the tables of who is counted
    ctx, page = await phone_page(console, browser, "p-chief-c01-01")
    await page.goto(str(console.client.make_url("/stats")))
    await expect(page.locator("#empty")).to_have_text("本院（统计范围内）暂无案件")
    await expect(page.locator("table.groups")).to_have_count(2)
    await ctx.close()


async def test_stats_tables_show_every_column_on_a_phone(console: Console, browser: Browser,
                                                       request: Any) -> None:
    """按承办检察官 and 按侦查单位 at 390 px: each row a block of 「label value」 lines, the last
    columns (受理时绿码/扫码受理, 羁押届满红码) on screen without any sideways scroll; on a
    wide screen the table as before."""
    await evaluate(console, await create_case(console), RED)
    ctx, page = await phone_page(console, browser, "p-leader-hc")
    await page.goto(str(console.client.make_url("/stats")))
    await page.screenshot(path=screenshot_path(request, "stats-tables"), full_page=True)
    assert await page.evaluate(NO_OVERFLOW)
    tables = page.locator("table.groups")
    await expect(tables).to_have_count(2)
    for i in range(2):
        row = tables.nth(i).locator("tr", has=page.locator("td")).first
        for label in ("受理时绿码/扫码受理", "羁押届满红码"):
            cell = row.locator("td", has_text=label)
            await expect(cell).to_be_visible()
            await cell.scroll_into_view_if_needed()
            await expect(cell).to_be_in_viewport(ratio=1)
            box = await cell.bounding_box()
            assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 390
        await expect(row.locator("td").last).to_have_text("羁押届满红码0")
        # nothing hidden behind a scroll inside the page either
        assert await tables.nth(i).evaluate(
            "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth")
    await ctx.close()

    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    base = str(console.client.make_url("")).rstrip("/")
    assert (await ctx.request.post(f"{base}/console/api/login", data={"user": "p-leader-hc"})).ok
    page = await ctx.new_page()
    await page.goto(f"{base}/stats")
    table = page.locator("table.groups").first
    await expect(table.get_by_role("columnheader", name="羁押届满红码")).to_be_in_viewport()
    await expect(table.locator("tr", has=page.locator("td")).first.locator("td").last
                 ).to_have_text("0", use_inner_text=True)  # the label only on a phone
    await ctx.close()


async def test_stats_bar_has_a_legend_matching_the_card(console: Console, browser: Browser,
                                                        request: Any) -> None:
    for deductions in (RED, RED, RED, YELLOW, GREEN, GREEN, None):
        code = await create_case(console)
        if deductions is not None:
            await evaluate(console, code, deductions)
    card = (await console.send("p-leader-hc", "dm:p-leader-hc", "统计"))["messages"][0]["card"]
    assert all(f"{w} {n}" in card["body"] for w, n in (("红码", 3), ("黄码", 1), ("绿码", 2)))
    viewports: list[ViewportSize] = [{"width": 390, "height": 844}, {"width": 1280, "height": 900}]
    for viewport in viewports:
        ctx = await browser.new_context(viewport=viewport, device_scale_factor=2)
        base = str(console.client.make_url("")).rstrip("/")
        assert (await ctx.request.post(f"{base}/console/api/login", data={"user": "p-leader-hc"})).ok
        page = await ctx.new_page()
        await page.goto(f"{base}/stats")
        await page.locator("#bar").screenshot(path=screenshot_path(request, f"bar-{viewport['width']}"))
        legend = page.locator("#summary")  # the summary under the bar is its legend
        await expect(legend).to_contain_text("红码 3")
        await expect(legend).to_contain_text("黄码 1")
        await expect(legend).to_contain_text("绿码 2")
        await expect(legend).to_contain_text("未评分 1")
        # each legend entry's swatch has its bar segment's colour
        swatch = await legend.locator(".sw").evaluate_all(
            "els => els.map(e => getComputedStyle(e).backgroundColor)")
        segment = await page.locator("#bar .seg").evaluate_all(
            "els => els.map(e => getComputedStyle(e).backgroundColor)")
        assert swatch == segment and len(set(swatch)) == 4
        # a label on every segment it fits in, and only there: none runs over its segment
        labels = await page.locator("#bar .seg").evaluate_all("""els => els.map(e => {
            const l = e.querySelector('.lbl');
            return [l.hidden ? '' : l.textContent, l.hidden || l.scrollWidth <= e.clientWidth];
          })""")
        assert all(fits for _, fits in labels), labels
        shown = [text for text, _ in labels]
        assert shown[0] in ("红码 3", "3") and shown[2] in ("绿码 2", "2")
        if viewport["width"] == 1280:
            assert shown == ["红码 3", "黄码 1", "绿码 2", "未评分 1"]
        assert await page.evaluate(NO_OVERFLOW) or viewport["width"] != 390
        await ctx.close()
