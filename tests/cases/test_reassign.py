"""改派: the case-management system hands a case to another prosecutor (PATCH /api/v1/cases
with `prosecutor`). The new prosecutor is told what waits for them and may act on it (score,
answer an open 复核 request); the old one is told in a line, their cards lose the buttons only
the case's prosecutor may use, and the reminders go to the new one from then on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.models import AuditRecord
from tests.cases.helpers import (
    AUTH,
    INVESTIGATORS,
    LS_PROSECUTOR,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
    intakes,
    org_with_second_county,
)
from tests.cases.test_new_case import login
from tests.conftest import Console, make_settings, open_console

NEW = "p-prosecutor-2"  # 朱凯秀, of the same office as PROSECUTOR
INV = INVESTIGATORS[0]


def name(console: Console, pid: str) -> str:
    return console.app.services.directory.person_name(pid)


async def reassign(console: Console, code: str, to: str, **more: Any) -> Any:
    return await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                      json={"prosecutor": to, **more})


async def say(console: Console, user: str, text: str) -> list[dict[str, Any]]:
    return list((await console.send(user, f"dm:{user}", text))["messages"])


async def current(console: Console, chat: str, message_id: int) -> dict[str, Any]:
    """A message as it reads now (redrawn in place since it was sent)."""
    [msg] = [m for m in await console.messages(chat) if m["id"] == message_id]
    return msg


async def reassign_records(console: Console) -> list[tuple[str, str, dict[str, Any]]]:
    async with console.app.services.db() as s:
        rows = (await s.execute(select(AuditRecord.actor, AuditRecord.subject, AuditRecord.data)
                                .where(AuditRecord.action == "case.reassign"))).all()
    return [(actor, subject, json.loads(data)) for actor, subject, data in rows]


def labels(card: dict[str, Any]) -> list[str]:
    return [a["label"] for a in card["actions"]]


async def test_an_unscored_case_goes_to_the_new_prosecutor(console: Console) -> None:
    code = await create_case(console)
    [asked] = await say(console, PROSECUTOR, f"评分 {code}")
    [shown] = await say(console, PROSECUTOR, f"码 {code}")
    assert labels(asked["card"]) == ["打开评分表"] and "去评分" in labels(shown["card"])
    seen = len(await console.messages(f"dm:{NEW}"))

    r = await reassign(console, code, NEW)
    assert r.status == 200, await r.text()
    assert (await r.json())["prosecutor"] == NEW
    assert await reassign_records(console) == [("api", code, {"from": PROSECUTOR, "to": NEW})]
    assert (await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
            )["prosecutor"] == NEW

    # the new prosecutor: the case, that it is not scored yet, and 去评分
    [told] = (await console.messages(f"dm:{NEW}"))[seen:]
    card = told["card"]
    assert card["title"] == f"案件已改派给您 · {code}"
    assert card["body"].startswith(
        f"案件已改派给您：{code} 何某强奸案（原承办检察官 {name(console, PROSECUTOR)}）")
    assert "尚未评分" in card["body"]
    assert labels(card) == ["查看详情", "去评分"]
    assert card["actions"][1]["url"].endswith(f"/cases/{code}/score")

    # the old one: a line, and their cards without the buttons they may no longer use
    moved = f"已改派给 {name(console, NEW)}"
    texts = [m["text"] for m in await console.messages(f"dm:{PROSECUTOR}") if m["text"]]
    assert texts[-1] == f"{code} {moved}，此后由其承办。"
    for m in (asked, shown):
        now = (await current(console, f"dm:{PROSECUTOR}", m["id"]))["card"]
        assert "去评分" not in labels(now) and "打开评分表" not in labels(now)
        assert now["footer"] == moved
    # no 查看详情 either: they no longer see the case (redrawn as for a group that may not)
    assert labels((await current(console, f"dm:{PROSECUTOR}", shown["id"]))["card"]) == []

    # only the new prosecutor may score: the old one, who no longer sees the case, is told why
    await login(console, PROSECUTOR)
    page = await console.client.get(f"/cases/{code}/score")
    assert page.status == 403 and f"案件 {code} {moved}，您已无权查看。" in await page.text()
    await evaluate(console, code, RED, by=PROSECUTOR, status=403)
    scored = await evaluate(console, code, RED, by=NEW)
    assert scored["color"] == "red"

    # 我的案件 follows the new owner
    [mine] = await say(console, NEW, "我的案件")
    assert code in str(mine["card"] or mine["text"])
    [theirs] = await say(console, PROSECUTOR, "我的案件")
    assert code not in str(theirs["card"] or theirs["text"])

    # the same prosecutor again changes nothing
    before = len(await console.messages(f"dm:{NEW}"))
    r = await reassign(console, code, NEW)
    assert r.status == 200
    assert len(await reassign_records(console)) == 1
    assert len(await console.messages(f"dm:{NEW}")) == before


async def test_a_red_case_with_an_open_review_request(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [delivered] = cards(await console.messages(f"dm:{INV}"))
    await console.click(INV, delivered["id"], "review.file",
                        {"items": "1", "reason": "监控已调取，事实清楚"})
    [old] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
             if m["card"]["title"] == "复核申请 #1 · 待处理"]
    assert labels(old["card"]) == ["同意并调整", "驳回", "提交检警共同评议"]
    seen = len(await console.messages(f"dm:{NEW}"))

    r = await reassign(console, code, NEW)
    assert r.status == 200, await r.text()

    # the new prosecutor: the score, the request waiting for their answer, its answer card
    told, answer = (await console.messages(f"dm:{NEW}"))[seen:]
    body = told["card"]["body"]
    assert "当前：红码 66分（第1版）" in body
    assert (f"待您答复：复核申请 #1（申请人 {name(console, INV)}），"
            "答复期限 2026-11-05（周四）18:00 前") in body
    assert labels(told["card"]) == ["查看详情", "去评分"]
    assert answer["card"]["title"] == "复核申请 #1 · 待处理"
    assert labels(answer["card"]) == ["同意并调整", "驳回", "提交检警共同评议"]

    # the old prosecutor's card: no buttons, says to whom; a tap on the old button is refused
    moved = f"已改派给 {name(console, NEW)}"
    was = (await current(console, f"dm:{PROSECUTOR}", old["id"]))["card"]
    assert was["actions"] == [] and was["footer"] == moved
    r = await console.click(PROSECUTOR, old["id"], "review.accept")
    assert r["messages"][-1]["text"] == (
        f"该按钮已失效：「复核申请 #1 · 待处理」{moved}。请以最新卡片为准。")

    # the new prosecutor answers; the old one, who no longer sees the case, is not told how:
    # their card stays as it was, without buttons
    r = await console.click(NEW, answer["id"], "review.accept")
    assert "复核申请 #1（" in r["messages"][-1]["text"] and "已同意" in r["messages"][-1]["text"]
    assert (await current(console, f"dm:{PROSECUTOR}", old["id"]))["card"] == was
    filer = [m["text"] for m in await console.messages(f"dm:{INV}") if m["text"]]
    assert any("已同意，承办检察官将重新评分" in t for t in filer)

    # the next weekly 红码评估 goes to the new prosecutor, not the old one
    old_seen = len(await console.messages(f"dm:{PROSECUTOR}"))
    await console.advance("8d")
    weekly = [m for m in cards(await console.messages(f"dm:{NEW}"))
              if "红码评估提醒" in m["card"]["body"]]
    assert [code in m["card"]["body"] for m in weekly] == [True]
    assert not any("红码评估提醒" in str(m["card"])
                   for m in (await console.messages(f"dm:{PROSECUTOR}"))[old_seen:])


async def test_refusals_apply_nothing(console: Console) -> None:
    code = await create_case(console)
    cases = [("nobody-here", "承办检察官不存在或不具有检察官角色"),
             (INV, "承办检察官不存在或不具有检察官角色"),
             ("", "必填，须为字符串")]
    for to, reason in cases:
        # with a deadline in the same request: nothing of it is applied either
        r = await reassign(console, code, to, custody_deadline="2026-12-25")
        assert r.status == 422, await r.text()
        data = await r.json()
        assert [e["field"] for e in data["errors"]] == ["prosecutor"]
        assert reason in data["error"] and "承办检察官" in data["error"]
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert (detail["prosecutor"], detail["custody_deadline"]) == (PROSECUTOR, "2026-12-31")
    assert await reassign_records(console) == []

    # a withdrawn case is frozen
    [ask] = await say(console, PROSECUTOR, f"撤销案件 {code} 重复录入")
    await console.click(PROSECUTOR, ask["id"], "case.withdraw")
    before = len(await console.messages(f"dm:{NEW}"))
    r = await reassign(console, code, NEW)
    assert r.status == 422 and "已撤销" in (await r.json())["error"]
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert detail["prosecutor"] == PROSECUTOR
    assert len(await console.messages(f"dm:{NEW}")) == before
    assert await reassign_records(console) == []


async def test_a_prosecutor_of_another_office_is_refused(tmp_path: Path, port: int) -> None:
    settings = make_settings(tmp_path, org=str(org_with_second_county(tmp_path)),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as console:
        code = await create_case(console)
        r = await reassign(console, code, LS_PROSECUTOR, stage="审查起诉")
        assert r.status == 422, await r.text()
        data = await r.json()
        assert [e["field"] for e in data["errors"]] == ["prosecutor"]
        assert "承办检察官须为本案所属院（示范市海澄县人民检察院）的检察官" in data["error"]
        detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
        assert (detail["prosecutor"], detail["stage"]) == (PROSECUTOR, "审查逮捕")
        assert await reassign_records(console) == []


async def test_a_yellow_case_waiting_for_the_choice(console: Console) -> None:
    """待定: the old prosecutor's 受理待定 card loses 延期受理 / 先收后补, the new one's card
    offers them and their choice decides."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    [pending] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                 if m["card"]["title"].startswith(f"受理待定 {code}")]
    seen = len(await console.messages(f"dm:{NEW}"))

    assert (await reassign(console, code, NEW)).status == 200
    was = (await current(console, f"dm:{PROSECUTOR}", pending["id"]))["card"]
    assert was["actions"] == [] and was["footer"] == f"已改派给 {name(console, NEW)}"
    r = await console.click(PROSECUTOR, pending["id"], "intake.receive")
    assert r["messages"][-1]["text"].startswith("该按钮已失效")
    [told] = (await console.messages(f"dm:{NEW}"))[seen:]
    assert "受理：待定" in told["card"]["body"]
    assert labels(told["card"]) == ["查看详情", "去评分", "延期受理", "先收后补"]
    await console.click(NEW, told["id"], "intake.receive")
    assert await intakes(console, code) == ["待定", "先收后补"]


async def test_reassigned_while_closed_the_old_cards_stay_without_buttons(
        console: Console) -> None:
    """Closed, reassigned, reopened: the reopening gives the 评分 card its button back only in
    the chat of the case's prosecutor now."""
    code = await create_case(console)
    [asked] = await say(console, PROSECUTOR, f"评分 {code}")
    patch = console.client.patch
    assert (await patch(f"/api/v1/cases/{code}", headers=AUTH, json={"status": "closed"})
            ).status == 200
    assert (await reassign(console, code, NEW)).status == 200
    [told] = [m for m in cards(await console.messages(f"dm:{NEW}"))
              if m["card"]["title"] == f"案件已改派给您 · {code}"]
    assert labels(told["card"]) == ["查看详情"] and told["card"]["footer"].startswith("案件已结案")
    assert (await patch(f"/api/v1/cases/{code}", headers=AUTH, json={"status": "open"})
            ).status == 200
    was = (await current(console, f"dm:{PROSECUTOR}", asked["id"]))["card"]
    assert was["actions"] == [] and was["footer"] == f"已改派给 {name(console, NEW)}"
    [again] = await say(console, NEW, f"评分 {code}")
    assert labels(again["card"]) == ["打开评分表"]


LEADER = "p-leader-hc"


async def reminders_of(console: Console, person: str, kind: str) -> list[dict[str, Any]]:
    """The reminder cards of a kind (诉前会商, 重新评估, 责任倒查) in a person's chat."""
    return [m for m in cards(await console.messages(f"dm:{person}"))
            if kind in m["card"]["title"]
            and any(w in m["card"]["title"] for w in ("逾期提醒", "督办", "预警提醒"))]


async def listing(console: Console, person: str) -> str:
    [m] = await say(console, person, "提醒")
    return str((m["card"] or {}).get("body") or m["text"])


async def test_an_open_consultation_reminder_follows_the_case(console: Console) -> None:
    """QA: the 诉前会商 reminder, sent once, was lost on 改派: the old prosecutor's copy lost its
    buttons, the new prosecutor never got it (not on the 改派 card, not in 提醒)."""
    code = await create_case(console, investigation_deadline="2026-11-20")
    await evaluate(console, code, YELLOW)
    await console.advance("3d")  # 11-05: deadline − 15 days
    [old] = await reminders_of(console, PROSECUTOR, "诉前会商")
    assert f"诉前会商 {code}" in await listing(console, PROSECUTOR)
    seen = len(await console.messages(f"dm:{NEW}"))

    assert (await reassign(console, code, NEW)).status == 200
    moved = f"已改派给 {name(console, NEW)}"
    was = (await current(console, f"dm:{PROSECUTOR}", old["id"]))["card"]
    assert was["actions"] == [] and was["footer"] == moved
    assert f"诉前会商 {code}" not in await listing(console, PROSECUTOR)

    # the 改派 card names it, its card follows with its buttons, 提醒 lists it
    told, copy = (await console.messages(f"dm:{NEW}"))[seen:]
    assert ("待您处理：诉前会商提醒（见随后的提醒卡片），应启动会商日期：2026-11-05（周四）"
            in told["card"]["body"]), told["card"]["body"]
    assert copy["card"]["title"] == "预警提醒 · 诉前会商"
    assert labels(copy["card"]) == ["发起会商", "已处理"]
    assert copy["card"]["footer"] == (
        f"原承办检察官 {name(console, PROSECUTOR)} 的提醒（2026-11-05 发出），已随改派转交您")
    assert f"· 诉前会商 {code} 到期 2026-11-05（周四）" in await listing(console, NEW)

    # the new prosecutor starts the consultation from it: every copy is closed
    r = await console.click(NEW, copy["id"], "reminder.consult")
    assert r["messages"][-1]["text"].startswith(f"已发起 {code} 的诉前会商")
    [inv] = await reminders_of(console, INV, "诉前会商")
    assert inv["card"]["actions"] == [] and inv["card"]["footer"].startswith("已发起会商：")
    assert "诉前会商" not in await listing(console, NEW)


async def test_a_sent_reevaluation_and_accountability_review_follow_the_case(
        console: Console) -> None:
    """The 重新评估 sent to the old prosecutor and not yet acted on, and the 责任倒查 already
    sent (the leader's copy stays theirs): the new prosecutor gets their copy of each, with
    去评估; their new score settles the re-evaluation."""
    code = await create_case(console, custody_deadline="2026-11-03")  # ran out 11-04 00:00
    await evaluate(console, code, RED)
    await console.advance("8d")  # 11-04 责任倒查, 11-09 红码一周一评估
    [lead] = await reminders_of(console, LEADER, "责任倒查")
    before = await listing(console, PROSECUTOR)
    assert f"重新评估 {code}" in before and f"责任倒查 {code}" in before
    seen = len(await console.messages(f"dm:{NEW}"))

    assert (await reassign(console, code, NEW)).status == 200
    after = await listing(console, PROSECUTOR)
    assert f"重新评估 {code}" not in after and f"责任倒查 {code}" not in after
    told, *copies = (await console.messages(f"dm:{NEW}"))[seen:]
    body = told["card"]["body"]
    assert "待您处理：责任倒查提醒（见随后的提醒卡片），羁押期限：2026-11-03（周二）" in body, body
    assert ("待您处理：重新评估提醒（见随后的提醒卡片），评估期限：2026-11-09（周一）18:00 前"
            in body), body
    assert [c["card"]["title"] for c in copies] == ["升级督办 · 责任倒查", "逾期提醒 · 重新评估"]
    for c in copies:
        assert labels(c["card"]) == ["去评估", "已处理"]
        assert c["card"]["actions"][0]["url"].endswith(f"/cases/{code}/score")
    mine = await listing(console, NEW)
    assert f"· 重新评估 {code} 到期" in mine and f"· 责任倒查 {code} 羁押期限" in mine, mine
    # the leader's copy is untouched
    assert (await current(console, f"dm:{LEADER}", lead["id"]))["card"] == lead["card"]

    await evaluate(console, code, RED, by=NEW)
    reeval = (await current(console, f"dm:{NEW}", copies[1]["id"]))["card"]
    assert reeval["actions"] == [] and reeval["footer"].startswith(
        f"已重新评估：{name(console, NEW)}")
    assert f"· 重新评估 {code} 到期" not in await listing(console, NEW)  # only the next, coming


async def test_a_reminder_pause_ends_with_the_reassignment(console: Console) -> None:
    """QA: the new prosecutor inherited the old one's 提醒 暂停 and its count (1/2 used). A
    pause is its prosecutor's decision: it ends on 改派 (the 改派 card says so), the reminders
    it held go to the new prosecutor when due, and their own count starts afresh."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await console.advance("6d")  # Sunday 11-08
    r = await say(console, PROSECUTOR, f"提醒 暂停 {code} 3")
    assert "第 1/2 次" in r[0]["text"] and "2026-11-11（周三）09:30" in r[0]["text"]
    seen = len(await console.messages(f"dm:{NEW}"))

    assert (await reassign(console, code, NEW)).status == 200
    [told] = (await console.messages(f"dm:{NEW}"))[seen:]
    assert (f"原承办检察官的提醒暂停（至 2026-11-11（周三）09:30）已随改派结束，"
            f"提醒照常发给您；如需暂停，请发送「提醒 暂停 {code} <天数>」（次数重新计算）"
            in told["card"]["body"]), told["card"]["body"]
    assert "将于 2026-11-09（周一）09:00 提醒" in await listing(console, NEW)

    await console.advance("1d")  # Monday 11-09: the weekly reminder, on time, to the new one
    [weekly] = await reminders_of(console, NEW, "重新评估")
    assert weekly["at"].startswith("2026-11-09T01:00")
    r = await say(console, NEW, f"提醒 暂停 {code} 3")
    assert "已暂停" in r[0]["text"] and "第 1/2 次" in r[0]["text"], r[0]["text"]


async def test_an_overdue_answer_reminder_follows_the_case(console: Console) -> None:
    """QA: the overdue 复核答复 reminder sent to the old prosecutor was closed on 改派; the new
    one got the decision card, but their 提醒 did not list the overdue reminder until its next
    slot. It follows the case now, without a card of its own (the decision card, sent at
    改派, is the one to act on): in their 提醒, no longer in the old prosecutor's."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    [delivered] = cards(await console.messages(f"dm:{INV}"))
    await console.click(INV, delivered["id"], "review.file",
                        {"items": "1", "reason": "监控已调取，事实清楚"})
    await console.advance("4d")  # Friday 11-06 09:30: not answered, reminded
    [old] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
             if "复核答复" in m["card"]["title"]]
    line = f"· 复核答复 复核申请 #1（{code}）"
    assert line in await listing(console, PROSECUTOR)
    seen = len(await console.messages(f"dm:{NEW}"))

    assert (await reassign(console, code, NEW)).status == 200
    was = (await current(console, f"dm:{PROSECUTOR}", old["id"]))["card"]
    assert was["actions"] == [] and was["footer"] == f"已改派给 {name(console, NEW)}"
    assert line not in await listing(console, PROSECUTOR)

    # the 改派 card and the decision card, no third card; 提醒 lists the overdue reminder
    told, answer = (await console.messages(f"dm:{NEW}"))[seen:]
    assert "答复期限 2026-11-05（周四）18:00 前（已逾期）" in told["card"]["body"]
    assert labels(answer["card"]) == ["同意并调整", "驳回", "提交检警共同评议"]
    mine = await listing(console, NEW)
    assert line in mine and "待处理提醒（1条）" in mine, mine

    # their answer settles it: gone from 提醒, the decision card as answered
    r = await console.click(NEW, answer["id"], "review.accept")
    assert "已同意" in r["messages"][-1]["text"]
    assert "待处理提醒" not in await listing(console, NEW)
    now = (await current(console, f"dm:{NEW}", answer["id"]))["card"]
    assert now["title"].startswith("复核申请 #1") and "复核答复" not in now["title"], now
