"""Every case-code command and API call, by someone who may not, is refused clearly."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tests.cases.helpers import (
    AUTH,
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    create_case,
    ded,
    evaluate,
)
from tests.cases.test_code_links import scanned_link
from tests.cases.test_new_case import login
from tests.conftest import Console


async def test_chat_refusals(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    outsider = "p-investigator-5"  # an investigator, but not on this case
    r = await console.send(outsider, f"dm:{outsider}", f"码 {code}")
    assert "您无权查看案件码" in r["messages"][0]["text"]
    r = await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", f"受理 {code}")
    assert "仅限案管部门使用" in r["messages"][0]["text"]
    r = await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", f"评分 {code}")
    assert "仅限承办检察官使用" in r["messages"][0]["text"]
    r = await console.send("p-prosecutor-2", "dm:p-prosecutor-2", f"评分 {code}")
    assert "只有本案承办检察官" in r["messages"][0]["text"]
    r = await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", "统计")
    assert "仅限承办检察官、案管部门、院领导、检察长使用" in r["messages"][0]["text"]
    # asked in the group the investigators read too, the figures go to the asker alone
    r = await console.send("p-leader-hc", "g-case-team", "统计")
    card, note = r["messages"]
    assert note["chat"] == "g-case-team" and "已私信发给您" in note["text"]
    assert card["chat"] == "dm:p-leader-hc" and card["card"]["title"] == "案件码统计"
    assert not any(m["card"] for m in await console.messages("g-case-team"))
    r = await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")
    assert "退回" in r["messages"][0]["card"]["title"]
    # a chief of another county is neither case manager nor in scope
    r = await console.send("p-chief-c02-01", "dm:p-chief-c02-01", f"码 {code}")
    assert "您无权查看" in r["messages"][0]["text"]


async def test_api_refusals_and_field_errors(console: Console) -> None:
    c = console.client
    assert (await c.get("/api/v1/score-template")).status == 401
    bad = await c.get("/api/v1/score-template", headers={"Authorization": "Bearer nope"})
    assert bad.status == 401 and "令牌" in (await bad.json())["error"]
    # a token that is not UTF-8 (raw bytes on the wire) is a wrong token, not a 500
    reader, writer = await asyncio.open_connection("127.0.0.1", c.server.port)
    writer.write(b"GET /api/v1/score-template HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 b"Authorization: Bearer \xff\xfe\r\n\r\n")
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 401"), status_line
    template = await (await c.get("/api/v1/score-template", headers=AUTH)).json()
    assert len(template["items"]) == 10
    assert sum(i["max_points"] for i in template["items"]) == 100
    assert sum(i["veto"] for i in template["items"]) == 5

    r = await c.post("/api/v1/cases", headers=AUTH, json={
        "title": "", "stage": "侦查", "police_unit": "c01-01", "prosecutor": "p-investigator-1",
        "investigators": ["p-prosecutor-1"], "custody_deadline": "2026-13-01", "extra": 1})
    assert r.status == 422
    fields = {e["field"] for e in (await r.json())["errors"]}
    assert {"extra", "title", "custody_deadline"} <= fields
    r = await c.post("/api/v1/cases", headers=AUTH, json={
        "title": "某案", "stage": "侦查", "police_unit": "c01-01", "prosecutor": "p-investigator-1",
        "investigators": ["p-prosecutor-1"]})
    fields = {e["field"] for e in (await r.json())["errors"]}
    assert fields == {"stage", "police_unit", "prosecutor", "investigators[0]"}

    code = await create_case(console)
    # `by` must be the case's prosecutor
    r = await evaluate(console, code, RED, by="p-prosecutor-2", status=403)
    assert "只有本案承办检察官" in r["error"]
    r = await evaluate(console, code, [ded("causation", 9)], status=422)
    assert r["errors"] == [{"field": "deductions[0].points", "reason": "扣分须在 1 到 8 之间"}]
    r = await evaluate(console, code, [ded("nope", 1), ded("causation", 1, problem="")],
                       vetoes=["causation"], status=422)
    assert {e["field"] for e in r["errors"]} == {"deductions[0].item", "deductions[1].problem",
                                                 "vetoes[0]"}
    # the message people read names the item, not the field path
    assert "「因果关系」请填写存在问题" in r["error"] and "第 1 条扣分：评分项不存在" in r["error"]
    assert "deductions[" not in r["error"]
    r = await evaluate(console, "HY-2026-0999", RED, status=404)
    assert "不存在" in r["error"]
    raw = await c.post(f"/api/v1/cases/{code}/evaluations", data=b"[",
                       headers={**AUTH, "Content-Type": "application/json"})
    assert raw.status == 400
    assert (await (await c.get("/api/v1/openapi.json")).json())["openapi"].startswith("3.")


async def test_score_form_only_for_the_prosecutor(console: Console) -> None:
    code = await create_case(console)
    c = console.client
    assert (await c.get(f"/cases/{code}/score")).status == 401
    await c.post("/console/api/login", json={"user": INVESTIGATORS[0]})
    assert (await c.get(f"/cases/{code}/score")).status == 403
    r = await c.post(f"/cases/{code}/score", json={"deductions": [], "vetoes": []})
    assert r.status == 403
    await c.post("/console/api/login", json={"user": PROSECUTOR})
    page = await c.get(f"/cases/{code}/score")
    assert page.status == 200 and "刑事责任能力未查清" in await page.text()
    r = await c.post(f"/cases/{code}/score", json={"deductions": [ded("causation", 3)],
                                                   "vetoes": []})
    assert r.status == 201 and (await r.json())["color"] == "green"


async def test_no_page_opens_inside_another_sites_frame(console: Console) -> None:
    """A sibling site (another port of this host) gets the session cookie sent into its frame:
    every answer, the code page with its 扫码受理 button, a refusal and the API alike, tells
    the browser not to show it framed, so no decoy can be laid over a button."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = await scanned_link(console, MANAGER, code)
    await login(console, MANAGER)
    page = await console.client.get(urlsplit(link).path)
    assert page.status == 200 and "扫码受理" in await page.text()
    refused = await console.client.get(f"/cases/{code}/score")
    api = await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)
    assert (refused.status, api.status) == (403, 200)
    for r in (page, refused, api):
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


async def test_what_a_person_was_shown_stays_out_of_the_browsers_cache(console: Console) -> None:
    """On a shared office PC the next user must not find a case in the browser's cache: the
    code page, the outline, 统计 and its CSV are never stored; the QR image keeps its own."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await login(console, PROSECUTOR)
    got = {path: await console.client.get(path) for path in (
        f"/cases/{code}/outline.docx", f"/cases/{code}/outline.md", "/stats", "/stats.csv")}
    link = await scanned_link(console, MANAGER, code)
    await login(console, MANAGER)
    got["code page"] = await console.client.get(urlsplit(link).path)
    for what, r in got.items():
        assert (what, r.status, r.headers.get("Cache-Control")) == (what, 200, "no-store")
