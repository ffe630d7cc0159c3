"""A case's stage (阶段): taking it in (放行, or 先收后补 chosen by the prosecutor) moves it to
审查起诉, with an audit record; 延期受理 and 退回 do not; once taken in it stays there. The
case-management system moves it forward only (PATCH /api/v1/cases/{code})."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from storage.models import AuditRecord
from tests.cases.helpers import AUTH, GREEN, PROSECUTOR, RED, YELLOW, cards, create_case, evaluate
from tests.conftest import Console

MANAGER = "p-case-manager-1"
INVESTIGATOR = "p-investigator-1"


async def stage_line(console: Console, user: str, code: str) -> str:
    """The 阶段 line of the 码 card `user` gets."""
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    [line] = [ln for ln in card["card"]["body"].split("\n") if ln.startswith("阶段：")]
    return line


async def page_stage(console: Console, user: str, code: str) -> str:
    """The 阶段 of the code page (查看详情 of the 码 card) as `user` sees it."""
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    await console.client.post("/console/api/login", json={"user": user})
    r = await console.client.get(urlsplit(card["card"]["actions"][0]["url"]).path)
    assert r.status == 200, await r.text()
    found = re.search(r'<dd id="stage">([^<]*)</dd>', await r.text())
    assert found is not None
    return html.unescape(found.group(1))


async def api_stage(console: Console, code: str) -> str:
    r = await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)
    assert r.status == 200
    stage: str = (await r.json())["stage"]
    return stage


async def stage_records(console: Console, code: str) -> list[tuple[str, dict[str, Any]]]:
    """(actor, data) of the case's `case.stage` audit records, oldest first."""
    async with console.app.services.db() as s:
        rows = (await s.execute(select(AuditRecord.actor, AuditRecord.data)
                                .where(AuditRecord.action == "case.stage",
                                       AuditRecord.subject == code)
                                .order_by(AuditRecord.seq))).all()
    return [(actor, json.loads(data)) for actor, data in rows]


async def take_in(console: Console, code: str) -> str:
    """受理 <code> by the case manager: the title of the card they get."""
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    [card] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER}" and m["card"]]
    title: str = card["card"]["title"]
    return title


async def patch(console: Console, code: str, body: dict[str, Any], status: int = 200
                ) -> dict[str, Any]:
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH, json=body)
    assert r.status == status, await r.text()
    data: dict[str, Any] = await r.json()
    return data


async def test_a_green_case_taken_in_moves_to_prosecution_review(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, GREEN)
    assert await stage_line(console, INVESTIGATOR, code) == "阶段：审查逮捕"
    # 00:30 on 3 November in Asia/Shanghai, still 2 November in UTC: the day is the local one
    await console.advance("15h")
    assert await take_in(console, code) == f"受理 {code} · 放行"
    assert await api_stage(console, code) == "审查起诉"
    assert await stage_line(console, INVESTIGATOR, code) == "阶段：审查起诉（2026-11-03 受理）"
    assert await page_stage(console, INVESTIGATOR, code) == "审查起诉（2026-11-03 受理）"
    assert await stage_records(console, code) == [(MANAGER, {
        "from": "审查逮捕", "to": "审查起诉", "via": "intake", "decision": "放行", "version": 1})]


async def test_a_yellow_case_moves_when_the_prosecutor_chooses_to_take_it_in(
        console: Console) -> None:
    code = await create_case(console, stage="提前介入")
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert await api_stage(console, code) == "提前介入"  # 待定: not taken in yet
    assert await stage_records(console, code) == []
    pending = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1]
    await console.advance("1d")
    await console.click(PROSECUTOR, pending["id"], "intake.receive")
    assert await api_stage(console, code) == "审查起诉"
    assert await stage_line(console, PROSECUTOR, code) == "阶段：审查起诉（2026-11-03 受理）"
    assert await stage_records(console, code) == [(PROSECUTOR, {
        "from": "提前介入", "to": "审查起诉", "via": "intake", "decision": "先收后补",
        "version": 1})]


async def test_deferred_and_returned_cases_keep_their_stage(console: Console) -> None:
    deferred = await create_case(console)
    await evaluate(console, deferred, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {deferred}")
    pending = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1]
    await console.click(PROSECUTOR, pending["id"], "intake.defer")
    returned = await create_case(console, stage="提前介入")
    await evaluate(console, returned, RED)
    assert await take_in(console, returned) == f"受理 {returned} · 退回"
    assert await api_stage(console, deferred) == "审查逮捕"
    assert await stage_line(console, INVESTIGATOR, deferred) == "阶段：审查逮捕"
    assert await api_stage(console, returned) == "提前介入"
    assert await stage_line(console, INVESTIGATOR, returned) == "阶段：提前介入"
    assert await stage_records(console, deferred) == await stage_records(console, returned) == []


async def test_a_case_taken_in_stays_in_prosecution_review(console: Console) -> None:
    """Re-scored red after 放行 and scanned again (退回 for 补充侦查), the case stays in
    审查起诉, still dated by the day it was first taken in; the system cannot move it back."""
    code = await create_case(console)
    await evaluate(console, code, GREEN)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await console.advance("2d")
    await evaluate(console, code, RED)
    assert await take_in(console, code) == f"受理 {code} · 退回"
    assert await api_stage(console, code) == "审查起诉"
    assert await stage_line(console, INVESTIGATOR, code) == "阶段：审查起诉（2026-11-02 受理）"
    refused = await patch(console, code, {"stage": "审查逮捕"}, 422)
    assert refused["errors"] == [{"field": "stage", "reason": (
        f"阶段只能向前推进（提前介入 → 审查逮捕 → 审查起诉），{code} 已在审查起诉阶段，"
        "不能改回审查逮捕")}]
    assert len(await stage_records(console, code)) == 1


async def test_the_case_management_system_moves_the_stage_forward_only(
        console: Console) -> None:
    code = await create_case(console, stage="提前介入")
    assert await patch(console, code, {"stage": "审查逮捕"}) == {"code": code, "stage": "审查逮捕"}
    assert await api_stage(console, code) == "审查逮捕"
    assert await stage_line(console, INVESTIGATOR, code) == "阶段：审查逮捕"
    await patch(console, code, {"stage": "审查逮捕"})  # sent again: nothing moves
    assert await stage_records(console, code) == [
        ("api", {"from": "提前介入", "to": "审查逮捕", "via": "api"})]

    # a step back is refused as a whole, with the reason: the deadline sent with it is not kept
    refused = await patch(console, code, {"stage": "提前介入", "custody_deadline": "2026-12-25"},
                          422)
    assert refused["error"] == ("输入有误：阶段只能向前推进（提前介入 → 审查逮捕 → 审查起诉），"
                                f"{code} 已在审查逮捕阶段，不能改回提前介入")
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert (detail["stage"], detail["custody_deadline"]) == ("审查逮捕", "2026-12-31")
    bad = await patch(console, code, {"stage": "起诉"}, 422)
    assert bad["errors"] == [{"field": "stage", "reason": "阶段须为 提前介入 / 审查逮捕 / 审查起诉 之一"}]

    await patch(console, code, {"stage": "审查起诉", "custody_deadline": "2026-12-25"})
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert (detail["stage"], detail["custody_deadline"]) == ("审查起诉", "2026-12-25")
    # moved by the system, not taken in: the stage alone
    assert await stage_line(console, INVESTIGATOR, code) == "阶段：审查起诉"
    assert [to for _, d in await stage_records(console, code) if (to := d["to"])] == [
        "审查逮捕", "审查起诉"]
