"""A 黄码待定 chosen (延期受理 / 先收后补) on one card or typed: every other card of the case
that still offered the choice to the prosecutor (the 码 cards they asked for, the 受理待定
card) is redrawn with the decision and without the buttons, as closing redraws them. So is
every such card when the choice goes moot: re-scored (out of yellow, or yellow again: the case
is scanned again), or closed (and reopened, the choice comes back)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cases.helpers import (
    GREEN,
    MANAGER,
    PROSECUTOR,
    YELLOW,
    cards,
    create_case,
    evaluate,
    intakes,
)
from tests.cases.test_intake import asked, set_status
from tests.conftest import Console

GROUP = "g-case-team"  # the prosecutor is a member
CHOICE_LABELS = {"延期受理", "先收后补"}


async def code_card(console: Console, chat: str, code: str) -> dict[str, Any]:
    """The prosecutor asks `码 <code>` in `chat`; the card they get."""
    [card] = cards((await console.send(PROSECUTOR, chat, f"码 {code}"))["messages"])
    return card


async def now(console: Console, chat: str, message_id: int) -> dict[str, Any]:
    """A card as the console shows it now."""
    [m] = [m for m in await console.messages(chat) if m["id"] == message_id]
    card: dict[str, Any] = m["card"]
    return card


def labels(card: dict[str, Any]) -> set[str]:
    return {a["label"] for a in card["actions"]}


async def waiting_case(console: Console) -> tuple[str, list[tuple[str, int]]]:
    """A yellow case scanned (待定) and three 码 cards the prosecutor asked for, each offering
    the choice: two in their 1:1 chat, one asked in a group (which has outsiders: it comes
    to their 1:1 chat too), each with the chat it is in."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    shown = [(chat, await code_card(console, chat, code))
             for chat in (f"dm:{PROSECUTOR}", f"dm:{PROSECUTOR}", GROUP)]
    for _, card in shown:
        assert CHOICE_LABELS <= labels(card["card"])
    return code, [(card["chat"], card["id"]) for _, card in shown]


@pytest.mark.parametrize("typed", [False, True], ids=["button", "typed"])
async def test_the_choice_redraws_every_other_code_card(console: Console, typed: bool) -> None:
    code, shown = await waiting_case(console)
    dm = f"dm:{PROSECUTOR}"
    poll = await console.client.get("/console/api/messages", params={"chat": dm, "latest": 1})
    cursor = (await poll.json())["next_updated_after"]
    if typed:
        await console.send(PROSECUTOR, dm, f"先收后补 {code}")
    else:
        await console.click(PROSECUTOR, shown[0][1], "intake.receive")
    assert await intakes(console, code) == ["待定", "先收后补"]
    for chat, message_id in shown:
        card = await now(console, chat, message_id)
        assert not CHOICE_LABELS & labels(card), (chat, card)
        assert "查看详情" in labels(card) and "去评分" in labels(card)  # what stays offered
        assert card["footer"].startswith("已决定：先收后补（"), card
        [line] = [x for x in card["body"].split("\n") if x.startswith("受理：")]
        assert line.startswith("受理：先收后补（") and "待定" not in line
    # the web chat's poll names the redrawn cards, with their new state
    r = await console.client.get("/console/api/messages", params={
        "chat": dm, "after": shown[1][1], "updated_after": cursor,
        "updated_from": shown[0][1]})
    updated = {m["id"]: m["card"] for m in (await r.json())["updated"]}
    for _, message_id in shown[:2]:
        assert not CHOICE_LABELS & labels(updated[message_id])


async def refused(console: Console, code: str, message_id: int, footer: str) -> None:
    """A tap on 先收后补 as the card showed it before its redraw decides nothing and says why."""
    r = await console.click(PROSECUTOR, message_id, "intake.receive")
    assert r["messages"][-1]["text"] == (
        f"该按钮已失效：「案件码 {code} · 黄码 85分」{footer}。请以最新卡片为准。")
    assert await intakes(console, code) == ["待定"]


async def offered_no_more(console: Console, shown: list[tuple[str, int]], footer: str) -> None:
    """Each of these cards, redrawn after a re-score made the choice moot: without 延期受理 /
    先收后补, footed why, its 受理 line saying the case must be scanned again."""
    for chat, message_id in shown:
        card = await now(console, chat, message_id)
        assert labels(card) == {"查看详情", "去评分"} and card["footer"] == footer, (chat, card)
        [line] = [x for x in card["body"].split("\n") if x.startswith("受理：")]
        assert line.startswith("受理：待定（") and line.endswith("；此后已重新评分，需重新扫码受理")


async def test_a_rescore_out_of_yellow_redraws_every_card_offering_the_choice(
        console: Console) -> None:
    """Re-scored green before the prosecutor chose: the choice is moot, the case must be
    scanned again; every 码 card still offering it says so, and keeps what stays offered."""
    code, shown = await waiting_case(console)
    await evaluate(console, code, GREEN)
    footer = "已转为绿码 95分，不再待定，待案管部门重新扫码受理"
    await offered_no_more(console, shown, footer)
    await refused(console, code, shown[0][1], footer)


@pytest.mark.parametrize("typed", [False, True], ids=["button", "typed"])
async def test_a_rescore_yellow_again_moots_the_choice_until_scanned_again(
        console: Console, typed: bool) -> None:
    """Re-scored yellow again (90) before the prosecutor chose: the 待定 was on the earlier
    score, and the case must be scanned again (as a fresh 码 says), so the choice is moot as
    when re-scored green: the cards drop it, the case manager is told once, a choice tapped on
    an old card or typed decides nothing and says why. Scanned again, the new 待定 asks."""
    code, shown = await waiting_case(console)
    dm = f"dm:{PROSECUTOR}"
    [prompt] = [m for m in await asked(console, code) if m["card"]["actions"]]
    await evaluate(console, code, YELLOW[:1])  # 90, yellow again
    footer = "已重新评分为黄码 90分，不再待定，待案管部门重新扫码受理"
    await offered_no_more(console, shown, footer)
    card = await now(console, dm, prompt["id"])
    assert card["actions"] == [] and card["footer"] == footer
    [waiting] = [m for m in cards(await console.messages(f"dm:{MANAGER}"))
                 if m["card"]["title"] == f"受理 {code} · 待定"]
    assert waiting["card"]["footer"] == "已重新评分为黄码 90分，不再待定，请重新扫码受理"
    moot = f"{code} 已重新评分为黄码 90分，不再待定，无需等待承办检察官选择，请重新扫码受理。"
    manager_texts = [m["text"] for m in await console.messages(f"dm:{MANAGER}") if m["text"]]
    assert manager_texts.count(moot) == 1

    if typed:
        r = await console.send(PROSECUTOR, dm, f"先收后补 {code}")
        assert [m["text"] for m in r["messages"]] == [
            f"{code} 已重新评分为黄码 90分，原待定不再有效；请案管部门重新扫码受理后再选择。"]
    else:
        await refused(console, code, shown[0][1], footer)
    assert await intakes(console, code) == ["待定"]
    assert [m["text"] for m in await console.messages(f"dm:{MANAGER}") if m["text"]
            ] == manager_texts  # told once

    # scanned again: the new 待定 asks, on the 码 card too, and the choice decides
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert CHOICE_LABELS <= labels((await code_card(console, dm, code))["card"])
    r = await console.send(PROSECUTOR, dm, f"先收后补 {code}")
    assert [m["text"] for m in r["messages"] if m["chat"] == dm and m["text"]] == [
        f"{code} 已决定：先收后补。"]
    assert await intakes(console, code) == ["待定", "待定", "先收后补"]


async def test_closing_while_waiting_redraws_the_code_cards_and_reopening_asks_again(
        console: Console) -> None:
    """Closed while 待定: no 码 card offers the choice (案件已结案); reopened, the same cards
    offer it again and a tap on one decides."""
    code, shown = await waiting_case(console)
    await set_status(console, code, "closed")
    footer = "案件已结案（2026-11-02）"
    for chat, message_id in shown:
        card = await now(console, chat, message_id)
        assert labels(card) == {"查看详情"} and card["footer"] == footer, (chat, card)
    await refused(console, code, shown[0][1], footer)

    await set_status(console, code, "open")
    for chat, message_id in shown:
        card = await now(console, chat, message_id)
        assert labels(card) == {"查看详情", "去评分"} | CHOICE_LABELS and card["footer"] is None
    await console.click(PROSECUTOR, shown[1][1], "intake.defer")
    assert await intakes(console, code) == ["待定", "延期受理"]
