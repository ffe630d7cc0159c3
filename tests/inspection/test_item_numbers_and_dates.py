"""What the QA pass of the follow-up found: the rectification items' numbers (#n, which
整改完成 and 退回整改 take) on every list of them, and due dates written without a year."""

from __future__ import annotations

import io
import json
from datetime import date

from docx import Document

from bot.domain.inspection import read_due
from storage import inspection as store
from tests.conftest import Console
from tests.inspection.helpers import card, quick_session, run_unit, say


async def test_every_list_of_items_shows_their_numbers(console: Console) -> None:
    """The 会议结束 card, the report's 整改事项 table and the next session's 整改汇报 list each
    item with its #n, the open ones (待整改) as the ones reported done."""
    d = console.app.services.directory
    first = await quick_session(console)
    unit = json.loads(first.result or "")["units"][0]
    name = d.units[unit].name
    await say(console, "整改 1 2026-12-31 建立月报制度")
    await say(console, "整改 1 2026-12-31 补齐重大事项台账")
    async with console.app.services.db() as db:
        kept, done = await store.rectifications_of(db, first.id)
    body = card(await say(console, "结束 确认"), "会议结束")["body"]
    assert f"  · #{kept.id} {name}：建立月报制度（" in body, body
    assert f"  · #{done.id} {name}：补齐重大事项台账（" in body, body

    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    r = await console.client.get(f"/inspection/{first.id}/report.docx")
    assert r.status == 200
    [table] = [t for t in Document(io.BytesIO(await r.read())).tables
               if t.rows[0].cells[0].text == "事项号"]
    assert [[c.text for c in row.cells][:3] for row in table.rows[1:]] == [
        [f"#{kept.id}", name, "建立月报制度"], [f"#{done.id}", name, "补齐重大事项台账"]]

    chief = f"p-chief-{unit}"
    await console.send(chief, f"dm:{chief}", f"整改完成 #{done.id} 台账已补齐")
    second = await quick_session(console, title="第二期", entropy="3 1 7")
    for u in json.loads(second.result or "")["units"]:
        await run_unit(console, 3, u, "好")
    body = card(await say(console, "整改汇报"), "整改汇报")["body"]
    assert f"    待整改：#{kept.id} 建立月报制度（期限 2026-12-31）" in body, body
    assert f"    已报告完成：#{done.id} 补齐重大事项台账（" in body, body


async def test_a_due_date_without_a_year_is_the_next_such_day(console: Console) -> None:
    """整改 2 12月15日 …: the next 15 December on or after today (Monday 2026-11-02), echoed
    in full with its weekday; a day already past this year is next year's; an impossible day
    is refused, saying why."""
    await quick_session(console)
    for typed in ("12月15日", "12-15", "12/15", "１２月１５号"):
        said = (await say(console, f"整改 2 {typed} 建立月报制度"))[0]["text"]
        assert said.startswith("已登记整改事项 #") and said.endswith("期限 2026-12-15（周二）。"), said
    said = (await say(console, "整改 2 10月15日 建立月报制度"))[0]["text"]
    assert said.endswith("期限 2027-10-15（周五）。"), said
    said = (await say(console, "整改 2 11月2日 建立月报制度"))[0]["text"]  # today
    assert said.endswith("期限 2026-11-02（周一）。"), said
    said = (await say(console, "实地督察 2 p-leader-1 12月10日 核查台账"))[0]["text"]
    assert said.endswith("期限 2026-12-10（周四）。"), said
    for typed, why in [("2月30日", "2 月没有 30 日"), ("13月1日", "没有 13 月"),
                       ("2月29日", "2027 年 2 月没有 29 日，请写明年份"),
                       # a full date too (it said 无效，请写 …), as 实地督察 does
                       ("2026-02-30", "2 月没有 30 日"), ("2027年2月29日", "2027 年 2 月没有 29 日"),
                       ("2026-13-01", "没有 13 月")]:
        said = (await say(console, f"整改 2 {typed} 建立月报制度"))[0]["text"]
        assert said == f"截止日期「{typed}」无效：{why}。", said
    said = (await say(console, "实地督察 2 p-leader-1 2026-02-30 核查台账"))[0]["text"]
    assert said == "截止日期「2026-02-30」无效：2 月没有 30 日。", said


def test_the_next_such_day_is_counted_from_the_bots_today() -> None:
    """Today is the bot's day (Asia/Shanghai; the handler passes it): on 1 January 12月31日
    is the end of this new year, and 2月29日 the next leap day."""
    assert read_due("12月31日", date(2027, 1, 1)) == (date(2027, 12, 31), "")
    assert read_due("1月1日", date(2027, 1, 1)) == (date(2027, 1, 1), "")
    assert read_due("2月29日", date(2027, 3, 1)) == (date(2028, 2, 29), "")
