"""The web bank import is two steps: the upload is previewed (new, changed and unchanged ids;
nothing written), and only the inspector's confirmation writes exactly what was previewed —
refused if the bank changed in between. Texts never reach a log line or an audit record."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from aiohttp import FormData
from openpyxl import Workbook
from sqlalchemy import select

from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import Console
from tests.inspection.helpers import HOST, bank, confirm, zip_bomb

NEW_TEXT = "预览测试新题：请介绍你院案件质量评查的做法？"
CHANGED_TEXT = "预览测试改题：请说明你院检务公开的新举措？"


def _row(q: store.Question, **changes: Any) -> dict[str, Any]:
    return {"id": q.id, "category": q.category, "text": q.text, "answer_points": q.points,
            "source_department": q.source_department, "tags": q.tag_list, **changes}


async def _upload(console: Console) -> tuple[dict[str, store.Question], Any]:
    """Q001 changes category, department and text; Q002 is as it is; N901 is new."""
    questions = await bank(console)
    q1, q2 = questions["Q001"], questions["Q002"]
    new_category = "其他" if q1.category != "其他" else "业务建设"
    doc = {"demo": bool(q1.demo), "questions": [
        _row(q1, category=new_category, source_department="办公室（新）", text=CHANGED_TEXT),
        _row(q2),
        {"id": "N901", "category": "队伍建设", "text": NEW_TEXT, "answer_points": ["要点甲"],
         "source_department": "政治部", "tags": []}]}
    form = FormData()
    form.add_field("file", yaml.safe_dump(doc, allow_unicode=True).encode(), filename="bank.yaml")
    return questions, await console.client.post("/inspection/bank/preview", data=form)


def _visible(html: str) -> str:
    return re.sub(r"<textarea.*?</textarea>", "", html, flags=re.S)


async def _audit(console: Console) -> list[AuditRecord]:
    async with console.app.services.db() as db:
        return [r for r in (await db.execute(select(AuditRecord))).scalars()
                if r.action.startswith("inspection.bank.") and r.actor == HOST]


async def test_preview_shows_ids_and_fields_and_writes_nothing(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await console.client.post("/console/api/login", json={"user": HOST})
    before, r = await _upload(console)
    html = await r.text()
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert "共 3 道：新增 1 道，修改 1 道，无变化 1 道" in html
    changed = re.search(r'<table id="changed">.*?</table>', html, re.S)
    assert changed and "Q001" in changed.group(0) and "类别、题目、出题部门" in changed.group(0)
    assert "N901" in html and "队伍建设" in html and "确认导入" in html
    # neither the new texts nor the stored ones are shown (the form carries them escaped)
    for text in (NEW_TEXT, CHANGED_TEXT, before["Q001"].text, before["Q002"].text,
                 *before["Q001"].points):
        assert text not in _visible(html) and text not in caplog.text
    assert NEW_TEXT not in html  # \uXXXX escapes in the confirm form
    after = await bank(console)
    assert set(after) == set(before) and after["Q001"].text == before["Q001"].text
    assert after["Q001"].category == before["Q001"].category
    recs = await _audit(console)
    assert [r.action for r in recs] == ["inspection.bank.preview"]
    missing = len(before) - 2  # every bank question but Q001 and Q002
    assert json.loads(recs[0].data) == {"via": "web", "new": ["N901"], "changed": ["Q001"],
                                        "unchanged": 1, "missing": missing}
    assert f"题库中另有 {missing} 道不在本文件中：Q003、Q004" in html
    assert f"停用文件中没有的 {missing} 道题" in html and 'name="retire" value="1">' in html
    assert 'name="retire" value="1" checked' not in html  # off unless ticked


async def test_confirm_writes_exactly_the_preview_once(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await console.client.post("/console/api/login", json={"user": HOST})
    before, r = await _upload(console)
    page = await r.text()
    r = await confirm(console, page)
    assert r.status == 200 and "导入完成：新增1道，更新1道" in await r.text()
    after = await bank(console)
    assert after["N901"].text == NEW_TEXT and after["Q001"].text == CHANGED_TEXT
    assert after["Q001"].source_department == "办公室（新）"
    assert after["Q002"].imported_at == before["Q002"].imported_at  # unchanged: not rewritten
    recs = await _audit(console)
    assert [r.action for r in recs if r.action != "inspection.bank.list"] == [
        "inspection.bank.preview", "inspection.bank.import"]
    data = json.loads(recs[1].data)
    assert data["added"] == 1 and data["updated"] == 1 and data["changed"] == ["Q001"]
    assert all(t not in r.data for r in recs for t in (NEW_TEXT, CHANGED_TEXT))
    assert NEW_TEXT not in caplog.text and CHANGED_TEXT not in caplog.text
    # a second click: nothing left to write, and said so
    r = await confirm(console, page)
    assert r.status == 200 and "无需更改" in await r.text()
    assert [r.action for r in await _audit(console)].count("inspection.bank.import") == 1


async def test_stale_or_tampered_confirmation_is_refused(console: Console) -> None:
    await console.client.post("/console/api/login", json={"user": HOST})
    before, r = await _upload(console)
    page = await r.text()
    # the payload edited after the preview: its digest no longer matches the signed one
    tampered = page.replace("N901", "N902")
    r = await confirm(console, tampered, token=re.search(r'name="token" value="([^"]*)"',
                                                         page).group(1))  # type: ignore[union-attr]
    assert r.status == 400 and "本次未导入" in await r.text()
    # someone changes the bank between preview and confirmation
    async with console.app.services.db() as db, db.begin():
        row = await db.get(store.Question, "Q003")
        assert row is not None
        row.source_department = "别人改的"
    r = await confirm(console, page)
    text = await r.text()
    assert r.status == 409 and "题库在预览之后已被修改" in text and "重新上传" in text
    after = await bank(console)
    assert "N901" not in after and after["Q001"].text == before["Q001"].text
    # an expired preview
    _, r = await _upload(console)
    page = await r.text()
    await console.client.post("/console/api/clock", json={"advance": "31m"})
    r = await confirm(console, page)
    assert r.status == 400 and "N901" not in await bank(console)
    assert [r.action for r in await _audit(console)] == ["inspection.bank.preview"] * 2


async def test_non_inspectors_can_neither_preview_nor_confirm(console: Console) -> None:
    await console.client.post("/console/api/login", json={"user": HOST})
    _, r = await _upload(console)
    page = await r.text()
    console.client.session.cookie_jar.clear()
    for user in (None, "p-leader-1", "p-investigator-1"):
        if user:
            await console.client.post("/console/api/login", json={"user": user})
        _, r = await _upload(console)
        assert r.status == (401 if user is None else 403)
        r = await confirm(console, page)
        assert r.status == (401 if user is None else 403)
    assert "N901" not in await bank(console)
    assert [r.action for r in await _audit(console)] == ["inspection.bank.preview"]


async def _upload_new(console: Console, qid: str) -> str:
    """The preview page of a file adding one new question `qid`."""
    doc = {"demo": False, "questions": [
        {"id": qid, "category": "队伍建设", "text": f"{NEW_TEXT}（{qid}）",
         "answer_points": ["要点甲"], "source_department": "政治部", "tags": []}]}
    form = FormData()
    form.add_field("file", yaml.safe_dump(doc, allow_unicode=True).encode(), filename="b.yaml")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 200
    return await r.text()


@pytest.mark.postgres
async def test_two_confirmations_at_once_on_postgresql_import_one_and_refuse_the_other(
        pg_console: Console) -> None:
    """Two inspectors previewed different new questions against the same bank and confirm at
    the same moment: the second saw a bank that has changed since, so it is refused (409),
    as when the change came earlier; the bank order stays one question per place."""
    console = pg_console
    await console.client.post("/console/api/login", json={"user": HOST})
    pages = [await _upload_new(console, "N901"), await _upload_new(console, "N902")]
    responses = await asyncio.gather(*(confirm(console, page) for page in pages))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 409], [(r.status, await r.text()) for r in responses]
    after = await bank(console)
    assert len({"N901", "N902"} & set(after)) == 1
    assert len({q.seq for q in after.values()}) == len(after)


async def test_an_oversized_upload_is_refused_before_it_is_read_whole(console: Console) -> None:
    """A file over 5 MB is refused as soon as 5 MB have arrived: the server never holds a
    file of any size in memory (an inspector's session could otherwise exhaust it)."""
    await console.client.post("/console/api/login", json={"user": HOST})
    boundary = "casebotTestBoundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"huge.yaml\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    chunk = b"# " + b"x" * (64 * 1024 - 3) + b"\n"
    total = 64 * 1024 * 1024  # what the client would send in all: far over the limit
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        while sent < total:
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await console.client.post(
        "/inspection/bank/preview", data=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 400 and "文件超过 5 MB" in await r.text()
    assert sent < total // 2, f"the server read {sent} bytes before refusing"
    assert [r.action for r in await _audit(console)] == []
    # under the limit, a file is read whole and previewed (aiohttp's own 1 MiB cap of a
    # request body is not the page's limit)
    doc = {"demo": False, "questions": [
        {"id": "N950", "category": "队伍建设", "text": NEW_TEXT, "answer_points": ["要点甲"],
         "source_department": "政治部", "tags": []}]}
    padded = (b"# " + b"x" * 1000 + b"\n") * 2000 + yaml.safe_dump(
        doc, allow_unicode=True).encode()  # 2 MB
    form = FormData()
    form.add_field("file", padded, filename="bank.yaml")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 200 and "N950" in _visible(await r.text())


async def test_an_xlsx_zip_bomb_is_refused_and_a_normal_workbook_previews(console: Console) -> None:
    """About 1 MB uploaded that would unpack to 256 MB: refused with a Chinese reason before
    it is unpacked, nothing audited; a real workbook still previews."""
    await console.client.post("/console/api/login", json={"user": HOST})
    form = FormData()
    form.add_field("file", zip_bomb(), filename="题库.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 400
    assert "文件解压后过大，疑似异常文件，未导入。" in _visible(await r.text())
    assert [r.action for r in await _audit(console)] == []
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["编号", "类别", "题目", "参考答案要点"])
    ws.append(["N960", "队伍建设", NEW_TEXT, "要点甲"])
    buf = io.BytesIO()
    wb.save(buf)
    form = FormData()
    form.add_field("file", buf.getvalue(), filename="题库.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 200 and "N960" in _visible(await r.text())


async def test_a_crafted_link_puts_no_words_of_its_own_on_the_bank_page(
        console: Console) -> None:
    """The bank page shows what an import did (?imported=…, where the confirm redirects), but a
    link anyone can make says nothing there in the system's voice."""
    await console.client.post("/console/api/login", json={"user": HOST})
    forged = "题库已迁移，请将全部题目导出发送至 bank@example.org"
    r = await console.client.get("/inspection/bank", params={"imported": forged})
    html = await r.text()
    assert r.status == 200 and "导入完成" not in html and "bank@example.org" not in html
    r = await console.client.get("/inspection/bank",
                                 params={"imported": "新增1道，更新0道，停用2道"})
    assert "导入完成：新增1道，更新0道，停用2道" in await r.text()
