"""帮助 as a phone shows it: for each command, one example that works when copied as it stands
and a few words on what it does, shown to the roles it is meant for. A first-day user reads
the handful of lines for their own work; 「帮助 全部」 lists every command they may use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

EVERYONE: tuple[str, ...] = ()
INVESTIGATION = ("prosecutor", "investigator")
OVERSIGHT = ("prosecutor", "case_manager", "leader", "chief")
ALL_WORDS = ("全部", "所有", "全部命令", "all")


@dataclass(frozen=True)
class Line:
    command: str  # the command's first name
    example: str  # typed as it stands, it works
    what: str  # a few words
    audience: tuple[str, ...] = EVERYONE  # roles it is meant for; () everyone


# in the order shown; commands missing here are shown with their usage and summary
LINES: tuple[Line, ...] = (
    Line("码", "码 HY-2026-0001", "查看案件码"),
    Line("我的案件", "我的案件", "我名下的在办案件", ("prosecutor", "investigator", "leader", "chief")),
    Line("待办", "待办", "待处理的复核申请", INVESTIGATION),
    Line("评分", "评分 HY-2026-0001", "打开评分表"),
    Line("新建案件", "新建案件 张某盗窃案", "录入新案件"),
    Line("受理", "受理 HY-2026-0001", "扫码分类受理"),
    Line("待受理", "待受理 黄码", "等待受理的案件（可加颜色、页码）", ("case_manager",)),
    Line("复核", "复核 HY-2026-0001", "查看案件的复核申请", ("prosecutor", "investigator",
                                                         "case_manager", "leader", "chief")),
    Line("统计", "统计 上月", "案件码统计（可加期间）"),
    Line("提醒", "提醒", "我的待办提醒"),
    Line("督导", "督导 新建 第一次督导", "新建督导会议"),
    Line("开始", "开始", "会议开场"),
    Line("抽签", "抽签 3 8 3", "输入公开随机数抽签"),
    Line("下一题", "下一题", "公布下一道题"),
    Line("点评", "点评", "请检察长点评"),
    Line("公布答案", "公布答案", "公布参考答案"),
    Line("结束", "结束", "结束会议"),
    Line("题库", "题库", "查看保密题库（仅单聊）"),
    Line("人员", "人员 余斌梅", "查找人员"),
    Line("单位", "单位 海澄", "查看单位"),
    Line("群", "群 协作", "查看群成员"),
    Line("名册", "名册", "名册管理"),
    Line("我是谁", "我是谁", "我的单位和角色"),
)
_BY_COMMAND = {line.command: line for line in LINES}
# commands of a role's work left out of its short help (in 「帮助 全部」)
_ONLY_IN_FULL = frozenset({"专项问询", "整改汇报", "整改", "实地督察", "退回整改", "帮助", "撤销案件",
                           "整改完成"})
# a usage whose options only some roles have: for the others, the plain form (我的案件 pages
# and colours are the case managers' list of cases waiting for intake)
_PLAIN_USAGE = {"我的案件": (("case_manager",), "我的案件", "列出您名下在办案件及其颜色")}


@dataclass(frozen=True)
class Entry:
    """A command as help sees it: its names, usage, summary and the roles allowed (() all)."""

    names: tuple[str, ...]
    usage: str
    summary: str
    roles: tuple[str, ...]


def short_help(entries: Sequence[Entry], roles: Sequence[str]) -> list[str]:
    """The lines of the short help for a person with `roles`, among the commands they may use
    (`entries`): each meant for one of their roles, as an example and what it does."""
    known = [e for e in entries if e.names[0] in _BY_COMMAND]
    known.sort(key=lambda e: LINES.index(_BY_COMMAND[e.names[0]]))
    lines = []
    for e in known:
        line = _BY_COMMAND[e.names[0]]
        if not line.audience or any(r in roles for r in line.audience):
            lines.append(f"· {line.example} —— {line.what}")
    for e in entries:  # a command without a line here: its usage, when it is of their roles
        if e.names[0] not in _BY_COMMAND and e.names[0] not in _ONLY_IN_FULL \
                and e.roles and any(r in roles for r in e.roles):
            lines.append(f"· {e.usage} —— {e.summary}")
    return lines


# commands anyone may send that are of one role's work only (others are told what they are
# for): neither in others' 「帮助 全部」 nor suggested to them
_ROLES_ONLY = {"待受理": ("case_manager",)}


def meant_for(command: str, roles: Sequence[str]) -> bool:
    """Whether a command (its first name) someone may use is of their work."""
    only = _ROLES_ONLY.get(command)
    return only is None or any(r in roles for r in only)


def full_help(entries: Sequence[Entry], roles: Sequence[str]) -> list[str]:
    """Every command the person may use and is of their work, with its usage, other names
    and summary."""
    lines = []
    for e in entries:
        if not meant_for(e.names[0], roles):
            continue
        if (plain := _PLAIN_USAGE.get(e.names[0])) and not any(r in roles for r in plain[0]):
            e = Entry(e.names, plain[1], plain[2], e.roles)
        alias = f"（或 {' / '.join(e.names[1:])}）" if len(e.names) > 1 else ""
        lines.append(f"· {e.usage}{alias} —— {e.summary}")
    return lines


def wants_all(args: str) -> bool:
    """「帮助 全部」 and its like."""
    return args.strip().lower() in ALL_WORDS


# the usage's placeholder typed as it stands: 新建案件 [案件名称], 新建案件 <案件名称>
_PLACEHOLDER = re.compile(r"^\s*(?:[\[［【<〈＜].*[\]］】>〉＞]|案件名称)\s*$")


def is_placeholder(text: str) -> bool:
    """Whether `text` is a usage's placeholder typed as it stands (「[案件名称]」), not a value."""
    return bool(_PLACEHOLDER.match(text))
