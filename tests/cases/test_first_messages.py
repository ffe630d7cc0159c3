"""What a new user types on a first try at `casebot demo`: command typos, full-width letters,
a colon after the command word, punctuation after a code, a bare number, an emoji, a greeting.
Each gets the card it asked for or an answer that says what to send instead, never a bare
未知命令 that leaves them guessing."""

from __future__ import annotations

import pytest

from tests.cases.helpers import PROSECUTOR, RED, create_case, evaluate
from tests.conftest import Console

INV = "p-investigator-1"  # an investigator of the case create_case makes
OUTSIDER = "p-investigator-5"  # a police officer who is not


async def answer(console: Console, text: str, user: str = INV) -> str:
    """The one reply `text` gets in the user's 1:1 chat: a card's title, or the text."""
    r = await console.send(user, f"dm:{user}", text)
    [m] = r["messages"]
    return str(m["card"]["title"]) if m["card"] else str(m["text"])


@pytest.mark.parametrize("typed", [
    "码 {code}。", "码：{code}", "码:{lower}", "{code}？", "{code}。", "code: {code}",
    "码{wide}", "「{code}」", "ｃｏｄｅ：{wide}",
], ids=["full-stop", "wide-colon", "colon", "question-mark", "bare-full-stop", "ascii-word",
        "glued-full-width", "quoted", "full-width-word"])
async def test_a_code_with_the_punctuation_people_add_shows_its_card(
        console: Console, typed: str) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code)  # ＨＹ－２０２６－０００１ from an IME
    shown = await answer(console, typed.format(code=code, lower=code.lower(), wide=wide))
    assert shown == f"案件码 {code} · 红码 66分"


async def test_a_code_written_without_its_dashes_is_pointed_to_the_right_form(
        console: Console) -> None:
    code = await create_case(console)
    for typed in ("码 HY20260001", "码 HY 2026 0001", "码 HY—2026—0001"):
        assert await answer(console, typed) == (
            f"案件码格式不对：「{typed[2:]}」。您是不是想输入「码 {code}」？"
            "示例：HY-2026-0001。用法：码 <案件码>"), typed
    # what they typed is quoted as typed (not upper-cased), cut when long
    assert await answer(console, "码 <b>x</b>") == (
        "案件码格式不对：「<b>x</b>」。示例：HY-2026-0001。用法：码 <案件码>")
    assert await answer(console, "码 " + "ab" * 40) == (
        f"案件码格式不对：「{'ab' * 15}…」。示例：HY-2026-0001。用法：码 <案件码>")


async def test_review_listing_reads_codes_like_the_code_command(console: Console) -> None:
    code = await create_case(console)
    assert await answer(console, "复核 1") == (
        "案件码格式不对：「1」。示例：HY-2026-0001。用法：复核 <案件码>")
    assert await answer(console, f"复核：{code.lower()}。") == (
        f"{code} 没有未办结的复核申请。如需申请复核，请发送「申请复核 {code} 第1项 理由」"
        "或点卡片上的「申请复核」。")
    assert await answer(console, "复核 HY-2026-9999") == "未找到案件码 HY-2026-9999。"


async def test_command_words_typed_full_width_or_with_a_colon(console: Console) -> None:
    for typed in ("ｈｅｌｐ", "ＨＥＬＰ", "帮助：", "help:", "ｈｅｌｐ："):
        assert (await answer(console, typed)).startswith("胡宇（侦查人员）可以使用："), typed
    # the role refusal names the command, not the colon
    assert await answer(console, "受理：HY-2026-0001") == "「受理」仅限案管部门使用。您的角色：侦查人员。"


async def test_a_comma_after_the_command_word_works_like_a_colon(console: Console) -> None:
    """Phone input methods put a comma where a colon was meant: 码，HY-…, 帮助，"""
    code = await create_case(console)
    await evaluate(console, code, RED)
    for typed in (f"码，{code}", f"码,{code}", f"码， {code}。", f"码，{code.lower()}"):
        assert await answer(console, typed) == f"案件码 {code} · 红码 66分", typed
    for typed in ("帮助，", "help,", "ｈｅｌｐ，"):
        assert (await answer(console, typed)).startswith("胡宇（侦查人员）可以使用："), typed
    assert await answer(console, "受理，HY-2026-0001") == "「受理」仅限案管部门使用。您的角色：侦查人员。"


async def test_a_bare_number_an_emoji_and_a_greeting_get_a_way_forward(console: Console) -> None:
    for number in ("1", "0001", "１２"):
        assert await answer(console, number) == (
            f"未知命令「{number}」。查看案件请发送完整的案件码，例如「码 HY-2026-0001」。"
            "发送「帮助」查看可用命令。")
    for nothing in ("👍", "。"):
        assert await answer(console, nothing) == (
            "请输入命令，例如「码 HY-2026-0001」；发送「帮助」查看可用命令。"), nothing
    assert (await answer(console, "你好！")).startswith(
        "您好，胡宇（侦查人员）。您可以使用：\n· 码 HY-2026-0001 —— 查看案件码")
    assert (await answer(console, "？？")).startswith("胡宇（侦查人员）可以使用：")
    assert await answer(console, "谢谢") == "不客气。需要时发送「帮助」查看可用命令。"
    assert await answer(console, "我的按件") == (
        "未知命令「我的按件」。您是不是想输入「我的案件」？发送「帮助」查看可用命令。")


async def test_greetings_among_colleagues_in_a_group_are_not_answered(console: Console) -> None:
    r = await console.send(PROSECUTOR, "g-case-team", "你好")
    assert r["messages"] == []
    r = await console.send(PROSECUTOR, "g-case-team", "@casebot 谢谢")
    assert [m["text"] for m in r["messages"]] == ["不客气。需要时发送「帮助」查看可用命令。"]


async def test_a_case_one_cannot_see_is_refused_however_it_is_typed(console: Console) -> None:
    code = await create_case(console)
    for typed in (code.lower(), f"码：{code}。"):
        assert await answer(console, typed, OUTSIDER) == (
            f"您无权查看案件码 {code}："
            "仅本案侦查人员、承办检察官，以及本院或上级院的案管部门、院领导可以查看。")
