"""The session report (.docx) for the party-group meeting (党组会): units, the questions that
were revealed, comments, 整改汇报, rectification items, on-site tasks and the draw's
verification data. Built from plain data; never contains a question that was not revealed."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from cards.word import chinese_document


@dataclass(frozen=True)
class ReportQuestion:
    id: str
    category: str
    text: str
    points: tuple[str, ...]  # empty when the answer was not published


@dataclass(frozen=True)
class ReportUnit:
    name: str
    city: str
    chief: str
    kind: str  # "draw" | "special"
    questions: tuple[ReportQuestion, ...]
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportData:
    sid: str
    title: str
    date: str
    stage: str
    demo: bool
    units: tuple[ReportUnit, ...]
    reports: tuple[str, ...]  # 整改汇报 lines
    # number (#n, as 整改完成 and 退回整改 take it), unit, item, owner, due, status
    rectifications: tuple[tuple[str, str, str, str, str, str], ...]
    site_tasks: tuple[tuple[str, str, str, str], ...]  # unit, assignee, due, text
    verification: tuple[tuple[str, str], ...] = field(default=())
    # how anybody re-runs the draw without the bot, full addresses; then the operator's line
    verify_steps: tuple[str, ...] = field(default=())


def unreported_line(unit: str, items: Sequence[tuple[int, str, str]]) -> str:
    """A unit due to report whose 整改汇报 was not recorded (the meeting ended on 结束 确认):
    marked 未汇报 with its items from earlier sessions (id, text, state), so that the
    meeting's record does not drop it."""
    shown = "；".join(f"整改事项 #{i} {text}：{state}" for i, text, state in items)
    return f"{unit}：未汇报。{shown}"


def _table(doc: object, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    t = doc.add_table(rows=1, cols=len(header))  # type: ignore[attr-defined]
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = t.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text


def build_report(r: ReportData) -> bytes:
    doc = chinese_document()
    doc.add_heading(f"检务督导面对面会议报告：{r.title}", level=0)
    doc.add_paragraph(f"会议编号：{r.sid}    日期：{r.date}    状态：{r.stage}")
    if r.demo:
        doc.add_paragraph("（演示数据：单位、人员和题目均为虚构）")

    doc.add_heading("一、问询单位", level=1)
    _table(doc, ["序号", "单位", "所在市", "检察长", "方式"],
           [[str(i), u.name, u.city, u.chief, "随机抽取" if u.kind == "draw" else "专项问询"]
            for i, u in enumerate(r.units, 1)])

    doc.add_heading("二、问询、点评与参考答案", level=1)
    for u in r.units:
        doc.add_heading(f"{u.name}（{u.city}）", level=2)
        if not u.questions:
            doc.add_paragraph("未问询。")
        for i, q in enumerate(u.questions, 1):
            doc.add_paragraph(f"{i}.【{q.category}】{q.text}（题号 {q.id}）")
            for p in q.points:
                doc.add_paragraph(p, style="List Bullet")
        for c in u.comments:
            doc.add_paragraph(f"点评：{c}")

    doc.add_heading("三、整改汇报", level=1)
    for line in r.reports or ("无。",):
        doc.add_paragraph(line)

    doc.add_heading("四、整改事项", level=1)
    if r.rectifications:
        _table(doc, ["事项号", "单位", "整改事项", "责任人", "期限", "状态"], r.rectifications)
    else:
        doc.add_paragraph("暂无。")

    doc.add_heading("五、实地督察", level=1)
    if r.site_tasks:
        _table(doc, ["单位", "负责人", "期限", "内容"], r.site_tasks)
    else:
        doc.add_paragraph("暂无。")

    doc.add_heading("六、抽签复核数据", level=1)
    for k, v in r.verification:
        doc.add_paragraph(f"{k}：{v}")
    if r.verify_steps:
        doc.add_paragraph("复核方法（无需信任本系统，任何人均可在自己的电脑上复核）：")
        for line in r.verify_steps:
            doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
