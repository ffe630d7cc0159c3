"""撤销案件: a prosecutor withdraws a case they entered by mistake, while it was never scored
(no code in anyone's hands). A card asks first (确认撤销, or the command typed with 确认);
withdrawing records who/when/why (`case.withdraw`), calls off the case's reminders, and the
case then reads as withdrawn wherever one looks (码, the code page, the API) and is counted
or listed nowhere (统计, 我的案件, 提醒, the 新建案件 duplicate warning)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from storage.models import AuditRecord
from storage.reminders import Reminder
from tests.cases.helpers import AUTH, INVESTIGATORS, PROSECUTOR, RED, create_case, evaluate
from tests.cases.test_new_case import login, open_form, submit
from tests.conftest import Console, make_settings, open_console

OTHER_PROSECUTOR = "p-prosecutor-2"
INV = INVESTIGATORS[0]
# 诉前会商 for any case, scored or not, 15 days before its investigation deadline: the one
# reminder an unscored case gets, to see it called off
CONSULT_ANY = {"id": "consultation", "kind": "consultation",
               "recipients": ["investigators", "prosecutor"], "first_due_days": -15,
               "working_days": False,
               "text": "【诉前会商提醒】案件 {code}《{title}》侦查期限将于 {deadline} 届满。"}


@pytest.fixture
async def console(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    settings = make_settings(tmp_path, web={"public_url": f"http://127.0.0.1:{port}"},
                             reminders={"rules": [CONSULT_ANY]})
    async with open_console(settings, port) as c:
        yield c


async def say(console: Console, text: str, user: str = PROSECUTOR) -> list[dict[str, Any]]:
    return list((await console.send(user, f"dm:{user}", text))["messages"])


def texts(r: dict[str, Any]) -> list[str]:
    """The text replies of a send or click (its redrawn cards left out)."""
    return [m["text"] for m in r["messages"] if m["text"]]


def said(m: dict[str, Any]) -> str:
    """A message's text, or its card's title and body."""
    card = m["card"]
    return str(m["text"] or f"{card['title']}\n{card['body']}")


async def case_json(console: Console, code: str) -> dict[str, Any]:
    r = await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)
    assert r.status == 200, await r.text()
    data: dict[str, Any] = await r.json()
    return data


async def pending_reminders(console: Console, code: str) -> list[str]:
    async with console.app.services.db() as s:
        return list((await s.scalars(select(Reminder.key).where(
            Reminder.case_code == code, Reminder.status == "pending"))).all())


async def withdraw_records(console: Console) -> list[tuple[str, str, dict[str, Any]]]:
    async with console.app.services.db() as s:
        rows = (await s.execute(select(AuditRecord.actor, AuditRecord.subject, AuditRecord.data)
                                .where(AuditRecord.action == "case.withdraw"))).all()
    return [(actor, subject, json.loads(data)) for actor, subject, data in rows]


async def test_the_prosecutor_withdraws_an_unscored_case(console: Console) -> None:
    name = console.app.services.directory.person_name(PROSECUTOR)
    kept = await create_case(console, title="甲案")  # HY-2026-0001, stays
    code = await create_case(console, title="乙案")
    # the case system moves its deadline: 乙案's 诉前会商 (due 11-10) is planned; 提醒 names it
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"investigation_deadline": "2026-11-25"})
    assert r.status == 200, await r.text()
    assert await pending_reminders(console, code)
    [listed] = await say(console, "提醒")
    assert code in said(listed) and "诉前会商" in said(listed)
    [shown] = await say(console, f"码 {code}")
    page = next(a["url"] for a in shown["card"]["actions"] if a["id"] == "case.open")

    # asked first: nothing happens until confirmed
    [ask] = await say(console, f"撤销案件 {code} 重复录入")
    assert ask["card"]["title"] == f"撤销案件 {code}？"
    assert "撤销原因：重复录入" in ask["card"]["body"]
    assert f"撤销案件 {code} 重复录入 确认" in ask["card"]["body"]
    assert [a["label"] for a in ask["card"]["actions"]] == ["确认撤销"]
    assert (await case_json(console, code))["status"] == "open"
    assert await withdraw_records(console) == []

    clicked = await console.click(PROSECUTOR, ask["id"], "case.withdraw")
    assert texts(clicked)[-1] == (
        f"已撤销案件 {code}。该案件不再列入我的案件和统计，也不再提醒。")
    withdrawn = f"已撤销（{name} 2026-11-02：重复录入）"
    [card] = [m for m in await console.messages(f"dm:{PROSECUTOR}") if m["id"] == ask["id"]]
    assert card["card"]["actions"] == [] and card["card"]["footer"] == withdrawn
    [(actor, subject, data)] = await withdraw_records(console)
    assert (actor, subject, data) == (PROSECUTOR, code, {"title": "乙案", "reason": "重复录入"})

    # reminders: none pending, none listed, none sent later
    assert await pending_reminders(console, code) == []
    [listed] = await say(console, "提醒")
    assert said(listed) == "您目前没有待办提醒。"
    await console.advance("10d")
    assert not any(code in said(m) for m in await console.messages(f"dm:{INV}"))

    # 码, the code page, the API
    [shown] = await say(console, f"码 {code}")
    assert shown["card"]["title"] == f"案件码 {code} · 已撤销"
    assert shown["card"]["body"].startswith(f"{withdrawn}\n案件：乙案")
    assert shown["card"]["actions"] == []
    await login(console, PROSECUTOR)
    r = await console.client.get(urlsplit(page).path)
    html = await r.text()
    assert r.status == 200 and withdrawn in html
    assert "去评分" not in html and "outline.docx" not in html
    detail = await case_json(console, code)
    assert detail["status"] == "withdrawn"
    assert detail["withdrawn"] == {"by": PROSECUTOR, "at": detail["withdrawn"]["at"],
                                   "reason": "重复录入"}

    # 我的案件 and 统计 (card, CSV) leave it out
    [mine] = await say(console, "我的案件")
    assert kept in mine["card"]["body"] and code not in mine["card"]["body"]
    assert mine["card"]["title"] == "我的案件（1件）"
    [stats] = await say(console, "统计")
    assert "案件总数：1\n红码 0 · 黄码 0 · 绿码 0 · 未评分 1\n" in stats["card"]["body"]
    r = await console.client.get("/stats.csv")
    rows = list(csv.reader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    assert rows[1][:3] == ["合计", "全部", "1"]


async def test_a_withdrawn_case_cannot_be_scored(console: Console) -> None:
    code = await create_case(console)
    await say(console, f"撤销案件{code} 确认")  # typed confirmation, glued to the command
    assert (await case_json(console, code))["status"] == "withdrawn"
    name = console.app.services.directory.person_name(PROSECUTOR)
    [m] = await say(console, f"评分 {code}")
    assert m["text"] == f"{code} 已撤销（{name} 2026-11-02），不能评分。"
    await login(console, PROSECUTOR)
    r = await console.client.get(f"/cases/{code}/score")
    assert r.status == 409 and "已撤销" in await r.text()
    r = await console.client.post(f"/cases/{code}/score", json={
        "deductions": [], "vetoes": [], "comment": ""})
    assert r.status == 409 and "不能评分" in (await r.json())["error"]
    r = await console.client.post(f"/api/v1/cases/{code}/evaluations", headers=AUTH, json={
        "by": PROSECUTOR, "deductions": [], "vetoes": [], "comment": ""})
    assert r.status == 422 and "已撤销" in (await r.json())["error"]
    assert (await case_json(console, code))["version"] == 0


async def test_a_scored_case_is_refused_with_what_to_do_instead(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [m] = await say(console, f"撤销案件 {code} 重复录入")
    assert m["text"] == (f"{code} 已评分，案件码已发送给侦查人员，不能撤销。"
                         "如需结案，请通过案件管理系统办理结案。")
    assert (await case_json(console, code))["status"] == "open"


async def test_only_the_cases_own_prosecutor_may_withdraw_it(console: Console) -> None:
    code = await create_case(console)
    [m] = await say(console, f"撤销案件 {code}", user=OTHER_PROSECUTOR)
    assert m["text"] == f"只有本案承办检察官可以撤销案件 {code}。"
    [m] = await say(console, f"撤销案件 {code}", user=INV)  # not a prosecutor at all
    assert m["text"] == "「撤销案件」仅限承办检察官使用。您的角色：侦查人员。"
    assert (await case_json(console, code))["status"] == "open"
    # the confirmation card, tapped by someone outside its chat: refused too
    [ask] = await say(console, f"撤销案件 {code}")
    r = await console.click(OTHER_PROSECUTOR, ask["id"], "case.withdraw")
    assert texts(r)[-1] == "您不在这张卡片所在的会话中，无法操作。"
    assert (await case_json(console, code))["status"] == "open"
    [m] = await say(console, "撤销案件 HY-2026-0099")
    assert m["text"] == "未找到案件码 HY-2026-0099。"


async def test_a_double_confirmation_acts_once(console: Console) -> None:
    code = await create_case(console)
    [first] = await say(console, f"撤销案件 {code} 录错了")
    [second] = await say(console, f"撤销案件 {code} 录错了")
    await console.click(PROSECUTOR, first["id"], "case.withdraw")
    await console.click(PROSECUTOR, first["id"], "case.withdraw")  # a double tap
    # the other card lost its button with the first tap; its old rendering tapped is told so
    r = await console.click(PROSECUTOR, second["id"], "case.withdraw")
    assert texts(r)[-1] == "您已点过「确认撤销」，无需重复操作。"
    [m] = await say(console, f"撤销案件 {code} 确认")
    assert m["text"].endswith("无需重复撤销。")
    assert len(await withdraw_records(console)) == 1


async def test_a_bare_typed_confirmation_keeps_the_reason_on_the_card(console: Console) -> None:
    """撤销案件 … 确认 typed without the reason confirms the newest card asking: its 撤销原因 is
    kept (the card's footer, 码, the record); a reason typed with 确认 is the one recorded."""
    name = console.app.services.directory.person_name(PROSECUTOR)
    code = await create_case(console)
    [ask] = await say(console, f"撤销案件 {code} 重复录入")
    await say(console, f"撤销案件 {code} 确认")
    done = f"已撤销（{name} 2026-11-02：重复录入）"
    [card] = [m for m in await console.messages(f"dm:{PROSECUTOR}") if m["id"] == ask["id"]]
    assert card["card"]["footer"] == done
    [shown] = await say(console, f"码 {code}")
    assert shown["card"]["body"].startswith(f"{done}\n")
    other = await create_case(console, title="另案")
    await say(console, f"撤销案件 {other} 重复录入")
    await say(console, f"撤销案件 {other} 录错了 确认")
    assert [d["reason"] for _, _, d in await withdraw_records(console)] == ["重复录入", "录错了"]


async def audit_actions(console: Console, code: str) -> list[str]:
    async with console.app.services.db() as s:
        return list((await s.scalars(select(AuditRecord.action).where(
            AuditRecord.subject == code).order_by(AuditRecord.seq))).all())


async def test_a_withdrawn_case_is_frozen(console: Console) -> None:
    """Neither the case system (status, stage, deadlines) nor 提醒 暂停 changes it: refused with
    the reason, nothing applied, nothing recorded."""
    code = await create_case(console)  # 审查逮捕, deadlines 12-20 / 12-31
    await say(console, f"撤销案件 {code} 录错了 确认")
    before = await case_json(console, code)
    actions = await audit_actions(console, code)
    name = console.app.services.directory.person_name(PROSECUTOR)
    frozen = f"案件 {code} 已撤销（{name} 2026-11-02：录错了），不能修改"
    for body in ({"status": "open"}, {"status": "closed"}, {"stage": "审查起诉"},
                 {"investigation_deadline": "2026-12-10"}, {"custody_deadline": None},
                 {"stage": "审查起诉", "investigation_deadline": "2026-12-10"}):
        r = await console.client.patch(f"/api/v1/cases/{code}", json=body, headers=AUTH)
        assert r.status == 422, body
        assert (await r.json())["error"] == frozen, body
    after = await case_json(console, code)
    assert after == before and after["stage"] == "审查逮捕"
    assert after["investigation_deadline"] == "2026-12-20"
    assert await audit_actions(console, code) == actions  # no case.stage, no case.update
    [shown] = await say(console, f"码 {code}")
    assert "阶段：审查逮捕" in shown["card"]["body"]
    [m] = await say(console, f"提醒 暂停 {code} 3")
    assert m["text"] == f"案件 {code} 已撤销（{name} 2026-11-02：录错了），不能暂停提醒。"


async def test_withdrawing_retires_the_earlier_cards_for_the_case(console: Console) -> None:
    """Withdrawn by the typed 确认: every 撤销案件 card still showing 确认撤销, the 评分 card,
    the 已录入案件 card and the 码 card lose the buttons that act on the case; another case's
    are kept."""
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, created = await submit(console, token)
    assert status == 201
    code = created["code"]
    other = await create_case(console, title="另案")
    dm = f"dm:{PROSECUTOR}"
    [entered] = [m for m in await console.messages(dm)
                 if m["card"] and m["card"]["title"] == f"已录入案件 {code}"]
    assert [a["label"] for a in entered["card"]["actions"]] == ["去评分"]
    [score] = await say(console, f"评分 {code}")
    [score_other] = await say(console, f"评分 {other}")
    [view] = await say(console, f"码 {code}")
    assert [a["label"] for a in view["card"]["actions"]] == ["查看详情", "去评分"]
    [ask1] = await say(console, f"撤销案件 {code} 录错了")
    [ask2] = await say(console, f"撤销案件 {code}")
    [ask_other] = await say(console, f"撤销案件 {other}")

    await say(console, f"撤销案件 {code} 录错了 确认")
    name = console.app.services.directory.person_name(PROSECUTOR)
    done = f"已撤销（{name} 2026-11-02：录错了）"
    now = {m["id"]: m["card"] for m in await console.messages(dm) if m["card"]}
    for ask in (ask1, ask2):
        assert now[ask["id"]]["actions"] == [] and now[ask["id"]]["footer"] == done
        assert now[ask["id"]]["body"] == ask["card"]["body"]
    for card in (entered, score):
        assert now[card["id"]]["actions"] == [], now[card["id"]]
        assert now[card["id"]]["footer"] == f"案件{done}"
    # the 码 card keeps 查看详情 (the code page says it is withdrawn)
    assert [a["label"] for a in now[view["id"]]["actions"]] == ["查看详情"]
    assert now[view["id"]]["footer"] == f"案件{done}"
    assert now[ask_other["id"]] == ask_other["card"]
    assert now[score_other["id"]] == score_other["card"]
    # a tap on a retired card's old rendering is told, and changes nothing
    r = await console.click(PROSECUTOR, ask2["id"], "case.withdraw")
    assert texts(r)[-1] == f"该按钮已失效：「撤销案件 {code}？」{done}。请以最新卡片为准。"
    assert len(await withdraw_records(console)) == 1


async def test_withdraw_typed_in_a_group_answers_privately(console: Console) -> None:
    code = await create_case(console)
    r = await console.send(PROSECUTOR, "g-case-team", f"撤销案件 {code} 录错了")
    assert texts(r) == ["撤销案件涉及办案信息，已私信回复您。"]
    [ask] = [m for m in await console.messages(f"dm:{PROSECUTOR}")
             if m["card"] and m["card"]["title"] == f"撤销案件 {code}？"]
    assert [a["label"] for a in ask["card"]["actions"]] == ["确认撤销"]
    assert not any(code in (m["text"] or "") + json.dumps(m["card"], ensure_ascii=False)
                   for m in await console.messages("g-case-team")
                   if m["text"] != f"撤销案件 {code} 录错了")


async def test_a_withdrawn_case_is_no_namesake_of_a_new_one(console: Console) -> None:
    """The case entered again under the same title after withdrawing the mistaken one: no
    「您已有同名在办案件」 question."""
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, first = await submit(console, token)
    assert status == 201
    await say(console, f"撤销案件 {first['code']} 确认")
    await login(console, PROSECUTOR)
    _, token2 = await open_form(console)
    status, second = await submit(console, token2, external_id="")
    assert status == 201, second


async def test_help_names_the_command_for_prosecutors(console: Console) -> None:
    [m] = await say(console, "帮助 全部")
    assert "· 撤销案件 <案件码> [原因] —— 撤销误录入的案件（仅限尚未评分的本人案件，需确认）" in m["text"]
    [m] = await say(console, "帮助 全部", user=INV)
    assert "撤销案件" not in m["text"]


async def test_a_reminder_already_sent_says_the_case_was_withdrawn(console: Console) -> None:
    """A 诉前会商 reminder sent before the withdrawal loses its buttons and says why."""
    code = await create_case(console)
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"investigation_deadline": "2026-11-10"})
    assert r.status == 200, await r.text()
    await console.advance("1h")  # its day (10-26) has passed: it goes out now
    [sent] = [m for m in await console.messages(f"dm:{INV}")
              if m["card"] and code in m["card"]["body"]]
    assert sent["card"]["actions"], sent
    await say(console, f"撤销案件 {code} 确认")
    [after] = [m for m in await console.messages(f"dm:{INV}") if m["id"] == sent["id"]]
    name = console.app.services.directory.person_name(PROSECUTOR)
    assert after["card"]["actions"] == []
    assert after["card"]["footer"].startswith(f"案件已撤销（{name} "), after["card"]


async def test_a_reason_too_long_is_refused_before_asking(console: Console) -> None:
    code = await create_case(console)
    [m] = await say(console, f"撤销案件 {code} {'重' * 101}")
    assert m["text"] == "撤销原因不超过 100 字。用法：撤销案件 <案件码> [原因]"
    [m] = await say(console, "撤销案件")
    assert m["text"] == "用法：撤销案件 <案件码> [原因]"
    assert (await case_json(console, code))["status"] == "open"


async def test_another_persons_score_post_learns_nothing_of_a_withdrawn_case(
        console: Console) -> None:
    """Who withdrew a case, when and why are the case's: a score form posted by anyone but its
    prosecutor is refused before any of it is said."""
    code = await create_case(console)
    await say(console, f"撤销案件{code} 确认")
    assert (await case_json(console, code))["status"] == "withdrawn"
    for user in (OTHER_PROSECUTOR, INV):
        await login(console, user)
        r = await console.client.post(f"/cases/{code}/score", json={
            "deductions": [], "vetoes": [], "comment": "", "base_version": 0})
        body = await r.json()
        assert (r.status, body) == (403, {"error": "只有本案承办检察官可以评分"}), user
