"""The console messages API in a long chat (more than one answer holds), its optional
parameters, and the small HTTP details of the console: GET /, /console/, the favicon."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import App, create_web_app
from bot.clock import ManualClock
from storage import messages as msgs
from tests.cases.helpers import INVESTIGATORS, RED, cards, create_case, evaluate
from tests.conftest import START, Console, make_settings, open_console

INV = INVESTIGATORS[0]
CHAT = f"dm:{INV}"


async def fill_chat(console: Console, n: int, chat: str = CHAT) -> None:
    """``n`` stored messages in one INSERT, as if the chat had been going on for a while."""
    async with console.app.services.db() as s:
        await msgs.add_many(s, [
            msgs.new_message(chat=chat, sender="bot" if i % 2 else INV,
                             at=START + timedelta(seconds=i), text=f"旧消息 {i}")
            for i in range(1, n + 1)])
        await s.commit()


async def get(console: Console, **params: Any) -> dict[str, Any]:
    r = await console.client.get("/console/api/messages", params={"chat": CHAT, **params})
    assert r.status == 200, await r.text()
    data: dict[str, Any] = await r.json()
    return data


async def test_long_chat_latest_pages_and_updates(console: Console) -> None:
    await fill_chat(console, 560)
    code = await create_case(console)
    await evaluate(console, code, RED)
    [delivery] = cards(await console.messages(CHAT, after=560))

    # the documented contract is unchanged: id > after, oldest first, at most 500
    first = await get(console)
    assert [m["text"] for m in first["messages"][:2]] == ["旧消息 1", "旧消息 2"]
    assert len(first["messages"]) == 500 and first["more"] is True
    assert "updated" not in first

    # latest: the newest messages, still oldest first, and whether older ones exist
    latest = await get(console, latest=1, limit=50)
    ids = [m["id"] for m in latest["messages"]]
    assert ids == sorted(ids) and len(ids) == 50 and latest["more"] is True
    assert latest["messages"][-1]["id"] == delivery["id"]
    older = await get(console, before=ids[0], latest=1, limit=50)
    assert [m["id"] for m in older["messages"]][-1] < ids[0]
    assert len(older["messages"]) == 50 and older["more"] is True
    oldest = await get(console, before=older["messages"][0]["id"], latest=1, limit=500)
    assert oldest["messages"][0]["text"] == "旧消息 1" and oldest["more"] is False

    # polling after the newest: nothing new, and a cursor for card updates
    last = ids[-1]
    poll = await get(console, after=last, updated_after=latest["next_updated_after"],
                     updated_from=ids[0])
    assert poll["messages"] == [] and poll["updated"] == [] and poll["more"] is False

    # the card (id <= after) is updated: the next poll names it, with its new state
    console.clock.advance(timedelta(minutes=5))
    await console.click(INV, delivery["id"], "case.ack")
    poll = await get(console, after=last, updated_after=poll["next_updated_after"],
                     updated_from=ids[0])
    [upd] = poll["updated"]
    assert upd["id"] == delivery["id"] and "已知悉" in upd["card"]["footer"]
    assert upd["updated_at"] >= poll["next_updated_after"]
    # messages that came with the click are new messages (id > after)
    assert all(m["id"] > last for m in poll["messages"])
    # an update outside the window the reader holds is not scanned for
    assert (await get(console, after=last, updated_after=poll["next_updated_after"],
                      updated_from=delivery["id"] + 1))["updated"] == []

    # a poll that finds more new messages than its limit says so
    burst = await get(console, after=ids[0], limit=10)
    assert len(burst["messages"]) == 10 and burst["more"] is True


async def test_bad_paging_parameters_are_400(console: Console) -> None:
    for params, field in [({"after": "x"}, "after"), ({"after": "-1"}, "after"),
                          ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"),
                          ({"before": "0"}, "before"), ({"latest": "yes"}, "latest"),
                          ({"updated_after": "yesterday"}, "updated_after"),
                          ({"updated_after": "2026-11-02T01:30:00"}, "updated_after"),
                          ({"updated_from": "-3"}, "updated_from")]:
        r = await console.client.get("/console/api/messages", params={"chat": CHAT, **params})
        assert r.status == 400, (params, await r.text())
        assert (await r.json())["field"] == field
    # an unencoded + in a hand-typed URL reads as a space; the time still parses
    r = await console.client.get(
        f"/console/api/messages?chat={CHAT}&after=1&updated_after=2026-11-02T01:30:00+00:00")
    assert r.status == 200 and (await r.json())["updated"] == []


async def test_root_redirect_stays_on_the_host_asked(tmp_path: Path, port: int) -> None:
    """public_url names another host (localhost): GET / must not send the browser there, or
    the console's localStorage (the chosen user) and its cookies stay behind."""
    settings = make_settings(tmp_path, web={"public_url": f"http://localhost:{port}"})
    async with open_console(settings, port) as console:
        for path in ("/", "/console/"):
            r = await console.client.get(path, allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == "/console", path
        r = await console.client.get("/")
        assert r.status == 200 and r.url.host == "127.0.0.1" and r.url.path == "/console"


async def test_favicon(console: Console) -> None:
    r = await console.client.get("/favicon.ico")
    assert r.status == 200 and r.content_type == "image/svg+xml"
    assert (await r.text()).startswith("<svg")
    page = await (await console.client.get("/console")).text()
    assert '<link rel="icon" type="image/svg+xml" href="/favicon.svg">' in page


def test_app_without_console_still_has_a_favicon(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, transports={"console": {"enabled": False}})
    routes = {r.resource.canonical for r in create_web_app(App(settings, ManualClock(START))).router.routes()
              if r.resource is not None}
    assert {"/favicon.ico", "/favicon.svg"} <= routes and "/console" not in routes

