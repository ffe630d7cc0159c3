"""At most one open reminder card per series (rule, subject) and person: a repeat supersedes
the card before it (no stale button), 「提醒」 lists the series once with how often it was
sent, and the leader's 已处理 on an escalation settles it for them while the prosecutor keeps
being reminded until they answer.

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai (tests/conftest.py START)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storage.reviews import ReviewRow
from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, RED, YELLOW, create_case, evaluate
from tests.conftest import START, Console

LEADER = "p-leader-hc"


async def cards_of(console: Console, person: str, title: str) -> list[dict[str, Any]]:
    return [m for m in await console.messages(f"dm:{person}")
            if m["card"] and title in m["card"]["title"]]


async def listing(console: Console, person: str) -> str:
    [msg] = (await console.send(person, f"dm:{person}", "提醒"))["messages"]
    return str(msg["card"]["body"] if msg["card"] else msg["text"])


def buttons(m: dict[str, Any]) -> list[str]:
    return [a["label"] for a in m["card"]["actions"]]


async def file_review(console: Console, code: str) -> int:
    async with console.app.services.db() as s, s.begin():
        review = ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[0],
                           filed_at=START - timedelta(days=3), items="[]", reason="有异议",
                           status="pending", due_at=START)
        s.add(review)
    return review.id


async def test_an_unanswered_review_keeps_one_open_card_each_and_the_leader_can_settle_it(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    rid = await file_review(console, code)
    await console.advance("1m")  # Monday 11-02: the first reminder, to the prosecutor
    await console.advance("2d")  # Wednesday 11-04: escalated, to the leader as well
    await console.advance("2d")  # Friday 11-06: again
    p1, p2, p3 = await cards_of(console, PROSECUTOR, "复核答复")
    l1, l2 = await cards_of(console, LEADER, "复核答复")
    # each repeat took the buttons off the card before it: one card to act on
    assert p1["card"]["actions"] == [] and p1["card"]["footer"] == "已由 2026-11-04 的新提醒取代"
    assert p2["card"]["actions"] == [] and p2["card"]["footer"] == "已由 2026-11-06 的新提醒取代"
    assert l1["card"]["actions"] == [] and l1["card"]["footer"] == "已由 2026-11-06 的新提醒取代"
    assert buttons(p3) == ["去答复", "已处理"] and buttons(l2) == ["查看案件", "已处理"]
    again = await console.click(PROSECUTOR, p1["id"], "review.resend")
    assert "该按钮已失效" in again["messages"][-1]["text"]

    line = f"· 复核答复（升级） 复核申请 #{rid}（{code}） 答复期限 2026-11-02（周一）09:30 前"
    # each counts the cards they were sent: the leader only the escalations
    for person, times in ((PROSECUTOR, 3), (LEADER, 2)):
        body = await listing(console, person)
        assert f"待处理提醒（1条）：\n{line}（已提醒 {times} 次）\n" in body, body
        assert "将于 2026-11-10（周二）09:30 提醒" in body, body  # the next one (Tuesday)

    # the leader's 已处理 settles it for the leader: no more repeats to them for this request
    r = await console.click(LEADER, l2["id"], "reminder.done")
    assert r["messages"][-1]["text"].startswith(f"已标记为已处理：复核申请 #{rid}（{code}） 的")
    assert await listing(console, LEADER) == "您目前没有待办提醒。"
    await console.advance("4d")  # Tuesday 11-10 09:30: the prosecutor, still not answered
    assert len(await cards_of(console, LEADER, "复核答复")) == 2
    p4 = (await cards_of(console, PROSECUTOR, "复核答复"))[-1]
    assert p4["card"]["title"].endswith("（升级）") and buttons(p4) == ["去答复", "已处理"]
    assert "已提醒 4 次" in await listing(console, PROSECUTOR)
    await console.advance("2d")  # Thursday 11-12: and so on, the leader left alone
    assert len(await cards_of(console, LEADER, "复核答复")) == 2
    p4, p5 = (await cards_of(console, PROSECUTOR, "复核答复"))[-2:]
    assert p4["card"]["footer"] == "已由 2026-11-12 的新提醒取代" and buttons(p5)[-1] == "已处理"

    # a new request (another investigator's: one has one open request a case) is a new
    # situation: the leader hears of it again once it is escalated
    async with console.app.services.db() as s, s.begin():
        second = ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[1],
                           filed_at=START, items="[]", reason="仍有异议", status="pending",
                           due_at=START + timedelta(days=11))  # Friday 11-13 09:30
        s.add(second)
    await console.advance("5d")  # Tuesday 11-17 09:31: escalated 2 working days after it
    assert any(f"复核申请 #{second.id}" in m["card"]["body"]
               for m in await cards_of(console, LEADER, "复核答复"))


async def test_weekly_re_evaluation_reminders_do_not_pile_up(console: Console) -> None:
    """A red case left unscored for three weeks: three 红码 re-evaluation reminders, only the
    latest with buttons; 提醒 lists the case once, saying it was the third."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await console.advance("22d")  # 11-09, 11-16, 11-23
    first, second, third = await cards_of(console, PROSECUTOR, "重新评估")
    assert first["card"]["footer"] == "已由 2026-11-16 的新提醒取代" and first["card"]["actions"] == []
    assert second["card"]["footer"] == "已由 2026-11-23 的新提醒取代" and second["card"]["actions"] == []
    assert buttons(third) == ["去评估", "已处理"]
    body = await listing(console, PROSECUTOR)
    assert (f"待处理提醒（1条）：\n· 重新评估 {code} 到期 2026-11-23（周一）09:00（已提醒 3 次）\n"
            in body), body
