"""DingTalk's web side over real HTTP: H5 in-app login, signed action links for markdown cards,
the HTTP-mode robot callback, and the start-up error for missing credentials."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import APP_KEY, App, create_web_app
from bot.clock import SystemClock
from bot.context import unit_of_work
from bot.web.session import COOKIE
from cards.model import Button, Card
from config.loader import ConfigError
from storage import messages as msgs
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, dingtalk_settings, eventually, test_router
from tests.dingtalk.fake import CLIENT_SECRET, FakeDingTalk, opened
from tests.dingtalk.test_mentions import list_router
from tests.dingtalk.test_units import _sign


@pytest.fixture
async def web(tmp_path: Path, fake: FakeDingTalk, dt_env: None
              ) -> AsyncIterator[TestClient[Any, Any]]:
    app = App(dingtalk_settings(tmp_path, fake, http_callback=True, corp_id="dingcorp"),
              SystemClock())
    client = TestClient(TestServer(create_web_app(app)))
    await client.start_server()
    app.dispatcher.include(test_router)
    try:
        yield client
    finally:
        await client.close()


async def test_h5_page_asks_dingtalk_for_an_auth_code(web: TestClient[Any, Any]) -> None:
    r = await web.get("/dingtalk/h5", params={"next": "//evil.example/x"})
    page = await r.text()
    assert r.status == 200 and "requestAuthCode" in page and '"dingcorp"' in page
    assert 'next = "/"' in page  # no open redirect


async def test_h5_page_in_a_browser_offers_to_open_it_in_dingtalk(
        web: TestClient[Any, Any]) -> None:
    """Opened outside DingTalk (a PC browser), the login cannot run: the page offers a link
    that has the DingTalk client open the same page (in its sidebar), instead of a dead end."""
    page = await (await web.get("/dingtalk/h5", params={"next": "/stats"})).text()
    assert "在钉钉中打开" in page and 'next = "/stats"' in page
    assert '"dingtalk://dingtalkclient/page/link?url="' in page
    assert "encodeURIComponent(location.origin + next)" in page and '"&pc_slide=true"' in page


@pytest.mark.parametrize("next_", ["/\t/evil.example/x", "/\n/evil.example/x", "/\r/evil.example"])
async def test_h5_next_with_a_control_character_is_no_open_redirect(
        web: TestClient[Any, Any], next_: str) -> None:
    # the browser's URL parser drops tabs and newlines: "/\t/evil" is "//evil", another host
    page = await (await web.get("/dingtalk/h5", params={"next": next_})).text()
    assert 'next = "/"' in page


async def test_h5_next_cannot_close_the_script(web: TestClient[Any, Any]) -> None:
    r = await web.get("/dingtalk/h5",
                      params={"next": "/x</script><script>alert(document.domain)</script>"})
    page = await r.text()
    assert r.status == 200 and "<script>alert" not in page
    assert page.count("</script>") == 2  # the JSAPI's and the page's own


async def test_h5_login_sets_the_session_cookie(web: TestClient[Any, Any],
                                                fake: FakeDingTalk) -> None:
    fake.auth_codes["code-ok"] = PROSECUTOR[1]
    fake.auth_codes["code-stranger"] = "dt-stranger"
    r = await web.post("/dingtalk/h5/login", json={"code": "code-ok"})
    assert r.status == 200 and (await r.json()) == {"user": PROSECUTOR[0]}
    assert COOKIE in r.cookies
    r = await web.post("/dingtalk/h5/login", json={"code": "code-stranger"})
    assert r.status == 403 and "尚未在本系统登记" in (await r.json())["error"]
    r = await web.post("/dingtalk/h5/login", json={"code": "code-bad"})
    assert r.status == 401
    r = await web.post("/dingtalk/h5/login", json={})
    assert r.status == 400


async def test_action_link_needs_login_then_clicks_the_card(web: TestClient[Any, Any],
                                                            fake: FakeDingTalk) -> None:
    await eventually(lambda: fake.ws is not None, what="connect")
    fake.send_message("卡片 5", staff_id=PROSECUTOR[1])
    [sent] = await eventually(lambda: fake.sent, what="the action card")
    link = urlparse(opened(json.loads(sent.body["msgParam"])["actionURL1"]))
    path = f"{link.path}?{link.query}"
    r = await web.get(path, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/dingtalk/h5?next=")
    fake.auth_codes["c1"] = PROSECUTOR[1]
    assert (await web.post("/dingtalk/h5/login", json={"code": "c1"})).status == 200
    # opening the link (a tap, a prefetch) only asks: the action and the card it is on, and
    # a button that POSTs the same link; nothing is done nor sent
    r = await web.get(path)
    page = await r.text()
    assert r.status == 200 and "确定要对「测试卡片」执行「确认」吗？" in page
    assert '<form method="post"' in page and "确认确认" in page
    services = web.app[APP_KEY].services
    payload = services.signer.genuine("dtact", parse_qs(link.query)["t"][0])
    async with services.db() as session:
        msg = await msgs.get_message(session, payload["m"])
    card = msgs.message_card(msg) if msg is not None else None
    assert card is not None and card.body == "内容 5" and len(fake.sent) == 1
    r = await web.post(path)
    assert r.status == 200
    # the handler replaced the card: without a template, the new state is sent again (without
    # buttons it is markdown, so through the sessionWebhook while that is valid)
    await eventually(lambda: any("已确认 by" in json.dumps(s.body, ensure_ascii=False)
                                 for s in fake.sent), what="the updated card")
    r = await web.post(path)  # sent again (a double tap): done already, and nothing else
    assert r.status == 200 and "您已点过「确认」，无需重复操作。" in await r.text()
    token = parse_qs(link.query)["t"][0]
    r = await web.get("/dingtalk/act", params={"t": token[:-3] + "xyz"})
    assert r.status == 403


async def test_an_expired_action_link_says_how_to_get_a_fresh_card(
        web: TestClient[Any, Any], fake: FakeDingTalk) -> None:
    """A markdown card's button links live 14 days. Opened later, the link says which command
    brings a fresh card, naming the case to a member of the card's chat only; a forged link
    says nothing of the sort."""
    services = web.app[APP_KEY].services
    async with unit_of_work(services) as out:
        case_card = await out.send_dm(PROSECUTOR[0], card=Card(
            title="案件码 HY-2026-0001 · 红码 66分", actions=(
                Button("case.open", "查看详情", url="https://example.invalid/c/x"),
                Button("case.ack", "已知悉", data={"code": "HY-2026-0001", "version": "1"}))))
        review_card = await out.send_dm(PROSECUTOR[0], card=Card(
            title="复核申请 #1 · 待处理", actions=(Button("review.accept", "同意并调整",
                                                         data={"review": "1"}),)))
    past = services.clock.now() - timedelta(days=1)  # signed 15 days ago, valid for 14

    def link(message_id: int, action: str) -> str:
        token = services.signer.sign("dtact", {"m": message_id, "a": action}, past)
        return f"/dingtalk/act?t={token}"

    old = link(case_card.id, "case.ack")
    r = await web.get(old, allow_redirects=False)  # who opens it, first
    assert r.status == 302 and r.headers["Location"].startswith("/dingtalk/h5?next=")
    fake.auth_codes["c3"] = PROSECUTOR[1]
    assert (await web.post("/dingtalk/h5/login", json={"code": "c3"})).status == 200
    r = await web.get(old)
    assert r.status == 410
    assert "链接已过期。请在聊天中发送「码 HY-2026-0001」获取最新卡片。" in await r.text()
    r = await web.get(link(review_card.id, "review.accept"))
    assert r.status == 410 and "链接已过期。请在聊天中发送「待办」获取最新卡片。" in await r.text()
    # the same link opened by someone outside that chat: how to go on, not which case
    fake.auth_codes["c4"] = "dt-0135"  # p-investigator-1
    assert (await web.post("/dingtalk/h5/login", json={"code": "c4"})).status == 200
    r = await web.get(old)
    page = await r.text()
    assert r.status == 410 and "链接已过期。请在聊天中的最新卡片上操作" in page
    assert "HY-2026-0001" not in page
    # forged: refused, nothing named, whoever opens it
    token = parse_qs(urlparse(old).query)["t"][0]
    r = await web.get("/dingtalk/act", params={"t": token[:-3] + "xyz"})
    page = await r.text()
    assert r.status == 403 and "链接无效或已过期。" in page and "HY-2026-0001" not in page


async def test_an_answer_to_a_link_click_in_a_group_names_the_clicker(
        web: TestClient[Any, Any], fake: FakeDingTalk) -> None:
    """Without a template a button is a link; the answer in the group names who clicked it,
    as the answer to a template card's click does."""
    app = web.app[APP_KEY]
    app.dispatcher.include(list_router)
    await eventually(lambda: fake.ws is not None, what="connect")
    fake.send_message("点我", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the action card")
    link = urlparse(opened(json.loads(card.body["msgParam"])["singleURL"]))
    fake.auth_codes["c2"] = PROSECUTOR[1]
    assert (await web.post("/dingtalk/h5/login", json={"code": "c2"})).status == 200
    assert (await web.post(f"{link.path}?{link.query}")).status == 200
    sent = await eventually(lambda: len(fake.sent) >= 2 and fake.sent, what="the answer")
    assert (sent[1].kind, sent[1].text) == ("group", "@余斌梅 收到")


async def test_http_mode_callback_checks_the_sign(web: TestClient[Any, Any],
                                                  fake: FakeDingTalk) -> None:
    body = fake.bot_message("回声 http", staff_id=PROSECUTOR[1])
    ts = str(int(time.time() * 1000))
    r = await web.post("/dingtalk/callback", json=body,
                       headers={"timestamp": ts, "sign": _sign(ts, "wrong")})
    assert r.status == 403
    old = str(int(time.time() * 1000) - 2 * 3_600_000)
    r = await web.post("/dingtalk/callback", json=body,
                       headers={"timestamp": old, "sign": _sign(old, CLIENT_SECRET)})
    assert r.status == 403
    r = await web.post("/dingtalk/callback", json=body,
                       headers={"timestamp": ts, "sign": _sign(ts, CLIENT_SECRET)})
    assert r.status == 200
    await eventually(lambda: "回声：http" in fake.texts(), what="the reply")
    r = await web.post("/dingtalk/callback", json={"msgtype": "text"},
                       headers={"timestamp": ts, "sign": _sign(ts, CLIENT_SECRET)})
    assert r.status == 400


async def test_missing_credentials_fail_the_start(tmp_path: Path, fake: FakeDingTalk,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DINGTALK_CLIENT_ID", raising=False)
    monkeypatch.setenv("DINGTALK_CLIENT_SECRET", "x")
    app = App(dingtalk_settings(tmp_path, fake), SystemClock())
    with pytest.raises(ConfigError, match="DINGTALK_CLIENT_ID is not set"):
        await app.start()
    assert fake.opens == []


async def test_the_console_is_off_by_default_beside_dingtalk(
        tmp_path: Path, fake: FakeDingTalk, dt_env: None,
        caplog: pytest.LogCaptureFixture) -> None:
    """The console has no passwords: with DingTalk on and `console.enabled` unset, /console is
    not served and / says where to use the bot; switched on beside DingTalk, it warns at start."""
    for console in (None, True):
        app = App(dingtalk_settings(tmp_path / str(console), fake, console=console,
                                    corp_id="dingcorp"), SystemClock())
        client = TestClient(TestServer(create_web_app(app)))
        caplog.clear()
        with caplog.at_level("WARNING"):
            await client.start_server()
        try:
            index = await client.get("/", allow_redirects=False)
            warned = any("no passwords" in r.getMessage() for r in caplog.records)
            if console is None:
                assert (await client.get("/console")).status == 404 and not warned
                assert index.status == 200 and "请在钉钉中" in await index.text()
            else:
                assert (await client.get("/console")).status == 200 and warned
                assert index.status == 302 and index.headers["Location"] == "/console"
        finally:
            await client.close()


async def test_a_page_opened_from_dingtalk_signs_in_and_comes_back(
        web: TestClient[Any, Any], fake: FakeDingTalk) -> None:
    """去评分 / 统计 / 名册 opened in DingTalk without a session: the in-app login (免登), then
    the page itself, not a 401 "请先登录" page. JSON APIs keep answering 401."""
    for path in ("/stats", "/cases/HY-2026-0001/score", "/admin/roster", "/inspection"):
        r = await web.get(path, allow_redirects=False)
        to = urlparse(r.headers["Location"])
        assert r.status == 302 and to.path == "/dingtalk/h5", path
        assert parse_qs(to.query)["next"] == [path]
    assert (await web.get("/api/v1/cases/HY-2026-0001", allow_redirects=False)).status == 401
    fake.auth_codes["c2"] = PROSECUTOR[1]
    assert (await web.post("/dingtalk/h5/login", json={"code": "c2"})).status == 200
    r = await web.get("/stats", allow_redirects=False)
    assert r.status == 200 and "案件码统计" in await r.text()


async def test_an_action_link_opened_by_someone_outside_its_chat_is_forbidden(
        web: TestClient[Any, Any], fake: FakeDingTalk) -> None:
    """A form link passed on (a 1:1 card's 报告整改完成) and opened by someone else: 403 with
    the refusal, not 已完成; nothing done."""
    services = web.app[APP_KEY].services
    async with unit_of_work(services) as out:
        mine = await out.send_dm(PROSECUTOR[0], card=Card(title="整改事项 #1", actions=(
            Button("rectification.report", "报告整改完成", data={"item": "1"}),)))
    token = services.signer.sign("dtact", {"m": mine.id, "a": "rectification.report"},
                                 services.clock.now() + timedelta(days=14))
    fake.auth_codes["c5"] = "dt-0135"  # p-investigator-1
    assert (await web.post("/dingtalk/h5/login", json={"code": "c5"})).status == 200
    r = await web.get("/dingtalk/act", params={"t": token})
    page = await r.text()
    assert r.status == 403 and "您不在这张卡片所在的会话中，无法操作。" in page, page
