"""「提醒」 for the people escalations go to (SPEC §3): a leader (院领导) sees the 责任倒查 and
the overdue-answer escalations coming to them, and when, as a prosecutor sees their own
upcoming reminders; an inspector sees the 督察整改 escalations coming to them.

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai (tests/conftest.py START)."""

from __future__ import annotations

from datetime import date, timedelta

from cards.dingtalk import card_fits
from cards.model import Card
from storage.inspection import InspectionSession, RectificationItem
from storage.reviews import ReviewRow
from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, RED, YELLOW, create_case, evaluate
from tests.conftest import START, Console

LEADER = "p-leader-hc"  # 院领导 of c01-01, the unit of PROSECUTOR's cases
PROVINCE_LEADER = "p-leader-1"


async def listing(console: Console, person: str) -> str:
    """The answer to 「提醒」: the card's body, or the text when there is no card."""
    [msg] = (await console.send(person, f"dm:{person}", "提醒"))["messages"]
    return str(msg["card"]["body"] if msg["card"] else msg["text"])


async def test_a_leader_sees_the_accountability_review_coming_to_them(console: Console) -> None:
    """Custody runs out on Saturday 11-07 with the case red: the 责任倒查 goes to the leader on
    Monday 11-09 at 09:00. 提醒 said 您目前没有待办提醒 until then."""
    red = await create_case(console, custody_deadline="2026-11-07")
    await evaluate(console, red, RED)
    yellow = await create_case(console, custody_deadline="2026-11-06")
    await evaluate(console, yellow, YELLOW)  # not red: no 责任倒查 heading to the leader

    body = await listing(console, LEADER)
    assert body == f"即将提醒（1条）：\n· 责任倒查 {red} 将于 2026-11-09（周一）09:00 提醒", body
    # the prosecutor's re-evaluations and 诉前会商 are not the leader's
    assert await listing(console, PROVINCE_LEADER) == "您目前没有待办提醒。"  # not their unit

    await console.advance("7d")  # Monday 11-09 09:30: it went out
    body = await listing(console, LEADER)
    assert f"待处理提醒（1条）：\n· 责任倒查 {red} 羁押期限 2026-11-07（周六）" in body
    assert "即将提醒" not in body


async def test_a_leader_sees_an_overdue_answer_before_it_is_escalated(console: Console) -> None:
    """A review request unanswered at its answer time (Monday 11-02 09:30): the prosecutor is
    reminded at once, and 2 working days later it is escalated to the leader as well. The
    leader's 提醒 names that escalation and its date in the meantime."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    async with console.app.services.db() as s, s.begin():
        review = ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[0],
                           filed_at=START - timedelta(days=3), items="[]", reason="有异议",
                           status="pending", due_at=START)
        s.add(review)
    await console.advance("1m")

    coming = f"· 复核答复（升级） 复核申请 #{review.id}（{code}） 将于 2026-11-04（周三）09:30 提醒"
    body = await listing(console, LEADER)
    assert body == f"即将提醒（1条）：\n{coming}", body
    assert coming in await listing(console, PROSECUTOR)  # who gets a copy of it, too

    await console.advance("2d")  # Wednesday 11-04 09:31: escalated, again every 2 working days
    body = await listing(console, LEADER)  # naming the answer time, as its card does
    # their first card: the prosecutor's reminder of Monday was not theirs to count
    assert body == (f"待处理提醒（1条）：\n· 复核答复（升级） 复核申请 #{review.id}（{code}） "
                    f"答复期限 2026-11-02（周一）09:30 前\n即将提醒（1条）：\n"
                    f"· 复核答复（升级） 复核申请 #{review.id}（{code}） "
                    "将于 2026-11-06（周五）09:30 提醒"), body


async def test_an_inspector_sees_the_rectification_escalation_coming_to_them(
        console: Console) -> None:
    """An item due Friday 10-30, still open: its unit's chief is reminded on Monday 11-02 and,
    3 working days later, the inspector who ran the session as well."""
    now = console.clock.now()
    async with console.app.services.db() as s, s.begin():
        s.add(InspectionSession(
            id="DD-UPCOMING", title="测试督导", chat="g-inspection", created_by="p-inspector-2",
            created_at=now, updated_at=now, stage="closed", params="{}", secret_hex="00",
            manifest="{}", manifest_hash="0" * 64, current=-1))
        await s.flush()
        s.add(RectificationItem(id=9, session_id="DD-UPCOMING", unit_id="c01-01",
                                owner_person_id="p-chief-c01-01", text="案件码评分不规范",
                                due_date=date(2026, 10, 30), status="open",
                                created_at=now - timedelta(days=13)))
    await console.advance("1m")

    coming = "· 督察整改（升级） 整改事项 #9 将于 2026-11-05（周四）09:00 提醒"
    assert await listing(console, "p-inspector-2") == f"即将提醒（1条）：\n{coming}"
    assert coming in await listing(console, "p-chief-c01-01")
    assert await listing(console, "p-inspector-1") == "您目前没有待办提醒。"  # not their session


async def test_a_long_list_names_the_soonest_and_counts_the_rest(console: Console) -> None:
    """Twelve red cases whose custody runs out on twelve days: the leader's card lists the ten
    soonest and says how many more there are, and fits a DingTalk card."""
    codes = []
    for day in range(12):
        code = await create_case(console, custody_deadline=f"2026-11-{10 + day:02d}")
        await evaluate(console, code, RED)
        codes.append(code)
    body = await listing(console, LEADER)
    lines = body.split("\n")
    assert lines[0] == "即将提醒（12条）：" and len(lines) == 12, body
    assert [line.split()[2] for line in lines[1:11]] == codes[:10]
    assert lines[11] == "· 另有 2 项，时间更晚，届时提醒"
    assert card_fits(Card(title="我的提醒", body=body))


async def _items(console: Console, *items: tuple[int, str, str, str, date, str]) -> None:
    """A closed session with rectification items (id, unit, owner, text, due date, status)."""
    now = console.clock.now()
    async with console.app.services.db() as s, s.begin():
        s.add(InspectionSession(
            id="DD-NOTDUE", title="测试督导", chat="g-inspection", created_by="p-inspector-2",
            created_at=now, updated_at=now, stage="closed", params="{}", secret_hex="00",
            manifest="{}", manifest_hash="0" * 64, current=-1))
        await s.flush()
        for id_, unit, owner, text, due, status in items:
            s.add(RectificationItem(id=id_, session_id="DD-NOTDUE", unit_id=unit,
                                    owner_person_id=owner, text=text, due_date=due,
                                    status=status, created_at=now - timedelta(days=2)))


async def test_a_chief_sees_open_rectification_items_before_they_are_due(
        console: Console) -> None:
    """Monday 11-02: items due Thursday and next week are not reminded of until overdue, yet
    their unit's chief and their 责任人 see them in 提醒 with their due dates — not 您目前没有
    待办提醒. Nobody else does (another unit's chief, the inspector before any escalation),
    and a closed item is gone. Once overdue, an item is listed as its reminder instead."""
    long_text = "建立健全案件码评分复核台账并按月通报评分不规范问题"
    await _items(
        console,
        (21, "c01-01", "p-chief-c01-01", "案件码评分不规范", date(2026, 11, 5), "open"),
        (22, "c01-01", "p-chief-c01", long_text, date(2026, 11, 10), "open"),
        (23, "c02-01", "p-chief-c02-01", "另一单位的事项", date(2026, 11, 5), "open"),
        (24, "c01-01", "p-chief-c01-01", "已销号的事项", date(2026, 11, 6), "closed"),
    )
    await console.advance("1m")
    clipped = long_text[:19] + "…"
    assert await listing(console, "p-chief-c01-01") == (
        "未到期的整改事项（2项）：\n"
        "· 整改事项 #21，整改期限 2026-11-05（周四）：案件码评分不规范\n"
        f"· 整改事项 #22，整改期限 2026-11-10（周二）：{clipped}")
    # the 责任人 of #22 at the city office, reminded with the unit's chief
    assert await listing(console, "p-chief-c01") == (
        f"未到期的整改事项（1项）：\n· 整改事项 #22，整改期限 2026-11-10（周二）：{clipped}")
    assert await listing(console, "p-inspector-2") == "您目前没有待办提醒。"
    assert "#23" not in await listing(console, "p-chief-c01-01")

    await console.advance("4d")  # Friday 11-06 09:31: #21 is overdue, its reminder went out
    body = await listing(console, "p-chief-c01-01")
    assert body.startswith("待处理提醒（1条）：\n· 督察整改 整改事项 #21 整改期限 2026-11-05（周四）\n"), body
    assert body.endswith(f"未到期的整改事项（1项）：\n· 整改事项 #22，整改期限 2026-11-10（周二）：{clipped}")


async def test_a_long_list_of_rectification_items_is_capped(console: Console) -> None:
    """Twelve items not yet due: the ten due soonest, how many more, and the card fits."""
    await _items(console, *[(30 + n, "c01-01", "p-chief-c01-01", f"整改事项内容{n}",
                             date(2026, 11, 10 + n), "open") for n in range(12)])
    body = await listing(console, "p-chief-c01-01")
    lines = body.split("\n")
    assert lines[0] == "未到期的整改事项（12项）：" and len(lines) == 12, body
    assert lines[1] == "· 整改事项 #30，整改期限 2026-11-10（周二）：整改事项内容0"
    assert lines[10] == "· 整改事项 #39，整改期限 2026-11-19（周四）：整改事项内容9"
    assert lines[11] == "· 另有 2 项，期限更晚，逾期后提醒"
    assert card_fits(Card(title="我的提醒", body=body))
