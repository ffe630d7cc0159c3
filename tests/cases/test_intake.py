"""扫码分类受理 (SPEC §1): a repeated scan repeats no decision; the case manager's 待定 card
follows the prosecutor's choice; the 码 card and the code page show the decision as it stands;
the prosecutor is told a 放行 or 退回."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from storage import cases as repo
from storage.models import AuditRecord
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

MANAGER2 = "p-case-manager-2"


async def notices(console: Console, person: str) -> list[dict[str, Any]]:
    return [m for m in cards(await console.messages(f"dm:{person}"))
            if m["card"]["title"].startswith("受理结果")]


async def test_scanning_a_decided_case_again_tells_the_decision_and_notifies_nobody(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert [len(await notices(console, inv)) for inv in INVESTIGATORS] == [1, 1]
    before = {p: len(await console.messages(f"dm:{p}")) for p in [*INVESTIGATORS, PROSECUTOR]}
    await console.advance("1h")
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    [answer] = r["messages"]
    assert answer["text"].startswith(f"{code} 已于 2026-") and "作出受理决定：退回" in answer["text"]
    assert "红码 66分" in answer["text"] and "无需重复受理" in answer["text"]
    assert {p: len(await console.messages(f"dm:{p}")) for p in before} == before
    assert await intakes(console, code) == ["退回"]

    # after a re-score the scan is a new decision, and the police hear of it
    await evaluate(console, code, GREEN)
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    [done] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER}"]
    assert done["card"]["title"] == f"受理 {code} · 放行"
    assert [n["card"]["title"] for n in await notices(console, INVESTIGATORS[0])] == [
        f"受理结果 {code} · 退回", f"受理结果 {code} · 放行"]
    assert await intakes(console, code) == ["退回", "放行"]


async def test_scanning_after_the_prosecutors_choice_repeats_it(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    pending = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1]
    await console.click(PROSECUTOR, pending["id"], "intake.receive")
    prosecutor_before = len(await console.messages(f"dm:{PROSECUTOR}"))
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert "作出受理决定：先收后补" in r["messages"][-1]["text"]
    assert len(await notices(console, INVESTIGATORS[0])) == 1
    assert len(await console.messages(f"dm:{PROSECUTOR}")) == prosecutor_before
    assert await intakes(console, code) == ["待定", "先收后补"]


async def test_a_yellow_case_scanned_again_reminds_the_prosecutor_only(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert "待定" in r["messages"][-1]["text"] and "已再次提醒" in r["messages"][-1]["text"]
    first, second = cards(await console.messages(f"dm:{PROSECUTOR}"))[-2:]
    assert "再次扫码受理" not in first["card"]["body"] and "再次扫码受理" in second["card"]["body"]
    assert [a["label"] for a in second["card"]["actions"]] == ["延期受理", "先收后补"]
    assert await notices(console, INVESTIGATORS[0]) == []
    assert await intakes(console, code) == ["待定"]  # one decision, still waiting
    # one 待定 card in the case manager's chat
    assert len(cards(await console.messages(f"dm:{MANAGER}"))) == 1


async def test_the_case_managers_waiting_card_shows_the_prosecutors_choice(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    waiting = r["messages"][0]
    assert "已请承办检察官" in waiting["card"]["body"]
    pending = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1]
    await console.click(PROSECUTOR, pending["id"], "intake.defer")
    [now] = [m for m in await console.messages(f"dm:{MANAGER}") if m["id"] == waiting["id"]]
    assert now["card"]["title"] == f"受理 {code} · 延期受理"
    assert "已决定：延期受理" in now["card"]["body"] and "已请承办检察官" not in now["card"]["body"]
    assert now["card"]["footer"]  # who and when
    told = [m["text"] for m in await console.messages(f"dm:{MANAGER}") if m["text"]]
    assert any("已决定：延期受理" in t for t in told)  # and the case manager is told as before


GROUP = "g-case-team"  # 海澄县检警协作群: police officers of other cases read it too


async def test_a_scan_in_a_group_with_outsiders_answers_privately(console: Console) -> None:
    """受理 typed in a group where someone may not see the case (an investigator of another
    case): the decision, the score and the open deductions come to the case manager alone,
    as 码 does, and the group reads only that they were sent privately."""
    red = await create_case(console, title="某甲涉嫌诈骗案")
    await evaluate(console, red, RED)
    yellow = await create_case(console, title="某乙涉嫌盗窃案")
    await evaluate(console, yellow, YELLOW)
    outsider = "p-investigator-3"  # in the group, not an investigator of either case
    assert outsider not in INVESTIGATORS
    seen = len(await console.messages(GROUP))
    for code in (red, yellow, red, yellow):  # the second scans answer with the decision made
        await console.send(MANAGER, GROUP, f"受理 {code}")
    in_group = (await console.messages(GROUP))[seen:]
    replies = [m for m in in_group if m["from"] == "bot"]
    assert replies and all(m["card"] is None and "已私信发给您" in m["text"] for m in replies)
    shown = json.dumps(in_group, ensure_ascii=False)
    for secret in ("某甲涉嫌诈骗案", "某乙涉嫌盗窃案", "嫌疑人零口供", "红码", "黄码", "66分", "退回",
                   "待定"):
        assert secret not in shown, secret
    mine = await console.messages(f"dm:{MANAGER}")
    titles = [m["card"]["title"] for m in cards(mine)]
    assert f"受理 {red} · 退回" in titles and any(t.startswith(f"受理 {yellow}") for t in titles)
    assert any("作出受理决定：退回" in (m["text"] or "") for m in mine)
    # the 待定 card in the case manager's chat still follows the prosecutor's choice
    await console.click(PROSECUTOR, (await asked(console, yellow))[-1]["id"], "intake.defer")
    now = [m["card"]["title"] for m in cards(await console.messages(f"dm:{MANAGER}"))]
    assert f"受理 {yellow} · 延期受理" in now
    assert await intakes(console, red) == ["退回"] and await intakes(console, yellow) == [
        "待定", "延期受理"]


async def asked(console: Console, code: str) -> list[dict[str, Any]]:
    """The prosecutor's 受理待定 cards of the case, as they are now."""
    return [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
            if m["card"]["title"].startswith(f"受理待定 {code}")
            or m["card"]["title"].startswith(f"受理 {code}")]


async def test_a_choice_redraws_every_card_asking_the_prosecutor(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")  # 再次扫码受理
    first, second = await asked(console, code)
    assert "再次扫码受理" in second["card"]["body"]
    await console.click(PROSECUTOR, second["id"], "intake.defer")
    cards_now = await asked(console, code)
    assert [m["id"] for m in cards_now] == [first["id"], second["id"]]
    for m in cards_now:  # both show the outcome, neither offers a choice any more
        assert m["card"]["title"] == f"受理 {code} · 延期受理"
        assert m["card"]["actions"] == [] and m["card"]["footer"]
    # the earlier card's old button decides nothing
    r = await console.click(PROSECUTOR, first["id"], "intake.receive")
    assert "已决定" not in r["messages"][-1]["text"]
    assert await intakes(console, code) == ["待定", "延期受理"]


async def test_every_case_manager_who_scanned_the_waiting_case_is_told_the_choice(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    r = await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")
    assert "已再次提醒" in r["messages"][-1]["text"]
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")  # and once more
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await console.click(PROSECUTOR, (await asked(console, code))[-1]["id"], "intake.receive")
    for manager in (MANAGER, MANAGER2):  # each told once
        told = [m["text"] for m in await console.messages(f"dm:{manager}")
                if m["text"] and "已决定" in m["text"]]
        assert told == [f"{code} 承办检察官余斌梅已决定：先收后补。"], (manager, told)
    assert await intakes(console, code) == ["待定", "先收后补"]


async def test_a_rescore_away_from_yellow_redraws_the_waiting_cards(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    waiting = (await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}"))["messages"][0]
    [pending] = await asked(console, code)
    assert [a["label"] for a in pending["card"]["actions"]] == ["延期受理", "先收后补"]
    await evaluate(console, code, GREEN)
    [pending] = await asked(console, code)
    assert pending["card"]["actions"] == []
    assert pending["card"]["footer"] == "已转为绿码 95分，不再待定，待案管部门重新扫码受理"
    [now] = [m for m in await console.messages(f"dm:{MANAGER}") if m["id"] == waiting["id"]]
    assert now["card"]["footer"] == "已转为绿码 95分，不再待定，请重新扫码受理"
    # scanned again: 放行, and no card asks the prosecutor anything
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert [m["card"]["title"] for m in r["messages"] if m["chat"] == f"dm:{MANAGER}"] == [
        f"受理 {code} · 放行"]
    assert all(not m["card"]["actions"] for m in await asked(console, code))


async def test_a_rescan_after_a_yellow_rescore_leaves_one_card_to_choose_on(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await evaluate(console, code, YELLOW[:1])  # 90, still yellow
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    old, new = await asked(console, code)
    assert old["card"]["actions"] == [] and old["card"]["footer"] == (
        "已重新评分为黄码 90分，不再待定，待案管部门重新扫码受理")  # since the re-score
    assert new["card"]["title"] == f"受理待定 {code} · 黄码 90分"
    assert [a["label"] for a in new["card"]["actions"]] == ["延期受理", "先收后补"]


async def told(console: Console, person: str, what: str) -> list[str]:
    """The texts `person` was sent that contain `what`."""
    return [m["text"] for m in await console.messages(f"dm:{person}")
            if m["text"] and what in m["text"]]


async def test_a_rescore_out_of_yellow_tells_every_waiting_case_manager_once(
        console: Console) -> None:
    """Two case managers wait for the prosecutor's choice; the case is re-scored green, so
    no choice will come: each is told once to scan again, and nothing later tells them
    twice (the prosecutor's old button, another re-score)."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")  # 再次扫码受理
    await evaluate(console, code, GREEN)
    moot = f"{code} 已转为绿码 95分，不再待定，无需等待承办检察官选择，请重新扫码受理。"
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "不再待定") == [moot], manager

    r = await console.click(PROSECUTOR, (await asked(console, code))[-1]["id"], "intake.receive")
    assert r["messages"][-1]["text"].startswith("该按钮已失效") and "已转为绿码" in (
        r["messages"][-1]["text"])
    await evaluate(console, code, RED)
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "不再待定") == [moot], manager
    assert await told(console, PROSECUTOR, "不再待定，无需等待") == []
    assert await intakes(console, code) == ["待定"]


async def test_closing_a_waiting_case_tells_every_case_manager_once(console: Console) -> None:
    """The case-management system closes a case still 待定: the prosecutor's cards lose their
    buttons, each case manager who scanned it is told once, and an old button decides
    nothing."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"status": "closed"})
    assert r.status == 200, await r.text()
    moot = f"{code} 案件已结案，不再待定，无需等待承办检察官选择。"
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "不再待定") == [moot], manager
    cards_now = await asked(console, code)
    assert len(cards_now) == 2
    for m in cards_now:
        assert m["card"]["actions"] == [] and m["card"]["footer"] == "案件已结案，不再待定，无需选择"

    r = await console.click(PROSECUTOR, cards_now[-1]["id"], "intake.defer")
    assert r["messages"][-1]["text"].startswith("该按钮已失效") and "案件已结案" in (
        r["messages"][-1]["text"])
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "不再待定") == [moot], manager
        assert await told(console, manager, "已决定") == []
    assert await intakes(console, code) == ["待定"]
    assert [len(await notices(console, inv)) for inv in INVESTIGATORS] == [0, 0]

    # scanning the closed case takes nothing in and asks the prosecutor nothing
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    [answer] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER}"]
    assert answer["text"].startswith(f"{code} 已于 ") and answer["text"].endswith("结案，无需受理。")
    assert len(await asked(console, code)) == 2
    assert await intakes(console, code) == ["待定"]


async def set_status(console: Console, code: str, status: str) -> None:
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH, json={"status": status})
    assert r.status == 200, await r.text()


async def test_reopening_a_case_closed_while_waiting_asks_the_prosecutor_again(
        console: Console) -> None:
    """Closed while 待定, then reopened (撤销结案) by the case-management system: the cards
    the closing retired ask again — the prosecutor's choices are back and work, the case
    managers' cards wait again — and whoever the closing told is told it waits again."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    waiting = (await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}"))["messages"][0]
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")  # 再次扫码受理
    await set_status(console, code, "closed")
    await console.advance("1h")  # 10:30 in Asia/Shanghai
    await set_status(console, code, "open")

    reopened = "案件已于 2026-11-02 10:30 重新打开（撤销结案）"
    cards_now = await asked(console, code)
    assert len(cards_now) == 2
    for m in cards_now:
        assert [a["label"] for a in m["card"]["actions"]] == ["延期受理", "先收后补"]
        assert m["card"]["footer"] == f"{reopened}，请选择"
    [mine] = [m for m in await console.messages(f"dm:{MANAGER}") if m["id"] == waiting["id"]]
    assert mine["card"]["footer"] is None and mine["card"]["body"].endswith(f"{reopened}，仍待选择。")
    again = f"{code} {reopened}，受理仍为待定（黄码 85分）"
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "重新打开") == [
            f"{again}，等待承办检察官选择，选择后将通知您。"], manager
    assert await told(console, PROSECUTOR, "重新打开") == [
        f"{again}：请在「受理待定」卡片上选择延期受理或先收后补。"]
    assert await intake_line(console, INVESTIGATORS[0], code) == (
        "受理：待定，等待承办检察官选择（李平 2026-11-02 09:30，第1版评分）")

    # reopening it again changes nothing and tells nobody twice
    await set_status(console, code, "open")
    for person in (MANAGER, MANAGER2, PROSECUTOR):
        assert len(await told(console, person, "重新打开")) == 1, person

    # a restored button decides, and every case manager is told the choice
    r = await console.click(PROSECUTOR, cards_now[0]["id"], "intake.receive")
    assert f"{code} 已决定：先收后补。" in [m["text"] for m in r["messages"]
                                          if m["chat"] == f"dm:{PROSECUTOR}"]
    assert [m["card"]["title"] for m in await asked(console, code)] == [
        f"受理 {code} · 先收后补"] * 2
    [mine] = [m for m in await console.messages(f"dm:{MANAGER}") if m["id"] == waiting["id"]]
    assert mine["card"]["title"] == f"受理 {code} · 先收后补"
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "已决定") == [
            f"{code} 承办检察官余斌梅已决定：先收后补。"], manager
    assert await intakes(console, code) == ["待定", "先收后补"]
    assert [len(await notices(console, inv)) for inv in INVESTIGATORS] == [1, 1]


async def test_reopening_restores_nothing_that_no_longer_waits(console: Console) -> None:
    """A 待定 re-scored away before the closing, or decided before it, does not come back
    when the case is reopened: nothing asks, nobody is told."""
    rescored = await create_case(console)
    await evaluate(console, rescored, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {rescored}")
    await evaluate(console, rescored, GREEN)
    decided = await create_case(console)
    await evaluate(console, decided, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {decided}")
    await console.click(PROSECUTOR, (await asked(console, decided))[-1]["id"], "intake.defer")
    before = {p: await console.messages(f"dm:{p}") for p in (MANAGER, PROSECUTOR)}
    for code in (rescored, decided):
        await set_status(console, code, "closed")
        await set_status(console, code, "open")
    assert {p: await console.messages(f"dm:{p}") for p in before} == before
    for code in (rescored, decided):
        assert all(not m["card"]["actions"] for m in await asked(console, code)), code


async def test_a_yellow_rescore_tells_each_waiting_case_manager_once_and_a_rescan_asks_again(
        console: Console) -> None:
    """Re-scored to a new yellow version: the 待定 was on the old one, so the two case
    managers who waited are told once that it no longer waits, as when re-scored green. One
    scans again, which asks the prosecutor anew, and the other is not told again; scanning
    too, they join the new 待定, and both are told the prosecutor's choice."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")
    await evaluate(console, code, YELLOW[:1])  # 90, still yellow
    moot = f"{code} 已重新评分为黄码 90分，不再待定，无需等待承办检察官选择，请重新扫码受理。"
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "不再待定") == [moot], manager
    r = await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")
    [answer] = [m for m in r["messages"] if m["chat"] == f"dm:{MANAGER2}"]
    assert answer["card"]["title"].startswith(f"受理 {code}")  # their own new 待定 card
    assert await told(console, MANAGER, "重新扫码受理") == [moot]  # not told again

    r = await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert r["messages"][-1]["text"] == (
        f"{code} 已于 2026-11-02 09:30 由萧桂涛扫码受理（黄码 90分，待定），"
        "承办检察官余斌梅尚未选择延期受理或先收后补，已再次提醒。")
    await console.click(PROSECUTOR, (await asked(console, code))[-1]["id"], "intake.defer")
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "已决定") == [
            f"{code} 承办检察官余斌梅已决定：延期受理。"], manager
    assert await intakes(console, code) == ["待定", "待定", "延期受理"]


async def intake_line(console: Console, user: str, code: str) -> str | None:
    """The 受理 line of the case card `码 <code>` shows `user` (None: it has none)."""
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    found = [line for line in card["card"]["body"].split("\n") if line.startswith("受理：")]
    assert len(found) <= 1, card["card"]["body"]
    return found[0] if found else None


async def page_line(console: Console, user: str, code: str) -> str | None:
    """The 受理 line of the code page (查看详情 of the case card) as `user` sees it."""
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    await console.client.post("/console/api/login", json={"user": user})
    r = await console.client.get(urlsplit(card["card"]["actions"][0]["url"]).path)
    assert r.status == 200, await r.text()
    found = re.search(r'<div id="intake"[^>]*>([^<]*)</div>', await r.text())
    return html.unescape(found.group(1)) if found else None


async def test_the_code_card_and_page_show_the_intake_as_it_stands(console: Console) -> None:
    """An investigator scanning the code sees whether the case was taken in, returned or
    waits, by whom and when (local time), and that a re-score since needs a new scan."""
    inv = INVESTIGATORS[0]
    code = await create_case(console)
    await evaluate(console, code, RED)
    assert await intake_line(console, inv, code) is None  # not taken in yet
    assert await page_line(console, inv, code) is None
    await console.advance("5h")  # 14:30 in Asia/Shanghai, 06:30 UTC
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    returned = "受理：退回（李平 2026-11-02 14:30，第1版评分）"
    assert await intake_line(console, inv, code) == returned
    assert await page_line(console, inv, code) == returned
    # the prosecutor and the case managers see the same line
    assert await intake_line(console, PROSECUTOR, code) == returned
    assert await intake_line(console, MANAGER2, code) == returned

    await evaluate(console, code, GREEN)  # re-scored: the 退回 no longer says where it stands
    stale = f"{returned}；此后已重新评分，需重新扫码受理"
    assert await intake_line(console, inv, code) == stale
    assert await page_line(console, inv, code) == stale
    await console.advance("1h")
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")
    passed = "受理：放行（萧桂涛 2026-11-02 15:30，第2版评分）"
    assert await intake_line(console, inv, code) == passed
    assert await page_line(console, inv, code) == passed


async def test_the_code_card_shows_a_waiting_intake_and_then_the_prosecutors_choice(
        console: Console) -> None:
    inv = INVESTIGATORS[1]
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    waiting = "受理：待定，等待承办检察官选择（李平 2026-11-02 09:30，第1版评分）"
    assert await intake_line(console, inv, code) == waiting
    assert await page_line(console, inv, code) == waiting
    await console.advance("2h")
    await console.click(PROSECUTOR, (await asked(console, code))[-1]["id"], "intake.receive")
    chosen = "受理：先收后补（余斌梅 2026-11-02 11:30，第1版评分）"
    assert await intake_line(console, inv, code) == chosen
    assert await page_line(console, inv, code) == chosen

    # a 待定 re-scored out of yellow before the choice no longer waits for one
    other = await create_case(console)
    await evaluate(console, other, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {other}")
    await evaluate(console, other, RED)
    assert await intake_line(console, inv, other) == (
        "受理：待定（李平 2026-11-02 11:30，第1版评分）；此后已重新评分，需重新扫码受理")


async def test_the_prosecutor_is_told_a_final_intake_in_their_chat(console: Console) -> None:
    """放行 and 退回 reach the prosecutor as a line in their 1:1 chat; a 待定 asks them to
    choose (its card, nothing more), and a scan deciding nothing new tells them nothing."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    assert await told(console, PROSECUTOR, "扫码受理") == [
        f"{code} 已由案管李平扫码受理：退回（红码 66分），已通知侦查人员补充完善后重新移送。"]
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")  # nothing new
    assert len(await told(console, PROSECUTOR, "扫码受理")) == 1
    await evaluate(console, code, GREEN)
    await console.send(MANAGER2, f"dm:{MANAGER2}", f"受理 {code}")
    assert (await told(console, PROSECUTOR, "扫码受理"))[1:] == [
        f"{code} 已由案管萧桂涛扫码受理：放行（绿码 95分）。"]

    waiting = await create_case(console)
    await evaluate(console, waiting, YELLOW)
    before = await console.messages(f"dm:{PROSECUTOR}")
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {waiting}")
    new = (await console.messages(f"dm:{PROSECUTOR}"))[len(before):]
    assert [m["card"]["title"] if m["card"] else m["text"] for m in new] == [
        f"受理待定 {waiting} · 黄码 85分"]
    # their own choice is answered in place, not told back to them
    await console.click(PROSECUTOR, new[0]["id"], "intake.defer")
    assert await told(console, PROSECUTOR, f"{waiting} 已由案管") == []


async def _at_once(console: Console, code: str, events: list[Awaitable[dict[str, Any]]]
                   ) -> list[dict[str, Any]]:
    """The events handled at the same moment: every one has read what it needs before any of
    them commits (the case row is held until all of them wait for it)."""
    services = console.app.services
    async with services.db() as hold, hold.begin():
        await repo.get_case(hold, code, for_update=True)
        handled = [asyncio.ensure_future(e) for e in events]
        waiting = 0
        async with asyncio.timeout(20):
            while waiting < len(handled):
                done = [h for h in handled if h.done()]
                assert not done, [h.result() for h in done]  # none may get past the case
                await asyncio.sleep(0.02)
                async with services.db() as s:
                    waiting = await s.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'")) or 0
    return list(await asyncio.gather(*handled))


async def _scans_at_once(console: Console, code: str, scanners: list[str]
                         ) -> list[dict[str, Any]]:
    """受理 by each of `scanners` at the same moment."""
    return await _at_once(console, code, [console.send(m, f"dm:{m}", f"受理 {code}")
                                          for m in scanners])


@pytest.mark.postgres
@pytest.mark.parametrize(("score", "decision"), [(RED, "退回"), (GREEN, "放行"),
                                                 (YELLOW, "待定")])
async def test_scans_at_the_same_moment_on_postgresql_decide_once(
        pg_console: Console, score: list[dict[str, Any]], decision: str) -> None:
    """Two case managers (and a double tap) scan one case at the same moment: one decision,
    the police told once, the prosecutor of a yellow case asked once; the others learn it."""
    console = pg_console
    code = await create_case(console)
    await evaluate(console, code, score)
    replies = await _scans_at_once(console, code, [MANAGER, MANAGER, MANAGER2, MANAGER2])
    assert await intakes(console, code) == [decision]
    decided = [r for r in replies if any(m["card"] and m["card"]["title"].startswith("受理 ")
                                          for m in r["messages"])]
    assert len(decided) == 1, replies
    others = [r["messages"][-1]["text"] for r in replies if r not in decided]
    assert len(others) == 3 and all("无需重复受理" in t for t in others), others
    assert [len(await notices(console, inv)) for inv in INVESTIGATORS] == (
        [0, 0] if decision == "待定" else [1, 1])
    asked = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
             if m["card"]["title"].startswith("受理待定")]
    assert len(asked) == (1 if decision == "待定" else 0)
    async with console.app.services.db() as s:
        n = await s.scalar(select(func.count()).select_from(AuditRecord)
                           .where(AuditRecord.action == "case.intake"))
    assert n == 1


@pytest.mark.postgres
async def test_a_double_clicked_yellow_choice_on_postgresql_decides_once(
        pg_console: Console) -> None:
    """The prosecutor's 先收后补 clicked twice at once (two instances): one decision, the
    police told once, the other click told it is decided."""
    console = pg_console
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    [pending] = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1:]
    replies = await _at_once(console, code, [
        console.click(PROSECUTOR, pending["id"], "intake.receive") for _ in range(3)])
    assert await intakes(console, code) == ["待定", "先收后补"]
    texts = [r["messages"][-1]["text"] for r in replies]
    assert sorted(t.endswith("已决定：先收后补。") for t in texts) == [False, False, True], texts
    assert [len(await notices(console, inv)) for inv in INVESTIGATORS] == [1, 1]
    told = [m for m in await console.messages(f"dm:{MANAGER}")
            if m["text"] and "已决定：先收后补" in m["text"]]
    assert len(told) == 1


@pytest.mark.postgres
async def test_case_managers_scanning_a_yellow_case_at_the_same_moment_are_all_told_the_choice(
        pg_console: Console) -> None:
    """Two case managers scan a yellow case at the same moment (two sessions): the one whose
    scan lost the race is told it waits and, like the one whose scan made the 待定 decision,
    is told the prosecutor's choice."""
    console = pg_console
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    replies = await _scans_at_once(console, code, [MANAGER, MANAGER2])
    for manager, r in zip((MANAGER, MANAGER2), replies, strict=True):  # each told it waits
        [answer] = [m for m in r["messages"] if m["chat"] == f"dm:{manager}"]
        assert "待定" in (answer["card"]["title"] if answer["card"] else answer["text"]), r
    [pending] = await asked(console, code)
    await console.click(PROSECUTOR, pending["id"], "intake.receive")
    for manager in (MANAGER, MANAGER2):
        told = [m["text"] for m in await console.messages(f"dm:{manager}")
                if m["text"] and "已决定" in m["text"]]
        assert told == [f"{code} 承办检察官余斌梅已决定：先收后补。"], (manager, told)
    # the 待定 card shows the choice; the prosecutor was asked once, and that card is done
    titles = [m["card"]["title"] for manager in (MANAGER, MANAGER2)
              for m in cards(await console.messages(f"dm:{manager}"))]
    assert titles == [f"受理 {code} · 先收后补"]
    assert [m["card"]["title"] for m in await asked(console, code)] == [f"受理 {code} · 先收后补"]
    assert await intakes(console, code) == ["待定", "先收后补"]


@pytest.mark.postgres
async def test_case_managers_scanning_at_the_same_moment_are_told_once_when_it_goes_moot(
        pg_console: Console) -> None:
    """The case manager whose scan lost the race to the 待定 decision waits like the one
    whose scan made it: a re-score to red tells each of them once."""
    console = pg_console
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await _scans_at_once(console, code, [MANAGER, MANAGER2])
    await evaluate(console, code, RED)
    for manager in (MANAGER, MANAGER2):
        assert await told(console, manager, "不再待定") == [
            f"{code} 已转为红码 66分，不再待定，无需等待承办检察官选择，请重新扫码受理。"], manager
