"""帮助 as a phone shows it: for each command, one example and a few words on what it does,
shown to the roles it is meant for (`AUDIENCE`). The example of a command that only reads works
copied as it stands; that of a command that acts shows placeholders (受理 <案件码>), never a
case that could be real. A first-day user reads
the handful of lines for their own work; 「帮助 全部」 lists every command they may use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

EVERYONE: tuple[str, ...] = ()
INVESTIGATION = ("prosecutor", "investigator")
# a procuratorate's own staff: its statistics, and who may own a rectification item
OFFICE = ("prosecutor", "case_manager", "leader", "chief")
# who may see a case (ops.VIEW_RULE): its investigators and prosecutor, case managers, leaders
CASE_VIEWERS = ("prosecutor", "investigator", "case_manager", "leader", "chief")
INSPECTOR = ("inspector",)
ALL_WORDS = ("全部", "所有", "全部命令", "all")

# Who each command is meant for: those who can succeed with it, not merely those the dispatcher
# lets send it (anyone may send 已知悉; only a case's investigators can acknowledge it). Help,
# 「帮助 全部」 and the suggestions offer a command only to these roles. Every command is here (a
# test holds the dispatcher to it); () is everyone.
AUDIENCE: dict[str, tuple[str, ...]] = {
    "帮助": EVERYONE, "我是谁": EVERYONE,
    "码": CASE_VIEWERS, "复核": CASE_VIEWERS, "我的案件": CASE_VIEWERS,
    "待办": INVESTIGATION,
    "评分": ("prosecutor",), "新建案件": ("prosecutor",), "撤销案件": ("prosecutor",),
    "延期受理": ("prosecutor",), "先收后补": ("prosecutor",),
    "已知悉": ("investigator",), "申请复核": ("investigator",),
    "受理": ("case_manager",), "待受理": ("case_manager",),
    "统计": OFFICE, "整改完成": OFFICE,
    "提醒": (*CASE_VIEWERS, "inspector"),  # inspectors get the escalations; admins nothing
    "督导": INSPECTOR, "开始": INSPECTOR, "抽签": INSPECTOR, "下一题": INSPECTOR,
    "点评": ("inspector", "chief"), "公布答案": ("inspector", "leader"),
    "专项问询": INSPECTOR, "整改汇报": INSPECTOR, "结束": INSPECTOR, "整改": INSPECTOR,
    "实地督察": INSPECTOR, "题库": INSPECTOR, "退回整改": INSPECTOR,
    "人员": ("admin",), "单位": ("admin",), "群": ("admin",), "名册": ("admin",),
}
# in the short help, only for these of the command's roles: the meeting's stage commands are
# the host's (a chief or a leader uses them in the meeting group when asked to); a case
# manager's own list is 待受理; 整改完成 is the chief's, who answers for the unit's 整改事项 (an
# item's other 责任人 finds it on the item card and in 「帮助 全部」)
_SHORT_FOR: dict[str, tuple[str, ...]] = {
    "点评": INSPECTOR, "公布答案": INSPECTOR, "整改完成": ("chief",),
    "我的案件": ("prosecutor", "investigator", "leader", "chief")}

# Commands that only read: their examples may name a case and work as typed. Every other
# command changes something (a decision, a request, a meeting), so its example never names a
# value that could be real: it shows the usage's placeholder (受理 <案件码>), which typed as it
# stands is answered 「…是格式说明，请换成您要受理的案件码」 and changes nothing. A test holds
# this set to the dispatcher's `readonly=True` commands.
READS = frozenset({"帮助", "我是谁", "码", "我的案件", "待受理", "评分", "新建案件", "复核", "统计",
                   "人员", "单位", "群", "名册"})


@dataclass(frozen=True)
class Line:
    command: str  # the command's first name
    example: str  # what to type; of a command that changes something, with placeholders
    what: str  # a few words


# in the order shown; commands missing here are shown with their usage and summary
LINES: tuple[Line, ...] = (
    Line("码", "码 HY-2026-0001", "查看案件码"),
    Line("我的案件", "我的案件", "我名下的在办案件"),
    Line("待办", "待办", "待处理的复核申请"),
    Line("评分", "评分 HY-2026-0001", "打开评分表"),
    Line("新建案件", "新建案件 张某盗窃案", "录入新案件"),
    Line("已知悉", "已知悉 <案件码>", "确认收到案件码"),
    Line("申请复核", "申请复核 <案件码> 第1项 <理由>", "对扣分项申请复核"),
    Line("受理", "受理 <案件码>", "扫码分类受理（换成要受理的案件码）"),
    Line("待受理", "待受理 黄码", "等待受理的案件（可加颜色、页码）"),
    Line("复核", "复核 HY-2026-0001", "查看案件的复核申请"),
    Line("统计", "统计 上月", "案件码统计（可加期间）"),
    Line("提醒", "提醒", "我的待办提醒"),
    Line("整改完成", "整改完成 <事项号> <说明>", "报告整改事项已完成"),
    Line("督导", "督导 新建 <标题>", "新建督导会议"),
    Line("开始", "开始", "会议开场"),
    Line("抽签", "抽签 <公开随机数>", "输入公开随机数抽签"),
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
                           "延期受理", "先收后补"})
# a usage whose options only some roles have: for the others, the plain form (我的案件 pages
# and colours are the case managers' list of cases waiting for intake; 提醒 暂停 snoozes a
# prosecutor's case)
_PLAIN_USAGE = {"我的案件": (("case_manager",), "我的案件", "列出您名下在办案件及其颜色"),
               "提醒": (("prosecutor",), "提醒", "查看待办提醒")}


@dataclass(frozen=True)
class Entry:
    """A command as help sees it: its names, usage, summary and the roles allowed (() all)."""

    names: tuple[str, ...]
    usage: str
    summary: str
    roles: tuple[str, ...]


def meant_for(command: str, roles: Sequence[str]) -> bool:
    """Whether a command (its first name) someone may use is of their work: they can succeed
    with it, so help lists it and suggestions offer it."""
    audience = AUDIENCE.get(command, EVERYONE)
    return not audience or any(r in roles for r in audience)


def short_help(entries: Sequence[Entry], roles: Sequence[str]) -> list[str]:
    """The lines of the short help for a person with `roles`, among the commands they may use
    (`entries`): each meant for one of their roles, as an example and what it does."""
    def shown(e: Entry) -> bool:
        only = _SHORT_FOR.get(e.names[0])
        return meant_for(e.names[0], roles) and (only is None or any(r in roles for r in only))

    known = [e for e in entries if e.names[0] in _BY_COMMAND and shown(e)]
    known.sort(key=lambda e: LINES.index(_BY_COMMAND[e.names[0]]))
    lines = [f"· {_BY_COMMAND[e.names[0]].example} —— {_BY_COMMAND[e.names[0]].what}"
             for e in known]
    for e in entries:  # a command without a line here: its usage, when it is of their roles
        if e.names[0] not in _BY_COMMAND and e.names[0] not in _ONLY_IN_FULL \
                and AUDIENCE.get(e.names[0], e.roles) and shown(e):
            lines.append(f"· {e.usage} —— {e.summary}")
    return lines


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


# the usage's placeholder typed as it stands: 新建案件 [案件名称], 受理 <案件码>, the bare word of
# a usage answer (受理 案件码)
_PLACEHOLDER = re.compile(r"^\s*(?:[\[［【<〈＜‹«][^\[\]［］【】<>〈〉＜＞‹›«»]*[\]］】>〉＞›»]"
                          r"|案件名称|案件码|理由|标题)\s*$")


def is_placeholder(text: str) -> bool:
    """Whether `text` is a usage's placeholder typed as it stands (「[案件名称]」), not a value."""
    return bool(_PLACEHOLDER.match(text))


# what the person does with the code they are to put in a placeholder's stead
_VERB = {"受理": "受理", "扫码受理": "受理", "延期受理": "延期受理", "先收后补": "先收后补",
         "已知悉": "确认知悉", "收到": "确认知悉", "申请复核": "申请复核", "撤销案件": "撤销",
         "提醒": "暂停提醒", "码": "查看", "code": "查看", "评分": "评分", "复核": "查看"}


def placeholder_answer(command: str, typed: str) -> str:
    """The answer to a usage's placeholder typed as it stands instead of a case code (「受理
    <案件码>」 copied from 帮助): nothing is done, the person is told what to put there."""
    return (f"「{typed.strip()}」是示例中的格式说明，请换成{_the_code(command)}"
            "（见案件码卡片或「我的案件」）。")


def _the_code(command: str) -> str:
    """「您要受理的案件码」: the code the person is to type, said with what they will do."""
    return f"您要{_VERB[command]}的案件码" if command in _VERB else "案件码"


def usage_example(usage: str) -> str:
    """A usage answer for a command taking a case code (「码 <案件码>」): a runnable example
    when the command only reads (「码 案件码，如：码 HY-2026-0001」); otherwise (受理) what to put
    in the placeholder's stead, never a code that could be a real case."""
    word, _, rest = usage.partition(" ")
    if rest != "<案件码>":
        return usage
    if word in READS:
        return f"{word} 案件码，如：{word} HY-2026-0001"
    return f"{word} 案件码（请换成{_the_code(word)}，见案件码卡片或「我的案件」）"
