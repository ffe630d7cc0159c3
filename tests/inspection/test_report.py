"""The .docx session report opens with python-docx and holds every revealed question and every
rectification item — and no question that was not revealed."""

from __future__ import annotations

import io

from docx import Document

from tests.cases.test_outline import assert_a4_chinese
from tests.conftest import Console
from tests.inspection.helpers import asks, bank, quick_session, run_unit, say


def all_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts += [c.text for c in row.cells]
    return "\n".join(parts)


async def test_report_has_revealed_questions_and_rectification_items(console: Console) -> None:
    s = await quick_session(console)
    rows = await asks(console, s.id)
    units = sorted({(a.position, a.unit_id) for a in rows})
    await run_unit(console, 3, units[0][1], "回答具体，措施明确。")
    await run_unit(console, 3, units[1][1], "数据不够准确。")
    await say(console, "下一题")  # unit 3: one question revealed, then the session ends
    await say(console, "结束 确认")
    items = ["建立认罪认罚适用率月度通报制度", "补齐重大事项填报台账并逐月报告"]
    await say(console, f"整改 1 2026-12-31 {items[0]}")
    await say(console, f"整改 2 60天 {items[1]}")
    await say(console, "实地督察 1 p-inspector-2 2026-12-10")

    url = f"/inspection/{s.id}/report.docx"
    assert (await console.client.get(url)).status == 401
    # a county's 院领导, not in the session's group: a leader, but no relation to the session
    await console.client.post("/console/api/login", json={"user": "p-leader-hc"})
    refused = await console.client.get(url)
    assert refused.status == 403 and "仅向检务督察、会议群" in await refused.text()
    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    r = await console.client.get(url)
    assert r.status == 200 and r.content_type.endswith("wordprocessingml.document")
    assert r.headers["Cache-Control"] == "no-store"  # the asked questions: not left in a cache
    data = await r.read()
    assert_a4_chinese(Document(io.BytesIO(data)))  # for the party-group meeting's printer
    text = all_text(data)

    questions = await bank(console)
    rows = await asks(console, s.id)
    revealed = [a for a in rows if a.revealed_at is not None]
    assert len(revealed) == 7
    for a in rows:
        q = questions[a.question_id]
        assert (q.text in text) == (a.revealed_at is not None), a.question_id
        assert (q.points[0] in text) == (a.answer_published_at is not None), a.question_id
    for item in items:
        assert item in text
    assert "回答具体，措施明确。" in text and s.manifest_hash in text and "复核一致" in text
    # the verification block speaks Chinese: the method and the drawn offices by name, no ids
    assert "抽签方式：先抽市" in text and "cities-first" not in text
    assert "本系统复核结果：复核一致" in text  # only the outsider's step 3 names verify.py's MATCH
    assert [line for line in text.splitlines() if "MATCH" in line and not line.startswith("3. ")] == []
    d = console.app.services.directory
    for a in rows:
        assert d.units[a.unit_id].name in text and a.unit_id not in text
    assert "演示数据" in text
