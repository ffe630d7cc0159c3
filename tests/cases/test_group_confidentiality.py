"""Answers that carry case information, asked in a group some of whose members may not see the
case (海澄县检警协作群: other prosecutors and investigators of the county), come to the asker
privately; the group reads only that they did, and nobody else is sent anything."""

from __future__ import annotations

from typing import Any

from tests.cases.helpers import GREEN, MANAGER, PROSECUTOR, RED, YELLOW, create_case, evaluate
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
