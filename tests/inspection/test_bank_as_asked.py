"""A session's record keeps each question as it was asked: editing (re-importing) a question
the session revealed changes neither the 公布答案 card, nor the big screen, nor report.docx; the
import preview says so. Questions left out of a file can be retired: no longer drawn nor listed,
while the sessions that asked them keep them."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

import yaml
from aiohttp import FormData
from sqlalchemy import select

from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import Console
from tests.inspection.helpers import (
    HOST,
    asks,
    bank,
    card,
    city_chief,
    confirm,
    quick_session,
    say,
    session_row,
    texts,
)
from tests.inspection.test_report import all_text

EDITED = "【已修改】新版题目文字，会后才写入题库？"
EDITED_POINT = "新版要点甲"


def _row(q: store.Question, **changes: Any) -> dict[str, Any]:
    return {"id": q.id, "category": q.category, "text": q.text, "answer_points": q.points,
            "source_department": q.source_department, "tags": q.tag_list, **changes}


async def _preview(console: Console, rows: list[dict[str, Any]], demo: bool) -> Any:
    form = FormData()
    form.add_field("file", yaml.safe_dump({"demo": demo, "questions": rows},
                                          allow_unicode=True).encode(), filename="bank.yaml")
    return await console.client.post("/inspection/bank/preview", data=form)


async def test_a_question_edited_after_its_reveal_stays_as_asked(console: Console) -> None:
    s = await quick_session(console)
    first = sorted((a.position, a.seq, a.id, a.question_id) for a in await asks(console, s.id))
    unit_asks = [a for a in first if a[0] == 0]
    asked_id, drawn_id = unit_asks[0][3], unit_asks[1][3]
    revealed = await say(console, "下一题")
    old = (await bank(console))[asked_id]
    assert old.text in texts(revealed)

    # the inspector edits the asked question and the drawn one still to come
    await console.client.post("/console/api/login", json={"user": HOST})
    questions = await bank(console)
    r = await _preview(console, [
        _row(old, text=EDITED, answer_points=[EDITED_POINT]),
        _row(questions[drawn_id], source_department="出题部门已改"),  # not shown in a session
    ], demo=bool(old.demo))
    html = await r.text()
    assert r.status == 200
    assert f"{asked_id} 已在 {s.id} 问询，修改不影响该次会议记录" in html
    assert drawn_id not in html.split('<ul id="asked">')[1].split("</ul>")[0]
    r = await confirm(console, html)
    assert r.status == 200 and "更新2道" in await r.text()
    assert (await bank(console))[asked_id].text == EDITED  # the bank did change

    out = await say(console, "下一题 确认")
    out += await say(console, "下一题 确认")
    unit = next(a.unit_id for a in await asks(console, s.id) if a.position == 0)
    await say(console, "点评")
    await say(console, "点评 回答较好", user=city_chief(console, unit))
    published = card(await say(console, "公布答案"), "公布答案")
    assert old.text in published["body"] and old.points[0] in published["body"]
    assert EDITED not in published["body"] and EDITED_POINT not in published["body"]

    await console.client.post("/console/api/login", json={"user": "p-chief-c01-01"})
    state = await (await console.client.get(f"/live/{s.id}/state")).json()
    answer = next(a for a in state["answers"] if a["seq"] == 1)
    assert answer["text"] == old.text and answer["points"] == old.points

    await console.client.post("/console/api/login", json={"user": HOST})
    report = all_text(await (await console.client.get(f"/inspection/{s.id}/report.docx")).read())
    assert old.text in report and old.points[0] in report and EDITED not in report

    revealed_row = next(a for a in await asks(console, s.id) if a.id == unit_asks[0][2])
    assert revealed_row.asked_text == old.text


async def test_an_ask_revealed_before_the_copy_existed_reads_the_bank(console: Console) -> None:
    """Rows revealed before migration 0028 have no copy: the bank's row is shown."""
    s = await quick_session(console)
    await say(console, "下一题")
    async with console.app.services.db() as db, db.begin():
        rows = await store.asks_of(db, s.id)
        a = next(x for x in rows if x.revealed_at is not None)
        a.asked_category = a.asked_text = a.asked_points = None
    async with console.app.services.db() as db:
        rows = await store.asks_of(db, s.id)
        a = next(x for x in rows if x.revealed_at is not None)
        got = (await store.asked_questions(db, [a]))[a.id]
        q = (await store.questions_by_id(db, [a.question_id]))[a.question_id]
    assert (got.text, got.category, list(got.points)) == (q.text, q.category, q.points)


async def _import_audits(console: Console) -> list[dict[str, Any]]:
    async with console.app.services.db() as db:
        return [json.loads(r.data) for r in (await db.execute(select(AuditRecord))).scalars()
                if r.action == "inspection.bank.import"]


async def test_questions_left_out_of_a_file_can_be_retired(console: Console) -> None:
    s = await quick_session(console)
    await say(console, "下一题")
    asked_id = next(a.question_id for a in await asks(console, s.id) if a.revealed_at)
    questions = await bank(console)
    demo = next(iter(questions.values())).demo
    keep = sorted(q for q in questions if q != asked_id)[:10]
    await console.client.post("/console/api/login", json={"user": HOST})
    rows = [_row(questions[q]) for q in keep]

    # not ticked: nothing retired, as before
    r = await _preview(console, rows, demo=bool(demo))
    html = await r.text()
    missing = len(questions) - len(keep)
    assert f"题库中另有 {missing} 道不在本文件中" in html and "与现有题库完全相同" not in html
    r = await confirm(console, html)
    assert "无需更改" in await r.text()
    assert all(q.active for q in (await bank(console)).values())

    # ticked: every question the file leaves out is retired, in one audited import
    r = await _preview(console, rows, demo=bool(demo))
    r = await _confirm_retiring(console, await r.text())
    assert r.status == 200 and f"停用{missing}道" in await r.text()
    after = await bank(console)
    assert {q for q, row in after.items() if row.active} == set(keep)
    record = (await _import_audits(console))[-1]
    assert record["retired"] == sorted(set(questions) - set(keep)) and record["added"] == 0

    # retired: not listed (by category nor by id), not on the bank page, never drawn again
    listing = await say(console, f"题库 {after[asked_id].category}", chat=f"dm:{HOST}")
    assert asked_id not in listing[0]["text"]
    by_id = await say(console, f"题库 {asked_id}", chat=f"dm:{HOST}")
    assert "题库中没有题号" in by_id[0]["text"]
    page = await (await console.client.get("/inspection/bank")).text()
    assert after[asked_id].text not in page
    assert "题库共 10 道" in (await say(console, "题库", chat=f"dm:{HOST}"))[0]["text"]
    # the session that asked it keeps it: its report still shows the question
    report = all_text(await (await console.client.get(f"/inspection/{s.id}/report.docx")).read())
    assert questions[asked_id].text in report
    await say(console, "结束 确认")
    await say(console, "督导 新建 第二期 单位数=2 题数=2 熵源=福彩3D第2026319期开奖号码 熵格式=3x1")
    s2 = await session_row(console)
    manifest = json.loads(s2.manifest)
    drawable = {q["id"] for q in manifest["questions"]}
    assert drawable <= set(keep) and drawable


async def _confirm_retiring(console: Console, preview_html: str) -> Any:
    """The confirm form with 「停用文件中没有的 N 道题」 ticked."""
    token = re.search(r'name="token" value="([^"]*)"', preview_html)
    payload = re.search(r'<textarea name="questions" hidden>(.*?)</textarea>', preview_html, re.S)
    assert token and payload and 'name="retire" value="1"' in preview_html
    form = FormData(default_to_multipart=True)
    form.add_field("token", html_lib.unescape(token.group(1)))
    form.add_field("questions", html_lib.unescape(payload.group(1)))
    form.add_field("retire", "1")
    return await console.client.post("/inspection/bank/confirm", data=form)

