"""What a message naming no command most likely meant, among the commands the person may use."""

from __future__ import annotations

import pytest

from bot.domain.helptext import Entry, full_help, is_placeholder, short_help
from bot.domain.suggest import Offer, lenient, suggest, without_courtesy

CODE = Offer(("码", "code"), takes_code=True)
MINE = Offer(("我的案件",))
HELP = Offer(("帮助", "help"))
SCORE = Offer(("评分",), takes_code=True)
NEW = Offer(("新建案件", "录入案件", "新案件"))
INTAKE = Offer(("受理",), takes_code=True)
ADMIN_UNIT = Offer(("单位",))
NEXT = Offer(("下一题",))
PROSECUTOR = [HELP, CODE, MINE, SCORE, NEW]
MANAGER = [HELP, CODE, MINE, INTAKE]


@pytest.mark.parametrize("typed", [
    "查一下 HY-2026-0001", "请帮我查一下HY-2026-0001这个案子", "查询HY-2026-0001", "妈 HY-2026-0001",
    "码码 HY-2026-0001", "hy20260001 这个案子"])
def test_a_code_in_a_sentence_or_after_a_slip_is_read_as_码(typed: str) -> None:
    assert suggest(typed, PROSECUTOR) == "码 HY-2026-0001"


def test_another_code_and_a_full_stop() -> None:
    assert suggest("帮我看看HY-2026-0002的码。", PROSECUTOR) == "码 HY-2026-0002"


def test_a_code_without_its_prefix_gets_the_offices_prefix_or_nothing() -> None:
    assert suggest("2026-0001", PROSECUTOR, "HY") == "码 HY-2026-0001"
    assert suggest("2026-1", PROSECUTOR, "HY") == "码 HY-2026-0001"
    assert suggest("2026-0001", PROSECUTOR, None) is None


def test_only_commands_the_person_may_use_are_suggested() -> None:
    assert suggest("单元", PROSECUTOR) is None  # 单位 is the admins'
    assert suggest("单元", [*PROSECUTOR, ADMIN_UNIT]) == "单位"
    assert suggest("收案 HY-2026-0001", MANAGER) == "受理 HY-2026-0001"
    assert suggest("收案 HY-2026-0001", PROSECUTOR) != "新案件 HY-2026-0001"
    assert suggest("延期受理", PROSECUTOR) is None


def test_the_arguments_are_kept() -> None:
    assert suggest("评份 HY-2026-0001", PROSECUTOR) == "评分 HY-2026-0001"
    assert suggest("我的按件 2", MANAGER) == "我的案件 2"


def test_chatter_gets_no_suggestion() -> None:
    assert suggest("今天天气怎么样", PROSECUTOR) is None
    assert suggest("HY-2026-0001 和 HY-2026-0002", PROSECUTOR) is None


def test_traditional_quotes_and_courtesy() -> None:
    assert lenient("碼 HY-2026-0001") == "码 HY-2026-0001"
    assert lenient("統計上月") == "统计上月"
    assert lenient("「码 HY-2026-0001」") == "码 HY-2026-0001"
    assert lenient("新建案件 張某") == "新建案件 張某"  # the title as typed
    for typed in ("HY-2026-0001，谢谢", "HY-2026-0001 谢谢", "HY-2026-0001。", "HY-2026-0001谢谢您！",
                  "HY-2026-0001👍", "HY-2026-0001 👍🏻", "HY-2026-0001，谢谢🙏", "HY-2026-0001❤️"):
        assert without_courtesy(typed) == "HY-2026-0001", typed


def test_placeholders() -> None:
    for typed in ("[案件名称]", "【案件名称】", "<案件名称>", "案件名称"):
        assert is_placeholder(typed), typed
    assert not is_placeholder("张某盗窃案") and not is_placeholder("[2026]张某盗窃案")


ENTRIES = [Entry(("码", "code"), "码 <案件码>", "查看案件码", ()),
           Entry(("我的案件",), "我的案件 [页码] [红码/黄码/绿码/待定]", "列出…", ()),
           Entry(("待受理",), "待受理 [页码]", "案管…", ()),
           Entry(("评分",), "评分 <案件码>", "打开评分表", ("prosecutor",)),
           Entry(("已知悉",), "已知悉 <案件码>", "确认收到案件码", ("investigator",))]


def test_short_help_is_of_the_persons_roles_with_examples() -> None:
    prosecutor = short_help(ENTRIES[:4], ["prosecutor"])
    assert prosecutor == ["· 码 HY-2026-0001 —— 查看案件码", "· 我的案件 —— 我名下的在办案件",
                          "· 评分 HY-2026-0001 —— 打开评分表"]
    manager = short_help(ENTRIES[:3], ["case_manager"])
    assert manager == ["· 码 HY-2026-0001 —— 查看案件码", "· 待受理 黄码 —— 等待受理的案件（可加颜色、页码）"]
    # a command without an example line: its usage, for its roles only
    assert "· 已知悉 <案件码> —— 确认收到案件码" in short_help(ENTRIES, ["investigator"])


def test_full_help_shows_the_filters_only_to_case_managers() -> None:
    assert "· 我的案件 —— 列出您名下在办案件及其颜色" in full_help(ENTRIES, ["prosecutor"])
    assert full_help(ENTRIES, ["case_manager"])[1].startswith("· 我的案件 [页码] [红码")
