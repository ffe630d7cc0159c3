"""A Word document as offices in China print them: A4, Word's Chinese margins, text marked
zh-CN with a Chinese font (python-docx's default template is US Letter, en-US)."""

from __future__ import annotations

from docx import Document as new_document
from docx.document import Document
from docx.oxml.ns import qn
from docx.shared import Cm, Pt


def chinese_document(size: float = 11) -> Document:
    doc = new_document()
    for section in doc.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.top_margin = section.bottom_margin = Cm(2.54)
        section.left_margin = section.right_margin = Cm(3.18)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(size)
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), "宋体")
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    for attr in ("w:val", "w:eastAsia"):
        lang.set(qn(attr), "zh-CN")
    return doc
