"""Reminders about review requests (复核申请) from the filing on: 提醒 lists the answer reminder
coming; the reminder names the prosecutor; 去答复 after the deadline says 已逾期; an agreed
request (同意并调整) never re-scored is chased like an unanswered one until the re-score.

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai (tests/conftest.py START); a
request filed then is to be answered within 3 working days: Thursday 11-05 09:30."""

from __future__ import annotations

from typing import Any

from tests.cases.helpers import GREEN, INVESTIGATORS, PROSECUTOR, RED, cards, create_case, evaluate
from tests.conftest import Console

INV = INVESTIGATORS[0]
LEADER = "p-leader-hc"
OWNER = "余斌梅"  # PROSECUTOR's name in config/org.yaml


async def file_review(console: Console) -> str:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [card] = cards(await console.messages(f"dm:{INV}"))
    r = await console.click(INV, card["id"], "review.file", {"items": "1", "reason": "监控已调取"})
    assert "复核申请 #1 已提交" in r["messages"][-1]["text"]
    return code


async def review_reminders(console: Console, person: str) -> list[dict[str, Any]]:
    return [m for m in cards(await console.messages(f"dm:{person}"))
            if "复核答复" in m["card"]["title"]]


async def listing(console: Console, person: str) -> str:
    [msg] = (await console.send(person, f"dm:{person}", "提醒"))["messages"]
    return str(msg["card"]["body"] if msg["card"] else msg["text"])


def buttons(m: dict[str, Any]) -> list[str]:
    return [a["label"] for a in m["card"]["actions"]]


async def test_the_answer_reminder_is_listed_from_the_filing_and_names_the_prosecutor(
        console: Console) -> None:
    code = await file_review(console)
    # the morning after the answer time
    line = f"· 复核答复 复核申请 #1（{code}） 将于 2026-11-06（周五）09:00 提醒"
    assert line in await listing(console, PROSECUTOR)
    assert "复核申请" not in await listing(console, LEADER)  # not escalated (yet)
    decision = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                if m["card"]["title"].startswith("复核申请 #1")][-1]
    assert "状态：待处理\n" in decision["card"]["body"] + "\n"  # not overdue yet

    await console.advance("3d")  # Thursday 11-05 09:30, the last day: not overdue before 18:00
    assert await review_reminders(console, PROSECUTOR) == []
    decision = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                if m["card"]["title"].startswith("复核申请 #1")][-1]
    assert "答复期限：2026-11-05（周四）18:00 前" in decision["card"]["body"]
    assert "已逾期" not in decision["card"]["body"]
    await console.advance("1d")  # Friday 11-06 09:30: not answered
    [reminder] = await review_reminders(console, PROSECUTOR)
    assert f"仍未答复，请承办检察官{OWNER}尽快答复。" in reminder["card"]["body"], reminder["card"]
    r = await console.click(PROSECUTOR, reminder["id"], "review.resend")
    [fresh] = [m for m in r["messages"] if m["card"]]
    assert "状态：待处理（已逾期）" in fresh["card"]["body"], fresh["card"]["body"]
    await console.advance("4d")  # Tuesday 11-10 09:30, 2 working days on: escalated
    [lead] = await review_reminders(console, LEADER)
    assert lead["card"]["body"].startswith("【升级督办】【复核答复提醒】")
    assert f"请承办检察官{OWNER}尽快答复" in lead["card"]["body"]


async def test_an_agreed_request_never_rescored_is_chased_until_the_rescore(
        console: Console) -> None:
    code = await file_review(console)
    decision = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                if m["card"]["title"].startswith("复核申请 #1")][-1]
    await console.advance("1d")  # Tuesday: agreed, then nothing
    await console.click(PROSECUTOR, decision["id"], "review.accept")
    assert "复核申请" in await listing(console, PROSECUTOR)  # still coming: the re-score

    await console.advance("3d")  # Friday 11-06 09:30, the answer time past: no re-score yet
    [p1] = await review_reminders(console, PROSECUTOR)
    body = p1["card"]["body"]
    assert (f"复核申请 #1（{code}）《何某强奸案》已同意调整评分，但答复期限 2026-11-05（周四）已过"
            f"仍未重新评分，请承办检察官{OWNER}尽快重新评分。") in body, body
    assert buttons(p1) == ["去评分", "已处理"]
    assert p1["card"]["actions"][0]["url"].endswith(f"/cases/{code}/score?review=1")
    assert await review_reminders(console, LEADER) == []

    await console.advance("4d")  # Tuesday 11-10 09:30: escalated to the leader as well
    p1, p2 = await review_reminders(console, PROSECUTOR)
    [lead] = await review_reminders(console, LEADER)
    assert p2["card"]["title"].endswith("（升级）") and buttons(p2) == ["去评分", "已处理"]
    assert lead["card"]["body"].startswith("【升级督办】") and "仍未重新评分" in lead["card"]["body"]
    assert buttons(lead) == ["查看案件", "已处理"]
    assert p1["card"]["actions"] == []  # superseded by the escalation

    await evaluate(console, code, GREEN)  # the re-score settles it
    for m, left in (((await review_reminders(console, PROSECUTOR))[-1], []),
                    ((await review_reminders(console, LEADER))[-1], ["查看案件"])):
        assert buttons(m) == left and m["card"]["footer"].startswith("已重新评分："), m
    await console.advance("10d")
    assert len(await review_reminders(console, PROSECUTOR)) == 2
    assert len(await review_reminders(console, LEADER)) == 1
    assert "复核申请" not in await listing(console, PROSECUTOR)
