"""Overdue reminders end to end through the console API and the test clock (SPEC §3).

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai; the helper case has its
investigation deadline on 2026-12-20 and its custody deadline on 2026-12-31."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update

from storage.cases import CaseRow
from storage.inspection import InspectionSession, RectificationItem
from storage.reminders import CaseConsultation, Reminder
from storage.reviews import ReviewRow
from tests.cases.helpers import GREEN, INVESTIGATORS, PROSECUTOR, RED, YELLOW, create_case, evaluate
from tests.conftest import START, Console, open_console

LEADER = "p-leader-hc"
TZ = ZoneInfo("Asia/Shanghai")


async def reminder_cards(console: Console, person: str) -> list[dict[str, Any]]:
    return [m for m in await console.messages(f"dm:{person}")
            if m["card"] and any(w in m["card"]["title"] for w in ("逾期提醒", "督办", "预警提醒"))]


async def statuses(console: Console, subject: str) -> dict[str, str]:
    async with console.app.services.db() as s:
        rows = await s.execute(select(Reminder.key, Reminder.status)
                               .where(Reminder.subject == subject))
        return {k: v for k, v in rows.all()}


async def test_red_weekly_then_green_stops(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    assert await reminder_cards(console, PROSECUTOR) == []

    await console.advance("8d")  # the test clock runs through the days: sent on time
    [first] = await reminder_cards(console, PROSECUTOR)
    card = first["card"]
    assert first["at"].startswith("2026-11-09T01:00") and not card["title"].startswith("【补发】")
    assert code in card["body"] and "红码一周一评估" in card["body"]
    assert "评估期限：2026-11-09（周一）18:00 前" in card["body"] and card["color"] == "red"  # a red case
    assert [a["label"] for a in card["actions"]] == ["去评估", "已处理"]
    assert card["actions"][0]["url"].endswith(f"/cases/{code}/score")

    assert "上次评估为 2026-11-02（周一），已满 7 天" in card["body"]

    await console.advance("7d")
    sent = await reminder_cards(console, PROSECUTOR)
    assert len(sent) == 2 and "评估期限：2026-11-16（周一）18:00 前" in sent[1]["card"]["body"]
    # the second says how long it really has been, not "7 天" again
    assert "上次评估为 2026-11-02（周一），已满 14 天" in sent[1]["card"]["body"]

    # re-scoring closes the open reminder cards in place and cancels what is pending
    await evaluate(console, code, GREEN)
    first, second = await reminder_cards(console, PROSECUTOR)  # the repeat superseded the first
    assert first["card"]["actions"] == [] and first["card"]["footer"] == "已由 2026-11-16 的新提醒取代"
    assert second["card"]["actions"] == [] and second["card"]["footer"].startswith("已重新评估：")
    await console.advance("30d")
    assert len(await reminder_cards(console, PROSECUTOR)) == 2
    for inv in INVESTIGATORS:  # the consultation reminder was cancelled with the green code
        assert await reminder_cards(console, inv) == []
    st = await statuses(console, code)
    assert sorted(k.split(":")[0] for k, v in st.items() if v == "sent") == ["reevaluate_red"] * 2
    assert "pending" not in st.values()  # next red slot, consultation, custody: all cancelled


async def test_consultation_button_records_the_start(console: Console) -> None:
    code = await create_case(console, investigation_deadline="2026-11-20")
    await evaluate(console, code, YELLOW)
    await console.advance("3d")  # 11-05: deadline − 15 days
    [inv_msg] = await reminder_cards(console, INVESTIGATORS[0])
    assert "诉前会商" in inv_msg["card"]["title"]
    # 15 days before the deadline nothing is overdue yet (seed: 侦查期限届满前十五日启动侦诉会商)
    assert "逾期" not in inv_msg["card"]["title"] + inv_msg["card"]["body"]
    assert "应启动会商日期：2026-11-05（周四）" in inv_msg["card"]["body"]
    assert [a["label"] for a in inv_msg["card"]["actions"]] == ["发起会商", "已处理"]
    assert len(await reminder_cards(console, PROSECUTOR)) == 1

    r = await console.click(INVESTIGATORS[0], inv_msg["id"], "reminder.consult")
    assert "已发起" in r["messages"][-1]["text"]
    for person in [*INVESTIGATORS, PROSECUTOR]:  # every recipient's card is closed
        [m] = await reminder_cards(console, person)
        assert m["card"]["actions"] == [] and m["card"]["footer"].startswith("已发起会商：")
    again = await console.click(INVESTIGATORS[0], inv_msg["id"], "reminder.done")
    assert "该按钮已失效" in again["messages"][-1]["text"]
    async with console.app.services.db() as s:
        [c] = (await s.execute(select(CaseConsultation))).scalars().all()
    assert c.case_code == code and c.started_by == INVESTIGATORS[0]


async def test_a_case_first_scored_red_after_its_custody_deadline_came_escalates(
        console: Console) -> None:
    """A running case entered late (its custody deadline already run out), first scored red:
    it was red when the deadline ran out, as far as anyone knows, so 责任倒查 goes to the
    leader at once; one first scored green owes nothing."""
    late = await create_case(console, custody_deadline="2026-11-01")  # ran out at 11-02 00:00
    await evaluate(console, late, RED)
    fine = await create_case(console, custody_deadline="2026-10-30")
    await evaluate(console, fine, GREEN)
    await console.advance("1m")
    [lead] = await reminder_cards(console, LEADER)
    assert "责任倒查" in lead["card"]["title"] and late in lead["card"]["body"]
    assert "羁押期限已于 2026-11-01（周日）届满" in lead["card"]["body"]
    stats = (await console.send(LEADER, f"dm:{LEADER}", "统计"))["messages"][0]["card"]["body"]
    assert "羁押期限届满仍为红码：1" in stats, stats


async def test_custody_deadline_still_red_escalates_to_leader(console: Console) -> None:
    code = await create_case(console, custody_deadline="2026-11-03")  # ran out 11-04 00:00
    await evaluate(console, code, RED)
    await console.advance("2d")  # Wednesday 11-04 09:30
    [p] = await reminder_cards(console, PROSECUTOR)
    [lead] = await reminder_cards(console, LEADER)
    assert "责任倒查" in lead["card"]["title"] and lead["card"]["color"] == "red"
    assert "羁押期限已于 2026-11-03（周二）届满" in lead["card"]["body"]
    assert "羁押期限：2026-11-03（周二）" in lead["card"]["body"]  # the deadline day, not its end
    assert "请您启动责任倒查。" in lead["card"]["body"]  # the leader's copy is addressed to them
    # 去评估 is the prosecutor's; the leader's card opens the code page instead
    assert [a["label"] for a in p["card"]["actions"]] == ["去评估", "已处理"]
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]
    await console.client.post("/console/api/login", json={"user": LEADER})
    page = await console.client.get(urlsplit(lead["card"]["actions"][0]["url"]).path)
    assert page.status == 200 and code in await page.text()
    r = await console.click(LEADER, lead["id"], "reminder.view")
    assert r["messages"][-1]["text"].startswith("「查看案件」是链接，请直接打开：")
    r = await console.click(LEADER, lead["id"], "reminder.done")
    assert r["messages"][-1]["text"] == (
        f"已标记为已处理：{code} 的责任倒查提醒，羁押期限 2026-11-03（周二）。")
    [p2] = await reminder_cards(console, PROSECUTOR)
    assert p2["id"] == p["id"] and p2["card"]["footer"].startswith("已处理：")


async def test_catch_up_after_downtime_is_one_reminder_naming_the_missed_slots(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    console.clock.advance(timedelta(days=22))  # the bot was down: no tick for 22 days
    await console.advance("1m")
    [card] = [m["card"] for m in await reminder_cards(console, PROSECUTOR)]
    assert card["title"].startswith("【补发】") and "评估期限：2026-11-23" in card["body"]
    assert "此前 2 次到期提醒（2026-11-09（周一）、2026-11-16（周一））未单独发送" in card["body"]
    for _ in range(3):
        await console.advance("1m")
    assert len(await reminder_cards(console, PROSECUTOR)) == 1
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    assert "2026-11-30" in r["messages"][0]["card"]["body"]  # the series goes on as before


async def test_a_catch_up_waits_for_office_hours(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)  # Monday 11-02: first re-evaluation due Monday 11-09
    # down until Saturday 11-14 05:00 in Shanghai, then the first tick
    console.clock.advance(timedelta(days=11, hours=19, minutes=30))
    await console.advance("1m")
    assert await reminder_cards(console, PROSECUTOR) == []  # not at dawn on a Saturday
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    assert f"{code} 已于 2026-11-09（周一）09:00 到期，将在办公时间发出" in r["messages"][0]["card"]["body"]
    console.clock.advance(timedelta(days=2, hours=4))  # Monday 11-16 09:01
    await console.advance("1m")
    # when office hours begin, the 11-16 slot is due too: one card naming the missed one
    [card] = [m["card"] for m in await reminder_cards(console, PROSECUTOR)]
    assert "评估期限：2026-11-16" in card["body"]
    assert "此前 1 次到期提醒（2026-11-09（周一））未单独发送，已合并为本条。" in card["body"]


async def test_list_and_snooze(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    body = r["messages"][0]["card"]["body"]
    assert "即将提醒" in body and code in body and "将于 2026-11-09（周一）09:00 提醒" in body

    await console.advance("6d")  # Sunday 11-08
    r = await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", f"提醒 暂停 {code} 3")
    assert "仅限承办检察官" in r["messages"][0]["text"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {code} 8")
    assert "1 到 7 天" in r["messages"][0]["text"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {code.lower()} 3")
    assert "已暂停" in r["messages"][0]["text"] and "第 1/2 次" in r["messages"][0]["text"]
    # a snooze that would not extend the current one is not counted
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {code} 1")
    assert "本次没有延长" in r["messages"][0]["text"] and "未计入" in r["messages"][0]["text"]
    # typed on a phone without spaces: 提醒暂停HY-2026-0001 7
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒暂停{code} 7")
    assert "最早于 2026-11-16（周一）09:00 再次提醒" in r["messages"][0]["text"]
    assert "第 2/2 次" in r["messages"][0]["text"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {code} 1")
    assert "达到上限" in r["messages"][0]["text"]
    green = await create_case(console)
    await evaluate(console, green, GREEN)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {green} 3")
    assert r["messages"][0]["text"] == f"{green} 当前没有待发送的提醒，无需暂停（未计入暂停次数）。"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒 暂停")
    assert r["messages"][0]["text"].startswith("用法：")

    await console.advance("7d")  # Sunday 11-15: still snoozed
    assert await reminder_cards(console, PROSECUTOR) == []
    # Monday 11-16: the snoozed 11-09 slot and the 11-16 one both fall due when office hours
    # begin: one card that morning, naming both dates
    await console.advance("1d")
    sent = await reminder_cards(console, PROSECUTOR)
    assert [m["at"][:16] for m in sent] == ["2026-11-16T01:00"]
    assert "评估期限：2026-11-16（周一）18:00 前" in sent[0]["card"]["body"]
    assert "此前 1 次到期提醒（2026-11-09（周一））未单独发送" in sent[0]["card"]["body"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    body = r["messages"][0]["card"]["body"]
    # each named by its case and kind, as the cards name them; no internal numbers
    assert f"· 重新评估 {code} 到期 2026-11-16（周一）09:00\n" in body and "[" not in body
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    assert "待处理提醒（1条）" in r["messages"][0]["card"]["body"]
    await console.click(PROSECUTOR, sent[0]["id"], "reminder.done")
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    assert "待处理提醒" not in r["messages"][0]["card"]["body"]
    # the leader gets none of the prosecutor's reminders, only the 责任倒查 should custody
    # run out at the end of 12-31 with the case still red (after 元旦, on the next working day)
    r = await console.send(LEADER, f"dm:{LEADER}", "提醒")
    assert r["messages"][0]["card"]["body"] == (
        f"即将提醒（1条）：\n· 责任倒查 {code} 将于 2027-01-04（周一）09:00 提醒")


async def test_review_request_unanswered_reminds_then_escalates(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    async with console.app.services.db() as s, s.begin():
        review = ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[0],
                           filed_at=START - timedelta(days=3), items="[]", reason="有异议",
                           status="pending", due_at=START)
        s.add(review)
    await console.advance("1m")
    [p1] = await reminder_cards(console, PROSECUTOR)
    assert "复核答复" in p1["card"]["title"]  # named as every other card names the request
    assert f"复核申请 #{review.id}（{code}）《" in p1["card"]["body"]
    assert await reminder_cards(console, LEADER) == []
    await console.advance("2d")  # 2 working days later: escalation to the leader as well
    assert len(await reminder_cards(console, PROSECUTOR)) == 2
    [lead] = await reminder_cards(console, LEADER)
    assert lead["card"]["title"].endswith("（升级）")
    # the deadline it names is the review's answer time, not the escalation's own date
    assert "已超过答复期限 2026-11-02（周一）" in lead["card"]["body"]
    # and the one deadline every card of the series shows, the repeat's too (not its own date)
    for card in [*await reminder_cards(console, PROSECUTOR), lead]:
        assert "答复期限：2026-11-02（周一）09:30 前" in card["card"]["body"], card["card"]["body"]
        assert "到期时间" not in card["card"]["body"]
    # 去答复 brings the request's decision card up for the prosecutor, and only for them; on
    # the latest card only: the repeat superseded the first one
    p1, p2 = await reminder_cards(console, PROSECUTOR)
    assert p1["card"]["actions"] == [] and p1["card"]["footer"] == "已由 2026-11-04 的新提醒取代"
    assert [a["label"] for a in p2["card"]["actions"]] == ["去答复", "已处理"]
    r = await console.click(PROSECUTOR, p2["id"], "review.resend")
    [fresh] = [m for m in r["messages"] if m["card"]]
    assert fresh["card"]["title"] == f"复核申请 #{review.id} · 待处理"
    assert fresh["card"]["actions"][0]["label"] == "同意并调整"
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]  # not 去答复
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    listing = r["messages"][0]["card"]["body"]
    assert f"复核答复（升级） 复核申请 #{review.id}（{code}）" in listing and "review-" not in listing
    # the open one names the answer time, as the cards do, and how often it was sent
    assert listing.count("答复期限 2026-11-02（周一）09:30 前（已提醒 2 次）") == 1, listing
    assert "到期 " not in listing, listing
    async with console.app.services.db() as s, s.begin():
        await s.execute(text("UPDATE review_requests SET status='decided' WHERE id=:i"),
                        {"i": review.id})
    await console.advance("5d")
    assert len(await reminder_cards(console, PROSECUTOR)) == 2
    assert "cancelled" in (await statuses(console, f"review-{review.id}")).values()


async def test_a_review_unanswered_through_a_downtime_escalates_once(console: Console) -> None:
    """The answer time and two escalation slots passed while the bot was down: one
    escalation goes out, to the prosecutor and the leader, naming the missed slots."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    async with console.app.services.db() as s, s.begin():
        s.add(ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[0],
                        filed_at=START - timedelta(days=10), items="[]", reason="有异议",
                        status="pending", due_at=START - timedelta(days=7)))
    await console.advance("1m")
    for person in (PROSECUTOR, LEADER):
        [card] = [m["card"] for m in await reminder_cards(console, person)]
        assert card["title"] == "【补发】逾期提醒 · 复核答复（升级）"
        assert "此前 2 次到期提醒（2026-10-26（周一）、2026-10-28（周三））未单独发送" in card["body"]
    await console.advance("1m")
    assert len(await reminder_cards(console, LEADER)) == 1


async def test_rectification_items_reach_the_chief_then_the_inspector(console: Console) -> None:
    """An open rectification item past its due date → the unit's chief, then also the
    inspector who ran the session; closing the item stops it."""
    now = console.clock.now()
    async with console.app.services.db() as s, s.begin():
        s.add(InspectionSession(
            id="DD-TEST", title="测试督导", chat="g-inspection", created_by="p-inspector-2",
            created_at=now, updated_at=now, stage="closed", params="{}", secret_hex="00",
            manifest="{}", manifest_hash="0" * 64, current=-1))
        await s.flush()
        s.add(RectificationItem(id=7, session_id="DD-TEST", unit_id="c01-01",
                                owner_person_id="p-chief-c01-01", text="案件码评分不规范",
                                due_date=date(2026, 10, 30), status="open",
                                created_at=now - timedelta(days=13)))
    await console.advance("1m")
    [c1] = await reminder_cards(console, "p-chief-c01-01")
    assert "整改事项 #7" in c1["card"]["body"] and "案件码评分不规范" in c1["card"]["body"]
    assert c1["card"]["footer"] is None  # no internal reminder number on the card
    # one deadline, the item's: not the day the reminder fell due (Monday 11-02) beside it
    listed = (await console.send("p-chief-c01-01", "dm:p-chief-c01-01", "提醒"))["messages"]
    assert "· 督察整改 整改事项 #7 整改期限 2026-10-30（周五）" in listed[0]["card"]["body"]
    r = await console.click("p-chief-c01-01", c1["id"], "reminder.done")
    assert r["messages"][-1]["text"] == (
        "已标记为已处理：整改事项 #7 的督察整改提醒，整改期限 2026-10-30（周五）。\n"
        "注意：整改事项 #7 仍未销号，逾期仍会提醒。整改完成后请点整改事项卡片上的「报告整改完成」，"
        "或发送「整改完成 #7 <说明>」。")
    await console.advance("3d")  # Thursday 11-05: 3 working days later, to the inspector too
    assert len(await reminder_cards(console, "p-chief-c01-01")) == 2
    [escalated] = await reminder_cards(console, "p-inspector-2")
    d = console.app.services.directory
    for c in await reminder_cards(console, "p-chief-c01-01"):
        body = c["card"]["body"]
        assert "已超过整改期限 2026-10-30（周五）" in body and "整改期限：2026-10-30（周五）" in body, body
        whose = (f"【整改逾期提醒】{d.unit_name('c01-01')}督察整改事项 #7《案件码评分不规范》"
                 f"（责任人：{d.person_name('p-chief-c01-01')}）")
        assert whose in body, body
        assert "2026-11-0" not in body and "到期时间" not in body, body
    # the inspector, who follows many offices, reads whose item it is and what to do about it
    body = escalated["card"]["body"]
    assert (f"【整改逾期提醒】{d.unit_name('c01-01')}督察整改事项 #7《案件码评分不规范》"
            "整改期限为 2026-10-30（周五），已逾期 6 天仍未完成，"
            f"请督促责任人{d.person_name('p-chief-c01-01')}落实整改。") in body, body
    assert "2026-11-0" not in body and "到期时间" not in body, body
    # the inspector, who cannot report it done, is not told to
    r = await console.click("p-inspector-2", escalated["id"], "reminder.done")
    assert r["messages"][-1]["text"].startswith("已标记为已处理：整改事项 #7 ")
    assert "报告整改完成" not in r["messages"][-1]["text"]
    assert await reminder_cards(console, "p-inspector-1") == []
    async with console.app.services.db() as s, s.begin():
        item = await s.get(RectificationItem, 7)
        assert item is not None
        item.status, item.closed_at = "closed", console.clock.now()
    await console.advance("10d")
    assert len(await reminder_cards(console, "p-chief-c01-01")) == 2


async def test_rectification_reminders_reach_the_named_owner(console: Console) -> None:
    """An item whose 责任人 is not the unit's chief (整改 … 责任人=…): the owner was told
    "逾期将提醒", so the overdue reminder reaches the owner as well as the unit's chief."""
    now = console.clock.now()
    async with console.app.services.db() as s, s.begin():
        s.add(InspectionSession(
            id="DD-OWNER", title="测试督导", chat="g-inspection", created_by="p-inspector-2",
            created_at=now, updated_at=now, stage="closed", params="{}", secret_hex="00",
            manifest="{}", manifest_hash="0" * 64, current=-1))
        await s.flush()
        s.add(RectificationItem(id=8, session_id="DD-OWNER", unit_id="c01-01",
                                owner_person_id="p-chief-c01", text="台账不全",
                                due_date=date(2026, 10, 30), status="open",
                                created_at=now - timedelta(days=13)))
    await console.advance("1m")
    for person in ("p-chief-c01", "p-chief-c01-01"):
        [card] = await reminder_cards(console, person)
        assert "整改事项 #8" in card["card"]["body"]


async def test_closed_case_cancels_pending(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    async with console.app.services.db() as s, s.begin():
        case = await s.get(CaseRow, code)
        assert case is not None
        case.status = "closed"
    await console.advance("8d")  # even without a re-plan hook, the sweep re-checks at send time
    assert await reminder_cards(console, PROSECUTOR) == []
    async with console.app.services.db() as s:
        n = await s.scalar(select(func.count()).select_from(Reminder)
                           .where(Reminder.status == "cancelled"))
    assert n and n >= 1


async def test_reminder_list_shows_only_what_the_sender_will_get(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = (await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", "提醒"))["messages"][0]
    pro = (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒"))["messages"][0]
    assert "诉前会商" in inv["card"]["body"] and "重新评估" not in inv["card"]["body"]
    assert "重新评估" in pro["card"]["body"] and "诉前会商" in pro["card"]["body"]


async def test_api_deadline_change_and_close_replan(console: Console) -> None:
    """PATCH /api/v1/cases/{code}: a later investigation deadline moves the consultation; closing
    the case cancels everything pending at once."""
    code = await create_case(console, investigation_deadline="2026-11-20")
    await evaluate(console, code, YELLOW)
    auth = {"Authorization": "Bearer test-token"}

    async def pending(rule: str) -> list[str]:
        async with console.app.services.db() as s:
            rows = await s.execute(select(Reminder.slot).where(
                Reminder.case_code == code, Reminder.rule_id == rule, Reminder.status == "pending"))
            return sorted(rows.scalars())

    assert await pending("consultation") == ["2026-11-05"]
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=auth,
                                   json={"investigation_deadline": "2026-12-31"})
    assert r.status == 200
    assert await pending("consultation") == ["2026-12-16"]
    bad = await console.client.patch(f"/api/v1/cases/{code}", headers=auth, json={"status": "x"})
    assert bad.status == 422 and (await bad.json())["errors"][0]["field"] == "status"
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=auth, json={"status": "closed"})
    assert r.status == 200
    assert await pending("consultation") == [] and await pending("reevaluate_yellow") == []
    await console.advance("60d")
    assert await reminder_cards(console, PROSECUTOR) == []


async def test_new_years_day_2027_is_no_working_day_for_reminders(console: Console) -> None:
    # chinese-calendar 1.11.0 has no 2027 arrangement and the shipped config no override: the
    # statutory holidays still hold. 2027-01-01 is a Friday (元旦); Saturday and Sunday follow.
    code = await create_case(console, investigation_deadline="2027-01-16",
                             custody_deadline="2027-01-01")
    await evaluate(console, code, RED)

    async def cards(person: str, word: str) -> list[dict[str, Any]]:
        return [m for m in await reminder_cards(console, person)
                if word in m["card"]["title"] + m["card"]["body"]]

    holiday = datetime(2027, 1, 1, 9, 26, tzinfo=TZ)
    console.clock.advance(holiday - console.clock.now())
    await console.advance("1m")
    assert await cards(LEADER, "责任倒查") == []
    assert await cards(INVESTIGATORS[0], "诉前会商") == []
    assert await cards(PROSECUTOR, "诉前会商") == []
    console.clock.advance(datetime(2027, 1, 4, 9, 0, tzinfo=TZ) - console.clock.now())
    await console.advance("1m")  # Monday 2027-01-04 09:01: the first working day
    [lead] = await cards(LEADER, "责任倒查")
    assert "羁押期限已于 2027-01-01（周五）届满" in lead["card"]["body"]
    [consult] = await cards(INVESTIGATORS[0], "诉前会商")
    # sent 12 days before the deadline (after the holiday): the text names the deadline
    # instead of claiming 仅余 15 天
    assert "仅余 15 天" not in consult["card"]["body"]
    assert "侦查期限将于 2027-01-16（周六）届满" in consult["card"]["body"]


async def test_the_list_shows_a_date_deadline_as_its_card_does(console: Console) -> None:
    """诉前会商 is due on a date (15 days before the investigation deadline): the card says
    2026-12-05, and so does 提醒 (it said 2026-12-05 00:00)."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.advance("36d")  # past Monday 12-07 09:00, when the 12-05 warning went out
    [card] = [m["card"] for m in await reminder_cards(console, INVESTIGATORS[0])
              if "诉前会商" in m["card"]["title"]]
    assert "应启动会商日期：2026-12-05（周六）" in card["body"]
    r = await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", "提醒")
    body = r["messages"][0]["card"]["body"]
    assert f"诉前会商 {code} 到期 2026-12-05（周六）\n" in body + "\n" and "00:00" not in body, body


async def _custody_cards(console: Console, person: str) -> list[dict[str, Any]]:
    return [m for m in await reminder_cards(console, person) if "责任倒查" in m["card"]["title"]]


async def test_a_rescore_after_custody_ran_out_does_not_call_off_the_accountability_review(
        console: Console) -> None:
    """Custody runs out on Saturday 11-07 with the case red; the 责任倒查 waits for Monday's
    office hours, and on Sunday the prosecutor re-scores yellow. The case was red when custody
    ran out (seed: 羁押期限已至仍是红码 → 责任倒查; 统计 counts it the same way): the leader is
    still told on Monday, with what the case is now, and the prosecutor gets no 去评估."""
    code = await create_case(console, custody_deadline="2026-11-07")
    await evaluate(console, code, RED)
    await console.advance("6d")  # Sunday 11-08 09:30: nothing goes out at the weekend
    assert await _custody_cards(console, LEADER) == []
    await evaluate(console, code, YELLOW)
    await console.advance("1d")  # Monday 11-09 09:30
    [lead] = await _custody_cards(console, LEADER)
    [p] = await _custody_cards(console, PROSECUTOR)
    assert lead["at"].startswith("2026-11-09T01:00")
    for m in (lead, p):
        assert "羁押期限已于 2026-11-07（周六）届满" in m["card"]["body"]
        assert "现状：已重新评分为黄码 85分（第2版）；羁押期限届满时仍为红码，责任倒查不因转码而取消。" \
            in m["card"]["body"], m["card"]["body"]
    assert [a["label"] for a in p["card"]["actions"]] == ["已处理"]
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]


async def test_a_sent_accountability_card_says_what_became_of_the_case(console: Console) -> None:
    """责任倒查 went out while the case was red; each later re-score redraws the cards in
    place: 现状 names the latest score (one line, not one per re-score), and 去评估 goes once
    the case is no longer red."""
    code = await create_case(console, custody_deadline="2026-11-03")  # ran out 11-04 00:00
    await evaluate(console, code, RED)
    await console.advance("2d")  # Wednesday 11-04 09:30
    [p] = await _custody_cards(console, PROSECUTOR)
    assert [a["label"] for a in p["card"]["actions"]] == ["去评估", "已处理"]
    await evaluate(console, code, RED[:2])  # 74: yellow
    await evaluate(console, code, GREEN)  # 95: green
    for person in (PROSECUTOR, LEADER):
        [m] = await _custody_cards(console, person)
        body = m["card"]["body"]
        assert body.count("现状：") == 1 and "现状：已重新评分为绿码 95分（第3版）" in body, body
        assert "去评估" not in [a["label"] for a in m["card"]["actions"]]
        assert "已处理" in [a["label"] for a in m["card"]["actions"]]
    r = await console.click(PROSECUTOR, p["id"], "reminder.evaluate")
    assert r["messages"][-1]["text"].startswith("该按钮已失效")


async def test_a_weekly_reminder_held_by_national_day_goes_out_once_with_the_next(
        settings: Any, port: int) -> None:
    """A red case evaluated on Thursday 2026-09-24 09:30: its 10-01 re-evaluation falls in 国庆
    (10-01..07) and waits for Thursday 10-08, the very day the 10-08 one is due. The
    prosecutor gets one card that morning naming both dates, not the same reminder twice."""
    async with open_console(settings, port, start=datetime(2026, 9, 24, 9, 30, tzinfo=TZ)
                            ) as console:
        code = await create_case(console)
        await evaluate(console, code, RED)
        await console.advance("15d")  # Friday 10-09 09:30
        cards = await reminder_cards(console, PROSECUTOR)
        assert [m["at"][:16] for m in cards] == ["2026-10-08T01:00"], cards
        body = cards[0]["card"]["body"]
        assert "评估期限：2026-10-08（周四）18:00 前" in body
        assert "此前 1 次到期提醒（2026-10-01（周四））未单独发送，已合并为本条。" in body
        assert not cards[0]["card"]["title"].startswith("【补发】")
        await console.advance("7d")  # the series goes on, once a week
        assert [m["at"][:10] for m in await reminder_cards(console, PROSECUTOR)] == [
            "2026-10-08", "2026-10-15"]


async def test_a_reminder_planned_before_the_holiday_rule_still_goes_out_once(
        settings: Any, port: int) -> None:
    """A pending row stored with the plain office-hours time (by an earlier version, before
    the series' next slot was taken into account) is put back at send time to wait for the
    next slot that same day: still one card on 10-08."""
    async with open_console(settings, port, start=datetime(2026, 9, 24, 9, 30, tzinfo=TZ)
                            ) as console:
        code = await create_case(console)
        await evaluate(console, code, RED)
        async with console.app.services.db() as s, s.begin():
            done = await s.execute(
                update(Reminder).where(Reminder.key == f"reevaluate_red:{code}:2026-10-01")
                .values(deliver_at=datetime(2026, 10, 8, 9, 0, tzinfo=TZ)))
            assert done.rowcount == 1  # type: ignore[attr-defined]
        await console.advance("15d")
        cards = await reminder_cards(console, PROSECUTOR)
        assert [m["at"][:16] for m in cards] == ["2026-10-08T01:00"], cards
        assert "此前 1 次到期提醒（2026-10-01（周四））未单独发送" in cards[0]["card"]["body"]


async def test_the_prosecutor_closes_only_their_own_copy_of_the_accountability_review(
        console: Console) -> None:
    """责任倒查 goes to the leader about the prosecutor, who gets a copy. Their 已处理 closed the
    leader's copy too: the person held to account dismissed the escalation. Now it closes
    their copy alone; the leader's stays open (and listed) until the leader acts."""
    code = await create_case(console, custody_deadline="2026-11-03")  # ran out 11-04 00:00
    await evaluate(console, code, RED)
    await console.advance("2d")  # Wednesday 11-04 09:30
    [p] = await _custody_cards(console, PROSECUTOR)
    [lead] = await _custody_cards(console, LEADER)
    r = await console.click(PROSECUTOR, p["id"], "reminder.done")
    assert r["messages"][-1]["text"] == (
        f"已关闭您的这份责任倒查提醒（{code}）；该提醒已报院领导，仍由院领导处理。")
    [p] = await _custody_cards(console, PROSECUTOR)
    assert p["card"]["actions"] == []
    assert p["card"]["footer"].startswith("已处理：") and p["card"]["footer"].endswith(
        "（仍待院领导处理）"), p["card"]["footer"]
    [still] = await _custody_cards(console, LEADER)
    assert still["card"] == lead["card"], still["card"]  # untouched: 查看案件, 已处理, no footer change
    listing = (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒"))["messages"][0]
    assert "责任倒查" not in (listing["card"] or {}).get("body", listing["text"] or "")
    listing = (await console.send(LEADER, f"dm:{LEADER}", "提醒"))["messages"][0]
    assert f"责任倒查 {code}" in listing["card"]["body"]
    again = await console.click(PROSECUTOR, p["id"], "reminder.done")
    assert [m["text"] for m in again["messages"]] == ["您已点过「已处理」，无需重复操作。"]
    r = await console.click(LEADER, lead["id"], "reminder.done")
    assert r["messages"][-1]["text"].startswith(f"已标记为已处理：{code} 的")
    [closed] = await _custody_cards(console, LEADER)
    # settled, the card still leads to the case
    assert [a["label"] for a in closed["card"]["actions"]] == ["查看案件"]
    assert closed["card"]["footer"].startswith("已处理：")


async def _close(console: Console, code: str) -> None:
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "closed"},
                                   headers={"Authorization": "Bearer test-token"})
    assert r.status == 200, await r.text()


async def test_a_case_closed_after_custody_ran_out_red_still_gets_its_accountability_review(
        console: Console) -> None:
    """Custody runs out on Saturday 11-07 with the case red; the 责任倒查 waits for Monday's
    office hours, and on Sunday the case-management system closes the case. Closing called it
    off ("nothing is planned for a closed case"), unlike a re-score. Now it goes out on
    Monday saying the case is closed; the weekly 红码 re-evaluation due that day does not."""
    code = await create_case(console, custody_deadline="2026-11-07")
    await evaluate(console, code, RED)
    await console.advance("6d")  # Sunday 11-08 09:30
    assert await _custody_cards(console, LEADER) == []
    await _close(console, code)
    await console.advance("1d")  # Monday 11-09 09:30
    [lead] = await _custody_cards(console, LEADER)
    [p] = await reminder_cards(console, PROSECUTOR)  # the 责任倒查 alone, no 重新评估
    assert "责任倒查" in p["card"]["title"] and lead["at"].startswith("2026-11-09T01:00")
    for m in (lead, p):
        assert "羁押期限已于 2026-11-07（周六）届满" in m["card"]["body"]
        assert ("现状：案件已于 2026-11-08 结案；羁押期限届满时仍为红码，责任倒查不因结案而取消。"
                in m["card"]["body"]), m["card"]["body"]
    assert [a["label"] for a in p["card"]["actions"]] == ["已处理"]  # nothing to evaluate
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]
    await console.advance("30d")  # once, not weekly
    assert len(await _custody_cards(console, LEADER)) == 1
    assert len(await reminder_cards(console, PROSECUTOR)) == 1


async def test_a_case_closed_before_its_custody_deadline_owes_no_accountability_review(
        console: Console) -> None:
    code = await create_case(console, custody_deadline="2026-11-07")
    await evaluate(console, code, RED)
    await console.advance("3d")  # Thursday 11-05
    await _close(console, code)
    await console.advance("10d")
    assert await _custody_cards(console, LEADER) == []
    assert await reminder_cards(console, PROSECUTOR) == []


async def test_a_close_sent_again_after_the_custody_deadline_owes_no_accountability_review(
        console: Console) -> None:
    """Closed on Thursday before custody ran out on Saturday; the case-management system sends
    its close again on Sunday. The case was closed on Thursday: still no 责任倒查."""
    code = await create_case(console, custody_deadline="2026-11-07")
    await evaluate(console, code, RED)
    await console.advance("3d")  # Thursday 11-05
    await _close(console, code)
    await console.advance("3d")  # Sunday 11-08
    await _close(console, code)
    await console.advance("10d")
    assert await _custody_cards(console, LEADER) == []
    assert await reminder_cards(console, PROSECUTOR) == []


async def test_closing_leaves_a_sent_accountability_review_open_for_the_leader(
        console: Console) -> None:
    """The 责任倒查 went out; then the case is closed. The leader still has it to act on (it
    says the case is closed now); the prosecutor's copy loses 去评估."""
    code = await create_case(console, custody_deadline="2026-11-03")  # ran out 11-04 00:00
    await evaluate(console, code, RED)
    await console.advance("2d")  # Wednesday 11-04 09:30
    await _close(console, code)
    [lead] = await _custody_cards(console, LEADER)
    [p] = await _custody_cards(console, PROSECUTOR)
    for m in (lead, p):
        assert m["card"]["body"].count("现状：") == 1
        assert "现状：案件已于 2026-11-04 结案；" in m["card"]["body"], m["card"]["body"]
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]
    assert [a["label"] for a in p["card"]["actions"]] == ["已处理"]
    r = await console.click(LEADER, lead["id"], "reminder.done")
    assert r["messages"][-1]["text"].startswith(f"已标记为已处理：{code} 的")


async def _reopen(console: Console, code: str) -> None:
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "open"},
                                   headers={"Authorization": "Bearer test-token"})
    assert r.status == 200, await r.text()


async def test_reopening_a_case_takes_closed_off_its_accountability_review_cards(
        console: Console) -> None:
    """The 责任倒查 went out, the case was closed (现状：案件已于…结案) and then reopened by the
    case-management system. The cards went on saying the case was closed and the prosecutor
    had no 去评估 on a red, open case. Now they say it was reopened and is still red, and the
    prosecutor's copy leads to the score form again."""
    code = await create_case(console, custody_deadline="2026-11-03")  # ran out 11-04 00:00
    await evaluate(console, code, RED)
    await console.advance("2d")  # Wednesday 11-04 09:30
    await _close(console, code)
    await console.advance("1d")  # Thursday 11-05
    await _reopen(console, code)
    [lead] = await _custody_cards(console, LEADER)
    [p] = await _custody_cards(console, PROSECUTOR)
    for m in (lead, p):
        body = m["card"]["body"]
        assert "结案；" not in body, body
        assert body.count("现状：") == 1 and (
            "现状：案件已于 2026-11-05 重新打开（撤销结案），仍为红码 66分（第1版）。" in body), body
    assert [a["label"] for a in p["card"]["actions"]] == ["去评估", "已处理"]
    assert p["card"]["actions"][0]["url"].endswith(f"/cases/{code}/score")
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]


async def test_reminders_list_names_the_accountability_review_a_closed_case_still_owes(
        console: Console) -> None:
    """Custody ran out on Saturday with the case red; it was closed on Sunday. 提醒 told the
    prosecutor 您目前没有待办提醒, and on Monday the 责任倒查 came all the same."""
    code = await create_case(console, custody_deadline="2026-11-07")
    await evaluate(console, code, RED)
    await console.advance("6d")  # Sunday 11-08
    await _close(console, code)
    listing = (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒"))["messages"][0]
    assert listing["card"] is not None, listing["text"]
    assert f"责任倒查 {code} 将于 2026-11-09（周一）09:00 提醒" in listing["card"]["body"]
    assert "重新评估" not in listing["card"]["body"]  # called off by the closing
    await console.advance("1d")
    [p] = await reminder_cards(console, PROSECUTOR)
    assert "责任倒查" in p["card"]["title"] and p["at"].startswith("2026-11-09T01:00")


async def test_the_prosecutor_cannot_dismiss_an_overdue_answer_escalated_to_the_leader(
        console: Console) -> None:
    """The same for the overdue-answer escalation (复核答复（升级）): the prosecutor's 已处理
    closes their copy; the leader's stays open (answering the request closes both)."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    async with console.app.services.db() as s, s.begin():
        review = ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[0],
                           filed_at=START - timedelta(days=3), items="[]", reason="有异议",
                           status="pending", due_at=START)
        s.add(review)
    await console.advance("1m")
    await console.advance("2d")  # the escalation, to the prosecutor and the leader
    [lead] = await reminder_cards(console, LEADER)
    escalated = (await reminder_cards(console, PROSECUTOR))[-1]
    assert escalated["card"]["title"].endswith("（升级）")
    r = await console.click(PROSECUTOR, escalated["id"], "reminder.done")
    assert r["messages"][-1]["text"] == (f"已关闭您的这份复核答复提醒（复核申请 #{review.id}（{code}））；"
                                         "该提醒已报院领导，仍由院领导处理。")
    [still] = await reminder_cards(console, LEADER)
    assert still["card"] == lead["card"]


async def test_a_snooze_not_extended_names_the_moment_the_first_one_did(console: Console) -> None:
    """QA: 暂停 3 天 on a Thursday said 最早于 Monday 09:00; a second 暂停 1 天 then said the
    reminders were paused until Sunday at the hour it was typed, a moment nothing is sent."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await console.advance("3d")  # Thursday 11-05 09:30
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {code} 3")
    assert "最早于 2026-11-09（周一）09:00 再次提醒" in r["messages"][0]["text"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"提醒 暂停 {code} 1")
    assert r["messages"][0]["text"] == (f"{code} 的提醒已暂停至 2026-11-09（周一）09:00，本次没有延长，"
                                        "无需重复暂停（未计入暂停次数）。")
