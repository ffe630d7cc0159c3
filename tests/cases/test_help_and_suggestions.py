"""A first-day walk on a phone, by people who have not read a manual: 帮助 shows their own
work in a screen of copyable examples, and what they type in their own words is answered with
the command they meant, among those they may use, with what they typed kept."""

from __future__ import annotations

from tests.cases.helpers import GREEN, MANAGER, PROSECUTOR, create_case, evaluate
from tests.conftest import Console

INV = "p-investigator-1"


async def answer(console: Console, text: str, user: str = PROSECUTOR) -> str:
    """The one reply `text` gets in the user's 1:1 chat: a card's title, or the text."""
    r = await console.send(user, f"dm:{user}", text)
    [m] = r["messages"]
    return str(m["card"]["title"]) if m["card"] else str(m["text"])


def meant(typed_word: str, command: str) -> str:
    shown = typed_word if len(typed_word) <= 20 else typed_word[:20] + "…"
    return f"未知命令「{shown}」。您是不是想输入「{command}」？发送「帮助」查看可用命令。"


async def test_a_code_in_a_sentence_is_offered_as_码(console: Console) -> None:
    code = await create_case(console)
    assert code == "HY-2026-0001"
    for user in (PROSECUTOR, INV, MANAGER):
        assert await answer(console, f"请帮我查一下{code}这个案子", user) == meant(
            f"请帮我查一下{code}这个案子", f"码 {code}")
    assert await answer(console, "帮我看看HY-2026-0002的码。", INV) == meant(
        "帮我看看HY-2026-0002的码。", "码 HY-2026-0002")
    assert await answer(console, f"查询{code}", INV) == meant(f"查询{code}", f"码 {code}")
    assert await answer(console, f"查一下 {code}", INV) == meant("查一下", f"码 {code}")
    # the number without the office's prefix: the prosecutor's office's
    assert await answer(console, "2026-0001") == meant("2026-0001", f"码 {code}")


async def test_suggestions_are_of_the_persons_own_commands(console: Console) -> None:
    code = await create_case(console)
    assert meant("收案", f"受理 {code}") == await answer(console, f"收案 {code}", MANAGER)
    assert "新案件" not in await answer(console, f"收案 {code}", MANAGER)
    assert await answer(console, f"妈 {code}", INV) == meant("妈", f"码 {code}")
    assert await answer(console, f"评份 {code}") == meant("评份", f"评分 {code}")
    # the prosecutor is not offered the inspectors', admins' or case managers' commands
    assert "下一题" not in await answer(console, "下一个")
    assert "「受理」" not in await answer(console, "延期受理")  # the case managers'
    assert "单位" not in await answer(console, "单元")


async def test_traditional_characters_quotes_and_politeness_just_work(console: Console) -> None:
    code = await create_case(console)
    for typed in (f"碼 {code}", f"「码 {code}」", f"码 {code}，谢谢", f"码 {code} 谢谢", f"码，{code}。",
                  f"码 {code}👍", f"码 {code} 谢谢🙏"):
        assert (await answer(console, typed, INV)).startswith(f"案件码 {code}"), typed
    await evaluate(console, code, GREEN)
    r = await console.send(INV, f"dm:{INV}", f"已知悉 {code}👍")
    assert r["messages"][-1]["text"] == f"已确认知悉 {code}（第1版）。", r
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"評分 {code}，谢谢")
    assert r["messages"][0]["card"], r["messages"]  # the score form's card
    assert (await answer(console, "統計 上月")).startswith("案件码统计")
    assert (await answer(console, "幫助")).startswith("余斌梅（承办检察官）可以使用：")


async def test_help_is_the_persons_own_work_with_copyable_examples(console: Console) -> None:
    code = await create_case(console)
    mine = await answer(console, "帮助")
    assert mine.startswith("余斌梅（承办检察官）可以使用：\n· 码 HY-2026-0001 —— 查看案件码")
    assert "· 新建案件 张某盗窃案 —— 录入新案件" in mine and "[案件名称]" not in mine
    assert "· 我的案件 —— " in mine and "红码" not in mine  # no filter for a prosecutor
    for other in ("受理 HY", "待受理", "下一题", "人员", "整改完成"):
        assert other not in mine, other
    assert mine.endswith("更多命令请发送「帮助 全部」。")
    assert len(mine.split("\n")) <= 12  # a phone's screen
    investigator = await answer(console, "帮助", INV)
    assert "评分" not in investigator and "新建案件" not in investigator
    assert "· 待办 —— " in investigator
    manager = await answer(console, "帮助", MANAGER)
    # an example of a command that acts names no case: 受理 is a decision that tells everyone
    assert "· 受理 <案件码> —— 扫码分类受理" in manager and "· 待受理 黄码 —— " in manager
    assert "受理 HY-" not in manager
    # each example works as it stands
    for line in mine.split("\n")[1:-1]:
        example = line.removeprefix("· ").split(" —— ")[0]
        assert "未知命令" not in await answer(console, example), example
    assert (await answer(console, "评分 HY-2026-0001")) != "用法：评分 案件码，如：评分 HY-2026-0001"
    assert code


async def test_help_all_and_the_words_people_ask_with(console: Console) -> None:
    full = await answer(console, "帮助 全部")
    assert full.startswith("余斌梅（承办检察官）可以使用的全部命令：")
    assert "· 撤销案件 <案件码> [原因] —— " in full
    assert "· 我的案件 —— 列出您名下在办案件及其颜色" in full and "[红码" not in full
    short = await answer(console, "帮助")
    for typed in ("菜单", "怎么用", "?", "？"):
        assert await answer(console, typed) == short, typed
    greeted = await answer(console, "你好")
    assert greeted.startswith("您好，余斌梅（承办检察官）。您可以使用：\n· 码 HY-2026-0001")


async def test_the_filter_help_promised_is_the_case_managers(console: Console) -> None:
    assert "我的案件 [页码] [红码/黄码/绿码/待定]" in await answer(console, "帮助 全部", MANAGER)
    assert "红码" not in await answer(console, "帮助 全部", INV)


async def test_usage_answers_carry_an_example(console: Console) -> None:
    assert await answer(console, "码") == "用法：码 案件码，如：码 HY-2026-0001"
    assert await answer(console, "评分") == "用法：评分 案件码，如：评分 HY-2026-0001"


async def test_a_placeholder_typed_as_it_stands_is_refused_politely(console: Console) -> None:
    for typed in ("新建案件 [案件名称]", "新建案件【案件名称】"):
        got = await answer(console, typed)
        assert got.startswith("「") and "是格式说明，请换成案件名称，如：新建案件 张某盗窃案" in got, got
    assert await answer(console, "新建案件 张某盗窃案") != await answer(console, "新建案件 [案件名称]")
