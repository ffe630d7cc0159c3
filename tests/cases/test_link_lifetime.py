"""A case's code link (查看详情, the QR) keeps working while the case is open, however old the
card: a v1 card still current after 30 days still opens its page and its review form. Once
the case is over (closed), an old link has expired as before and says how to get a fresh one."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from tests.cases.helpers import AUTH, INVESTIGATORS, RED, cards, create_case, evaluate
from tests.conftest import Console

INV = INVESTIGATORS[0]


async def _link(console: Console, code: str) -> str:
    card = next(m for m in cards(await console.messages(f"dm:{INV}"))
                if m["card"]["title"].startswith(f"案件码 {code}"))
    assert [a["label"] for a in card["card"]["actions"]][:2] == ["查看详情", "申请复核"]
    url: str = card["card"]["actions"][0]["url"]
    return url


async def test_an_old_current_card_opens_its_page_and_qr_while_the_case_is_open(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = await _link(console, code)
    path = urlsplit(link).path
    console.clock.advance(timedelta(days=45))
    await console.client.post("/console/api/login", json={"user": INV})
    r = await console.client.get(path)
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "链接已过期" not in html and 'id="review-form"' in html
    qr = await console.client.get(path.replace("/c/", "/qr/") + ".png")
    assert qr.status == 200 and qr.headers["Cache-Control"] != "no-store"  # not the grey one
    # pasted back into the chat: the card, without a word that the link is old
    r2 = await console.send(INV, f"dm:{INV}", link)
    assert [m["card"]["title"] for m in r2["messages"] if m["card"]] == [f"案件码 {code} · 红码 66分"]
    assert not [m for m in r2["messages"] if "已过期" in (m["text"] or "")]

    # closed: the old link has expired, and says how to get the latest card
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"status": "closed"})
    assert r.status == 200
    r = await console.client.get(path)
    assert r.status == 410 and f"请在聊天中发送「码 {code}」" in await r.text()


async def test_a_fresh_link_of_a_closed_case_opens_the_page_without_the_review_form(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = await _link(console, code)
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"status": "closed"})
    assert r.status == 200
    await console.client.post("/console/api/login", json={"user": INV})
    r = await console.client.get(urlsplit(link).path)
    assert r.status == 200
    html = await r.text()
    assert "已结案" in html and 'id="review-form"' not in html
