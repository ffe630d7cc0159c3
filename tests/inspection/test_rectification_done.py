"""整改完成: the unit's chief reports an overdue rectification item done — from the item card, a
reminder card or `整改完成 #n <说明>` — and is reminded no more; the session's inspector is told
and may send it back (退回重新整改), after which it is reminded again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.workcal import day_text
from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import Console
from tests.inspection.helpers import GROUP, HOST, card, city_chief, quick_session, run_unit, say
from tests.reminders.test_reminders_e2e import reminder_cards
from tests.reminders.test_upcoming_escalations import listing


async def overdue_item(console: Console) -> tuple[store.RectificationItem, str]:
    """A session's item due Tuesday 11-03 for its first unit, and that unit's chief (its
    owner), who has had the first overdue reminder (Wednesday 11-04)."""
    first = await quick_session(console)
    unit = json.loads(first.result or "")["units"][0]
    await say(console, "结束 确认")
    await say(console, "整改 1 2026-11-03 建立月报制度")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, first.id)
    await console.advance("2d")
    chief = f"p-chief-{unit}"
    assert len(await reminder_cards(console, chief)) == 1
    return item, chief


async def dm_card(console: Console, person: str, title_start: str) -> dict[str, Any]:
    """The newest card in the person's 1:1 chat whose title starts so."""
    found = [m for m in await console.messages(f"dm:{person}")
             if m["card"] and m["card"]["title"].startswith(title_start)]
    assert found, title_start
    return found[-1]


async def dm_texts(console: Console, person: str) -> list[str]:
    return [m["text"] for m in await console.messages(f"dm:{person}") if m["text"]]


def answer(reply: dict[str, Any]) -> str:
    """The answer to the person who acted: the last text (after cards redrawn, notices)."""
    return str([m["text"] for m in reply["messages"] if m["text"]][-1])


async def status(console: Console, item_id: int) -> store.RectificationItem:
    async with console.app.services.db() as db:
        item = await db.get(store.RectificationItem, item_id)
    assert item is not None
    return item


async def test_the_chief_reports_it_done_from_the_card_and_the_inspector_sends_it_back(
        console: Console) -> None:
    d = console.app.services.directory
    item, chief = await overdue_item(console)
    name = d.person_name(chief)
    item_card = await dm_card(console, chief, f"整改事项 #{item.id}")
    assert [a["label"] for a in item_card["card"]["actions"]] == ["报告整改完成"]

    r = await console.click(chief, item_card["id"], "rectification.report",
                            {"note": "已建立月报制度并报送两期"})
    assert answer(r).startswith(f"已报告整改事项 #{item.id} 整改完成并销号，不再提醒；"
                                f"已告知检务督察{d.person_name(HOST)}。")
    assert (await status(console, item.id)).status == "closed"
    [reminder] = await reminder_cards(console, chief)
    assert reminder["card"]["actions"] == []
    assert reminder["card"]["footer"].startswith(f"已处理：{name} 已报告整改完成 2026-11-04 ")
    item_card = await dm_card(console, chief, f"整改事项 #{item.id}")
    assert item_card["card"]["actions"] == []
    assert item_card["card"]["footer"].startswith(f"已处理：{name} 已报告整改完成 ")
    report = await dm_card(console, HOST, f"整改完成报告 · 整改事项 #{item.id}")
    assert f"报告人：{name}" in report["card"]["body"]
    assert "整改说明：已建立月报制度并报送两期" in report["card"]["body"]
    # a double tap on the item card: calm, nothing reported twice
    again = await console.click(chief, item_card["id"], "rectification.report", {"note": "再报"})
    assert answer(again) == "您已点过「报告整改完成」，无需重复操作。"

    await console.advance("7d")  # past Monday 11-09: the next reminder and the escalation
    assert len(await reminder_cards(console, chief)) == 1
    assert await reminder_cards(console, HOST) == []

    r = await console.click(HOST, report["id"], "rectification.send_back",
                            {"reason": "月报只报了一期，制度未印发"})
    assert answer(r).startswith(f"已退回整改事项 #{item.id} 重新整改，已告知{name}")
    assert (await dm_texts(console, chief))[-1].startswith(
        f"整改事项 #{item.id}（建立月报制度）被检务督察{d.person_name(HOST)}退回重新整改。"
        "理由：月报只报了一期，制度未印发")
    item_card = await dm_card(console, chief, f"整改事项 #{item.id}")
    assert [a["label"] for a in item_card["card"]["actions"]] == ["报告整改完成"]
    report = await dm_card(console, HOST, "整改完成报告")
    assert report["card"]["actions"] == [] and report["card"]["footer"].startswith("已退回重新整改：")
    # the card says what the item now is, in its colour and its body: open, reminded again
    assert report["card"]["color"] == "yellow" and "已销号" not in report["card"]["body"]
    assert report["card"]["body"].endswith(
        "整改说明：已建立月报制度并报送两期\n已退回重新整改（原因：月报只报了一期，制度未印发），恢复提醒。")
    twice = await console.click(HOST, report["id"], "rectification.send_back", {"reason": "再退"})
    assert answer(twice) == "您已点过「退回重新整改」，无需重复操作。"
    [reminder] = await reminder_cards(console, chief)  # owed again, 报告整改完成 back
    assert [a["label"] for a in reminder["card"]["actions"]] == ["报告整改完成", "已处理"]

    await console.advance("1m")  # the slot missed while it was reported done, caught up once
    assert len(await reminder_cards(console, chief)) == 2
    [escalated] = await reminder_cards(console, HOST)
    assert [a["label"] for a in escalated["card"]["actions"]] == ["已处理"]

    # reported again after the 退回: by the command, from any chat, typed as phones do (no
    # space before the full-width ＃, nor after the number)
    r = await console.send(chief, f"dm:{chief}", f"整改完成＃{item.id}制度已印发，月报已报三期")
    assert answer(r).startswith(f"已报告整改事项 #{item.id} 整改完成并销号")
    closed = await status(console, item.id)
    assert (closed.closed_by_person, closed.closed_note) == (chief, "制度已印发，月报已报三期")
    async with console.app.services.db() as db:
        actions = list((await db.execute(select(AuditRecord.action).where(
            AuditRecord.action.like("inspection.rectification%"))
            .order_by(AuditRecord.seq))).scalars())
    assert actions == ["inspection.rectification", "inspection.rectification.report",
                       "inspection.rectification.send_back", "inspection.rectification.report"]


async def test_from_a_reminder_card_and_by_command_and_who_may_not(console: Console) -> None:
    d = console.app.services.directory
    item, chief = await overdue_item(console)
    [reminder] = await reminder_cards(console, chief)
    other = "p-leader-1"

    # someone else, by command: refused, naming who may
    r = await console.send(other, f"dm:{other}", f"整改完成 #{item.id} 已完成")
    assert answer(r).startswith(f"只有整改事项 #{item.id} 的责任人（{d.person_name(chief)}）")
    # the inspector's escalation card does not offer it; the host typing it is refused too
    r = await console.send(HOST, f"dm:{HOST}", f"整改完成 {item.id} 已完成")
    assert "可以报告整改完成" in answer(r)
    assert (await status(console, item.id)).status == "open"

    # the note is required and capped
    r = await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id}")
    assert answer(r).startswith("请写明整改说明。未报告。")
    r = await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id} {'很' * 201}")
    assert answer(r).startswith("整改说明不能超过 200 字（现 201 字），请精简后重新提交。未报告。")
    r = await console.click(chief, reminder["id"], "rectification.report", {"note": "很" * 201})
    assert "不能超过 200 字" in answer(r)
    r = await console.send(chief, f"dm:{chief}", "整改完成 第一项 已完成")
    assert answer(r).startswith("用法：整改完成 <事项号> <说明>")
    r = await console.send(chief, f"dm:{chief}", "整改完成 #999 已完成")
    assert answer(r) == "找不到整改事项 #999。"
    # typed on a phone with no blank after the number (or the card's 整改事项 before it): the
    # number is read, and so is the note (it was the usage line): here 'another' may not
    for typed in (f"整改完成 #{item.id}已完成", f"整改完成 整改事项 #{item.id} 已完成",
                  f"整改完成 ＃{item.id}已完成"):
        r = await console.send(other, f"dm:{other}", typed)
        assert answer(r).startswith(f"只有整改事项 #{item.id} 的责任人"), (typed, answer(r))
    r = await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id}")
    assert answer(r).startswith("请写明整改说明。未报告。")
    assert (await status(console, item.id)).status == "open"

    # from the overdue reminder card, the item number typed full-width elsewhere
    r = await console.click(chief, reminder["id"], "rectification.report", {"note": "已完成"})
    assert answer(r).startswith(f"已报告整改事项 #{item.id} 整改完成并销号")
    r = await console.send(chief, f"dm:{chief}", f"整改完成 ＃{item.id} 再报一次")
    assert answer(r).startswith(f"整改事项 #{item.id} 已于 2026-11-04 ")
    assert answer(r).endswith(f"由{d.person_name(chief)}报告整改完成并销号，无需重复报告。")


async def test_the_next_sessions_report_lists_it_as_reported(console: Console) -> None:
    """整改汇报 shows, per unit, the items its chief reported done, to check live; a report of
    that unit (已整改, then corrected to 整改中) leaves them as the chief reported them."""
    item, chief = await overdue_item(console)
    await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id} 台账已建立")
    second = await quick_session(console, title="第二期", entropy="3 1 7")
    for unit in json.loads(second.result or "")["units"]:
        await run_unit(console, 3, unit, "好")
    body = card(await say(console, "整改汇报"), "整改汇报")["body"]
    assert f"已报告完成：#{item.id} 建立月报制度（" in body and "报告：台账已建立）" in body
    await say(console, "整改汇报 1 已整改")
    await say(console, "整改汇报 1 整改中")
    assert (await status(console, item.id)).closed_by_person == chief


@pytest.mark.postgres
async def test_simultaneous_reports_on_postgresql_report_once(pg_console: Console) -> None:
    """Four taps at once (READ COMMITTED, each reads the card before any commits): the item
    is locked, so one report, one audit record, one card to the inspector."""
    console = pg_console
    item, chief = await overdue_item(console)
    item_card = await dm_card(console, chief, f"整改事项 #{item.id}")
    replies = await asyncio.gather(*(console.click(
        chief, item_card["id"], "rectification.report", {"note": f"第{i}次"}) for i in range(4)))
    texts = [answer(r) for r in replies]
    assert sum(t.startswith("已报告整改事项") for t in texts) == 1, texts
    async with console.app.services.db() as db:
        n = await db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "inspection.rectification.report"))
    assert n == 1
    assert len([m for m in await console.messages(f"dm:{HOST}")
                if m["card"] and m["card"]["title"].startswith("整改完成报告")]) == 1


async def screen_reported(console: Console, sid: str) -> list[int]:
    """Per unit due to report, the big screen's 已报告完成 count (/live/<session>/state)."""
    await console.client.post("/console/api/login", json={"user": HOST})
    r = await console.client.get(f"/live/{sid}/state")
    assert r.status == 200
    phase = (await r.json())["phase"]
    assert phase["kind"] == "reports"
    return [u["reported"] for u in phase["units"]]


async def test_the_host_sends_it_back_at_the_meeting_by_command(console: Console) -> None:
    """At the next session's 整改汇报 the screen shows the unit's item reported done; the host
    finds it not done and types 退回整改 in the group: as the button, and the count drops."""
    d = console.app.services.directory
    item, chief = await overdue_item(console)
    await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id} 台账已建立")
    second = await quick_session(console, title="第二期", entropy="3 1 7")
    for unit in json.loads(second.result or "")["units"]:
        await run_unit(console, 3, unit, "好")
    body = card(await say(console, "整改汇报"), "整改汇报")["body"]
    assert "发送「退回整改 #事项号 <理由>」" in body
    assert (await screen_reported(console, second.id))[0] == 1

    r = await console.send(HOST, GROUP, f"退回整改 ＃{item.id}　月报只报了一期")
    assert answer(r).startswith(f"已退回整改事项 #{item.id} 重新整改，已告知{d.person_name(chief)}；"
                                "该事项恢复逾期提醒。")
    assert (await status(console, item.id)).status == "open"
    assert (await dm_texts(console, chief))[-1].startswith(
        f"整改事项 #{item.id}（建立月报制度）被检务督察{d.person_name(HOST)}退回重新整改。"
        "理由：月报只报了一期")
    assert (await screen_reported(console, second.id))[0] == 0
    # the inspector's report card and the chief's cards, as after the button
    report = await dm_card(console, HOST, f"整改完成报告 · 整改事项 #{item.id}")
    assert report["card"]["actions"] == []
    assert report["card"]["footer"].startswith("已退回重新整改：")
    assert report["card"]["footer"].endswith("（理由：月报只报了一期）")
    item_card = await dm_card(console, chief, f"整改事项 #{item.id}")
    assert [a["label"] for a in item_card["card"]["actions"]] == ["报告整改完成"]
    [reminder] = await reminder_cards(console, chief)  # owed again, 报告整改完成 back
    assert [a["label"] for a in reminder["card"]["actions"]] == ["报告整改完成", "已处理"]
    await console.advance("7d")
    assert len(await reminder_cards(console, chief)) == 2

    # typed twice: calm, nothing done again
    r = await console.send(HOST, GROUP, f"退回整改 {item.id} 再退一次")
    assert answer(r) == f"整改事项 #{item.id} 正在整改中（未报告整改完成，或已退回），无需退回。"
    # closed by the unit's 整改汇报 instead: not a report to send back
    await say(console, "整改汇报 1 已整改 已建立台账")
    r = await console.send(HOST, GROUP, f"退回整改 #{item.id} 未整改")
    assert answer(r).startswith(f"整改事项 #{item.id} 未报告整改完成（已于 ")
    assert answer(r).endswith(f"由整改汇报销号（{d.person_name(HOST)}）），无需退回。")
    async with console.app.services.db() as db:
        n = await db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "inspection.rectification.send_back"))
    assert n == 1


async def test_send_back_by_command_only_inspectors_a_number_and_a_reason(
        console: Console) -> None:
    item, chief = await overdue_item(console)
    help_ = answer(await console.send(HOST, f"dm:{HOST}", "帮助 全部"))
    assert "· 退回整改 <事项号> <理由> —— " in help_
    assert "退回整改" not in answer(await console.send(chief, f"dm:{chief}", "帮助 全部"))
    await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id} 已完成")

    r = await console.send(chief, f"dm:{chief}", f"退回整改 #{item.id} 我自己退回")
    assert answer(r).startswith("「退回整改」仅限检务督察使用。")
    usage = "用法：退回整改 <事项号> <理由>"
    for typed, said in [
            ("退回整改 第一项 没做完", f"{usage}（事项号见整改完成报告卡片，如 #12）"),
            ("退回整改", f"{usage}（事项号见整改完成报告卡片，如 #12）"),
            ("退回整改 #999 没做完", "找不到整改事项 #999。"),
            (f"退回整改 #{item.id}", f"请写明退回理由。未退回。{usage}"),
            (f"退回整改 #{item.id} {'很' * 201}",
             f"退回理由不能超过 200 字（现 201 字），请精简后重新提交。未退回。{usage}")]:
        assert answer(await console.send(HOST, f"dm:{HOST}", typed)) == said, typed
    assert (await status(console, item.id)).closed_by_person == chief

    # an item never reported done (this session's own, not yet due): calm
    await say(console, "整改 1 30天 建立台账")
    async with console.app.services.db() as db:
        fresh = max(i.id for i in await store.rectifications_of(db, item.session_id))
    r = await console.send(HOST, f"dm:{HOST}", f"退回整改 #{fresh} 没做完")
    assert answer(r) == f"整改事项 #{fresh} 正在整改中（未报告整改完成，或已退回），无需退回。"


async def test_the_chief_gets_a_card_of_an_item_someone_else_owns(console: Console) -> None:
    """整改 … 责任人=<someone else>: the unit's chief, who is reminded of the item too, gets
    their own item card naming the 责任人, with 报告整改完成. Reported done from it, both
    cards lose the button; sent back, both get it again."""
    d = console.app.services.directory
    first = await quick_session(console)
    unit = json.loads(first.result or "")["units"][0]
    chief, owner = f"p-chief-{unit}", city_chief(console, unit)
    await say(console, "结束 确认")
    await say(console, f"整改 1 2026-12-15 建立月报制度 责任人={owner}")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, first.id)
    own = await dm_card(console, owner, f"整改事项 #{item.id}")
    copy = await dm_card(console, chief, f"整改事项 #{item.id}")
    assert "责任人：" not in own["card"]["body"]
    assert f"责任人：{d.person_name(owner)}" in copy["card"]["body"]
    assert f"督促责任人{d.person_name(owner)}按期整改" in copy["card"]["body"]
    assert [a["label"] for a in copy["card"]["actions"]] == ["报告整改完成"]

    r = await console.click(chief, copy["id"], "rectification.report", {"note": "月报制度已印发"})
    assert answer(r).startswith(f"已报告整改事项 #{item.id} 整改完成并销号")
    for person in (owner, chief):
        shown = await dm_card(console, person, f"整改事项 #{item.id}")
        assert shown["card"]["actions"] == []
        assert shown["card"]["footer"].startswith(
            f"已处理：{d.person_name(chief)} 已报告整改完成 "), person
    assert (await dm_texts(console, owner))[-1].startswith(
        f"整改事项 #{item.id}（建立月报制度）已由{d.person_name(chief)}报告整改完成并销号")

    r = await console.send(HOST, f"dm:{HOST}", f"退回整改 #{item.id} 未见印发文件")
    assert answer(r).startswith(f"已退回整改事项 #{item.id} 重新整改")
    for person in (owner, chief):
        shown = await dm_card(console, person, f"整改事项 #{item.id}")
        assert [a["label"] for a in shown["card"]["actions"]] == ["报告整改完成"], person
        assert "理由：未见印发文件" in shown["card"]["footer"]


async def test_the_inspectors_escalation_asks_them_to_urge_the_owner(console: Console) -> None:
    """An item overdue past its first reminder escalates to the session's inspector: their
    card asks them to urge the 责任人 (named, with the unit, the item and the days overdue),
    not to rectify it themselves; 已处理 stays. The chief's card keeps its own wording."""
    d = console.app.services.directory
    s = await quick_session(console)
    unit = json.loads(s.result or "")["units"][2]
    chief = f"p-chief-{unit}"
    await say(console, "结束 确认")
    await say(console, "整改 3 １０天 建立月报制度")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, s.id)
    for step in ("11d", "7h", "5d"):
        await console.advance(step)
    [escalated] = await reminder_cards(console, HOST)
    body = escalated["card"]["body"]
    overdue = (console.clock.now().astimezone(console.app.services.config.tz).date()
               - item.due_date).days
    assert (f"{d.units[unit].name}督察整改事项 #{item.id}《建立月报制度》"
            f"整改期限为 {day_text(item.due_date)}，已逾期 {overdue} 天仍未完成，"
            f"请督促责任人{d.person_name(chief)}落实整改。") in body, body
    assert "请抓紧整改落实" not in body
    assert [a["label"] for a in escalated["card"]["actions"]] == ["已处理"]
    owed = (await reminder_cards(console, chief))[-1]["card"]
    assert "请抓紧整改落实" in owed["body"] and "请督促" not in owed["body"]


async def test_an_item_sent_back_before_its_due_date_is_listed_once(console: Console) -> None:
    """Reported done and sent back before its due date (Tuesday 11-10): 提醒 lists the item once,
    as an item not yet due, for the chief as before it was reported, not again as the reminder
    planned for when it falls due."""
    first = await quick_session(console)
    unit = json.loads(first.result or "")["units"][0]
    chief = f"p-chief-{unit}"
    await say(console, "结束 确认")
    await say(console, "整改 1 2026-11-10 建立月报制度")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, first.id)
    listed = f"未到期的整改事项（1项）：\n· 整改事项 #{item.id}，整改期限 2026-11-10（周二）：建立月报制度"
    before = await listing(console, chief)
    await console.send(chief, f"dm:{chief}", f"整改完成 #{item.id} 已建立")
    r = await console.send(HOST, f"dm:{HOST}", f"退回整改 #{item.id} 未见制度文件")
    assert answer(r).startswith(f"已退回整改事项 #{item.id} 重新整改")
    assert await listing(console, chief) == listed == before


async def test_a_chiefs_short_help_offers_it(console: Console) -> None:
    """A unit's chief answers for its 整改事项: their 帮助 shows 整改完成, not only 帮助 全部."""
    line = "· 整改完成 <事项号> <说明> —— 报告整改事项已完成"
    assert line in answer(await console.send("p-chief-c01-01", "dm:p-chief-c01-01", "帮助"))
    prosecutor = answer(await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "帮助"))
    assert "整改完成" not in prosecutor and "码 HY-" in prosecutor
