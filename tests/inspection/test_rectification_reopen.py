"""整改汇报 corrected live: a unit reported 已整改 closes (销号) its open items from earlier
sessions; when the host corrects that report to 整改中 or 未整改, exactly those items are open
again — in the reply, the 会议结束 card, both sessions' reports and the overdue reminders."""

from __future__ import annotations

import io
import json

from docx import Document
from sqlalchemy import select

from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import Console
from tests.inspection.helpers import GROUP, HOST, card, quick_session, run_unit, say
from tests.inspection.test_report import all_text
from tests.reminders.test_reminders_e2e import reminder_cards


def text(messages: list[dict[str, object]]) -> str:
    """The reply in the group (reminder cards redrawn in 1:1 chats come with it)."""
    replies = [m for m in messages if m["chat"] == GROUP]
    assert replies and isinstance(replies[0]["text"], str), messages
    return replies[0]["text"]


async def to_reports(console: Console) -> store.InspectionSession:
    """A second session, run through its questions to 整改汇报 (due from the first one's units)."""
    s = await quick_session(console, title="第二期", entropy="3 1 7")
    for unit in json.loads(s.result or "")["units"]:
        await run_unit(console, 3, unit, "好")
    await say(console, "整改汇报")
    return s


async def items_of(console: Console, sid: str) -> dict[str, str]:
    async with console.app.services.db() as db:
        return {i.text: i.status for i in await store.rectifications_of(db, sid)}


async def report_docx(console: Console, sid: str) -> bytes:
    """A session's .docx report, as a leader downloads it."""
    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    return bytes(await (await console.client.get(f"/inspection/{sid}/report.docx")).read())


async def report_rows(console: Console, sid: str) -> list[list[str]]:
    """The 整改事项 table of a session's report, without its first column (事项号)."""
    doc = Document(io.BytesIO(await report_docx(console, sid)))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return [row[1:] for row in next(t for t in tables if t[0][:3] == ["事项号", "单位", "整改事项"])[1:]]


async def test_correcting_a_done_report_reopens_exactly_the_items_it_closed(
        console: Console) -> None:
    d = console.app.services.directory
    first = await quick_session(console)
    units = json.loads(first.result or "")["units"]
    await say(console, "结束 确认")
    for what in ("建立月报制度", "补齐填报台账", "整治案件积压"):
        await say(console, f"整改 1 2026-12-31 {what}")
    await say(console, "整改 2 2026-12-31 规范案件码评分")
    async with console.app.services.db() as db, db.begin():  # found done on site, not reported
        [done] = [i for i in await store.rectifications_of(db, first.id) if i.text == "整治案件积压"]
        await store.close_rectification(done, console.clock.now())
    second = await to_reports(console)
    name = d.units[units[0]].name

    closed = text(await say(console, "整改汇报 1 已整改 台账已建立"))
    assert closed == f"已记录{name}的整改汇报：已整改，销号整改事项 2 项。"
    # 已整改 again: the same items stay closed, nothing is closed or counted a second time
    again = text(await say(console, "整改汇报 1 已整改 台账已建立并通报"))
    assert again == f"已更新{name}的整改汇报：已整改（原为已整改）。"
    reopened = text(await say(console, "整改汇报 1 整改中 台账尚在补齐"))
    assert reopened == f"已更新{name}的整改汇报：整改中（原为已整改），恢复整改事项 2 项。"
    assert await items_of(console, first.id) == {
        "建立月报制度": "open", "补齐填报台账": "open", "整治案件积压": "closed",
        "规范案件码评分": "open"}
    # reported 未整改 after that: nothing more to reopen
    assert text(await say(console, "整改汇报 1 未整改")) == (
        f"已更新{name}的整改汇报：未整改（原为整改中）。")
    assert text(await say(console, "整改汇报 2 已整改")).endswith("，销号整改事项 1 项。")

    body = card(await say(console, "结束 确认"), "会议结束")["body"]
    assert "整改汇报 2 条，销号整改事项 1 项；1 个单位未汇报整改" in body, body
    assert {r[1]: r[4] for r in await report_rows(console, first.id)} == {
        "建立月报制度": "整改中", "补齐填报台账": "整改中", "整治案件积压": "已销号",
        "规范案件码评分": "已销号"}
    reports = all_text(await report_docx(console, second.id))
    assert f"{name}：未整改。" in reports
    assert f"{d.units[units[1]].name}：已整改（销号整改事项 1 项）。" in reports

    async with console.app.services.db() as db:
        [audit] = (await db.execute(select(AuditRecord).where(
            AuditRecord.action == "inspection.rectification.reopen"))).scalars()
        ids = [i.id for i in await store.rectifications_of(db, first.id)][:2]
    assert audit.actor == HOST and json.loads(audit.data)["items"] == ids


async def test_a_reopened_item_is_reminded_again_and_a_closed_one_is_not(
        console: Console) -> None:
    """The item is overdue and reminded; reported 已整改, its next reminder is not sent; the
    report corrected to 未整改, the reminder it missed goes out (once), as for an open item."""
    first = await quick_session(console)
    unit = json.loads(first.result or "")["units"][0]
    chief = f"p-chief-{unit}"
    await say(console, "结束 确认")
    await say(console, "整改 1 2026-11-03 建立月报制度")
    await console.advance("2d")  # Wednesday 11-04: the first working day after the due date
    assert len(await reminder_cards(console, chief)) == 1

    await to_reports(console)
    await say(console, "整改汇报 1 已整改")
    await console.advance("6d")  # past Monday 11-09, the next slot (to the inspector too)
    assert len(await reminder_cards(console, chief)) == 1
    assert await reminder_cards(console, HOST) == []

    reply = text(await say(console, "整改汇报 1 未整改 月报制度尚未建立"))
    assert reply.endswith("（原为已整改），恢复整改事项 1 项。"), reply
    await console.advance("1m")
    [_, again] = await reminder_cards(console, chief)
    [escalated] = await reminder_cards(console, HOST)
    for c in (again["card"], escalated["card"]):
        assert "建立月报制度" in c["body"] and c["title"].startswith("【补发】"), c
    await console.advance("1m")
    assert len(await reminder_cards(console, chief)) == 2


async def my_reminders(console: Console, person: str) -> str:
    """What 提醒 answers the person in their 1:1 chat (the text, or the card's body)."""
    [m] = (await console.send(person, f"dm:{person}", "提醒"))["messages"]
    return str(m["card"]["body"] if m["card"] else m["text"])


async def test_cards_sent_for_an_item_closed_by_a_report_are_retired_until_it_reopens(
        console: Console) -> None:
    """The chief had two reminders of an overdue item (one marked 已处理) and the inspector the
    escalation. Reported 已整改, the cards still offered 已处理 as if action were owed and 提醒
    listed one as pending. Now they say the report closed it, with no button; the report
    corrected to 未整改, they are owed again — except the one the chief had handled."""
    d = console.app.services.directory
    first = await quick_session(console)
    chief = f"p-chief-{json.loads(first.result or '')['units'][0]}"
    await say(console, "结束 确认")
    await say(console, "整改 1 2026-11-03 建立月报制度")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, first.id)
    await console.advance("2d")  # Wednesday 11-04: the first reminder
    [handled] = await reminder_cards(console, chief)
    await console.click(chief, handled["id"], "reminder.done")
    await console.advance("6d")  # Tuesday 11-10: Monday's escalation has gone out
    assert len(await reminder_cards(console, chief)) == 2
    assert f"整改事项 #{item.id}" in await my_reminders(console, chief)
    host = d.person(HOST)
    assert host is not None

    await to_reports(console)
    await say(console, "整改汇报 1 已整改 月报制度已建立")
    [handled, owed] = await reminder_cards(console, chief)
    [escalated] = await reminder_cards(console, HOST)
    for c in (owed["card"], escalated["card"]):
        assert c["actions"] == [], c
        assert c["footer"].startswith(f"已由整改汇报销号：{host.name} 2026-11-10 "), c
    assert handled["card"]["actions"] == [] and handled["card"]["footer"].startswith("已处理：")
    assert await my_reminders(console, chief) == "您目前没有待办提醒。"

    await say(console, "整改汇报 1 未整改 月报制度尚未建立")
    [handled, owed] = await reminder_cards(console, chief)
    [escalated] = await reminder_cards(console, HOST)
    # the chief may report it done again from their card; the inspector's has 已处理 alone
    assert [a["label"] for a in owed["card"]["actions"]] == ["报告整改完成", "已处理"]
    assert [a["label"] for a in escalated["card"]["actions"]] == ["已处理"]
    for c in (owed["card"], escalated["card"]):
        assert c["footer"].startswith(f"整改汇报已更正，恢复整改：{host.name} 2026-11-10 "), c
    assert handled["card"]["actions"] == [] and handled["card"]["footer"].startswith("已处理：")
    assert "待处理提醒（1条）" in await my_reminders(console, chief)
    r = await console.click(HOST, escalated["id"], "reminder.done")
    assert r["messages"][-1]["text"].startswith(f"已标记为已处理：整改事项 #{item.id} 的督察整改提醒")


async def test_the_item_cards_follow_the_report(console: Console) -> None:
    """整改汇报 … 已整改 closes the unit's items: the 责任人's item card says so and loses
    报告整改完成 (a tap would only be told it is closed); corrected to 整改中, the card gets
    the button back and says why."""
    first = await quick_session(console)
    unit = json.loads(first.result or "")["units"][0]
    chief = f"p-chief-{unit}"
    await say(console, "结束 确认")
    await say(console, "整改 1 2026-12-31 建立月报制度")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, first.id)

    async def item_card() -> dict[str, object]:
        found = [m["card"] for m in await console.messages(f"dm:{chief}")
                 if m["card"] and m["card"]["title"].startswith(f"整改事项 #{item.id}")]
        assert len(found) == 1
        return dict(found[0])

    assert [a["label"] for a in item_card_actions(await item_card())] == ["报告整改完成"]
    await to_reports(console)
    await say(console, "整改汇报 1 已整改 台账已建立")
    shown = await item_card()
    assert item_card_actions(shown) == []
    assert str(shown["footer"]).startswith("已销号：第二期整改汇报为已整改（")
    await say(console, "整改汇报 1 整改中 台账尚在补齐")
    shown = await item_card()
    assert [a["label"] for a in item_card_actions(shown)] == ["报告整改完成"]
    assert str(shown["footer"]).startswith("整改汇报已更正为整改中（")


def item_card_actions(card: dict[str, object]) -> list[dict[str, str]]:
    actions = card["actions"]
    assert isinstance(actions, list)
    return actions


async def test_ending_with_units_not_yet_reported_warns_and_the_report_lists_them(
        console: Console) -> None:
    """Three units due to report; the host records one and sends 结束: the meeting does not
    end silently without the other two, it names them and asks for 结束 确认. Once ended, the
    report's 整改汇报 lists every unit due, those not recorded as 未汇报 with their items."""
    d = console.app.services.directory
    first = await quick_session(console)
    units = json.loads(first.result or "")["units"]
    names = [d.units[u].name for u in units]
    await say(console, "结束 确认")
    for i, what in enumerate(("建立月报制度", "补齐填报台账", "整治案件积压"), 1):
        await say(console, f"整改 {i} 2026-11-03 {what}")
    async with console.app.services.db() as db:
        items = [i.id for i in await store.rectifications_of(db, first.id)]
    await console.advance("2d")
    for unit, item in zip(units[:2], items[:2], strict=True):
        chief = f"p-chief-{unit}"
        await console.send(chief, f"dm:{chief}", f"整改完成 #{item} 已完成")
    second = await to_reports(console)
    await console.send(HOST, GROUP, f"退回整改 #{items[0]} 月报只报了一期")
    await say(console, "整改汇报 3 整改中 月报仅一期")

    warned = text(await say(console, "结束"))
    assert warned == (f"还有 2 个单位未记录整改汇报：{names[0]}、{names[1]}；"
                      "确认结束请发「结束 确认」。")
    async with console.app.services.db() as db:
        assert (await store.get_session(db, second.id)).stage == "rectification"  # type: ignore[union-attr]
    body = card(await say(console, "结束 确认"), "会议结束")["body"]
    assert "整改汇报 1 条；2 个单位未汇报整改" in body, body

    reports = all_text(await report_docx(console, second.id))
    section = reports.split("三、整改汇报")[1].split("四、整改事项")[0]
    assert f"{names[2]}：整改中。月报仅一期" in section
    assert f"{names[0]}：未汇报。整改事项 #{items[0]} 建立月报制度：整改中" in section, section
    assert f"{names[1]}：未汇报。整改事项 #{items[1]} 补齐填报台账：已报告完成" in section, section
