"""Every line of every role's 帮助 and 「帮助 全部」, typed as it stands, changes nothing: no
decision, request or meeting is recorded and nobody else is sent anything. (A case manager
once copied 「受理 HY-2026-0001」 from 帮助: it took the intake decision on a real case.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import Base, Message
from tests.cases.helpers import INVESTIGATORS, MANAGER, PROSECUTOR, RED, create_case, evaluate
from tests.conftest import Console

USERS = [PROSECUTOR, INVESTIGATORS[0], MANAGER, "p-leader-1", "p-chief-c01", "p-inspector-1",
         "p-admin-1"]
# what a read leaves behind: its own answer, the event's record, an audit line (题库 is audited)
_TRACES = {"messages", "outbox", "processed_events", "audit_log"}


async def state(console: Console, user: str) -> dict[str, Any]:
    """Every row the bot keeps, but for its traces, and every message outside `user`'s chat."""
    assert console.app.engine is not None
    got: dict[str, Any] = {}
    async with console.app.engine.connect() as conn:
        for t in Base.metadata.sorted_tables:
            if t.name not in _TRACES:
                got[t.name] = sorted(map(tuple, await conn.execute(select(t))), key=repr)
        got["others' messages"] = sorted(map(tuple, await conn.execute(
            select(Message.id, Message.chat, Message.text, Message.card, Message.updated_at)
            .where(Message.chat != f"dm:{user}"))), key=repr)
    return got


def typed_forms(help_text: str) -> list[str]:
    """What each help line tells the person to type: 「· 受理 <案件码> —— …」: 受理 <案件码>."""
    lines = [line for line in help_text.split("\n") if line.startswith("· ")]
    return [line.removeprefix("· ").split(" —— ")[0].split("（或")[0] for line in lines]


async def test_each_roles_help_typed_as_it_stands_changes_nothing(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)  # 受理 would return it; 申请复核 would file
    assert code == "HY-2026-0001"
    for user in USERS:
        chat = f"dm:{user}"
        typed: list[str] = []
        for ask in ("帮助", "帮助 全部"):
            [m] = (await console.send(user, chat, ask))["messages"]
            typed += typed_forms(str(m["text"]))
        assert typed, user
        before = await state(console, user)
        for text in typed:
            r = await console.send(user, chat, text)
            assert all(m["chat"] == chat for m in r["messages"]), (user, text, r["messages"])
        assert await state(console, user) == before, user
    # what the help of old showed does act (the check above would see it)
    before = await state(console, MANAGER)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert await state(console, MANAGER) != before


async def test_the_examples_of_usage_answers_change_nothing(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    [usage] = (await console.send(MANAGER, f"dm:{MANAGER}", "受理"))["messages"]
    assert "HY-" not in usage["text"] and "请换成您要受理的案件码" in usage["text"], usage
    for user, text in ((MANAGER, "受理 案件码"), (MANAGER, "受理 <案件码>"), (MANAGER, "受理 【案件码】"),
                       (inv, "已知悉 <案件码>"), (inv, "申请复核 <案件码> 第1项 <理由>"),
                       (inv, f"申请复核 {code} 第1项 理由"), (PROSECUTOR, "撤销案件 <案件码> 重复录入"),
                       ("p-inspector-1", "督导 新建 <标题>")):
        before = await state(console, user)
        [m] = (await console.send(user, f"dm:{user}", text))["messages"]
        assert "是示例中的格式说明" in str(m["text"]), (text, m)
        assert await state(console, user) == before, text
