"""Bad input on the integration API, the web pages and chat (SPEC §7): refused with a 4xx and a
Chinese reason naming the field, never a 500, and nothing stored that breaks a later export."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from docx import Document
from sqlalchemy import update

from bot.web.openapi import OPENAPI, console_openapi
from storage.cases import CaseRow, EvaluationRow
from tests.cases.helpers import (
    AUTH,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    cards,
    create_case,
    ded,
    evaluate,
)
from tests.conftest import Console

CASE = {"title": "某案", "stage": "审查逮捕", "police_unit": "ps-hc-xd", "prosecutor": PROSECUTOR,
        "investigators": INVESTIGATORS}


async def _post(console: Console, path: str, body: Any, status: int) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    r = await console.client.post(path, data=raw, headers={
        **AUTH, "Content-Type": "application/json"})
    assert r.status == status, await r.text()
    data: dict[str, Any] = await r.json()
    return data


# -- finding 1: control and bidi characters ------------------------------------------------------

async def test_control_and_bidi_characters_are_refused_naming_the_field(console: Console) -> None:
    for title, char in (("某\u0000案", "U+0000"), ("\u202e某案\u0007", "U+202E"),
                        ("某案\n", "U+000A")):
        r = await _post(console, "/api/v1/cases", {**CASE, "title": title}, 422)
        assert r["error"] == f"输入有误：案件名称含有控制字符或不可见的格式字符（{char}），请删除后重试"
    # a title that shows nothing (zero-width and other format characters) is an empty one
    for title in ("\u200b", "\ufeff\u200c\u200d", " \u2060\u3000"):
        r = await _post(console, "/api/v1/cases", {**CASE, "title": title}, 422)
        assert r["error"] == "输入有误：案件名称必填，且不超过 200 字"
    # … while inside a title they stay: a family emoji is joined by U+200D
    r = await _post(console, "/api/v1/cases", {
        **CASE, "title": "\U0001f468\u200d\U0001f469\u200d\U0001f467某案"}, 201)
    code = await create_case(console)
    r = await evaluate(console, code, [ded("causation", 8, problem="问题\u0001\u0000")], status=422)
    assert r["error"] == ("输入有误：「因果关系」存在问题含有控制字符或不可见的格式字符（U+0001），"
                          "请删除后重试")
    # line breaks and tabs are fine where text may span lines
    await evaluate(console, code, [ded("causation", 8, requirement="一、补充鉴定\n二、\t询问医生")])
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    resp = await console.client.post(f"/cases/{code}/score", json={
        "deductions": [ded("causation", 8)], "vetoes": [], "comment": "说明\u2066"})
    assert resp.status == 422
    assert (await resp.json())["errors"] == [
        {"field": "comment", "reason": "评分说明含有控制字符或不可见的格式字符（U+2066），请删除后重试"}]


async def test_outline_docx_of_text_stored_earlier_leaves_out_what_xml_cannot_hold(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, [ded("causation", 8, problem="因果关系不明")])
    async with console.app.services.db() as session, session.begin():  # stored before the checks
        await session.execute(update(CaseRow).where(CaseRow.code == code)
                              .values(title="某\u0000案\u0007"))
        stored = [{**ded("causation", 8, problem="问题\u0001\u0000"), "points": 8}]
        await session.execute(update(EvaluationRow).where(EvaluationRow.case_code == code)
                              .values(deductions=json.dumps(stored)))
    await console.client.post("/console/api/login", json={"user": INVESTIGATORS[0]})
    r = await console.client.get(f"/cases/{code}/outline.docx")
    assert r.status == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(await r.read())).paragraphs)
    assert "案件名称：某案" in text and "存在问题：问题" in text


async def test_chat_and_form_inputs_with_control_characters_are_refused(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    [card] = cards(await console.messages(f"dm:{inv}"))
    r = await console.click(inv, card["id"], "review.file", {"items": "1", "reason": "理由\u202e"})
    assert r["messages"][-1]["text"] == \
        "「复核理由」含有控制字符或不可见的格式字符（U+202E），未处理。请删除后重新发送。"
    r = await console.send(inv, f"dm:{inv}", f"码 {code}\u0000")
    assert r["messages"][-1]["text"] == \
        "消息含有控制字符或不可见的格式字符（U+0000），未处理。请删除后重新发送。"
    # bidi marks a chat client wraps around text are invisible: dropped, the command answered
    r = await console.send(inv, f"dm:{inv}", f"\u2068码 {code}\u2069")
    assert r["messages"][-1]["card"]["title"].startswith(f"案件码 {code}")
    # the review form on the code page
    token = urlsplit(card["card"]["actions"][0]["url"]).path.split("/")[-1]
    await console.client.post("/console/api/login", json={"user": inv})
    r2 = await console.client.post(f"/c/{token}/review",
                                   json={"items": ["causation"], "reason": "理由\u0008"})
    assert r2.status == 422
    assert (await r2.json())["error"] == "复核理由含有控制字符或不可见的格式字符（U+0008），请删除后重试。"
    r = await console.click(inv, card["id"], "review.file", {"items": "1", "reason": "第一\n第二"})
    assert "复核申请 #1 已提交" in r["messages"][-1]["text"]


# -- finding 4: JSON that cannot be used ---------------------------------------------------------

async def test_deep_nesting_and_lone_surrogates_are_400_everywhere(console: Console) -> None:
    deep = '{"a":' + "[" * 50000 + "]" * 50000 + "}"
    surrogate = json.dumps({**CASE, "title": "\ud800"})  # sent as the escape "\ud800"
    for path in ("/api/v1/cases", "/console/api/send", "/console/api/login"):
        for body in (deep, surrogate):
            assert await _post(console, path, body, 400) == {"error": "请求体不是合法的 JSON"}
    chat = json.dumps({"user": INVESTIGATORS[0], "chat": f"dm:{INVESTIGATORS[0]}",
                       "text": "\ud800码"})
    assert await _post(console, "/console/api/send", chat, 400) == {"error": "请求体不是合法的 JSON"}
    # a proper surrogate pair (an emoji) is ordinary text
    await _post(console, "/api/v1/cases", json.dumps({**CASE, "title": "某案😀"}), 201)


# -- finding 11: evaluation input ----------------------------------------------------------------

async def test_comment_is_checked_and_shown_to_the_investigators(console: Console) -> None:
    code = await create_case(console)
    body = {"by": PROSECUTOR, "deductions": [ded("causation", 5)]}
    r = await _post(console, f"/api/v1/cases/{code}/evaluations", {**body, "comment": 5}, 422)
    assert r["errors"] == [{"field": "comment", "reason": "须为字符串"}]
    r = await _post(console, f"/api/v1/cases/{code}/evaluations",
                    {**body, "comment": "长" * 200_000}, 422)
    assert r["error"] == "输入有误：评分说明不能超过 1000 字"
    await _post(console, f"/api/v1/cases/{code}/evaluations",
                {**body, "comment": "请尽快补充鉴定"}, 201)
    [card] = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))
    assert card["card"]["body"].endswith("评分说明：请尽快补充鉴定")


async def test_many_deductions_are_capped_and_repeated_errors_said_once(console: Console) -> None:
    code = await create_case(console)
    small = {"item": "causation", "points": 1, "problem": "问题", "requirement": "要求"}
    r = await evaluate(console, code, [small] * 10_000, status=422)
    assert r["error"] == "输入有误：扣分最多 10 条（每个评分项一条）"
    r = await evaluate(console, code, [ded("causation", 1)] * 10, status=422)
    assert r["error"] == "输入有误：「因果关系」同一评分项只能扣分一次 等 9 处"
    assert len(r["errors"]) == 9
    r = await _post(console, "/api/v1/cases", {**CASE, "investigators": [
        f"nobody-{i}" for i in range(30)]}, 422)
    assert r["error"].count("侦查人员不存在") == 10 and r["error"].endswith(" 等 30 处")


# -- finding 12: dates and codes -----------------------------------------------------------------

async def test_dates_are_exactly_yyyy_mm_dd_within_the_window(console: Console) -> None:
    # the CSV import also reads 2026/12/31 and 2026年12月31日 (Excel's); the API is a
    # machine's contract and stays ISO
    for day in ("20261231", "2026-W52-1", "2026-1-5", "２０２６-12-31", "2026/12/31",
                "2026年12月31日"):
        r = await _post(console, "/api/v1/cases", {**CASE, "custody_deadline": day}, 422)
        assert r["error"] == "输入有误：羁押期限日期格式不对，须为 YYYY-MM-DD"
    for day in ("9999-12-31", "2000-01-01", "2020-12-31", "2032-01-01"):
        r = await _post(console, "/api/v1/cases", {**CASE, "investigation_deadline": day}, 422)
        assert r["error"] == "输入有误：侦查期限须在 2021-01-01 至 2031-12-31 之间"
    code = await create_case(console, investigation_deadline="2021-01-01",
                             custody_deadline="2031-12-31")
    resp = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                      json={"custody_deadline": "9999-12-31"})
    assert resp.status == 422
    assert (await resp.json())["error"] == "输入有误：羁押期限须在 2021-01-01 至 2031-12-31 之间"


async def test_codes_in_rest_paths_are_read_as_chat_reads_them(console: Console) -> None:
    code = await create_case(console)
    wide = code.replace("HY", "ＨＹ").replace("-", "－")
    r = await console.client.get(f"/api/v1/cases/{quote(wide)}", headers=AUTH)
    assert r.status == 200 and (await r.json())["code"] == code
    await _post(console, f"/api/v1/cases/{quote(code.lower())}/evaluations",
                {"by": PROSECUTOR, "deductions": [ded("causation", 5)]}, 201)
    await console.client.post("/console/api/login", json={"user": INVESTIGATORS[0]})
    assert (await console.client.get(f"/cases/{quote(wide)}/outline.md")).status == 200


async def test_score_form_review_request_that_is_no_id_is_a_field_error(console: Console) -> None:
    """The score form's review_request (from ?review= in the link): too big for the database,
    a digit int() does not take, or not a number at all: 422 naming the field, never a 500."""
    code = await create_case(console)
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    for bad in ("99999999999999999999999", 10**30, "\u00b2", "abc", True):
        r = await console.client.post(f"/cases/{code}/score", json={
            "deductions": [], "vetoes": [], "review_request": bad})
        assert r.status == 422, (bad, await r.text())
        assert (await r.json())["errors"] == [{"field": "review_request", "reason": "复核申请编号无效"}]
    r = await console.client.post(f"/cases/{code}/score", json={
        "deductions": [], "vetoes": [], "review_request": None})
    assert r.status == 201


async def test_a_body_over_the_limit_is_a_json_413_on_the_apis(console: Console) -> None:
    """aiohttp refused it with an English text/plain 413; the APIs answer every refusal as
    {"error": …} (SPEC §7)."""
    big = json.dumps({**CASE, "title": "某" * (3 * 1024 ** 2 // 3)}, ensure_ascii=False)
    for path, headers in (("/api/v1/cases", AUTH), ("/console/api/send", {})):
        r = await console.client.post(path, data=big, headers={
            **headers, "Content-Type": "application/json"})
        assert r.status == 413, path
        assert r.content_type == "application/json", path
        assert await r.json() == {"error": "请求体过大（上限 1 MB）"}, path
    # within the limit, the same API still answers
    assert (await _post(console, "/api/v1/cases", CASE, 201))["code"]


async def test_an_over_long_url_is_a_400_and_one_warning_line(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    """aiohttp answers 400 but logged `Error handling request` with a full LineTooLong
    traceback: any client could fill the log with them."""
    port = console.client.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /api/v1/cases/{'A' * 100_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.split()[1] == b"400", status_line
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [(r.levelname, r.exc_info) for r in server] == [("WARNING", None)], caplog.text
    line = server[0].getMessage()
    assert line.startswith("unreadable request from 127.0.0.1, answered 400: "), line
    assert len(line) < 300 and "Traceback" not in caplog.text
    # the server still answers the next request
    r = await console.client.get("/healthz")
    assert r.status == 200


async def test_a_body_that_is_not_its_content_encoding_is_a_400_without_a_traceback(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    """`Content-Encoding: gzip` over plain JSON was aiohttp's text/plain 500 and two ERROR
    tracebacks in the log."""
    for path, headers in (("/api/v1/cases", AUTH), ("/console/api/send", {})):
        r = await console.client.post(path, data=json.dumps(CASE).encode(), headers={
            **headers, "Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert r.status == 400, path
        assert await r.json() == {"error": "请求体无法读取（内容与 Content-Encoding 不符）"}, path
    assert "Traceback" not in caplog.text
    assert [r.levelname for r in caplog.records if r.name == "aiohttp.server"
            and r.levelno >= 40] == [], caplog.text
    # the same body, gzipped as it says, is read
    r = await console.client.post("/api/v1/cases", data=gzip.compress(json.dumps(CASE).encode()),
                                  headers={**AUTH, "Content-Type": "application/json",
                                           "Content-Encoding": "gzip"})
    assert r.status == 201, await r.text()


async def test_the_message_names_each_field_of_a_wrong_type_or_unknown(console: Console) -> None:
    """The summary read 「输入有误：须为人员编号数组；必填，须为字符串 等 5 处」: which fields?"""
    r = await _post(console, "/api/v1/cases", {}, 422)
    assert r["error"] == ("输入有误：侦查人员须为人员编号数组；案件名称必填，须为字符串；"
                          "阶段必填，须为字符串；侦查单位必填，须为字符串；承办检察官必填，须为字符串")
    assert r["errors"][:2] == [{"field": "investigators", "reason": "须为人员编号数组"},
                               {"field": "title", "reason": "必填，须为字符串"}]
    r = await _post(console, "/api/v1/cases", {**CASE, "titel": "某案", "external_id": 5,
                                               "custody_deadline": 20261231}, 422)
    assert r["error"] == ("输入有误：titel：未知字段；羁押期限须为 ISO 日期字符串，如 2026-12-31；"
                          "统一受案号须为字符串")
    code = await create_case(console)
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"status": "结案", "closed": True})
    assert r.status == 422
    assert (await r.json())["error"] == "输入有误：closed：未知字段；状态须为 open 或 closed"
    r = await _post(console, f"/api/v1/cases/{code}/evaluations",
                    {"by": 5, "comment": [], "deductions": {}}, 422)
    assert r["error"] == "输入有误：评分人必填，须为字符串；评分说明须为字符串；扣分须为数组"


async def test_every_operation_taking_a_body_documents_its_413(console: Console) -> None:
    """The OpenAPI documents listed no 413, which each of these answers to a body over 1 MB."""
    big = json.dumps({"title": "某" * (3 * 1024 ** 2 // 3)}, ensure_ascii=False)
    code = await create_case(console)
    for doc in (OPENAPI, console_openapi()):
        for path, ops in doc["paths"].items():
            if not path.startswith(("/api/", "/console/api/")):
                continue
            for method, op in ops.items():
                if "requestBody" not in op:
                    continue
                r = await console.client.request(
                    method, path.replace("{code}", code), data=big,
                    headers={**AUTH, "Content-Type": "application/json"})
                assert r.status == 413, (method, path)
                assert "413" in op["responses"], (method, path)


async def test_a_missing_case_is_named_shortly(console: Console) -> None:
    """A 404 repeated the whole path segment, thousands of characters or a NUL."""
    for method in ("GET", "PATCH"):
        r = await console.client.request(method, "/api/v1/cases/" + "A" * 5000, headers=AUTH,
                                         json={"status": "closed"})
        assert r.status == 404
        assert await r.json() == {"error": f"案件 {'A' * 40}… 不存在", "field": "code"}
    r = await _post(console, "/api/v1/cases/HY%00-1/evaluations", {"by": PROSECUTOR}, 404)
    assert r == {"error": "案件 HY?-1 不存在", "field": "code"}
    r = await console.client.get("/api/v1/cases/HY-2026-0404", headers=AUTH)
    assert await r.json() == {"error": "案件 HY-2026-0404 不存在", "field": "code"}
