"""帮助, 「帮助 全部」 and the suggestions per role, over the commands the bot really has: each
person is shown and offered only the commands they can succeed with, and an example of a
command that changes something never names a case that could be real."""

from __future__ import annotations

import re

import pytest

from bot.dispatcher import Command
from bot.domain.helptext import (
    AUDIENCE,
    LINES,
    READS,
    Entry,
    Line,
    full_help,
    is_placeholder,
    meant_for,
    placeholder_answer,
    short_help,
    usage_example,
)
from bot.domain.suggest import Offer, suggest
from handlers import admin, basic, cases, inspection, rectification, reminders, reviews

COMMANDS: list[Command] = [c for r in (basic.router, cases.router, reviews.router, reminders.router,
                                       inspection.router, rectification.router, admin.router)
                           for c in r.commands]
CODE = re.compile(r"[A-Z]{2,4}-\d{4}-\d{4}")
ROLES = ("prosecutor", "investigator", "case_manager", "leader", "chief", "inspector", "admin")


def may_send(c: Command, roles: tuple[str, ...]) -> bool:
    return not c.roles or any(r in roles for r in c.roles)


def entries(roles: tuple[str, ...]) -> list[Entry]:
    return [Entry(c.names, c.usage, c.summary, c.roles) for c in COMMANDS if may_send(c, roles)]


def commands_in(lines: list[str]) -> set[str]:
    """The command words help lines start with (「· 受理 <案件码> —— …」: 受理)."""
    return {line.removeprefix("· ").split(" —— ")[0].split("（或")[0].split()[0] for line in lines}


def offers(roles: tuple[str, ...]) -> list[Offer]:
    """What the dispatcher offers: commands the person may send and that are of their work."""
    return [Offer(c.names, "<案件码>" in c.usage) for c in COMMANDS
            if may_send(c, roles) and meant_for(c.names[0], roles)]


def test_every_command_says_whom_it_is_for_and_whether_it_only_reads() -> None:
    names = {c.names[0] for c in COMMANDS}
    assert names == set(AUDIENCE)
    assert READS == {c.names[0] for c in COMMANDS if c.readonly is True}
    for c in COMMANDS:  # never meant for someone the dispatcher refuses
        assert not c.roles or set(AUDIENCE[c.names[0]]) <= set(c.roles), c.names[0]


@pytest.mark.parametrize("line", LINES, ids=lambda line: line.command)
def test_an_example_of_a_command_that_acts_names_no_case(line: Line) -> None:
    if line.command not in READS:
        assert not CODE.search(line.example), line
        assert " " not in line.example or "<" in line.example, line  # its values: placeholders


SHORT = {
    "prosecutor": {"码", "我的案件", "待办", "评分", "新建案件", "复核", "统计", "提醒"},
    "investigator": {"码", "我的案件", "待办", "已知悉", "申请复核", "复核", "提醒"},
    "case_manager": {"码", "受理", "待受理", "复核", "统计", "提醒"},
    "leader": {"码", "我的案件", "复核", "统计", "提醒"},
    "chief": {"码", "我的案件", "复核", "统计", "提醒", "整改完成"},
    "inspector": {"提醒", "督导", "开始", "抽签", "下一题", "点评", "公布答案", "结束", "题库"},
    "admin": {"人员", "单位", "群", "名册"},
}
FULL_ONLY = {
    "prosecutor": {"撤销案件", "延期受理", "先收后补", "整改完成"},
    "investigator": set(),
    "case_manager": {"整改完成"},  # 我的案件 is its 待受理
    "leader": {"公布答案", "整改完成"},  # in the meeting group, when asked
    "chief": {"点评"},
    "inspector": {"专项问询", "整改汇报", "整改", "实地督察", "退回整改"},
    "admin": set(),
}
EVERYONES = {"帮助", "我是谁"}


@pytest.mark.parametrize("role", ROLES)
def test_help_and_help_all_are_the_roles_own_commands(role: str) -> None:
    roles = (role,)
    short = short_help(entries(roles), roles)
    assert commands_in(short) == SHORT[role] | ({"我是谁"} & EVERYONES)
    full = full_help(entries(roles), roles)
    expected = SHORT[role] | FULL_ONLY[role] | EVERYONES | ({"我的案件"} if role == "case_manager" else set())
    assert commands_in(full) == expected
    for line in short:  # what a phone shows first names no case a command would act on
        example = line.removeprefix("· ").split(" —— ")[0]
        if example.split()[0] not in READS:
            assert not CODE.search(example), line


def test_the_reported_mixups_are_gone() -> None:
    inv = full_help(entries(("investigator",)), ("investigator",))
    for other in ("延期受理", "先收后补", "提醒 暂停", "整改完成"):
        assert not any(other in line for line in inv), other
    for role in ("case_manager", "leader"):
        full = " ".join(full_help(entries((role,)), (role,)))
        assert "已知悉" not in full and "申请复核" not in full, role
    for role in ("inspector", "admin"):
        assert not any("码 HY" in line for line in short_help(entries((role,)), (role,))), role
    assert not any("公布答案" in line for line in short_help(entries(("leader",)), ("leader",)))


@pytest.mark.parametrize("role", ROLES)
def test_suggestions_offer_only_the_roles_own_commands(role: str) -> None:
    roles = (role,)
    got = suggest("收案 HY-2026-0002", offers(roles))
    assert got == ("受理 HY-2026-0002" if role == "case_manager" else
                   "收到 HY-2026-0002" if role == "investigator" else None), role
    assert (suggest("延期受里 HY-2026-0002", offers(roles)) == "延期受理 HY-2026-0002") \
        == (role == "prosecutor")
    assert (suggest("妈 HY-2026-0001", offers(roles)) == "码 HY-2026-0001") \
        == (role in AUDIENCE["码"]), role
    assert (suggest("下一个", offers(roles)) == "下一题") == (role == "inspector"), role


def test_a_placeholder_typed_as_it_stands_is_recognised_and_answered() -> None:
    for typed in ("<案件码>", "＜案件码＞", "‹案件码›", "案件码", "[案件名称]", "<理由>", "理由", "<标题>"):
        assert is_placeholder(typed), typed
    for value in ("<b>x</b>", "HY-2026-0001", "嫌疑人已供述", "[2026]张某盗窃案"):
        assert not is_placeholder(value), value
    assert placeholder_answer("受理", "<案件码>") == (
        "「<案件码>」是示例中的格式说明，请换成您要受理的案件码（见案件码卡片或「我的案件」）。")


def test_a_usage_answer_gives_a_runnable_example_only_for_a_command_that_reads() -> None:
    assert usage_example("码 <案件码>") == "码 案件码，如：码 HY-2026-0001"
    for usage in ("受理 <案件码>", "已知悉 <案件码>", "延期受理 <案件码>", "先收后补 <案件码>"):
        got = usage_example(usage)
        assert not CODE.search(got) and "请换成您要" in got, got
