"""补充侦查提纲 (supplementary-investigation outline) from the open deductions: .docx and .md."""

from __future__ import annotations

import io

from bot.domain.scoring import Evaluation, ScoreTemplate, open_deductions
from bot.domain.text import xml_safe
from cards.cases import CaseView
from cards.word import chinese_document


def _items(ev: Evaluation | None, template: ScoreTemplate) -> list[tuple[str, list[tuple[str, str]]]]:
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for i, d in enumerate(open_deductions(ev), 1):
        fields = [("存在问题", d.problem), ("补侦目的", d.purpose), ("补侦事项", d.matters),
                  ("补侦要求", d.requirement)]
        points = f"扣{d.points}分" if d.points else "一票否决"
        out.append((f"{i}. {template.item(d.item).label}（{points}）",
                    [(k, v) for k, v in fields if v]))
    return out


def _header(case: CaseView, ev: Evaluation | None) -> list[str]:
    state = f"{ev.color.label} {ev.score}分（第{ev.version}版评分）" if ev else "尚未评分"
    return [f"案件码：{case.code}", f"案件名称：{case.title}", f"诉讼阶段：{case.stage}",
            f"侦查单位：{case.police_unit}", f"承办检察官：{case.prosecutor}", f"当前案件码：{state}"]


def outline_markdown(case: CaseView, ev: Evaluation | None, template: ScoreTemplate) -> str:
    lines = [f"# 补充侦查提纲（{case.code}）", ""]
    lines += [f"- {h}" for h in _header(case, ev)]
    lines.append("")
    items = _items(ev, template)
    if ev is not None and ev.vetoes:
        lines.append("## 一票否决项")
        lines += [f"- {template.item(v).label}" for v in ev.vetoes]
        lines.append("")
    lines.append("## 补侦事项")
    if not items:
        lines.append("无未销号扣分项。")
    for title, fields in items:
        lines += ["", f"### {title}"]
        lines += [f"- **{k}**：{v}" for k, v in fields]
    return "\n".join(lines) + "\n"


def outline_docx(case: CaseView, ev: Evaluation | None, template: ScoreTemplate) -> bytes:
    """The outline as a Word document; characters XML cannot hold (in text stored before input
    was checked) are left out rather than failing the download."""
    doc = chinese_document()
    doc.add_heading(xml_safe(f"补充侦查提纲（{case.code}）"), level=1)
    for h in _header(case, ev):
        doc.add_paragraph(xml_safe(h))
    if ev is not None and ev.vetoes:
        doc.add_heading("一票否决项", level=2)
        for v in ev.vetoes:
            doc.add_paragraph(xml_safe(template.item(v).label), style="List Bullet")
    doc.add_heading("补侦事项", level=2)
    items = _items(ev, template)
    if not items:
        doc.add_paragraph("无未销号扣分项。")
    for title, fields in items:
        doc.add_heading(xml_safe(title), level=3)
        for k, v in fields:
            p = doc.add_paragraph()
            p.add_run(f"{k}：").bold = True
            p.add_run(xml_safe(v))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
