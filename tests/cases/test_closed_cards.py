"""Closing a case (结案, `PATCH /api/v1/cases/{code}` from the case-management system) leaves
no card about it offering what a closed case refuses: the investigators' code cards keep only
查看详情 and the prosecutor's and the filer's review cards lose their buttons, each footed
案件已结案（date）; the code page says 已结案 and has no review form. Reopening brings the
buttons (and the form) back on the same cards."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster import read_org_file, write_org_file
from storage import messages as msgs
from tests.cases.helpers import (
    AUTH,
    CASE_GROUP,
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    cards,
    create_case,
    evaluate,
    intakes,
    sqlite_plan,
)
from tests.conftest import START, Console

INV, INV2 = INVESTIGATORS
CLOSED = "案件已结案（2026-11-03）"  # closed a day after START


async def _card(console: Console, person: str, title_part: str) -> dict[str, Any]:
    """The latest card with `title_part` in its title in `person`'s 1:1 chat (or a group)."""
    chat = person if person.startswith("g-") else f"dm:{person}"
    return [m for m in cards(await console.messages(chat))
            if title_part in m["card"]["title"]][-1]


async def _status(console: Console, code: str, status: str) -> None:
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"status": status})
    assert r.status == 200, await r.text()


def _labels(m: dict[str, Any]) -> list[str]:
    return [a["label"] for a in m["card"]["actions"]]


async def test_closing_takes_review_and_ack_off_the_code_cards_and_reopening_gives_them_back(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    sent = await _card(console, INV2, f"案件码 {code}")
    assert _labels(sent) == ["查看详情", "申请复核", "已知悉"]
    acked = await _card(console, INV, f"案件码 {code}")
    r = await console.click(INV, acked["id"], "case.ack")
    assert r["messages"][-1]["text"] == f"已确认知悉 {code}（第1版）。"
    acked = await _card(console, INV, f"案件码 {code}")
    ack_footer = acked["card"]["footer"]
    assert ack_footer.startswith("已知悉：") and _labels(acked) == ["查看详情", "申请复核"]

    await console.advance("1d")
    await _status(console, code, "closed")

    card = await _card(console, INV2, f"案件码 {code}")
    assert card["id"] == sent["id"]  # the same card, redrawn
    assert _labels(card) == ["查看详情"] and card["card"]["footer"] == CLOSED
    assert card["card"]["body"] == sent["card"]["body"]  # what it said stays
    mine = await _card(console, INV, f"案件码 {code}")
    assert mine["id"] == acked["id"] and _labels(mine) == ["查看详情"]
    assert mine["card"]["footer"] == f"{ack_footer}；{CLOSED}"
    r = await console.click(INV2, card["id"], "review.file", {"items": "1", "reason": "有异议"})
    assert r["messages"][-1]["text"] == (
        f"该按钮已失效：「案件码 {code} · 红码 66分」{CLOSED}。请以最新卡片为准。")
    r = await console.click(INV2, card["id"], "case.ack")
    assert r["messages"][-1]["text"].startswith("该按钮已失效")

    await _status(console, code, "closed")  # sent again: the cards say the same
    again = await _card(console, INV2, f"案件码 {code}")
    assert again["card"] == card["card"]

    await _status(console, code, "open")
    card = await _card(console, INV2, f"案件码 {code}")
    assert card["id"] == sent["id"] and card["card"]["footer"] is None
    assert _labels(card) == ["查看详情", "申请复核", "已知悉"]
    mine = await _card(console, INV, f"案件码 {code}")
    assert _labels(mine) == ["查看详情", "申请复核"] and mine["card"]["footer"] == ack_footer
    r = await console.click(INV2, card["id"], "case.ack")
    assert r["messages"][-1]["text"] == f"已确认知悉 {code}（第1版）。"


async def test_closing_redraws_the_review_cards_without_buttons_until_reopened(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    delivery = await _card(console, INV, f"案件码 {code}")
    r = await console.click(INV, delivery["id"], "review.file",
                            {"items": "1", "reason": "监控已调取"})
    assert r["messages"][-1]["text"].startswith("复核申请 #1 已提交")
    decision = await _card(console, PROSECUTOR, "复核申请 #1")
    assert _labels(decision) == ["同意并调整", "驳回", "提交检警共同评议"]

    await console.advance("1d")
    await _status(console, code, "closed")

    pcard = await _card(console, PROSECUTOR, "复核申请 #1")
    assert pcard["id"] == decision["id"] and _labels(pcard) == []
    assert pcard["card"]["footer"] == CLOSED
    receipt = await _card(console, INV, "您的复核申请 #1")
    assert _labels(receipt) == [] and receipt["card"]["footer"] == CLOSED
    r = await console.click(PROSECUTOR, pcard["id"], "review.accept")
    assert r["messages"][-1]["text"] == (
        f"该按钮已失效：「复核申请 #1 · 待处理」{CLOSED}。请以最新卡片为准。")
    r = await console.click(INV, receipt["id"], "review.withdraw")
    assert r["messages"][-1]["text"].startswith("该按钮已失效")

    await _status(console, code, "open")
    pcard = await _card(console, PROSECUTOR, "复核申请 #1")
    assert _labels(pcard) == ["同意并调整", "驳回", "提交检警共同评议"]
    assert pcard["card"]["footer"] is None
    receipt = await _card(console, INV, "您的复核申请 #1")
    assert _labels(receipt) == ["撤回申请"] and receipt["card"]["footer"] is None
    r = await console.click(PROSECUTOR, pcard["id"], "review.accept")
    assert r["messages"][-1]["text"].startswith("复核申请 #1（")


def _text_of(html: str, element_id: str) -> str | None:
    m = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    return None if m is None else " ".join(re.sub(r"<[^>]+>", " ", m.group(2)).split())


async def test_the_code_page_of_a_closed_case_says_so_and_has_no_review_form(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = (await _card(console, INV, f"案件码 {code}"))["card"]["actions"][0]["url"]

    async def page() -> str:
        await console.client.post("/console/api/login", json={"user": INV})
        r = await console.client.get(urlsplit(link).path)
        assert r.status == 200, await r.text()
        return await r.text()

    html = await page()
    assert 'id="review-form"' in html and 'id="closed"' not in html
    await console.advance("1d")
    await _status(console, code, "closed")
    html = await page()
    assert 'id="review-form"' not in html and "提交复核申请" not in html
    assert _text_of(html, "closed") == "已结案（2026-11-03 09:30），不再受理复核申请"
    await _status(console, code, "open")
    html = await page()
    assert 'id="review-form"' in html and 'id="closed"' not in html


async def test_a_closed_case_offers_its_prosecutor_no_score_button(console: Console) -> None:
    """The score form refuses a closed case, so neither the 码 card nor the code page offer
    去评分 until the case is reopened."""
    code = await create_case(console)
    await evaluate(console, code, RED)

    async def offers() -> tuple[list[str], bool]:
        r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"码 {code}")
        card = r["messages"][-1]
        await console.client.post("/console/api/login", json={"user": PROSECUTOR})
        page = await console.client.get(urlsplit(card["card"]["actions"][0]["url"]).path)
        assert page.status == 200, await page.text()
        return _labels(card), f'href="/cases/{code}/score"' in await page.text()

    assert await offers() == (["查看详情", "去评分"], True)
    await _status(console, code, "closed")
    assert await offers() == (["查看详情"], False)
    await _status(console, code, "open")
    assert await offers() == (["查看详情", "去评分"], True)


async def test_closing_redraws_the_code_cards_asked_for_and_reopening_gives_their_buttons_back(
        console: Console) -> None:
    """A 码 card already in the chat follows the case: closed, a case manager's loses 扫码受理
    and the prosecutor's 去评分 (a tap on the old button says why); reopened, both are back."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    asked = {}
    for person in (MANAGER, PROSECUTOR):
        r = await console.send(person, f"dm:{person}", f"码 {code}")
        asked[person] = cards(r["messages"])[-1]
    assert _labels(asked[MANAGER]) == ["查看详情", "扫码受理"]
    assert _labels(asked[PROSECUTOR]) == ["查看详情", "去评分"]

    await console.advance("1d")
    await _status(console, code, "closed")
    for person, sent in asked.items():
        card = await _card(console, person, f"案件码 {code}")
        assert card["id"] == sent["id"]  # the same card, redrawn
        assert _labels(card) == ["查看详情"] and card["card"]["footer"] == CLOSED
        assert card["card"]["body"] == sent["card"]["body"]
    r = await console.click(MANAGER, asked[MANAGER]["id"], "case.intake")
    assert r["messages"][-1]["text"] == (
        f"该按钮已失效：「案件码 {code} · 红码 66分」{CLOSED}。请以最新卡片为准。")
    assert await intakes(console, code) == []

    await _status(console, code, "open")
    card = await _card(console, MANAGER, f"案件码 {code}")
    assert card["id"] == asked[MANAGER]["id"] and card["card"]["footer"] is None
    assert _labels(card) == ["查看详情", "扫码受理"]
    mine = await _card(console, PROSECUTOR, f"案件码 {code}")
    assert _labels(mine) == ["查看详情", "去评分"] and mine["card"]["footer"] is None
    r = await console.click(MANAGER, card["id"], "case.intake")
    assert any(m["card"] and m["card"]["title"] == f"受理 {code} · 退回" for m in r["messages"])
    assert await intakes(console, code) == ["退回"]


async def test_a_code_card_asked_for_in_a_group_gets_back_what_its_asker_was_offered(
        case_group_console: Console) -> None:
    """In a group everyone may see the case, the 码 card goes to the group: closing takes the
    case manager's 扫码受理 off it, reopening gives it back; the prosecutor's 评分 card follows."""
    console = case_group_console
    code = await create_case(console)
    await evaluate(console, code, RED)
    r = await console.send(MANAGER, CASE_GROUP, f"码 {code}")
    [sent] = cards(r["messages"])
    assert sent["chat"] == CASE_GROUP and _labels(sent) == ["查看详情", "扫码受理"]
    [score] = cards((await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"评分 {code}"))
                    ["messages"])
    assert _labels(score) == ["打开评分表"]

    await _status(console, code, "closed")
    card = await _card(console, CASE_GROUP, f"案件码 {code}")
    assert _labels(card) == ["查看详情"] and card["card"]["footer"] == "案件已结案（2026-11-02）"
    closed = await _card(console, PROSECUTOR, f"评分 {code}")
    assert closed["id"] == score["id"] and _labels(closed) == []

    await _status(console, code, "open")
    card = await _card(console, CASE_GROUP, f"案件码 {code}")
    assert _labels(card) == ["查看详情", "扫码受理"] and card["card"]["footer"] is None
    assert _labels(await _card(console, PROSECUTOR, f"评分 {code}")) == ["打开评分表"]


async def test_评分_of_a_closed_case_is_refused_before_the_form_is_filled(
        console: Console) -> None:
    """评分 on a closed case says it is closed instead of a card whose form would be filled
    in and then refused (案件已结案，不能再评分); the form's page says so too. Reopened, both
    are back."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    console.clock.advance(timedelta(days=1))
    await _status(console, code, "closed")
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"评分 {code}")
    [m] = r["messages"]
    assert m["card"] is None and re.fullmatch(
        rf"{code} 已于 2026-11-03 \d\d:\d\d 结案，不能评分。", m["text"]), m
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    page = await console.client.get(f"/cases/{code}/score")
    assert page.status == 409 and "结案，不能评分" in await page.text()

    await _status(console, code, "open")
    [score] = cards((await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"评分 {code}"))
                    ["messages"])
    assert _labels(score) == ["打开评分表"]
    assert (await console.client.get(f"/cases/{code}/score")).status == 200


async def test_the_code_card_of_a_closed_case_says_it_is_closed(console: Console) -> None:
    """码 <案件码> after closing: the card says 案件已结案（date）, as the redrawn cards do, and
    offers only 查看详情; a withdrawn case's says 已撤销 in its title."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    console.clock.advance(timedelta(days=1))
    await _status(console, code, "closed")
    for person in (INV, PROSECUTOR):
        [card] = cards((await console.send(person, f"dm:{person}", f"码 {code}"))["messages"])
        assert card["card"]["footer"] == CLOSED and _labels(card) == ["查看详情"]
    await _status(console, code, "open")
    [card] = cards((await console.send(INV, f"dm:{INV}", f"码 {code}"))["messages"])
    assert card["card"]["footer"] is None

    fresh = await create_case(console)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"撤销案件 {fresh} 重复录入 确认")
    [card] = cards((await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"码 {fresh}"))["messages"])
    assert card["card"]["title"] == f"案件码 {fresh} · 已撤销" and "已撤销（" in card["card"]["body"]
    assert r["messages"]


async def test_an_investigators_code_card_fetched_while_closed_is_restored_on_reopening(
        console: Console) -> None:
    """码 <案件码> sent by an investigator while the case is closed: reopened, that very card
    offers 申请复核 and 已知悉 again (and a tap on it files the request), as the prosecutor's
    does; one fetched before closing loses them on closing, like the delivered card."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    [before] = cards((await console.send(INV2, f"dm:{INV2}", f"码 {code}"))["messages"])
    assert _labels(before) == ["查看详情", "申请复核", "已知悉"]
    await console.advance("1d")
    await _status(console, code, "closed")
    card = next(m for m in cards(await console.messages(f"dm:{INV2}")) if m["id"] == before["id"])
    assert _labels(card) == ["查看详情"] and card["card"]["footer"] == CLOSED
    [during] = cards((await console.send(INV, f"dm:{INV}", f"码 {code}"))["messages"])
    assert _labels(during) == ["查看详情"] and during["card"]["footer"] == CLOSED

    await _status(console, code, "open")
    mine = next(m for m in cards(await console.messages(f"dm:{INV}")) if m["id"] == during["id"])
    assert _labels(mine) == ["查看详情", "申请复核", "已知悉"] and mine["card"]["footer"] is None
    again = next(m for m in cards(await console.messages(f"dm:{INV2}")) if m["id"] == card["id"])
    assert _labels(again) == ["查看详情", "申请复核", "已知悉"]
    r = await console.click(INV, during["id"], "review.file", {"items": "1", "reason": "有异议。"})
    assert r["messages"][-1]["text"].startswith("复核申请 #1 已提交"), r



@pytest.mark.parametrize("change", ["group dropped", "manager moved"])
async def test_a_code_card_in_a_chat_the_roster_no_longer_links_is_redrawn_on_closing(
        case_group_console: Console, tmp_path: Path, change: str) -> None:
    """A case manager's 码 card, asked for in a group the roster has since dropped, or in
    their 1:1 chat before they moved to another county's office, still offers 扫码受理 where it
    was sent: closing redraws it all the same (in the dropped group, whose members the bot no
    longer knows, and in the chat of one who may no longer see the case, without saying it
    was closed), and a tap on the old button is refused."""
    console = case_group_console
    code = await create_case(console)
    await evaluate(console, code, RED)
    chat, where = (CASE_GROUP, CASE_GROUP) if change == "group dropped" else (f"dm:{MANAGER}", MANAGER)
    [sent] = cards((await console.send(MANAGER, chat, f"码 {code}"))["messages"])
    assert sent["chat"] == chat and _labels(sent) == ["查看详情", "扫码受理"]
    path = tmp_path / "org.yaml"
    data = read_org_file(path)
    if change == "group dropped":
        data["chats"] = [c for c in data["chats"] if c["id"] != CASE_GROUP]
    else:
        next(p for p in data["people"] if p["id"] == MANAGER)["unit"] = "c01-02"  # 乐顺
    write_org_file(path, data)
    assert await console.app.reload_org()

    await console.advance("1d")
    await _status(console, code, "closed")
    card = await _card(console, where, f"案件码 {code}")
    assert card["id"] == sent["id"] and card["card"]["body"] == sent["card"]["body"]
    if change == "group dropped":
        assert _labels(card) == [] and card["card"]["footer"] == "本卡片已失效，请以最新卡片为准"
    else:  # nor in the 1:1 chat of one who may no longer see the case
        assert _labels(card) == [] and card["card"]["footer"] == "您已无权查看此案件，本卡片不再更新"
    r = await console.click(MANAGER, sent["id"], "case.intake")
    assert r["messages"][-1]["text"] == (
        "您不在这张卡片所在的会话中，无法操作。" if change == "group dropped" else
        f"该按钮已失效：「案件码 {code} · 红码 66分」您已无权查看此案件，本卡片不再更新。")
    assert await intakes(console, code) == []


async def test_the_cards_of_a_case_are_found_through_the_index_on_message_time(
        tmp_path: Path) -> None:
    """Finding a case's cards in every chat (closing, reopening, withdrawing, the choice
    redraw) reads the messages sent since the case was created through ix_messages_at, not
    the whole messages table (SQLite's plan for the statement, on the migrated schema)."""
    async def read(session: AsyncSession) -> None:
        assert await msgs.bot_cards_mentioning(session, None, START, "HY-2026-0001") == []

    plan = await sqlite_plan(tmp_path, read)
    assert "SEARCH messages USING INDEX ix_messages_at (at>?)" in plan, plan
    assert "SCAN messages" not in plan and "TEMP B-TREE" not in plan, plan
