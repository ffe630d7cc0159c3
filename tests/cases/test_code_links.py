"""A command that takes a case code takes the code-page link too: what a phone's QR scanner
gives for the 码 card (`http://host/c/<token>`), pasted after 受理, 码, 评分 or 复核. It names
its case as the bare pasted link does: a genuine link even once expired, a forged or cut one
nothing (the same answer as the bare link gets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.cases.helpers import AUTH, MANAGER, PROSECUTOR, RED, cards, create_case, evaluate, intakes
from tests.conftest import Console

BAD_LINK = ("该案件码链接无效（可能复制不完整）。知道案件码的，可直接发送「码 案件码」查看"
            "（如：码 HY-2026-0001）；也可向承办检察官索取最新案件码。")


async def scanned_link(console: Console, user: str, code: str) -> str:
    """The link the QR of `user`'s 码 card opens (查看详情 is the same URL)."""
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    link: str = card["card"]["actions"][0]["url"]
    assert link.startswith("http://127.0.0.1:") and "/c/" in link and code not in link
    return link


async def said(console: Console, user: str, text: str) -> list[dict[str, Any]]:
    """What `user` is answered in their 1:1 chat (not what goes to others)."""
    r = await console.send(user, f"dm:{user}", text)
    return [m for m in r["messages"] if m["chat"] == f"dm:{user}"]


async def test_intake_with_the_scanned_link_decides_as_with_the_code(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = await scanned_link(console, MANAGER, code)
    [m] = await said(console, MANAGER, f"受理 {link}")
    assert m["card"]["title"] == f"受理 {code} · 退回"
    assert await intakes(console, code) == ["退回"]
    # scanned again: the same answer as 受理 <案件码> gives, nothing decided twice
    [again] = await said(console, MANAGER, f"受理 {link}")
    [by_code] = await said(console, MANAGER, f"受理 {code}")
    assert again["text"] == by_code["text"] and "已于" in again["text"] and "退回" in again["text"]
    assert await intakes(console, code) == ["退回"]


async def test_code_score_and_review_take_the_link(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = await scanned_link(console, PROSECUTOR, code)
    [card] = await said(console, PROSECUTOR, f"码 {link}")
    assert card["card"]["title"] == f"案件码 {code} · 红码 66分"
    [score] = await said(console, PROSECUTOR, f"评分 {link}")
    assert score["card"]["title"] == f"评分 {code}"
    [review] = await said(console, PROSECUTOR, f"复核 {link}")
    assert review["text"] == f"{code} 没有未办结的复核申请。"


async def test_an_expired_link_still_names_its_case_and_a_forged_one_nothing(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = await scanned_link(console, MANAGER, code)
    # links of a closed case live 30 days (an open case's as long as it is open)
    await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH, json={"status": "closed"})
    console.clock.advance(timedelta(days=31))
    # 码 <link> as the bare link: the current card, after a word that the link is old
    note, card = await said(console, MANAGER, f"码 {link}")
    assert note["text"] == "该链接已过期，以下为最新案件码。"
    assert card["card"]["title"] == f"案件码 {code} · 红码 66分"
    assert card["card"]["actions"][0]["url"] != link  # with a fresh link

    forged = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")
    cut = link[:link.index(".", link.index("/c/"))]  # copied only up to the token's dot
    for text in (f"受理 {forged}", forged, f"受理 {cut}", cut):  # as the bare link gets
        [m] = await said(console, MANAGER, text)
        assert m["text"] == BAD_LINK
    assert await intakes(console, code) == []

    # reopened: the same link lives again
    await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH, json={"status": "open"})
    [m] = await said(console, MANAGER, f"受理 {link}")
    assert m["card"]["title"] == f"受理 {code} · 退回"
    assert await intakes(console, code) == ["退回"]
