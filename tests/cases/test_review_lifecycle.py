"""A case's life with several people at once: every card already sent stays true after each
step (SPEC §2: no stale buttons, no stale colour) and each step tells the right people."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.review import CHANGED, State
from bot.reviews import awaits_rescore
from storage import reviews as reviews_repo
from storage.models import AuditRecord
from storage.reviews import OPEN_STATES, ReviewRow
from tests.cases.helpers import (
    GREEN,
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    ded,
    evaluate,
)
from tests.conftest import START, Console

INV, INV2 = INVESTIGATORS
LEADER = "p-leader-hc"


async def _last(console: Console, person: str, title_part: str) -> dict[str, Any]:
    return [m for m in cards(await console.messages(f"dm:{person}"))
            if title_part in m["card"]["title"]][-1]


async def _file(console: Console, person: str, code: str, items: str) -> None:
    card = await _last(console, person, f"案件码 {code}")
    r = await console.click(person, card["id"], "review.file", {"items": items, "reason": "有异议"})
    assert "已提交" in r["messages"][-1]["text"], r


async def test_a_rescore_updates_what_every_review_card_calls_current(console: Console) -> None:
    """A re-score the prosecutor makes directly while requests are open (or already decided)
    leaves no card about them claiming the old colour as 当前."""
    code = await create_case(console)
    await evaluate(console, code, RED)  # 66 red
    await _file(console, INV, code, "1")
    await _file(console, INV2, code, "2")
    pcard = await _last(console, PROSECUTOR, "复核申请 #2")
    await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    await evaluate(console, code, YELLOW)  # 85 yellow, no request referenced
    for person, part in ((PROSECUTOR, "复核申请 #1"), (INV, "您的复核申请 #1"),
                         (PROSECUTOR, "复核申请 #2"), (INV2, "您的复核申请 #2"),
                         (LEADER, "检警共同评议")):
        body = (await _last(console, person, part))["card"]["body"]
        assert "当前：黄码 85分" in body and "红码 66分" not in body, (person, part, body)
    # the pending request is still to be answered, on the current score
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert [a["label"] for a in pcard["card"]["actions"]] == ["同意并调整", "驳回", "提交检警共同评议"]


async def test_an_agreed_request_is_answered_by_the_next_rescore(console: Console) -> None:
    """同意并调整, then the prosecutor re-scores (评分 or the case system) without going
    through 去调整评分: the request is answered, its filer told, 去调整评分 gone."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await _file(console, INV, code, "1")
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.accept")
    await evaluate(console, code, YELLOW)
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert pcard["card"]["actions"] == [], pcard
    assert "重新评分：黄码 85分（第2版）" in pcard["card"]["body"]
    assert any(m["text"] and "#1" in m["text"] and "已重新评分：黄码 85分" in m["text"]
               for m in await console.messages(f"dm:{INV}"))
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    assert r["messages"][0]["text"] == "您没有待办的复核申请。"


async def test_answering_a_request_settles_its_overdue_reminders(console: Console) -> None:
    """The overdue-answer reminder and its escalation (the leader's copy too) lose 去答复 and
    已处理 once the prosecutor answers."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await _file(console, INV, code, "1")
    await console.advance("8d")  # answer time (3 working days, by 18:00), the escalation (2 more)
    def overdue(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in cards(ms) if "复核答复" in m["card"]["title"]]
    sent = overdue(await console.messages(f"dm:{PROSECUTOR}"))
    lead = overdue(await console.messages(f"dm:{LEADER}"))
    assert len(sent) == 2 and len(lead) == 1
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.reject", {"reason": "证据不足"})
    for person, left in ((PROSECUTOR, []), (LEADER, ["查看案件"])):  # a link to the case stays
        for m in overdue(await console.messages(f"dm:{person}")):
            assert [a["label"] for a in m["card"]["actions"]] == left, (person, m["card"])
    # the escalation had superseded the prosecutor's first card; the open ones say answered
    first, escalated = overdue(await console.messages(f"dm:{PROSECUTOR}"))
    [lead_card] = overdue(await console.messages(f"dm:{LEADER}"))
    assert first["card"]["footer"] == "已由 2026-11-10 的新提醒取代", first["card"]["footer"]
    for m in (escalated, lead_card):
        assert m["card"]["footer"].startswith("已答复："), m["card"]["footer"]


async def test_a_yellow_intake_choice_after_the_case_left_yellow_is_refused(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    pending = await _last(console, PROSECUTOR, "受理待定")
    await evaluate(console, code, GREEN)
    r = await console.click(PROSECUTOR, pending["id"], "intake.receive")
    assert "绿码" in r["messages"][-1]["text"] and "重新扫码受理" in r["messages"][-1]["text"]
    [card] = [m for m in await console.messages(f"dm:{PROSECUTOR}") if m["id"] == pending["id"]]
    assert card["card"]["actions"] == []
    detail = await (await console.client.get(
        f"/api/v1/cases/{code}", headers={"Authorization": "Bearer test-token"})).json()
    assert [i["decision"] for i in detail["intake"]] == ["待定"]
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert "放行" in r["messages"][0]["card"]["title"]


async def test_acknowledging_keeps_what_the_card_said_was_cleared(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await evaluate(console, code, YELLOW[:1])  # 90, still yellow: 因果关系 cleared
    card = await _last(console, INV, f"案件码 {code}")
    assert card["card"]["body"].startswith("已销号：因果关系\n")
    await console.click(INV, card["id"], "case.ack")
    [after] = [m for m in await console.messages(f"dm:{INV}") if m["id"] == card["id"]]
    assert after["card"]["body"] == card["card"]["body"]
    assert after["card"]["footer"].startswith("已知悉：")


async def test_turning_green_settles_the_consultation_reminders(console: Console) -> None:
    """诉前会商 is for a code that is not green: once it is, the reminder cards (the
    investigators' and the prosecutor's) no longer offer 发起会商 and say why."""
    code = await create_case(console)  # investigation deadline 2026-12-20: consultation 12-05
    await evaluate(console, code, YELLOW)
    await console.advance("35d")
    sent = {p: [m for m in cards(await console.messages(f"dm:{p}")) if "诉前会商" in m["card"]["title"]]
            for p in (PROSECUTOR, INV, INV2)}
    assert all(len(v) == 1 and "发起会商" in [a["label"] for a in v[0]["card"]["actions"]]
               for v in sent.values()), sent
    await evaluate(console, code, GREEN)
    for p, [m] in sent.items():
        [after] = [x for x in await console.messages(f"dm:{p}") if x["id"] == m["id"]]
        assert after["card"]["actions"] == [], (p, after["card"])
        assert after["card"]["footer"].startswith("已转绿码："), after["card"]["footer"]


@pytest.mark.postgres
async def test_a_double_clicked_ack_on_postgresql_acts_once(pg_console: Console) -> None:
    """Two 已知悉 clicks at the same moment (READ COMMITTED: both read the card before either
    commits): one acknowledgement, one audit record, the other click told."""
    console = pg_console
    code = await create_case(console)
    await evaluate(console, code, RED)
    card = await _last(console, INV, f"案件码 {code}")
    for _ in range(3):
        replies = await asyncio.gather(*(console.click(INV, card["id"], "case.ack")
                                         for _ in range(4)))
        texts = [r["messages"][-1]["text"] for r in replies]
        assert sum(t.startswith("已确认知悉") for t in texts) <= 1, texts
    async with console.app.services.db() as s:
        n = await s.scalar(select(func.count()).select_from(AuditRecord)
                           .where(AuditRecord.action == "case.acknowledge"))
    assert n == 1


async def test_which_requests_wait_for_a_rescore_is_the_same_rule_in_python_and_sql(
        console: Console) -> None:
    """待办 lists (SQL) and the re-score that answers them (Python) must agree on every state:
    a request left out of one would never be answered, or answered but still listed."""
    code = await create_case(console)
    combos = [(state, outcome, version) for state in State for outcome in (CHANGED, "kept", None)
              for version in (None, 1)]
    async with console.app.services.db() as s, s.begin():
        # each by another filer: one person has one unsettled request per case (0030)
        rows = [ReviewRow(case_code=code, version=1, filed_by=f"p-filer-{i}",
                          filed_at=START, items="[]", reason="理由", status=state.value,
                          outcome=outcome, new_version=version, due_at=START)
                for i, (state, outcome, version) in enumerate(combos)]
        s.add_all(rows)
        await s.flush()
        in_sql = {r.id for r in await reviews_repo.awaiting_rescore(s, code)}
        in_python = {r.id for r in rows if awaits_rescore(r, code)}
        # and the unique index (uq_review_one_unsettled) covers what filing checks: open ones too
        unsettled = {r.id for r in rows
                     if await reviews_repo.unsettled_for(s, code, r.filed_by)}
        indexed = set((await s.execute(select(ReviewRow.id).where(
            ReviewRow.case_code == code, reviews_repo.UNSETTLED))).scalars())
    assert in_sql == in_python and len(in_sql) == 5  # accepted (any outcome), joint ones on 调整
    assert unsettled == indexed == in_sql | {r.id for r in rows if r.status in OPEN_STATES}


def _overdue(ms: list[dict[str, Any]], number: int) -> list[dict[str, Any]]:
    return [m for m in cards(ms) if "复核答复" in m["card"]["title"]
            and f"复核申请 #{number}（" in m["card"]["body"]]


async def test_a_rescore_that_clears_every_disputed_item_settles_the_pending_request(
        console: Console) -> None:
    """INV disputes 危害后果 only; before anyone answers, the prosecutor re-scores without it.
    Nothing is left to answer: the request is settled (已由重新评分解决), its cards lose their
    buttons, INV is told, the overdue-answer reminder is closed and stops, and the old buttons
    answer in Chinese instead of acting. INV2's request on an item still deducted stays open."""
    code = await create_case(console)
    await evaluate(console, code, RED)  # 1 犯罪事实 −16, 2 危害后果 −10, 3 因果关系 −8
    await _file(console, INV, code, "2")  # #1
    await _file(console, INV2, code, "1")  # #2
    await console.advance("4d")  # past the answer time (3 working days): one reminder each
    [reminder] = _overdue(await console.messages(f"dm:{PROSECUTOR}"), 1)
    assert "已处理" in [a["label"] for a in reminder["card"]["actions"]]
    old = await _last(console, PROSECUTOR, "复核申请 #1")
    receipt = await _last(console, INV, "您的复核申请 #1")

    await evaluate(console, code, YELLOW)  # 犯罪事实 −10, 因果关系 −5: 危害后果 cleared

    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert pcard["id"] == old["id"] and pcard["card"]["actions"] == [], pcard["card"]
    assert "已由重新评分解决" in pcard["card"]["title"]
    assert "危害后果" in pcard["card"]["body"] and "（第2版已销号）" in pcard["card"]["body"]
    mine = await _last(console, INV, "您的复核申请 #1")
    assert mine["id"] == receipt["id"] and mine["card"]["actions"] == []  # no 撤回申请
    told = [m["text"] for m in await console.messages(f"dm:{INV}")
            if m["text"] and "#1" in m["text"]]
    assert any("已在第2版评分中全部销号" in t and "无需再处理" in t for t in told), told
    [reminder] = _overdue(await console.messages(f"dm:{PROSECUTOR}"), 1)
    assert reminder["card"]["actions"] == []
    assert reminder["card"]["footer"].startswith("已由重新评分解决：")

    # the buttons of the cards as they were before the re-score: a clear answer, no action
    for person, card, action, form in (
            (PROSECUTOR, old, "review.accept", {}),
            (PROSECUTOR, old, "review.reject", {"reason": "不同意"}),
            (PROSECUTOR, old, "review.joint", {"time": "2026-11-20 14:30"}),
            (INV, receipt, "review.withdraw", {})):
        r = await console.click(person, card["id"], action, form)
        text = r["messages"][-1]["text"]
        assert text.startswith("该按钮已失效") and "已由重新评分解决" in text, (action, text)
    async with console.app.services.db() as s:
        row = await s.get(ReviewRow, 1)
        assert row is not None and row.status == "settled" and row.new_version == 2

    # INV2's request (犯罪事实, still deducted) is still the prosecutor's to answer
    other = await _last(console, PROSECUTOR, "复核申请 #2")
    assert [a["label"] for a in other["card"]["actions"]] == ["同意并调整", "驳回", "提交检警共同评议"]
    assert "已销号" not in other["card"]["body"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    assert "#2" in r["messages"][0]["card"]["body"] and "#1" not in r["messages"][0]["card"]["body"]

    await console.advance("10d")  # #2 keeps being chased; #1 never again
    assert len(_overdue(await console.messages(f"dm:{PROSECUTOR}"), 1)) == 1
    assert len(_overdue(await console.messages(f"dm:{PROSECUTOR}"), 2)) > 1
    assert _overdue(await console.messages(f"dm:{LEADER}"), 1) == []


async def test_a_joint_review_on_cleared_items_is_called_off(console: Console) -> None:
    """A 检警共同评议 arranged about an item the next re-score clears: the request is settled
    and everyone invited (the filer, the other investigator, the leader) is told it will not
    be held; 记录评议结果 is gone from the prosecutor's card."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await _file(console, INV, code, "2,3")
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    await evaluate(console, code, [RED[0]])  # only 犯罪事实 −16 stays: 84, yellow
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert pcard["card"]["actions"] == [] and "已由重新评分解决" in pcard["card"]["title"]
    r = await console.click(PROSECUTOR, pcard["id"], "review.outcome",
                            {"outcome": "维持", "minutes": "维持"})
    assert "已由重新评分解决" in r["messages"][-1]["text"]
    for person in (INV, INV2, LEADER):
        texts = [m["text"] for m in await console.messages(f"dm:{person}") if m["text"]]
        assert any("2026-11-05 14:30 的检警共同评议不再举行" in t for t in texts), (person, texts)
    joint = await _last(console, LEADER, "检警共同评议")
    assert "已由重新评分解决" in joint["card"]["title"]


async def test_closing_a_case_leaves_no_card_about_it_that_acts(console: Console) -> None:
    """The case-management system closes a case with reminders sent (红码评估, 诉前会商, an
    overdue answer) and a request pending: every such card loses its buttons and says why,
    the old buttons do nothing, no new request can be filed; reopening brings the request's
    buttons back."""
    code = await create_case(console, investigation_deadline="2026-11-20")
    await evaluate(console, code, RED)
    await _file(console, INV, code, "1")
    await console.advance("8d")  # 11-05 诉前会商 and overdue answer, 11-09 红码评估

    def reminders(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in cards(ms)
                if any(w in m["card"]["title"] for w in ("逾期提醒", "督办", "预警提醒"))]

    before = {p: reminders(await console.messages(f"dm:{p}")) for p in (PROSECUTOR, INV)}
    assert len(before[PROSECUTOR]) >= 3 and len(before[INV]) == 1, before
    consult = before[INV][0]
    assert "发起会商" in [a["label"] for a in consult["card"]["actions"]]
    delivery = await _last(console, INV2, f"案件码 {code}")

    r = await console.client.patch(f"/api/v1/cases/{code}", headers={
        "Authorization": "Bearer test-token"}, json={"status": "closed"})
    assert r.status == 200, await r.text()

    for p, sent in before.items():
        for m in sent:
            [after] = [x for x in await console.messages(f"dm:{p}") if x["id"] == m["id"]]
            assert after["card"]["actions"] == [], (p, after["card"])
            if m["card"]["actions"]:  # open then (not superseded by a later one of its series)
                assert after["card"]["footer"].startswith("案件已结案（2026-"), after["card"]
    r = await console.click(INV, consult["id"], "reminder.consult")
    assert r["messages"][-1]["text"].startswith("该按钮已失效")
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert pcard["card"]["actions"] == [] and "案件已结案，复核申请不再处理。" in pcard["card"]["body"]
    assert (await _last(console, INV, "您的复核申请 #1"))["card"]["actions"] == []
    r = await console.click(INV2, delivery["id"], "review.file", {"items": "2", "reason": "有异议"})
    assert r["messages"][-1]["text"].startswith("该按钮已失效"), r  # the card lost 申请复核

    r = await console.client.patch(f"/api/v1/cases/{code}", headers={
        "Authorization": "Bearer test-token"}, json={"status": "open"})
    assert r.status == 200
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert [a["label"] for a in pcard["card"]["actions"]] == ["同意并调整", "驳回", "提交检警共同评议"]


LEGALITY = [ded("evidence_legality", 12), ded("causation", 8)]  # 80 → yellow


async def _joint_changed(console: Console) -> str:
    """#1 on 关键证据合法性 −12, sent to a joint review that decided 调整."""
    code = await create_case(console)
    await evaluate(console, code, LEGALITY)
    await _file(console, INV, code, "1")
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    console.clock.advance(timedelta(days=4))
    r = await console.click(PROSECUTOR, pcard["id"], "review.outcome",
                            {"outcome": "调整", "minutes": "取证程序有瑕疵但可补正"})
    assert "已记录评议结果：调整评分" in r["messages"][-1]["text"], r
    return code


async def test_an_unrelated_rescore_leaves_an_agreed_adjustment_open(console: Console) -> None:
    """调整 agreed on 关键证据合法性; a re-score through the API that keeps it at −12 answers
    nothing: 去调整评分 stays, the filer is told nothing, the request stays on 待办. The
    re-score that does change the item answers it."""
    code = await _joint_changed(console)
    await evaluate(console, code, [ded("evidence_legality", 12), ded("causation", 5)])
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert [a["label"] for a in pcard["card"]["actions"]] == ["去调整评分"], pcard
    assert "重新评分：" not in pcard["card"]["body"]
    assert not any(m["text"] and "已重新评分" in m["text"]
                   for m in await console.messages(f"dm:{INV}"))
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    assert "#1" in r["messages"][0]["card"]["body"] and "待重新评分" in r["messages"][0]["card"]["body"]

    await evaluate(console, code, [ded("evidence_legality", 6), ded("causation", 5)])
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    assert pcard["card"]["actions"] == [] and "重新评分：黄码 89分（第3版）" in pcard["card"]["body"]
    assert any(m["text"] and m["text"].startswith(f"您的复核申请 #1（{code}）已重新评分：黄码 89分")
               for m in await console.messages(f"dm:{INV}"))


async def test_filing_again_before_confirming_the_outcome_offers_the_confirmation(
        console: Console) -> None:
    """A second 申请复核 while the joint review's outcome waits for the filer's confirmation
    says what to do and offers 确认评议结果 right there; confirming unblocks it."""
    code = await _joint_changed(console)
    await evaluate(console, code, [ded("evidence_legality", 6), ded("causation", 8)])
    delivery = await _last(console, INV, f"案件码 {code}")
    answer = await _asked_to_confirm_first(console, code, delivery)
    assert [a["label"] for a in answer["card"]["actions"]] == ["确认评议结果"]
    r = await console.click(INV, answer["id"], "review.confirm")
    assert r["messages"][-1]["text"] == "已确认共同评议结果。"
    [again] = [m for m in await console.messages(f"dm:{INV}") if m["id"] == answer["id"]]
    assert again["card"]["actions"] == []
    r = await console.click(INV, delivery["id"], "review.file", {"items": "2", "reason": "有异议"})
    assert "复核申请 #2 已提交" in r["messages"][-1]["text"], r


async def _asked_to_confirm_first(console: Console, code: str,
                                  delivery: dict[str, Any]) -> dict[str, Any]:
    """申请复核 on the code card while the joint review's 调整 waits for the filer's
    confirmation: the answer says to confirm first (and is returned)."""
    r = await console.click(INV, delivery["id"], "review.file", {"items": "2", "reason": "有异议"})
    answer: dict[str, Any] = r["messages"][-1]
    assert answer["card"]["body"].startswith(
        f"您对 {code} 已有一个未办结的复核申请（#1，评议完成（待侦查人员确认）），"
        "请先在评议结果卡片上点「确认评议结果」。"), answer
    return answer


async def test_filing_again_before_the_rescore_asks_first_for_the_confirmation(
        console: Console) -> None:
    """The joint review decided 调整 and nothing is re-scored yet: a second 申请复核 on the
    code card says what the filer must do now (confirm, as the button it carries), not that
    the request only waits for the prosecutor's re-score."""
    code = await _joint_changed(console)
    delivery = await _last(console, INV, f"案件码 {code}")
    answer = await _asked_to_confirm_first(console, code, delivery)
    assert "正等待承办检察官重新评分" not in answer["card"]["body"]
    assert [a["label"] for a in answer["card"]["actions"]] == ["确认评议结果"]


async def test_closing_a_case_calls_off_its_scheduled_joint_review(console: Console) -> None:
    """Everyone invited to the joint review is told it will not be held."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await _file(console, INV, code, "1")
    pcard = await _last(console, PROSECUTOR, "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    for status in ("closed", "closed"):  # closing a closed case again tells no one twice
        r = await console.client.patch(f"/api/v1/cases/{code}", headers={
            "Authorization": "Bearer test-token"}, json={"status": status})
        assert r.status == 200, await r.text()
    said = f"复核申请 #1（{code}）的共同评议（2026-11-05 14:30）已取消：案件已结案。"
    for person in (INV, INV2, LEADER):
        texts = [m["text"] for m in await console.messages(f"dm:{person}") if m["text"]]
        assert texts.count(said) == 1, (person, texts)


async def test_the_prosecutor_is_told_when_an_investigator_starts_a_consultation(
        console: Console) -> None:
    code = await create_case(console, investigation_deadline="2026-11-20")
    await evaluate(console, code, RED)
    await console.advance("8d")  # 11-05 诉前会商
    [consult] = [m for m in cards(await console.messages(f"dm:{INV}"))
                 if "诉前会商" in m["card"]["title"]]
    r = await console.click(INV, consult["id"], "reminder.consult")
    assert r["messages"][-1]["text"].startswith(f"已发起 {code} 的诉前会商"), r
    texts = [m["text"] for m in await console.messages(f"dm:{PROSECUTOR}") if m["text"]]
    assert any(t.startswith(f"胡宇已发起 {code}《何某强奸案》的诉前会商") for t in texts), texts
