"""Every console API call (SPEC §5), with good and bad input."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App, create_web_app
from bot.clock import ManualClock
from bot.demo import seed_demo
from bot.transports import console as console_transport
from config.loader import Settings
from tests.conftest import START, Console, make_settings


async def test_send_help_and_whoami(console: Console) -> None:
    r = await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "帮助")
    [m] = r["messages"]
    assert m["chat"] == "dm:p-prosecutor-1" and m["card"] is None
    assert "帮助" in m["text"] and "我是谁" in m["text"]
    assert set(m) >= {"id", "chat", "at", "text", "card"}
    r = await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "whoami")
    [m] = r["messages"]
    assert "承办检察官" in m["text"] and "示范市海澄县人民检察院" in m["text"]


async def test_messages_lists_both_sides_after_id(console: Console) -> None:
    await console.send("p-prosecutor-1", "g-case-team", "我是谁")
    log = await console.messages("g-case-team")
    assert [m["from"] for m in log] == ["p-prosecutor-1", "bot"]
    assert await console.messages("g-case-team", after=log[-1]["id"]) == []
    assert [m["id"] for m in await console.messages("g-case-team", after=log[0]["id"])] == [
        log[1]["id"]]


async def test_users_and_chats(console: Console) -> None:
    users = (await (await console.client.get("/console/api/users")).json())["users"]
    assert {"id", "name", "unit", "roles"} <= set(users[0])
    roles = {r for u in users for r in u["roles"]}
    assert "inspector" in roles and "investigator" in roles
    chats = (await (await console.client.get("/console/api/chats")).json())["chats"]
    ids = {c["id"] for c in chats}
    assert {"g-inspection", "g-case-team"} <= ids
    assert all({"id", "title", "members"} <= set(c) for c in chats)


async def test_malformed_json_is_400(console: Console) -> None:
    for path in ("/console/api/send", "/console/api/click", "/console/api/clock"):
        r = await console.client.post(path, data=b"{not json",
                                      headers={"Content-Type": "application/json"})
        assert r.status == 400
        assert "JSON" in (await r.json())["error"]


async def test_bad_fields_are_400_with_reason(console: Console) -> None:
    cases = [
        ({"user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1"}, "text"),
        ({"user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": 5}, "text"),
        ({"user": "p-prosecutor-1", "chat": "g-nowhere", "text": "帮助"}, "chat"),
        ({"user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1", "text": "x" * 2001}, "text"),
    ]
    for body, field in cases:
        r = await console.client.post("/console/api/send", json=body)
        assert r.status == 400, body
        data = await r.json()
        assert data["field"] == field and data["error"]
    r = await console.client.post("/console/api/click", json={
        "user": "p-prosecutor-1", "message_id": "one", "action": "x"})
    assert r.status == 400 and (await r.json())["field"] == "message_id"
    r = await console.client.get("/console/api/messages")
    assert r.status == 400
    r = await console.client.get("/console/api/messages", params={"chat": "g-x", "after": "z"})
    assert r.status == 400


async def test_unknown_user_is_403(console: Console) -> None:
    r = await console.client.post("/console/api/send",
                                  json={"user": "mallory", "chat": "dm:mallory", "text": "帮助"})
    assert r.status == 403
    assert "mallory" in (await r.json())["error"]
    r = await console.client.post("/console/api/click",
                                  json={"user": "mallory", "message_id": 1, "action": "x"})
    assert r.status == 403


async def test_posting_in_someone_elses_chat_is_403(console: Console) -> None:
    r = await console.client.post("/console/api/send", json={
        "user": "p-investigator-1", "chat": "dm:p-prosecutor-1", "text": "帮助"})
    assert r.status == 403
    r = await console.client.post("/console/api/send", json={
        "user": "p-investigator-1", "chat": "g-inspection", "text": "帮助"})
    assert r.status == 403


async def test_click_on_unknown_message_and_stale_button(console: Console) -> None:
    r = await console.client.post("/console/api/click", json={
        "user": "p-prosecutor-1", "message_id": 99999, "action": "x"})
    assert r.status == 404
    sent = await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "帮助")
    reply_id = sent["messages"][0]["id"]
    r = await console.click("p-prosecutor-1", reply_id, "case.ack")
    assert "找不到这张卡片" in r["messages"][0]["text"]


async def test_event_id_redelivery_is_ignored(console: Console) -> None:
    a = await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "帮助", event_id="ev-7")
    b = await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "帮助", event_id="ev-7")
    assert a["status"] == "handled" and len(a["messages"]) == 1
    assert b["status"] == "duplicate" and b["messages"] == []
    assert len(await console.messages("dm:p-prosecutor-1")) == 2


async def test_clock_advances(console: Console) -> None:
    before = console.clock.now()
    r = await console.advance("8d")
    assert r["now"] == (before + timedelta(days=8)).isoformat()
    bad = await console.client.post("/console/api/clock", json={"advance": "3d1h"})
    body = await bad.json()
    assert bad.status == 400 and body["field"] == "advance"
    # said in Chinese, like every other refusal
    assert body["error"] == ("advance「3d1h」无效：应为一个数字加单位 s、m、h 或 d（秒、分、时、天），"
                             "如 8d、90m")


async def test_an_advance_over_400_days_is_refused(console: Console) -> None:
    """99999d kept a demo busy for hours (and deaf to SIGTERM): refused, naming the limit."""
    before = console.clock.now()
    for advance in ("401d", "99999d", "9601h"):
        r = await console.client.post("/console/api/clock", json={"advance": advance})
        assert r.status == 400, advance
        assert await r.json() == {"error": f"advance「{advance}」过大：一次最多前进 400 天",
                                  "field": "advance"}
    assert console.clock.now() == before
    r = await console.advance("400d")
    assert r["now"] == (before + timedelta(days=400)).isoformat()


async def test_a_shutdown_ends_a_long_advance_at_its_next_stop(
        settings: Settings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """SIGTERM during a long advance on the demo: the server's shutdown (what run_app does on
    SIGTERM) waited up to 60 s for the advance, which ran on for hours. It now ends at its next
    stop, the request is answered 503, and the bot stops at once."""
    monkeypatch.setattr(console_transport, "MAX_ADVANCE", timedelta(days=100_000))
    caplog.set_level(logging.INFO, logger="bot.app")
    clock = ManualClock(START)
    app = App(settings, clock)
    app.seeders.append(seed_demo)  # its cases have reminders: the advance stops at each
    client = TestClient(TestServer(create_web_app(app)))
    await client.start_server()
    try:
        request = asyncio.create_task(client.post("/console/api/clock",
                                                  json={"advance": "99999d"}))
        while clock.now() < START + timedelta(days=3):  # the advance is under way
            assert not request.done(), await request
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await client.server.close()
        assert time.monotonic() - started < 10
        r = await request
        assert r.status == 503
        assert (await r.json())["error"].startswith("服务正在停止：测试时钟停在 ")
        assert clock.now() < START + timedelta(days=100)
    finally:
        await client.close()
    assert "casebot stopped" in caplog.text


async def test_clock_endpoint_absent_without_test_clock(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, transports={"console": {"enabled": True,
                                                               "test_clock": False}})
    client = TestClient(TestServer(create_web_app(App(settings, ManualClock(START)))))
    await client.start_server()
    try:
        r = await client.post("/console/api/clock", json={"advance": "1d"})
        assert r.status in (404, 405) and "不存在" in (await r.json())["error"]
        page = await client.get("/no/such/page")
        assert page.status == 404 and "页面不存在" in await page.text()
        assert (await client.get("/healthz")).status == 200
        page = await client.get("/console")
        assert page.status == 200 and "casebot 控制台" in await page.text()
    finally:
        await client.close()


async def test_login_sets_a_signed_session_cookie(console: Console) -> None:
    from bot.web.session import COOKIE

    r = await console.client.post("/console/api/login", json={"user": "p-investigator-1"})
    assert r.status == 200
    token = r.cookies[COOKIE].value
    signer = console.app.services.signer
    assert signer.verify("session", token, console.clock.now())["p"] == "p-investigator-1"
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert signer.verify("session", forged, console.clock.now()) is None
    bad = await console.client.post("/console/api/login", json={"user": "mallory"})
    assert bad.status == 403


async def test_session_cookie_is_secure_when_the_bot_is_served_over_https(
        tmp_path: Path) -> None:
    """Behind https (TLS ended at a proxy), the session cookie is never sent over plain http:
    a network attacker who makes the browser load http://<host>/ would read it otherwise."""
    from bot.web.session import COOKIE

    for public_url, secure in (("https://casebot.example.gov.cn", True),
                               ("http://127.0.0.1:8080", False)):
        settings = make_settings(tmp_path / public_url[:5], web={"public_url": public_url})
        client = TestClient(TestServer(create_web_app(App(settings, ManualClock(START)))))
        await client.start_server()
        try:
            r = await client.post("/console/api/login", json={"user": "p-investigator-1"})
            assert r.status == 200
            [cookie] = [c for c in r.headers.getall("Set-Cookie") if c.startswith(COOKIE + "=")]
            flags = {f.strip().split("=")[0].lower() for f in cookie.split(";")[1:]}
            assert {"httponly", "samesite", "path"} <= flags
            assert ("secure" in flags) is secure, cookie
        finally:
            await client.close()


async def test_group_chatter_is_kept_but_not_answered_unless_addressed(console: Console) -> None:
    r = await console.send("p-prosecutor-1", "g-case-team", "大家好，下午三点开会")
    assert r["status"] == "handled" and r["messages"] == []
    logged = await console.messages("g-case-team")
    assert [m["text"] for m in logged] == ["大家好，下午三点开会"]  # stored, like every message
    r = await console.send("p-prosecutor-1", "g-case-team", "@casebot 大家好")
    assert "未知命令" in r["messages"][0]["text"]
    # talking to a colleague is chatter too; the bot is addressed however a phone types it
    r = await console.send("p-prosecutor-1", "g-case-team", "@张三 你好")
    assert r["messages"] == []
    r = await console.send("p-prosecutor-1", "g-case-team", "＠casebot 我是谁")
    assert "单位：" in r["messages"][0]["text"]
    r = await console.send("p-prosecutor-1", "g-case-team", "@casebot我是谁")
    assert r["messages"] and "未知命令" not in r["messages"][0]["text"]
    r = await console.send("p-prosecutor-1", "g-case-team", "@casebot")
    assert r["messages"][0]["text"].startswith("您好，请在 @ 后输入命令")
    # the bot among several mentions, as DingTalk's @ list has it
    r = await console.send("p-prosecutor-1", "g-case-team", "@张三 ＠casebot @李四 我是谁")
    assert "单位：" in r["messages"][0]["text"]
    r = await console.send("p-prosecutor-1", "g-case-team", "@张三 @李四 你好")
    assert r["messages"] == []  # chatter addressed to colleagues
    r = await console.send("p-prosecutor-1", "g-case-team", "@casebot @张三 @李四")
    assert r["messages"][0]["text"].startswith("您好，请在 @ 后输入命令")
    r = await console.send("p-prosecutor-1", "dm:p-prosecutor-1", "大家好")
    assert "未知命令" in r["messages"][0]["text"]


async def test_a_group_message_is_for_the_bot_as_the_console_answers_it(
        console: Console) -> None:
    """The rule DingTalk uses for a group not in the roster (本群尚未登记 only for what is for
    the bot) is the console's in a group: a command word without the @ is answered, anything
    else without it is people talking. A group not in the roster cannot be posted to from the
    console at all: refused by the API, nothing stored, no answer in any chat."""
    dispatcher = console.app.dispatcher
    for text in ("帮助", "我是谁", "码 HY-2026-0001", "大家好，下午三点开会", "好的", "1"):
        r = await console.send("p-prosecutor-1", "g-case-team", text)
        assert bool(r["messages"]) == dispatcher.for_the_bot(text), text
    assert dispatcher.for_the_bot("帮助") and not dispatcher.for_the_bot("大家好")
    r = await console.client.post("/console/api/send", json={
        "user": "p-prosecutor-1", "chat": "g-nowhere", "text": "大家好"})
    assert r.status == 400 and "未知会话 g-nowhere" in await r.text()
    assert await console.messages("g-nowhere") == []


async def test_whoami_shows_a_police_officer_as_police(console: Console) -> None:
    r = await console.send("p-investigator-1", "dm:p-investigator-1", "我是谁")
    text = r["messages"][0]["text"]
    assert "单位：示范市海澄县公安局刑事侦查大队（对口检察院：" in text
    assert "人民检察院 / " not in text  # not placed inside the procuratorate hierarchy


async def test_the_user_picker_puts_the_tour_roles_first_and_the_chiefs_last(
        console: Console) -> None:
    """139 demo people in roster order put the README tour's investigator at entry 135, after
    122 chiefs: the picker groups them by role, 侦查人员 first and 检察长 last."""
    html = await (await console.client.get("/console")).text()
    groups = re.findall(r'<optgroup label="([^（"]+)（(\d+)）">', html)
    assert [g for g, _ in groups] == ["侦查人员", "承办检察官", "案管部门", "院领导", "检务督察",
                                      "管理员", "检察长"]
    assert sum(int(n) for _, n in groups) == len(console.app.services.directory.org.people)
    options = re.findall(r'<option value="([^"]+)"', html)
    assert options.index("p-investigator-1") < 10
    assert options.index("p-inspector-1") < options.index("p-chief-c01")
