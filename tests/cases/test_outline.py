"""The 补充侦查提纲 lists exactly the open deductions: .docx read back with python-docx, and .md."""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn

from tests.cases.helpers import INVESTIGATORS, RED, create_case, ded, evaluate
from tests.conftest import Console


def assert_a4_chinese(doc: DocxDocument) -> None:
    """Printed on A4 as offices in China do, the text marked Chinese (not US Letter, en-US)."""
    for section in doc.sections:
        assert section.page_width is not None and section.page_height is not None
        assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    lang = doc.styles["Normal"].element.rPr.find(qn("w:lang"))
    assert lang is not None and lang.get(qn("w:eastAsia")) == "zh-CN" == lang.get(qn("w:val"))


async def test_outline_lists_exactly_the_open_deductions(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    # second evaluation clears 危害后果 (销号) and keeps the other two
    await evaluate(console, code, [ded("criminal_facts", 12, "仍缺直接证据", "补强间接证据"),
                                   ded("causation", 8)])
    await console.client.post("/console/api/login", json={"user": INVESTIGATORS[0]})
    r = await console.client.get(f"/cases/{code}/outline.docx")
    assert r.status == 200
    doc = Document(io.BytesIO(await r.read()))
    assert_a4_chinese(doc)
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 3"]
    assert headings == ["1. 犯罪事实与行为（扣12分）", "2. 因果关系（扣8分）"]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "仍缺直接证据" in text and "补强间接证据" in text and "危害后果" not in text
    md = await (await console.client.get(f"/cases/{code}/outline.md")).text()
    assert "### 1. 犯罪事实与行为（扣12分）" in md and "危害后果" not in md
    await console.client.post("/console/api/login", json={"user": "p-investigator-5"})
    assert (await console.client.get(f"/cases/{code}/outline.docx")).status == 403
