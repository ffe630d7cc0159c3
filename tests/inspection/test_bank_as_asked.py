"""A session's record keeps each question as it was asked: editing (re-importing) a question
the session revealed changes neither the 公布答案 card, nor the big screen, nor report.docx; the
import preview says so."""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import FormData

from storage import inspection as store
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
