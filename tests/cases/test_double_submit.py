"""A double tap (or two instances at once) files one review request and records one
evaluation: 申请复核 and the score form submitted several times at the same moment."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, db, migrate
from storage.cases import CaseRow
from storage.models import AuditRecord, table
from storage.reviews import ReviewRow
from tests.cases.helpers import (
    GREEN,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
)
from tests.conftest import START, Console, free_port, fresh_postgres, make_settings, open_console

INV = INVESTIGATORS[0]
FORM = {"items": "2", "reason": "赃物追回"}


async def _code_card(console: Console, user: str) -> dict[str, Any]:
    return [m for m in cards(await console.messages(f"dm:{user}"))
            if m["card"]["title"].startswith("案件码")][-1]


async def _titles(console: Console, user: str, part: str) -> list[str]:
    return [m["card"]["title"] for m in cards(await console.messages(f"dm:{user}"))
            if part in m["card"]["title"]]


async def _three_taps(consoles: list[Console]) -> None:
    """申请复核 submitted three times at once (distinct events, as three taps are), spread
    over the instances given: one request, one card to the prosecutor, one receipt, and the
    other two taps told of that request as a tap after it would be."""
    first = consoles[0]
    code = await create_case(first)
    await evaluate(first, code, RED)
    card = await _code_card(first, INV)
    replies = await asyncio.gather(*(consoles[i % len(consoles)].click(
        INV, card["id"], "review.file", FORM) for i in range(3)))
    texts = sorted(r["messages"][-1]["text"] for r in replies)
    assert texts[0].startswith("复核申请 #1 已提交"), texts
    assert texts[1:] == [f"您对 {code} 已有一个未办结的复核申请（#1，待处理），请等待处理或先撤回。"] * 2
    assert await _titles(first, PROSECUTOR, "复核申请") == ["复核申请 #1 · 待处理"]
    assert await _titles(first, INV, "您的复核申请") == ["您的复核申请 #1 · 待处理"]
    async with first.app.services.db() as s:
        assert await s.scalar(select(func.count()).select_from(ReviewRow)) == 1


async def test_three_taps_of_review_file_file_one_request(console: Console) -> None:
    await _three_taps([console])


@asynccontextmanager
async def _two_instances(tmp_path: Path) -> AsyncIterator[list[Console]]:
    """Two apps (each its own web server) on one new PostgreSQL database."""
    async with fresh_postgres("casebot_race") as url:
        ports = [free_port(), free_port()]
        a_settings, b_settings = (
            make_settings(tmp_path / name, storage={"database_url": url},
                          web={"public_url": f"http://127.0.0.1:{port}"})
            for name, port in zip("ab", ports, strict=True))
        async with open_console(a_settings, ports[0]) as a:
            async with open_console(b_settings, ports[1]) as b:
                yield [a, b]


@pytest.mark.postgres
async def test_three_taps_across_two_instances_on_postgresql_file_one_request(
        tmp_path: Path) -> None:
    async with _two_instances(tmp_path) as consoles:
        await _three_taps(consoles)


async def test_the_code_page_form_submitted_three_times_at_once_files_once(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = urlsplit((await _code_card(console, INV))["card"]["actions"][0]["url"]).path
    await console.client.post("/console/api/login", json={"user": INV})
    body = {"items": ["causation"], "reason": "监控已调取"}
    rs = await asyncio.gather(*(console.client.post(link + "/review", json=body)
                                for _ in range(3)))
    assert sorted(r.status for r in rs) == [201, 422, 422]
    errors = [(await r.json())["error"] for r in rs if r.status == 422]
    assert errors == [f"您对 {code} 已有一个未办结的复核申请（#1，待处理），请等待处理或先撤回。"] * 2
    assert await _titles(console, PROSECUTOR, "复核申请") == ["复核申请 #1 · 待处理"]


def _form_body(html: str, **over: Any) -> dict[str, Any]:
    """What the score form posts for YELLOW, with the version it was opened on."""
    m = re.search(r'<input type="hidden" name="base_version" value="(\d+)">', html)
    assert m is not None, "the form carries the version it was opened on"
    return {"deductions": YELLOW, "vetoes": [], "comment": "", "review_request": None,
            "base_version": int(m.group(1)), **over}


async def _open_form(console: Console, code: str) -> dict[str, Any]:
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    r = await console.client.get(f"/cases/{code}/score")
    assert r.status == 200
    return _form_body(await r.text())


async def _two_submits(consoles: list[Console]) -> None:
    first = consoles[0]
    code = await create_case(first)
    await evaluate(first, code, RED)
    body = await _open_form(first, code)
    assert body["base_version"] == 1
    for c in consoles[1:]:
        await c.client.post("/console/api/login", json={"user": PROSECUTOR})
    rs = await asyncio.gather(*(consoles[i % len(consoles)].client.post(
        f"/cases/{code}/score", json=body) for i in range(2)))
    answers = [(r.status, await r.json()) for r in rs]
    assert sorted(s for s, _ in answers) == [200, 201], answers
    assert [a["version"] for _, a in answers] == [2, 2]  # both say the version made
    for person in INVESTIGATORS:
        assert await _titles(first, person, "案件码") == [
            f"案件码 {code} · 红码 66分", f"案件码 {code} · 黄码 85分"]
    async with first.app.services.db() as s:
        n = await s.scalar(select(func.count()).select_from(AuditRecord)
                           .where(AuditRecord.action == "case.evaluate"))
    assert n == 2  # versions 1 and 2


async def test_two_submits_of_one_score_form_record_one_evaluation(console: Console) -> None:
    await _two_submits([console])


@pytest.mark.postgres
async def test_two_submits_of_one_score_form_on_two_instances_record_one_evaluation(
        tmp_path: Path) -> None:
    async with _two_instances(tmp_path) as consoles:
        await _two_submits(consoles)


async def test_a_stale_score_form_is_refused_with_who_scored_since(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    body = await _open_form(console, code)  # opened on version 1
    await evaluate(console, code, GREEN)  # re-scored meanwhile (the API, another device)
    r = await console.client.post(f"/cases/{code}/score", json=body)
    assert r.status == 409
    name = console.app.services.directory.person_name(PROSECUTOR)
    assert (await r.json())["error"] == (
        f"该案件已有第 2 版评分（{name} 2026-11-02 09:30），本次未提交。请重新打开评分表。")
    assert await _titles(console, INV, "案件码") == [
        f"案件码 {code} · 红码 66分", f"案件码 {code} · 绿码 95分"]
    # a form opened now submits
    fresh = await console.client.post(f"/cases/{code}/score", json=await _open_form(console, code))
    assert fresh.status == 201 and (await fresh.json())["version"] == 3


async def _duplicates_resolved(url: str) -> None:
    """0030 on a database that already holds duplicates: of an investigator's unsettled
    requests on a case the oldest stays, the later ones are closed as 已撤回 with an audit
    record each (the chain still verifies), settled ones are left alone; then no second
    unsettled request can be inserted."""
    engine = db.create_engine(url)
    await migrate.upgrade(engine, "0029_case_withdraw")
    reviews, cases_t = table(ReviewRow), table(CaseRow)
    inv2 = INVESTIGATORS[1]
    rows = [(1, "C1", INV, "rejected", None, None),  # settled: not a duplicate
            (2, "C1", INV, "pending", None, None),  # the oldest open one: kept
            (3, "C1", INV, "pending", None, None),  # a second tap: closed
            (4, "C1", INV, "accepted", None, None),  # agreed, waiting for the re-score: closed
            (5, "C1", INV, "accepted", None, 2),  # answered by version 2: settled, left alone
            (6, "C1", inv2, "pending", None, None),  # another investigator's: kept
            (7, "C2", INV, "joint_done", "changed", None)]  # another case's: kept
    async with engine.begin() as conn:
        for code in ("C1", "C2"):
            await conn.execute(insert(cases_t).values(
                code=code, unit="u", title="t", stage="审查逮捕", police_unit="ps",
                prosecutor=PROSECUTOR, status="open", created_at=START, created_by="p",
                version=2))
        await conn.execute(insert(reviews), [
            {"id": i, "case_code": c, "version": 1, "filed_by": who, "filed_at": START,
             "items": '["causation"]', "notes": "{}", "reason": "r", "status": status,
             "due_at": START, "outcome": outcome, "new_version": new}
            for i, c, who, status, outcome, new in rows])
    async with AsyncSession(engine) as s, s.begin():
        await audit.append(s, at=START, actor="p", action="case.create", subject="C1")
    assert await migrate.upgrade(engine, "0030_one_open_review") == ["0030_one_open_review"]
    async with AsyncSession(engine) as s:
        statuses = dict((await s.execute(select(reviews.c.id, reviews.c.status))).all())
        closed = (await s.execute(select(AuditRecord.subject, AuditRecord.data)
                                  .where(AuditRecord.action == "review.duplicate")
                                  .order_by(AuditRecord.seq))).all()
        report = await audit.verify(s)
    assert statuses == {1: "rejected", 2: "pending", 3: "withdrawn", 4: "withdrawn",
                        5: "accepted", 6: "pending", 7: "joint_done"}
    assert [(code, json.loads(data)) for code, data in closed] == [
        ("C1", {"review": 3, "kept": 2, "was": "pending", "reason": "重复提交"}),
        ("C1", {"review": 4, "kept": 2, "was": "accepted", "reason": "重复提交"})]
    assert report.intact and report.records == 3
    fresh = {"case_code": "C1", "version": 2, "filed_by": INV, "filed_at": START,
             "items": "[]", "notes": "{}", "reason": "r", "due_at": START}
    with pytest.raises(IntegrityError, match=r"uq_review_one_unsettled|review_requests\.case_code"):
        async with engine.begin() as conn:
            await conn.execute(insert(reviews).values(id=8, status="pending", **fresh))
    async with engine.begin() as conn:  # a settled one is no obstacle
        await conn.execute(insert(reviews).values(id=9, status="withdrawn", **fresh))
    await engine.dispose()


async def test_the_migration_closes_duplicate_requests_on_sqlite(tmp_path: Path) -> None:
    await _duplicates_resolved(f"sqlite+aiosqlite:///{tmp_path / 'dups.db'}")


@pytest.mark.postgres
async def test_the_migration_closes_duplicate_requests_on_postgresql() -> None:
    async with fresh_postgres("casebot_migrate") as url:
        await _duplicates_resolved(url)
