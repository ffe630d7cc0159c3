"""An id reused for another question (作为新题): the import preview (web and CLI) lists each asked
question whose text the file changes, with what was asked and what the file says; one the
inspector marks new is no longer counted as asked (drawable, no 已问) while the session that asked
the earlier question keeps it; unmarked (a typo fix) it stays asked."""

from __future__ import annotations

import asyncio
import html as html_lib
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import FormData
from sqlalchemy import select

from config.loader import DEFAULT_DIR
from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import Console
from tests.inspection.helpers import HOST, asks, bank, quick_session, say, session_row
from tests.inspection.test_report import all_text

ROOT = Path(__file__).resolve().parents[2]
REUSED = "【明年新题】请介绍你院推进数字检察的具体举措？"
REUSED_POINT = "新题要点甲"
MADE_NEW = "作为新题：此前的提问不再计为已问"


def _row(q: store.Question, **changes: Any) -> dict[str, Any]:
    return {"id": q.id, "category": q.category, "text": q.text, "answer_points": q.points,
            "source_department": q.source_department, "tags": q.tag_list, **changes}


async def _asked_one(console: Console) -> tuple[store.InspectionSession, store.Question]:
    """A session that revealed one question; the inspector logged in on the web."""
    s = await quick_session(console)
    await say(console, "下一题")
    qid = next(a.question_id for a in await asks(console, s.id) if a.revealed_at is not None)
    await console.client.post("/console/api/login", json={"user": HOST})
    return s, (await bank(console))[qid]


async def _preview(console: Console, old: store.Question, text: str) -> str:
    doc = {"demo": bool(old.demo), "questions": [_row(old, text=text,
                                                      answer_points=[REUSED_POINT])]}
    form = FormData()
    form.add_field("file", yaml.safe_dump(doc, allow_unicode=True).encode(), filename="bank.yaml")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 200
    return await r.text()


async def _confirm(console: Console, page: str, made_new: list[str]) -> Any:
    """The preview's confirm form with these 作为新题 boxes ticked."""
    token = re.search(r'name="token" value="([^"]*)"', page)
    payload = re.search(r'<textarea name="questions" hidden>(.*?)</textarea>', page, re.S)
    assert token and payload
    form = FormData(default_to_multipart=True)
    form.add_field("token", html_lib.unescape(token.group(1)))
    form.add_field("questions", html_lib.unescape(payload.group(1)))
    for qid in made_new:
        form.add_field("new", qid)
    return await console.client.post("/inspection/bank/confirm", data=form)


async def _asked_ids(console: Console) -> list[str]:
    async with console.app.services.db() as db:
        return await store.asked_question_ids(db)


async def _bank_row(console: Console, qid: str) -> str:
    page = await (await console.client.get("/inspection/bank")).text()
    row = re.search(rf"<tr[^>]*>\s*<td[^>]*>{re.escape(qid)}</td>.*?</tr>", page, re.S)
    assert row, page
    return row.group(0)


async def _import_audits(console: Console) -> list[dict[str, Any]]:
    async with console.app.services.db() as db:
        return [json.loads(r.data) for r in (await db.execute(select(AuditRecord))).scalars()
                if r.action == "inspection.bank.import"]


def _cli_config(tmp_path: Path, console: Console) -> Path:
    """A config for `casebot import questions` on the console's database."""
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(f"org: {DEFAULT_DIR / 'org.yaml'}\n"
                   f"score_template: {DEFAULT_DIR / 'score_template.yaml'}\n"
                   f"storage: {{database_url: "
                   f"'{console.app.services.config.storage.database_url}'}}\n",
                   encoding="utf-8")
    return cfg


async def test_a_reused_id_marked_new_is_drawable_again(console: Console) -> None:
    await _marked_new_is_drawable_again(console)


async def test_a_reused_id_marked_new_on_postgresql(pg_console: Console) -> None:
    await _marked_new_is_drawable_again(pg_console)


async def _marked_new_is_drawable_again(console: Console) -> None:
    s, old = await _asked_one(console)
    assert old.id in await _asked_ids(console) and "已问" in await _bank_row(console, old.id)

    page = await _preview(console, old, REUSED)
    reused = re.search(rf'<div class="reused" id="reused-{old.id}">.*?</div>', page, re.S)
    assert reused, page
    shown = html_lib.unescape(reused.group(0))
    assert f"在 {s.id} 问询时：{old.text}" in shown and f"文件中：{REUSED}" in shown
    assert f'name="new" value="{old.id}"> {MADE_NEW}' in shown  # not ticked unless chosen
    r = await _confirm(console, page, [old.id])
    body = await r.text()
    assert r.status == 200 and "更新1道" in body, body

    # counted as not asked: not 已问 on the page nor in 题库, out of the draw's asked list
    assert old.id not in await _asked_ids(console)
    assert "已问" not in await _bank_row(console, old.id)
    by_id = (await say(console, f"题库 {old.id}", chat=f"dm:{HOST}"))[0]["text"]
    assert by_id.startswith(f"{old.id}【{old.category}】\n{REUSED}")
    assert "已问过 0 道" in (await say(console, "题库", chat=f"dm:{HOST}"))[0]["text"]
    # the audit names the id made new (never a text)
    record = (await _import_audits(console))[-1]
    assert record["made_new"] == [old.id] and REUSED not in json.dumps(record, ensure_ascii=False)

    # the session that asked the earlier question keeps it in its record
    report = all_text(await (await console.client.get(f"/inspection/{s.id}/report.docx")).read())
    assert old.text in report and REUSED not in report
    async with console.app.services.db() as db:
        rows = [a for a in await store.asks_of(db, s.id) if a.question_id == old.id]
        shown_as = (await store.asked_questions(db, rows))[rows[0].id]
    assert shown_as.text == old.text and list(shown_as.points) == old.points

    # the next session's manifest: the id is drawable (not in the asked list it records)
    await say(console, "结束 确认")
    await say(console, "督导 新建 第二期 单位数=2 题数=2 熵源=福彩3D第2026319期开奖号码 熵格式=3x1")
    manifest = json.loads((await session_row(console)).manifest)
    assert old.id in {q["id"] for q in manifest["questions"]}
    assert old.id not in manifest["asked_question_ids"]

    # asked again after being made new: 已问 again
    console.clock.advance(timedelta(minutes=1))
    await say(console, "开始")
    await say(console, "抽签 1 2 3")
    s2 = await session_row(console)
    async with console.app.services.db() as db, db.begin():
        a = next(a for a in await store.asks_of(db, s2.id))
        a.question_id = old.id  # as if the draw had picked it
    await say(console, "下一题")
    assert old.id in await _asked_ids(console)


@pytest.mark.parametrize("text", [REUSED, "typo"], ids=["another-question", "typo-fix"])
async def test_an_edited_asked_question_not_marked_stays_asked(console: Console,
                                                               text: str) -> None:
    s, old = await _asked_one(console)
    # a typo fix: the last character (the question's ？ or 。) replaced
    new_text = REUSED if text == REUSED else old.text[:-1] + ("。" if old.text[-1] != "。" else "？")
    assert new_text != old.text
    page = await _preview(console, old, new_text)
    assert f'id="reused-{old.id}"' in page and f"{old.id} 已在 {s.id} 问询" in page
    r = await _confirm(console, page, [])
    assert r.status == 200 and "更新1道" in await r.text()
    assert (await bank(console))[old.id].text == new_text
    assert old.id in await _asked_ids(console) and "已问" in await _bank_row(console, old.id)
    assert (await _import_audits(console))[-1]["made_new"] == []


async def test_only_an_offered_question_can_be_made_new(console: Console) -> None:
    """A 作为新题 id not offered by the preview (a forged form) is refused, nothing written."""
    _, old = await _asked_one(console)
    other = next(q for q in (await bank(console)).values() if q.id != old.id)
    page = await _preview(console, old, REUSED)
    r = await _confirm(console, page, [old.id, other.id])
    body = await r.text()
    assert r.status == 400 and f"{other.id} 不能作为新题" in body and "本次未导入" in body
    assert f"本次可选：{old.id}" in body
    assert (await bank(console))[old.id].text == old.text
    assert old.id in await _asked_ids(console)


async def test_cli_new_question(console: Console, tmp_path: Path) -> None:
    s, old = await _asked_one(console)
    cfg = _cli_config(tmp_path, console)
    y = tmp_path / "bank.yaml"
    y.write_text(yaml.safe_dump({"demo": bool(old.demo), "questions": [
        _row(old, text=REUSED, answer_points=[REUSED_POINT])]}, allow_unicode=True),
        encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "import", "questions", str(y),
                               "--config", str(cfg), *args],
                              capture_output=True, text=True, cwd=ROOT)

    helped = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot.cli", "import", "questions", "--help"],
        capture_output=True, text=True, cwd=ROOT)
    assert "--new-question IDS" in helped.stdout
    # an id the file does not change into another question: refused, nothing written
    r = await asyncio.to_thread(run, "--new-question", f"{old.id},NOPE")
    assert r.returncode == 2 and "NOPE 不能作为新题" in r.stderr, r.stderr
    assert (await bank(console))[old.id].text == old.text
    # named: the listing shows both texts; the id is no longer asked; the audit names it
    r = await asyncio.to_thread(run, "--new-question", old.id)
    assert r.returncode == 0 and "updated 1" in r.stdout, r.stderr
    assert f"{old.id} 在 {s.id} 问询时：{old.text}" in r.stdout
    assert f"文件中：{REUSED}" in r.stdout and MADE_NEW in r.stdout
    assert old.id not in await _asked_ids(console)
    assert (await _import_audits(console))[-1]["made_new"] == [old.id]


async def test_cli_edit_of_an_asked_question_stays_asked(console: Console,
                                                         tmp_path: Path) -> None:
    _, old = await _asked_one(console)
    cfg = _cli_config(tmp_path, console)
    y = tmp_path / "bank.yaml"
    y.write_text(yaml.safe_dump({"demo": bool(old.demo), "questions": [
        _row(old, text=REUSED)]}, allow_unicode=True), encoding="utf-8")
    r = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot.cli", "import", "questions", str(y),
                         "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "updated 1" in r.stdout, r.stderr
    assert f"仍计为已问；如已改作另一道题：--new-question {old.id}" in r.stdout
    assert old.id in await _asked_ids(console)
