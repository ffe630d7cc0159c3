"""Case codes as people really type them on phones, and where the card may be shown."""

from __future__ import annotations

import json

import pytest

from tests.cases.helpers import MANAGER, PROSECUTOR, RED, create_case, evaluate
from tests.conftest import Console


@pytest.mark.parametrize("typed", [
    "码 {code}",
    "码\u3000{code}",  # the full-width space of a Chinese input method
    "码{code}",  # no space at all
    "{code}",  # the code alone
    "{lower}",
    "码 {wide}",  # full-width letters and digits
    "{wide}",
    "码 {code}\u200b",  # a zero-width space pasted along
], ids=["spaced", "wide-space", "glued", "bare", "lower-case", "wide-code", "bare-wide-code",
        "zero-width"])
async def test_a_code_typed_any_usual_way_shows_its_card(console: Console, typed: str) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in code)
    text = typed.format(code=code, lower=code.lower(), wide=wide)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", text)
    [msg] = r["messages"]
    assert msg["card"] is not None and code in msg["card"]["title"] + msg["card"]["body"], msg


async def test_command_words_ignore_letter_case(console: Console) -> None:
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "HELP")
    assert "未知命令" not in r["messages"][0]["text"] and "码" in r["messages"][0]["text"]


async def test_a_code_asked_for_in_a_group_with_outsiders_goes_to_the_asker_privately(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    # g-case-team has prosecutors and case managers of other cases and police officers who
    # are not this case's investigators
    r = await console.send(PROSECUTOR, "g-case-team", f"码 {code}")
    group = [m for m in r["messages"] if m["chat"] == "g-case-team"]
    private = [m for m in r["messages"] if m["chat"] == f"dm:{PROSECUTOR}"]
    assert [m["card"] for m in group] == [None]
    assert "已私信" in group[0]["text"]
    assert len(private) == 1 and private[0]["card"]["title"].find(code) >= 0
    shown = await console.messages("g-case-team")
    assert not any(m["card"] and code in m["card"]["title"] for m in shown)


async def test_lists_of_cases_asked_for_in_a_group_go_to_the_asker_privately(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    for asked in ("我的案件", f"评分 {code}"):
        r = await console.send(PROSECUTOR, "g-case-team", asked)
        group = [m for m in r["messages"] if m["chat"] == "g-case-team"]
        assert [m["card"] for m in group] == [None] and "已私信" in group[0]["text"], asked
    shown = await console.messages("g-case-team")
    assert not any(code in (m["text"] or "") + json.dumps(m["card"] or {}, ensure_ascii=False)
                   for m in shown if m["from"] == "bot" and "已私信" not in (m["text"] or ""))
    mine = await console.messages(f"dm:{PROSECUTOR}")
    assert any(m["card"] and m["card"]["title"].startswith("我的案件") for m in mine)


@pytest.mark.parametrize(("user", "typed", "usage"), [
    (MANAGER, "受理 HY-2026-0011 HY-2026-0014", "受理 <案件码>"),
    (MANAGER, "受理 HY-2026-0011，HY-2026-0014", "受理 <案件码>"),
    (PROSECUTOR, "码 HY-2026-0011 HY-2026-0014", "码 <案件码>"),
    (PROSECUTOR, "评分 hy-2026-0011 HY-2026-0014", "评分 <案件码>"),
], ids=["intake", "intake-comma", "code", "score"])
async def test_two_codes_at_once_are_asked_one_at_a_time(console: Console, user: str,
                                                         typed: str, usage: str) -> None:
    r = await console.send(user, f"dm:{user}", typed)
    [msg] = r["messages"]
    assert msg["text"].startswith("一次请只发一个案件码（收到：「"), msg["text"]
    assert msg["text"].endswith(f"用法：{usage}")


async def test_two_codes_to_withdraw_are_not_one_code_and_a_reason(console: Console) -> None:
    code = await create_case(console)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"撤销案件 {code} HY-2026-0014")
    assert r["messages"][0]["text"] == "一次请只发一个案件码。用法：撤销案件 <案件码> [原因]"


@pytest.mark.parametrize("typed", ["受理 HY-2026-11", "受理 hy 2026 11", "受理 HY-2026-011"])
async def test_a_short_number_is_read_as_the_zero_padded_code(console: Console,
                                                              typed: str) -> None:
    r = await console.send(MANAGER, f"dm:{MANAGER}", typed)
    assert "您是不是想输入「受理 HY-2026-0011」？" in r["messages"][0]["text"], r["messages"][0]["text"]
