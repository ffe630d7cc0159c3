"""Cards of 检务督导面对面. Pure functions of plain data: no database, no clock.

Only `question_card` and `answers_card` take question texts, and the handler calls them only
at the moment of the reveal (confidentiality: docs/inspection.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.draw import Manifest
from bot.domain.inspection import (
    DONE_NOTE_MAX,
    METHOD_LABELS,
    RECTIFY_USAGE,
    REPORT_USAGE,
    SITE_USAGE,
    format_mmss,
    operator_verify_line,
    outsider_steps,
)
from cards.model import Button, Card, FormField


@dataclass(frozen=True)
class UnitView:
    pos: int
    id: str
    name: str
    city: str
    kind: str  # "draw" | "special"
    chief: str  # the county chief's name
    city_chief: str
    chief_id: str | None = None  # their person id (None: not in the roster)


@dataclass(frozen=True)
class RevealedQuestion:
    id: str
    category: str
    text: str
    points: tuple[str, ...]


def _hhmmss(t: datetime) -> str:
    return t.strftime("%H:%M:%S")


def commit_card(*, sid: str, title: str, manifest: Manifest, manifest_hash: str,
                base_url: str, cities: int, special_units: int = 0, recent_units: int = 0,
                special_questions: int = 0, public_at: str = "") -> Card:
    """`public_at`: when the default source's number is drawn (empty for another source).
    `special_units`, `recent_units`, `special_questions`: what the manifest leaves out of
    the draw (the special-inquiry offices and their questions, the offices drawn recently), so
    that the counts add up to the roster and the bank an observer knows."""
    asked = set(manifest.asked_question_ids)
    excluded = 0 if manifest.allow_repeat else sum(1 for q in manifest.questions if q.id in asked)
    left_out = [f"专项问询单位 {special_units} 个" if special_units else "",
                f"近期已抽中的 {recent_units} 个" if recent_units else ""]
    units_note = "、".join(x for x in left_out if x)
    not_drawn = [f"{excluded} 道以往已问过" if excluded else "",
                 f"{special_questions} 道为专项问询题" if special_questions else ""]
    questions_note = "、".join(x for x in not_drawn if x)
    # without one per city the method is ignored (bot/domain/draw.md): every office equally likely
    method = METHOD_LABELS[manifest.method] if manifest.one_per_city else "每院等概率（同一市可抽中多个）"
    rule = "每市只抽 1 个基层院，" if manifest.one_per_city else ""
    body = (
        f"会议：{title}（{sid}）\n"
        f"抽签方式：{method}；{rule}抽取 {manifest.unit_count} 个基层院，"
        f"每院 {manifest.questions_per_unit} 题\n"
        f"候选基层院：{len(manifest.units)} 个（{cities} 个市"
        + (f"；另有{units_note}不参与抽签" if units_note else "") + "）\n"
        f"候选题目：{len(manifest.questions) - excluded} 道（只公布题号和类别"
        + (f"；另有 {questions_note}，不再抽取" if questions_note else "") + "）\n"
        f"公开随机数来源：{manifest.entropy_source}"
        + (f"（约 {public_at} 开奖，开奖后方可抽签；会议在开奖前举行的，请提前一天创建会议，"
           "或以「熵源=」指定会前才公布的其他公开随机数）" if public_at else "") + "\n"
        f"抽签清单 SHA-256：{manifest_hash}\n"
        f"服务器密钥承诺 SHA-256：{manifest.secret_commitment}\n"
        "抽签时由主持人在群内输入上述公开随机数（「抽签 数字」）；抽签后公布密钥，任何人均可复核。\n"
        f"独立复核（无需信任本系统）：现在保存本卡片，或下载抽签清单 {base_url}/draw/{sid}/manifest.json；"
        f"抽签后下载抽签数据和复核程序 {base_url}/draw/verify.py，在自己的电脑上运行 "
        "python3 verify.py publication.json manifest.json（步骤见「复核说明」）。"
    )
    return Card(
        title=f"抽签承诺 · {title}", body=body,
        actions=(
            Button("insp.manifest", "查看抽签清单", url=f"{base_url}/draw/{sid}/manifest.json"),
            Button("insp.verify", "复核说明", url=f"{base_url}/draw/verify?session={sid}"),
        ),
        footer=f"清单公布后不可更改；名册版本 {manifest.roster_version[:12]}…",
    )


def agenda_card(*, sid: str, title: str, unit_count: int, questions_per_unit: int,
                special: Sequence[str], reports: Sequence[str], answer_seconds: int,
                manifest_hash: str, live_url: str, one_per_city: bool = True) -> Card:
    per_city = "每市 1 个" if one_per_city else "同一市可抽中多个"
    lines = [
        f"会议：{title}（{sid}）",
        "议程：",
        f"一、抽签：随机抽取 {unit_count} 个基层院（{per_city}）",
        f"二、问询：被抽中基层院检察长脱稿回答 {questions_per_unit} 个问题"
        f"（每题限时 {format_mmss(answer_seconds)}）",
        "三、点评：所在市院检察长点评并汇报全市落实情况",
        "四、公布答案：省院公布参考答案要点",
        "五、专项问询：" + ("、".join(special) if special else "无"),
        "六、整改汇报：" + ("、".join(reports) if reports else "无"),
        "七、总结讲话，部署实地督察和整改",
        f"抽签清单 SHA-256：{manifest_hash}",
        "题目严格保密，现场逐题公布。",
    ]
    return Card(title=f"检务督导面对面 · {title}", body="\n".join(lines), color=None,
                actions=(Button("insp.live", "打开大屏", url=live_url),))


def result_card(*, sid: str, title: str, units: Sequence[UnitView], manifest_hash: str,
                entropy: str, secret_hex: str, key_hex: str, base_url: str) -> Card:
    lines = [f"会议：{title}（{sid}）", "抽中单位（按抽取顺序）："]
    lines += [f"{u.pos + 1}. {u.city} · {u.name}（检察长{u.chief}）"
              for u in units if u.kind == "draw"]
    lines += [
        "",
        "复核数据：",
        f"抽签清单 SHA-256：{manifest_hash}",
        f"公开随机数：{entropy}",
        f"服务器密钥（已公开）：{secret_hex}",
        f"派生密钥：{key_hex}",
        "",
        "独立复核（无需信任本系统，任何人均可）：",
        *outsider_steps(base_url, sid),
        operator_verify_line(sid),
    ]
    return Card(
        title=f"抽签结果 · {title}", body="\n".join(lines), color="green",
        actions=(
            Button("insp.verify", "复核抽签", url=f"{base_url}/draw/verify?session={sid}"),
            Button("insp.publication", "下载抽签数据", url=f"{base_url}/draw/{sid}/publication.json"),
        ),
    )


def question_card(*, unit: UnitView, units_total: int, q: RevealedQuestion, seq: int,
                  per_unit: int, answer_seconds: int, ends_at_local: datetime) -> Card:
    head = "专项问询" if unit.kind == "special" else f"问询 · 第 {unit.pos + 1}/{units_total} 个单位"
    body = (
        f"{unit.name}（{unit.city}）\n"
        f"第 {seq}/{per_unit} 题【{q.category}】\n{q.text}\n\n"
        f"请{unit.chief}检察长脱稿作答。\n"
        f"⏱ 作答限时 {format_mmss(answer_seconds)}（至 {_hhmmss(ends_at_local)}）"
    )
    return Card(title=f"{head} · 第 {seq} 题", body=body, color="yellow", footer=f"题号 {q.id}",
                mentions=(unit.chief_id,) if unit.chief_id else ())


def special_intro_card(*, unit: UnitView, questions: int) -> Card:
    return Card(
        title=f"专项问询 · {unit.name}",
        body=(f"省院对重点工作落实情况进行专项问询：{unit.name}（{unit.city}），共 {questions} 题。\n"
              f"请{unit.chief}检察长准备作答；主持人发送「下一题」公布题目。"),
    )


def comment_card(*, unit: UnitView) -> Card:
    return Card(
        title=f"点评 · {unit.name}",
        body=(f"请{unit.city_chief}（{unit.city}检察长）对{unit.name}的回答进行点评，"
              "并简要汇报所问工作在全市开展落实情况。\n"
              "点评人可发送「点评 内容」留存要点；主持人可发送「点评 内容」记录。"),
    )


def answers_card(*, unit: UnitView, questions: Sequence[RevealedQuestion]) -> Card:
    lines = [f"{unit.name}（{unit.city}）"]
    for i, q in enumerate(questions, 1):
        lines.append(f"{i}.【{q.category}】{q.text}")
        lines.append("   参考答案要点：")
        lines += [f"   · {p}" for p in q.points]
    return Card(title=f"公布答案 · {unit.name}", body="\n".join(lines), color="green")


def report_prompt_card(*, units: Sequence[tuple[str, str, Sequence[str], Sequence[str]]]
                       ) -> Card:
    """units: (unit name, chief name, open rectification item texts, items reported done
    (整改完成) — checked live; the inspector sends back the ones not done)."""
    if not units:
        return Card(title="整改汇报", body="本次会议没有需要整改汇报的单位。")
    lines = ["请上次被问询、督导检查的基层院检察长汇报问题整改及工作情况（重点是抓落实的办法、措施和成效）："]
    for n, (name, chief, items, reported) in enumerate(units, 1):
        lines.append(f"{n}. {name}（检察长{chief}）")
        lines += [f"    待整改：{t}" for t in items]
        lines += [f"    已报告完成：{t}" for t in reported]
        if not items and not reported:
            lines.append("    （无登记的待整改事项）")
    if any(u[3] for u in units):
        lines.append("已报告完成的事项请现场核查；未完成的，发送「退回整改 #事项号 <理由>」，"
                     "或在该事项的「整改完成报告」卡片上点「退回重新整改」。")
    lines.append(f"主持人记录：「{REPORT_USAGE}」，如「整改汇报 1 已整改 已建立台账」")
    return Card(title="整改汇报", body="\n".join(lines))


def summary_card(*, sid: str, title: str, units: Sequence[UnitView], revealed: int, planned: int,
                 comments: int, reports: int, rectifications: Sequence[str],
                 site_tasks: Sequence[str], base_url: str, drawn: bool = True,
                 closed_items: int = 0, unreported: int = 0) -> Card:
    """The 结束 card; a session ended before its draw has nothing to verify or follow up.
    `closed_items`: earlier sessions' items the 整改汇报 closed (销号) and that stay closed;
    `unreported`: units due to report whose report was not recorded (ended on 结束 确认)."""
    lines = [f"会议：{title}（{sid}）"]
    if not drawn:
        return Card(title=f"会议结束 · {title}", color="green", body="\n".join(
            [*lines, "本次会议未抽签，没有问询单位，无需会后跟进。"]))
    if units:
        lines.append("问询单位：" + "、".join(f"{u.name}" for u in units))
    closed = f"，销号整改事项 {closed_items} 项" if closed_items else ""
    missing = f"；{unreported} 个单位未汇报整改" if unreported else ""
    lines.append(f"已问询题目：{revealed}/{planned}；点评 {comments} 条；"
                 f"整改汇报 {reports} 条{closed}{missing}")
    lines.append("整改事项：" + (f"{len(rectifications)} 项" if rectifications else "暂无"))
    lines += [f"  · {t}" for t in rectifications]
    lines.append("实地督察：" + (f"{len(site_tasks)} 项" if site_tasks else "暂无"))
    lines += [f"  · {t}" for t in site_tasks]
    lines.append(f"会后可继续登记：「{RECTIFY_USAGE}」「{SITE_USAGE}」")
    return Card(
        title=f"会议结束 · {title}", body="\n".join(lines), color="green",
        actions=(
            Button("insp.report", "下载会议报告", url=f"{base_url}/inspection/{sid}/report.docx"),
            Button("insp.verify", "复核抽签", url=f"{base_url}/draw/verify?session={sid}"),
        ),
    )


REPORT_DONE = "rectification.report"  # 报告整改完成: the 责任人's or chief's form button
SEND_BACK = "rectification.send_back"  # 退回重新整改: on the inspector's card


def report_done_button(item_id: int) -> Button:
    return Button(REPORT_DONE, "报告整改完成", data={"item": str(item_id)}, form=(
        FormField("note", "整改说明", multiline=True,
                  placeholder=f"做了什么、成效如何（不超过 {DONE_NOTE_MAX} 字）"),))


def rectification_title(item_id: int) -> str:
    return f"整改事项 #{item_id}（检务督导面对面）"


def rectification_dm_card(*, sid: str, title: str, item_id: int, unit: str, text: str,
                          due: str, owner: str | None = None) -> Card:
    """The item card sent to its 责任人, with 报告整改完成 (also `整改完成 #n <说明>`); with
    `owner`, the copy for the unit's chief when someone else is the 责任人 (the chief is
    reminded too, and may report it done)."""
    ask = ("请按期整改，逾期将提醒并报检务督察部。" if owner is None else
           f"您是本单位检察长，请督促责任人{owner}按期整改；逾期将同时提醒您并报检务督察部。")
    return Card(title=rectification_title(item_id),
                body=f"会议：{title}（{sid}）\n单位：{unit}\n事项：{text}\n整改期限：{due}\n"
                     + (f"责任人：{owner}\n" if owner is not None else "")
                     + ask + "整改完成后请点「报告整改完成」，"
                     f"或发送「整改完成 #{item_id} <说明>」。", color="yellow",
                actions=(report_done_button(item_id),))


def item_reported(card: Card, footer: str) -> Card:
    """The item card once reported done: no button; the footer says who reported and when."""
    return replace(card, actions=(), footer=footer)


def item_reopened(card: Card, item_id: int, footer: str) -> Card:
    """The item card once its report was sent back: 报告整改完成 again, the footer says why."""
    return replace(card, actions=(report_done_button(item_id),), footer=footer)


REPORTED_CLOSED = "该事项已销号，不再提醒。"  # the 整改完成报告 card's last line begins so


def report_sent_back(card: Card, reason: str, footer: str) -> Card:
    """The inspector's 整改完成报告 card once the report was sent back: no button, not green,
    and its last line says the item is open and reminded again, no longer 已销号."""
    head, sep, _ = card.body.rpartition("\n" + REPORTED_CLOSED)
    body = head if sep else card.body
    return replace(card, body=f"{body}\n已退回重新整改（原因：{reason}），恢复提醒。",
                   color="yellow", actions=(), footer=footer)


def reported_card(*, item_id: int, unit: str, text: str, due: str, who: str, at: str,
                  note: str, stamp: str) -> Card:
    """To the session's inspector: an item reported done, with 退回重新整改 (reason
    required). `stamp` names this very report, so an old card cannot send back a later one."""
    return Card(
        title=f"整改完成报告 · 整改事项 #{item_id}",
        body=f"单位：{unit}\n事项：{text}\n整改期限：{due}\n报告人：{who}（{at}）\n"
             f"整改说明：{note}\n{REPORTED_CLOSED}核查未完成的，请点「退回重新整改」并写明理由"
             f"（或发送「退回整改 #{item_id} <理由>」）。",
        color="green",
        actions=(Button(SEND_BACK, "退回重新整改", data={"item": str(item_id), "at": stamp},
                        form=(FormField("reason", "退回理由", multiline=True,
                                        placeholder=f"不超过 {DONE_NOTE_MAX} 字"),)),))
