"""扫码分类受理 by scanning (SPEC §1: "the case manager scans or sends the code"): the 码 card a
case manager gets offers 扫码受理, and so does the code page the QR opens, each deciding exactly
as `受理 <案件码>` does; nobody else is offered it or may use it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.cases.helpers import (
    AUTH,
    GREEN,
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
    intakes,
)
from tests.conftest import Console


async def code_card(console: Console, user: str, code: str) -> dict[str, Any]:
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    return card


def labels(card: dict[str, Any]) -> list[str]:
    return [a["label"] for a in card["card"]["actions"]]


async def notices(console: Console, person: str) -> list[str]:
    return [m["card"]["title"] for m in cards(await console.messages(f"dm:{person}"))
            if m["card"]["title"].startswith("受理结果")]


async def test_the_code_card_of_a_case_manager_takes_the_case_in(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, GREEN)
    card = await code_card(console, MANAGER, code)
    assert labels(card) == ["查看详情", "扫码受理"]
    # the investigators and the prosecutor see the code, but do not take cases in
    assert "扫码受理" not in labels(await code_card(console, INVESTIGATORS[0], code))
    assert "扫码受理" not in labels(await code_card(console, PROSECUTOR, code))

    r = await console.click(MANAGER, card["id"], "case.intake")
    [done] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER}" and m["card"]
              and m["card"]["title"].startswith("受理 ")]
    assert done["card"]["title"] == f"受理 {code} · 放行"
    assert await intakes(console, code) == ["放行"]
    assert [await notices(console, inv) for inv in INVESTIGATORS] == [
        [f"受理结果 {code} · 放行"]] * 2
    [clicked] = [m for m in await console.messages(f"dm:{MANAGER}") if m["id"] == card["id"]]
    assert labels(clicked) == ["查看详情"]  # decided: the button left the card

    again = await console.click(MANAGER, card["id"], "case.intake")  # a second tap
    assert again["messages"][-1]["text"] == "您已点过「扫码受理」，无需重复操作。"
    assert await intakes(console, code) == ["放行"]
    # decided on this score: no button until a re-score asks for a new scan
    assert labels(await code_card(console, MANAGER, code)) == ["查看详情"]
    await evaluate(console, code, YELLOW)
    assert labels(await code_card(console, MANAGER, code)) == ["查看详情", "扫码受理"]


async def test_an_unscored_or_closed_case_offers_no_intake(console: Console) -> None:
    code = await create_case(console)
    assert "扫码受理" not in labels(await code_card(console, MANAGER, code))
    await evaluate(console, code, RED)
    card = await code_card(console, MANAGER, code)
    r = await console.client.patch(f"/api/v1/cases/{code}", json={"status": "closed"},
                                   headers=AUTH)
    assert r.status == 200
    assert "扫码受理" not in labels(await code_card(console, MANAGER, code))
    r2 = await console.click(MANAGER, card["id"], "case.intake")  # the card shown before
    assert r2["messages"][-1]["text"].startswith(f"该按钮已失效：「案件码 {code} · ")
    assert r2["messages"][-1]["text"].endswith("案件已结案（2026-11-02）。请以最新卡片为准。")
    assert await intakes(console, code) == []


async def page(console: Console, user: str, code: str) -> tuple[str, str]:
    """The code page (查看详情 of the 码 card) as `user` sees it, and its path."""
    card = await code_card(console, user, code)
    await console.client.post("/console/api/login", json={"user": user})
    path = urlsplit(card["card"]["actions"][0]["url"]).path
    r = await console.client.get(path)
    assert r.status == 200, await r.text()
    return await r.text(), path


async def test_scanning_the_qr_lets_the_case_manager_take_the_case_in(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    text, path = await page(console, MANAGER, code)
    assert 'id="intake-submit"' in text

    r = await console.client.post(f"{path}/intake", json={})
    assert r.status == 200, await r.text()
    message = (await r.json())["message"]
    assert message.startswith(f"受理 {code} · 退回") and "未销号扣分项" in message
    assert await intakes(console, code) == ["退回"]
    assert [await notices(console, inv) for inv in INVESTIGATORS] == [
        [f"受理结果 {code} · 退回"]] * 2
    # the answer is in the case manager's chat too, and the prosecutor is told
    assert [m["card"]["title"] for m in cards(await console.messages(f"dm:{MANAGER}"))
            if m["card"]["title"].startswith("受理 ")] == [f"受理 {code} · 退回"]
    assert any(f"{code} 已由案管李平扫码受理：退回" in (m["text"] or "")
               for m in await console.messages(f"dm:{PROSECUTOR}"))

    text, _ = await page(console, MANAGER, code)
    assert 'id="intake-submit"' not in text and "受理：退回（李平" in text
    again = await console.client.post(f"{path}/intake", json={})  # the page left open
    assert again.status == 200 and "无需重复受理" in (await again.json())["message"]
    assert await intakes(console, code) == ["退回"]


async def test_only_a_case_manager_may_take_in_from_the_page(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    for user in (INVESTIGATORS[0], PROSECUTOR):
        text, path = await page(console, user, code)
        assert 'id="intake-submit"' not in text
        r = await console.client.post(f"{path}/intake", json={})
        assert r.status == 403 and (await r.json())["error"] == "扫码受理仅限案管部门。"
    assert await intakes(console, code) == []
    _, path = await page(console, MANAGER, code)
    console.client.session.cookie_jar.clear()
    r = await console.client.post(f"{path}/intake", json={})
    assert r.status == 401
    assert await intakes(console, code) == []


async def test_the_page_is_told_which_decision_was_made(console: Console) -> None:
    """The code page labels its button by the decision in the answer (已退回, 待定 …), not 已受理
    for every answer; a scan that decides nothing carries none."""
    red, yellow, unscored = [await create_case(console) for _ in range(3)]
    await evaluate(console, red, RED)
    await evaluate(console, yellow, YELLOW)
    for code, decision in ((red, "退回"), (yellow, "待定"), (unscored, None)):
        _, path = await page(console, MANAGER, code)
        r = await console.client.post(f"{path}/intake", json={})
        assert r.status == 200, await r.text()
        assert (await r.json())["decision"] == decision
    # scanned again with the page left open: the decision already made
    _, path = await page(console, MANAGER, red)
    assert (await (await console.client.post(f"{path}/intake", json={})).json())["decision"] == "退回"
