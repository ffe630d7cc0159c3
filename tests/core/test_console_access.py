"""Who may use the console (no passwords, SPEC §5) and which Host names the server answers:
another machine gets 403 unless `transports.console.allow_remote`, and a request naming a
foreign host (DNS rebinding) gets 421, through the real app and its middlewares."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from bot.app import App, create_web_app
from bot.clock import ManualClock
from bot.web.session import COOKIE
from config.loader import Settings
from tests.conftest import START, Console, make_settings

REFUSED = ("控制台仅限本机访问，请求已拒绝（the console answers loopback only: "
           "transports.console.allow_remote）")


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(create_web_app(App(settings, ManualClock(START)))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def from_peer(client: TestClient[Any, Any], peer: str, method: str, path: str,
                    headers: dict[str, str] | None = None) -> web.StreamResponse:
    """The running app's answer to a request whose TCP peer is ``peer``: tests may only
    connect to loopback, so the request is built with a transport reporting that peer and
    handed to the app as aiohttp's server hands it one."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 50123) if name == "peername" else default)
    assert isinstance(client.server, TestServer)
    webapp = client.server.app
    request = make_mocked_request(method, path, headers={"Host": "127.0.0.1:8080",
                                                         **(headers or {})},
                                  app=webapp, transport=transport)
    return await webapp._handle(request)


def body(response: web.StreamResponse) -> Any:
    assert isinstance(response, web.Response) and response.text is not None
    return json.loads(response.text) if response.content_type == "application/json" \
        else response.text


async def test_the_console_answers_another_machine_403(settings: Settings) -> None:
    async with running(settings) as client:
        for method, path in (("GET", "/console/api/messages?chat=dm:p-inspector-1"),
                             ("POST", "/console/api/send"), ("POST", "/console/api/login"),
                             ("POST", "/console/api/click"), ("GET", "/console/api/users"),
                             ("POST", "/console/api/clock")):
            r = await from_peer(client, "10.0.0.5", method, path)
            assert (r.status, body(r)) == (403, {"error": REFUSED}), path
            assert COOKIE not in r.cookies
        page = await from_peer(client, "10.0.0.5", "GET", "/console")
        assert page.status == 403 and "控制台仅限本机访问" in body(page)
        # the front page does not send a visitor from elsewhere to a page that refuses them
        front = await from_peer(client, "192.168.1.20", "GET", "/")
        assert front.status == 200 and "请在钉钉中与机器人对话" in body(front)
        # a proxy on this machine relays others: its peer is loopback, its headers say so
        relayed = await from_peer(client, "127.0.0.1", "GET", "/console/api/users",
                                  {"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status == 403
        # this machine, over IPv4, IPv6 and IPv4-mapped IPv6: served
        for peer in ("127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"):
            r = await from_peer(client, peer, "GET", "/console/api/users")
            assert r.status == 200, peer
        # the web pages themselves are not the console's: they check their own session
        assert (await from_peer(client, "10.0.0.5", "GET", "/healthz")).status == 200


async def test_over_a_real_loopback_socket_the_console_and_its_login_work(
        console: Console) -> None:
    """What the demo and a card link's tap do: log in from the console page, then send."""
    r = await console.client.post("/console/api/login", json={"user": "p-inspector-1"})
    assert r.status == 200 and COOKIE in r.cookies
    sent = await console.send("p-inspector-1", "dm:p-inspector-1", "我是谁")
    assert "检务督察" in sent["messages"][0]["text"]
    assert (await console.client.get("/console")).status == 200


async def test_allow_remote_opens_the_console_to_other_machines(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, transports={"console": {
        "enabled": True, "allow_remote": True}})
    async with running(settings) as client:
        r = await from_peer(client, "10.0.0.5", "GET", "/console/api/users")
        assert r.status == 200 and "p-inspector-1" in {u["id"] for u in body(r)["users"]}
        assert (await from_peer(client, "10.0.0.5", "GET", "/console")).status == 200


async def test_a_rebound_host_name_is_refused_421(console: Console) -> None:
    """A page on rebind.evil.example whose name now points at 127.0.0.1 posts same-origin."""
    evil = {"Host": "rebind.evil.example:8341", "Origin": "http://rebind.evil.example:8341"}
    r = await console.client.post("/console/api/send", headers=evil, json={
        "user": "p-inspector-1", "chat": "dm:p-inspector-1", "text": "题库"})
    assert r.status == 421
    assert (await r.json())["error"].startswith("主机名「rebind.evil.example:8341」不是本系统的地址")
    page = await console.client.get("/console", headers={"Host": "rebind.evil.example"})
    assert page.status == 421 and "不是本系统的地址" in await page.text()
    assert await console.messages("dm:p-inspector-1") == []  # nothing was sent
    for odd in ("evil.example@127.0.0.1", "127.0.0.1.evil.example", "localhost.evil.example"):
        r = await console.client.get("/console/api/users", headers={"Host": odd})
        assert r.status == 421, odd
    # this machine's names, any port: served
    for host in ("127.0.0.1:8341", "localhost", "LOCALHOST:80", "[::1]:8080", "127.0.0.2"):
        r = await console.client.get("/console/api/users", headers={"Host": host})
        assert r.status == 200, host
    # a load balancer's probe names the instance's own address
    assert (await console.client.get("/readyz", headers={"Host": "10.0.3.7:8080"})).status == 200


async def test_the_public_url_host_and_allowed_hosts_are_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, web={"public_url": "https://casebot.example.gov.cn",
                                            "allowed_hosts": ["Casebot-Internal.lan"]})
    async with running(settings) as client:
        for host in ("casebot.example.gov.cn", "CASEBOT.example.gov.cn:443",
                     "casebot-internal.lan:8080"):
            r = await client.get("/console/api/users", headers={"Host": host})
            assert r.status == 200, host
        r = await client.get("/console/api/users", headers={"Host": "other.example.gov.cn"})
        assert r.status == 421
        # same-origin still refuses a cross-site post on an accepted host
        r = await client.post("/console/api/login", json={"user": "p-admin-1"}, headers={
            "Host": "casebot.example.gov.cn", "Origin": "https://evil.example"})
        assert r.status == 403 and COOKIE not in r.cookies


@pytest.mark.parametrize("host", ["https://proxy.lan", "proxy.lan/path", "a b", ""])
def test_allowed_hosts_holds_host_names_only(tmp_path: Path, host: str) -> None:
    from config.loader import ConfigError

    with pytest.raises(ConfigError) as e:
        make_settings(tmp_path, web={"allowed_hosts": [host]})
    assert "web.allowed_hosts" in str(e.value.errors) and "is not a host name" in str(
        e.value.errors)
