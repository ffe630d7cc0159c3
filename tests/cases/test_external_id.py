"""external_id (统一受案号) on POST /api/v1/cases: the same id again answers 200 with the
existing code and creates nothing, also when the requests race (PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.importer import import_cases
from storage import audit
from storage.cases import CaseRow
from tests.cases.helpers import AUTH, INVESTIGATORS, PROSECUTOR
from tests.conftest import START, Console, fresh_postgres, make_settings, open_console

BODY: dict[str, Any] = {"title": "何某盗窃案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
                        "prosecutor": PROSECUTOR, "investigators": INVESTIGATORS}


async def _post(console: Console, **over: Any) -> tuple[int, dict[str, Any]]:
    r = await console.client.post("/api/v1/cases", json={**BODY, **over}, headers=AUTH)
    data: dict[str, Any] = await r.json()
    return r.status, data


async def _count(console: Console) -> int:
    async with console.app.services.db() as s:
        return int((await s.execute(select(func.count()).select_from(CaseRow))).scalar_one())


async def test_create_with_external_id_is_idempotent(console: Console) -> None:
    assert await _post(console, external_id="33042420260001") == (201, {"code": "HY-2026-0001"})
    assert await _post(console, external_id="33042420260001") == (200, {"code": "HY-2026-0001"})
    assert await _post(console, external_id=" 33042420260001 ", title="别的标题") == (
        200, {"code": "HY-2026-0001"})
    assert await _post(console, external_id="33042420260002") == (201, {"code": "HY-2026-0002"})
    assert await _post(console) == (201, {"code": "HY-2026-0003"})  # without: as before
    assert await _post(console, external_id="") == (201, {"code": "HY-2026-0004"})
    assert await _count(console) == 4
    r = await console.client.get("/api/v1/cases/HY-2026-0001", headers=AUTH)
    assert (await r.json())["external_id"] == "33042420260001"
    status, data = await _post(console, external_id="x" * 65)
    assert status == 422 and data["errors"] == [
        {"field": "external_id", "reason": "统一受案号不能为空白，且不超过 64 字"}]
    status, data = await _post(console, external_id=42)
    assert status == 422 and data["errors"][0]["field"] == "external_id"
    assert await _count(console) == 4


async def test_racing_creates_with_one_external_id_make_one_case_on_postgres(
        tmp_path: Path) -> None:
    async with fresh_postgres("casebot_extid") as url:
        settings = make_settings(tmp_path, storage={"database_url": url})
        async with open_console(settings, 0) as console:
            answers = await asyncio.gather(*(_post(console, external_id="A-1")
                                             for _ in range(6)))
            assert sorted(s for s, _ in answers) == [200] * 5 + [201]
            assert {d["code"] for _, d in answers} == {"HY-2026-0001"}
            assert await _count(console) == 1
            # the bulk import on PostgreSQL: codes continue, the id is skipped, chain intact
            f = tmp_path / "cases.csv"
            row = f"甲案,审查逮捕,ps-hc-xd,{PROSECUTOR},p-investigator-1,,"
            f.write_text("title,stage,police_unit,prosecutor,investigators,investigation_deadline,"
                         f"custody_deadline,external_id\n{row},A-1\n{row},A-2\n{row},\n",
                         encoding="utf-8")
            result = await import_cases(settings, ManualClock(START), f, lambda *p: None)
            assert result.codes == ["HY-2026-0002", "HY-2026-0003"]
            assert result.skipped == [f"{f}:2: 统一受案号「A-1」已有案件 HY-2026-0001，跳过"]
            async with console.app.services.db() as s:
                report = await audit.verify(s)
            assert report.ok and report.records >= 3


async def test_the_code_page_shows_the_external_id(console: Console) -> None:
    """Whoever opens the code page can match it to the case-management system's record."""
    _, created = await _post(console, external_id="33042420260001")
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"码 {created['code']}")
    link = r["messages"][0]["card"]["actions"][0]["url"]
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    page = await (await console.client.get(urlsplit(link).path)).text()
    assert "<dt>统一受案号</dt><dd>33042420260001</dd>" in page


async def test_a_full_width_external_id_finds_the_case_it_names(
        console: Console, tmp_path: Path) -> None:
    """A 统一受案号 typed on a phone in full-width digits (３３０４…) is the same id: stored and
    compared in ASCII, it answers 200 with the existing case instead of making a second."""
    assert await _post(console, external_id="３３０４２４２０２６０００１　") == (
        201, {"code": "HY-2026-0001"})
    assert await _post(console, external_id="33042420260001") == (200, {"code": "HY-2026-0001"})
    assert await _post(console, external_id=" ３３０４２４２０２６０００１") == (
        200, {"code": "HY-2026-0001"})
    r = await console.client.get("/api/v1/cases/HY-2026-0001", headers=AUTH)
    assert (await r.json())["external_id"] == "33042420260001"
    # the import: a full-width id is the existing one, skipped
    f = tmp_path / "cases.csv"
    f.write_text("title,stage,police_unit,prosecutor,investigators,investigation_deadline,"
                 f"custody_deadline,external_id\n甲案,审查逮捕,ps-hc-xd,{PROSECUTOR},"
                 "p-investigator-1,,,３３０４２４２０２６０００１\n", encoding="utf-8")
    result = await import_cases(console.app.settings, console.clock, f, lambda *p: None)
    assert result.codes == [] and result.skipped == [
        f"{f}:2: 统一受案号「33042420260001」已有案件 HY-2026-0001，跳过"]
    assert await _count(console) == 1
