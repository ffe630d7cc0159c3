"""Answers that carry case information, asked in a group some of whose members may not see the
case (海澄县检警协作群: other prosecutors and investigators of the county), come to the asker
privately; the group reads only that they did, and nobody else is sent anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.roster import read_org_file, write_org_file
from tests.cases.helpers import (
    AUTH,
    CASE_GROUP,
    GREEN,
    INVESTIGATORS,
    LS_PROSECUTOR,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
)
from tests.conftest import Console

GROUP = "g-case-team"
# members of the group who may not see a case of p-investigator-1 and -2
OUTSIDERS = ["p-prosecutor-2", "p-investigator-3", "p-investigator-4"]


def shown(m: dict[str, Any]) -> str:
    card = m["card"] or {}
    return " ".join(str(x) for x in (m["text"], card.get("title"), card.get("body"),
                                     card.get("footer")) if x)


async def last_id(console: Console, chat: str) -> int:
    messages = await console.messages(chat)
    return messages[-1]["id"] if messages else 0


async def outsiders_mark(console: Console) -> dict[str, int]:
    return {p: await last_id(console, f"dm:{p}") for p in OUTSIDERS}


async def assert_outsiders_got_nothing(console: Console, mark: dict[str, int]) -> None:
    for person, after in mark.items():
        assert await console.messages(f"dm:{person}", after) == [], person


async def test_reminders_asked_in_a_group_come_privately(console: Console) -> None:
    code = await create_case(console, title="何某强奸案")
    await evaluate(console, code, RED)
    mark = await outsiders_mark(console)
    before = await last_id(console, GROUP)
    r = await console.send(PROSECUTOR, GROUP, "提醒")
    listed, note = r["messages"]
    assert listed["chat"] == f"dm:{PROSECUTOR}" and listed["card"]["title"] == "我的提醒"
    assert f"责任倒查 {code}" in listed["card"]["body"]
    # what every member of the group reads: one line, no case, no reminder
    [seen] = [m for m in await console.messages(GROUP, before) if m["from"] == "bot"]
    assert seen["id"] == note["id"] and seen["card"] is None
    assert seen["text"] == "该内容涉及办案信息，本群有成员无权查看，已私信发给您。"
    assert code not in shown(seen)
    await assert_outsiders_got_nothing(console, mark)
    # in the 1:1 chat, as before
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
    [mine] = r["messages"]
    assert mine["chat"] == f"dm:{PROSECUTOR}" and f"责任倒查 {code}" in mine["card"]["body"]


async def test_intake_choice_typed_in_a_group_is_answered_privately(console: Console) -> None:
    """延期受理 / 先收后补 typed in the group: the decision, the one already made and the
    re-score that made the choice moot (colour and score) go to the prosecutor alone."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    mark = await outsiders_mark(console)
    before = await last_id(console, GROUP)
    note = f"案件码 {code} 涉及办案信息，本群有成员无权查看，已私信发给您。"

    r = await console.send(PROSECUTOR, GROUP, f"延期受理 {code}")
    answer = next(m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}" and m["text"])
    assert answer["text"] == f"{code} 已决定：延期受理。"
    r = await console.send(PROSECUTOR, GROUP, f"先收后补 {code}")
    answer = next(m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}")
    assert answer["text"] == f"{code} 已作出受理决定：延期受理，无需重复选择。"

    # another 黄码待定, re-scored green before the choice
    other = await create_case(console)
    await evaluate(console, other, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {other}")
    await evaluate(console, other, GREEN)
    r = await console.send(PROSECUTOR, GROUP, f"先收后补 {other}")
    answer = next(m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}")
    assert answer["text"].startswith(f"{other} 现为绿码 95分，不再待定")

    # the group read only that the answers went privately
    seen = [m for m in await console.messages(GROUP, before) if m["from"] == "bot"]
    assert [m["text"] for m in seen] == [
        note, note, f"案件码 {other} 涉及办案信息，本群有成员无权查看，已私信发给您。"]
    assert not any(w in shown(m) for m in seen for w in ("延期受理", "先收后补", "绿码", "95"))
    await assert_outsiders_got_nothing(console, mark)


async def test_what_became_of_a_case_is_told_privately_in_a_group(console: Console) -> None:
    """撤销案件 confirmed in the group, and 评分 / 受理 / 已知悉 of a case withdrawn (with its
    reason) or closed: the answer names what became of the case, so it comes privately."""
    dropped = await create_case(console)
    mark = await outsiders_mark(console)
    before = await last_id(console, GROUP)
    r = await console.send(PROSECUTOR, GROUP, f"撤销案件 {dropped} 重复录入 确认")
    [done] = [m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}"]
    assert done["text"].startswith(f"已撤销案件 {dropped}。")
    withdrawn = f"{dropped} 已撤销（余斌梅 "
    r = await console.send(PROSECUTOR, GROUP, f"撤销案件 {dropped}")
    [again] = [m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}"]
    assert again["text"].startswith(withdrawn) and "重复录入" in again["text"]
    r = await console.send(PROSECUTOR, GROUP, f"评分 {dropped}")
    [score] = [m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}"]
    assert score["text"].startswith(withdrawn) and score["text"].endswith("不能评分。")
    r = await console.send(MANAGER, GROUP, f"受理 {dropped}")
    [scan] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER}"]
    assert scan["text"].startswith(withdrawn) and scan["text"].endswith("无需受理。")

    closed = await create_case(console)
    await evaluate(console, closed, GREEN)
    r = await console.client.patch(f"/api/v1/cases/{closed}", json={"status": "closed"},
                                   headers=AUTH)
    assert r.status == 200
    r = await console.send(MANAGER, GROUP, f"受理 {closed}")
    [scan] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER}"]
    assert scan["text"].startswith(f"{closed} 已于 ") and "结案，无需受理" in scan["text"]
    r = await console.send(INVESTIGATORS[0], GROUP, f"已知悉 {closed}")
    [ack] = [m for m in r["messages"] if m["chat"] == f"dm:{INVESTIGATORS[0]}"]
    assert "结案，无需确认知悉" in ack["text"]

    seen = [m for m in await console.messages(GROUP, before) if m["from"] == "bot"]
    withdraw_note = "撤销案件涉及办案信息，已私信回复您。"
    assert [m["text"] for m in seen] == [
        withdraw_note, withdraw_note,
        *[f"案件码 {dropped} 涉及办案信息，本群有成员无权查看，已私信发给您。"] * 2,
        *[f"案件码 {closed} 涉及办案信息，本群有成员无权查看，已私信发给您。"] * 2]
    assert not any(w in shown(m) for m in seen for w in ("重复录入", "已撤销", "结案"))
    await assert_outsiders_got_nothing(console, mark)


async def code_card(console: Console, user: str, chat: str, code: str) -> dict[str, Any]:
    [card] = cards((await console.send(user, chat, f"码 {code}"))["messages"])
    assert card["chat"] == chat
    return card


async def now_reads(console: Console, sent: dict[str, Any]) -> dict[str, Any]:
    """The card `sent` as it reads now (redrawn in place)."""
    return next(m for m in await console.messages(sent["chat"]) if m["id"] == sent["id"])


def labels(m: dict[str, Any]) -> list[str]:
    return [a["label"] for a in m["card"]["actions"]]


STALE = "本卡片已失效，请以最新卡片为准"


def neutral(now: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Redrawn with nothing new: what it said when sent, no buttons, footed STALE."""
    return (now["card"]["title"], now["card"]["body"], now["card"]["footer"], labels(now)) == (
        sent["card"]["title"], sent["card"]["body"], STALE, [])


async def test_old_cards_in_a_group_joined_since_are_redrawn_without_the_new_state(
        case_group_console: Console, tmp_path: Path) -> None:
    """码 cards posted in a group where everyone could see the case; then the roster adds a
    prosecutor of another county to it. Re-scoring, the prosecutor's choice (typed in their
    1:1 chat, or tapped on the group's card) and closing redraw the group's cards neutrally:
    no colour, score, decision or closing; the 1:1 cards get the new state as before."""
    console = case_group_console
    rescored, chosen, tapped, closed = [await create_case(console) for _ in range(4)]
    for code in (rescored, chosen, tapped):
        await evaluate(console, code, YELLOW)
        await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")  # 待定
    await evaluate(console, closed, RED)
    in_group = {code: await code_card(console, PROSECUTOR, CASE_GROUP, code)
                for code in (rescored, chosen, tapped)}
    in_group[closed] = await code_card(console, MANAGER, CASE_GROUP, closed)
    assert labels(in_group[rescored]) == ["查看详情", "去评分", "延期受理", "先收后补"]
    assert labels(in_group[closed]) == ["查看详情", "扫码受理"]
    own = {code: await code_card(console, PROSECUTOR, f"dm:{PROSECUTOR}", code)
           for code in (rescored, chosen)}
    own[closed] = await code_card(console, MANAGER, f"dm:{MANAGER}", closed)

    path = tmp_path / "org.yaml"
    data = read_org_file(path)
    next(c for c in data["chats"] if c["id"] == CASE_GROUP)["members"].append(LS_PROSECUTOR)
    write_org_file(path, data)
    assert await console.app.reload_org()
    mark = {p: await last_id(console, f"dm:{p}") for p in (LS_PROSECUTOR,)}
    before = await last_id(console, CASE_GROUP)

    await evaluate(console, rescored, GREEN)
    await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"先收后补 {chosen}")
    r = await console.click(PROSECUTOR, in_group[tapped]["id"], "intake.defer")
    assert [m["text"] for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}" and m["text"]
            ] == [f"{tapped} 已决定：延期受理。"]
    r = await console.client.patch(f"/api/v1/cases/{closed}", json={"status": "closed"},
                                   headers=AUTH)
    assert r.status == 200

    for code, sent in in_group.items():
        now = await now_reads(console, sent)
        assert neutral(now, sent), (code, now["card"])
    group = " ".join(shown(m) for m in await console.messages(CASE_GROUP))
    assert not any(w in group for w in ("绿码", "95分", "已决定", "先收后补（", "延期受理（", "结案"))
    assert [m["text"] for m in await console.messages(CASE_GROUP, before) if m["from"] == "bot"] == [
        f"案件码 {tapped} 涉及办案信息，本群有成员无权查看，已私信发给您。"]
    await assert_outsiders_got_nothing(console, mark)
    # whoever may see the case reads what became of it on their own cards
    assert (await now_reads(console, own[rescored]))["card"]["footer"] == (
        "已转为绿码 95分，不再待定，待案管部门重新扫码受理")
    assert (await now_reads(console, own[chosen]))["card"]["footer"].startswith(
        "已决定：先收后补（余斌梅 ")
    assert (await now_reads(console, own[closed]))["card"]["footer"] == "案件已结案（2026-11-02）"
    [delivered] = [m for m in cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))
                   if m["card"]["title"].startswith(f"案件码 {closed}")]
    assert delivered["card"]["footer"] == "案件已结案（2026-11-02）"

    # reopened, the group's card stays as it is
    r = await console.client.patch(f"/api/v1/cases/{closed}", json={"status": "open"},
                                   headers=AUTH)
    assert r.status == 200
    assert neutral(await now_reads(console, in_group[closed]), in_group[closed])
    assert labels(await now_reads(console, own[closed])) == ["查看详情", "扫码受理"]


async def test_acknowledging_and_filing_typed_in_a_group_answer_privately(
        console: Console) -> None:
    """已知悉 and 申请复核 typed in the group by the case's investigator, and 提醒 暂停 by its
    prosecutor: the answer (version, request number, deadline, state) comes privately."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    mark = await outsiders_mark(console)
    before = await last_id(console, GROUP)
    note = f"案件码 {code} 涉及办案信息，本群有成员无权查看，已私信发给您。"

    async def privately(user: str, text: str) -> str:
        r = await console.send(user, GROUP, text)
        [answer] = [m for m in r["messages"] if m["chat"] == f"dm:{user}" and m["text"]]
        return str(answer["text"])

    assert await privately(inv, f"已知悉 {code}") == f"已确认知悉 {code}（第1版）。"
    assert await privately(inv, f"已知悉 {code}") == f"您已确认知悉 {code}（第1版），无需重复确认。"
    filed = await privately(inv, f"申请复核 {code} 第1项 有证人证言")
    assert filed.startswith("复核申请 #1 已提交，承办检察官将在 ") and filed.endswith("答复。")
    assert "已有一个未办结的复核申请（#1，待处理）" in await privately(
        inv, f"申请复核 {code} 第2项 另有物证")
    snoozed = await privately(PROSECUTOR, f"提醒 暂停 {code} 3")
    assert snoozed.startswith(f"已暂停 {code} 的提醒 3 天，最早于 ")
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "closed"},
                                   headers=AUTH)
    assert r.status == 200
    assert await privately(INVESTIGATORS[1], f"申请复核 {code} 第1项 有证人证言") == (
        f"案件 {code} 已结案，不能再申请复核。")

    seen = [m for m in await console.messages(GROUP, before) if m["from"] == "bot"]
    assert [m["text"] for m in seen] == [note] * 6
    await assert_outsiders_got_nothing(console, mark)
