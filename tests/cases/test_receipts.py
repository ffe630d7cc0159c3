"""Who got the case code and who acknowledged it (SPEC §1: "Delivery and acknowledgement are
recorded"), as the prosecutor, case managers and leaders see it: one line on the 码 card, a
table on the code page, for the current evaluation version. Investigators see only their own
已知悉, on their card, as before."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import cases as repo
from storage.models import OutboxItem
from tests.cases.helpers import (
    GREEN,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    cards,
    create_case,
    evaluate,
    sqlite_plan,
)
from tests.conftest import START, Console

HU, ZHANG = "胡宇", "张洋艳"  # INVESTIGATORS[0], INVESTIGATORS[1]
MANAGER, LEADER = "p-case-manager-1", "p-leader-hc"
ROW = re.compile(r"<tr><td>(.+?)</td><td[^>]*>(.+?)</td><td[^>]*>(.+?)</td></tr>")


async def code_card(console: Console, user: str, code: str, chat: str | None = None
                    ) -> dict[str, Any]:
    [card] = cards((await console.send(user, chat or f"dm:{user}", f"码 {code}"))["messages"])
    return dict(card["card"])


def receipt_line(card: dict[str, Any]) -> str | None:
    return next((line for line in card["body"].split("\n") if line.startswith("送达 ")), None)


async def acknowledge(console: Console, investigator: str) -> None:
    card = cards(await console.messages(f"dm:{investigator}"))[-1]
    r = await console.click(investigator, card["id"], "case.ack")
    assert "已确认知悉" in r["messages"][-1]["text"]


async def page(console: Console, user: str, code: str) -> str:
    """The code page (查看详情 of the 码 card) as `user` sees it."""
    url = (await code_card(console, user, code))["actions"][0]["url"]
    await console.client.post("/console/api/login", json={"user": user})
    r = await console.client.get(urlsplit(url).path)
    assert r.status == 200, await r.text()
    return await r.text()


async def test_the_prosecutor_sees_who_got_the_code_and_who_acknowledged_it(
        console: Console) -> None:
    code = await create_case(console)
    assert receipt_line(await code_card(console, PROSECUTOR, code)) is None  # nothing sent yet
    await evaluate(console, code, RED)
    assert receipt_line(await code_card(console, PROSECUTOR, code)) == (
        f"送达 2/2 · 已知悉 0/2（未知悉：{HU}、{ZHANG}）")

    console.clock.advance(timedelta(minutes=5))
    await acknowledge(console, INVESTIGATORS[0])
    line = f"送达 2/2 · 已知悉 1/2（未知悉：{ZHANG}）"
    assert receipt_line(await code_card(console, PROSECUTOR, code)) == line
    # so do the case managers and leaders of the office
    assert receipt_line(await code_card(console, MANAGER, code)) == line
    assert receipt_line(await code_card(console, LEADER, code)) == line

    await acknowledge(console, INVESTIGATORS[1])
    assert receipt_line(await code_card(console, PROSECUTOR, code)) == "送达 2/2 · 已知悉 2/2"

    # a re-score is a new card to acknowledge: the line is about the current version
    await evaluate(console, code, GREEN)
    assert receipt_line(await code_card(console, PROSECUTOR, code)) == (
        f"送达 2/2 · 已知悉 0/2（未知悉：{HU}、{ZHANG}）")


async def test_the_code_page_has_the_table(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)  # delivered at START: 09:30 in Asia/Shanghai
    console.clock.advance(timedelta(minutes=5))
    await acknowledge(console, INVESTIGATORS[1])
    text = await page(console, PROSECUTOR, code)
    assert "送达与知悉（第1版）" in text
    sent = (START + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert ROW.findall(text.split('id="receipts"')[1].split("</table>")[0]) == [
        (HU, sent, "未知悉"), (ZHANG, sent, "2026-11-02 09:35")]
    assert 'id="receipts"' in await page(console, MANAGER, code)


async def test_an_investigator_sees_only_their_own_acknowledgement(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    await acknowledge(console, INVESTIGATORS[0])
    for inv in INVESTIGATORS:
        card = await code_card(console, inv, code)
        assert receipt_line(card) is None and "知悉" not in card["body"], card["body"]
        assert 'id="receipts"' not in await page(console, inv, code)
    # their own card says they acknowledged it, as before
    own = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[0]["card"]  # delivered
    assert own["footer"].startswith(f"已知悉：{HU} ")


async def test_a_card_in_a_group_names_nobody_to_an_investigator(console: Console) -> None:
    """码 asked in a group: the card lands in the group only if everyone there may see the
    case, and then carries no receipts when an investigator reads it; sent privately to the
    prosecutor it does."""
    code = await create_case(console, investigators=[
        "p-investigator-1", "p-investigator-2", "p-investigator-3"])
    await evaluate(console, code, RED)
    # 海澄县检警协作群 has other prosecutors: the card comes privately, with the line
    r = await console.send(PROSECUTOR, "g-case-team", f"码 {code}")
    [private] = [m for m in r["messages"] if m["card"]]
    assert private["chat"] == f"dm:{PROSECUTOR}"
    assert receipt_line(private["card"]) == (
        f"送达 3/3 · 已知悉 0/3（未知悉：{HU}、{ZHANG}、冯艳霞）")


async def test_a_send_that_failed_or_is_still_going_out_is_not_delivered(
        console: Console) -> None:
    """On an external platform (DingTalk) a card is delivered once its outbox send is done; a
    send given up on is 发送失败, one still being tried 未送达."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    async with console.app.services.db() as session, session.begin():
        sent = {d.person_id: d.message_id for d in await repo.deliveries(session, code)}
        for person, status in zip(INVESTIGATORS, ("failed", "pending"), strict=True):
            session.add(OutboxItem(message_id=sent[person], transport="dingtalk", op="send",
                                   status=status, attempts=1, created_at=START,
                                   next_attempt_at=START))
    assert receipt_line(await code_card(console, PROSECUTOR, code)) == (
        f"送达 0/2（发送失败：{HU}；未送达：{ZHANG}） · 已知悉 0/2（未知悉：{HU}、{ZHANG}）")
    text = await page(console, PROSECUTOR, code)
    assert [row[1] for row in ROW.findall(text.split('id="receipts"')[1])[:2]] == [
        "发送失败", "未送达"]

    later = START + timedelta(minutes=3)
    async with console.app.services.db() as session, session.begin():
        await session.execute(update(OutboxItem).where(OutboxItem.status == "pending")
                              .values(status="sent", sent_at=later))
    assert receipt_line(await code_card(console, PROSECUTOR, code)) == (
        f"送达 1/2（发送失败：{HU}） · 已知悉 0/2（未知悉：{HU}、{ZHANG}）")
    text = await page(console, PROSECUTOR, code)
    assert ROW.findall(text.split('id="receipts"')[1])[1][1] == "2026-11-02 09:33"


async def test_the_receipts_are_one_indexed_read(tmp_path: Path) -> None:
    """The 码 path of a prosecutor pays one statement, which finds the case's investigators,
    their cards and the cards' sends through indexes, never by scanning a table."""
    async def read(session: AsyncSession) -> None:
        assert await repo.receipts(session, "HY-2026-0001", 1) == []

    plan = await sqlite_plan(tmp_path, read)
    assert "SCAN" not in plan, plan
    for table in ("case_investigators", "deliveries", "outbox"):
        assert f"SEARCH {table} USING" in plan, plan
