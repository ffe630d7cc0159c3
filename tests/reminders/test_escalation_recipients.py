"""Whom escalations reach in an office without a 院领导 (SPEC §3): most county offices have only
a 检察长, who then gets the 责任倒查, the 复核答复（升级） and the joint review's notice; an office
with neither escalates to the office above. 提醒 counts what each person was sent.

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai (tests/conftest.py START)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.roster import read_org_file, write_org_file
from tests.cases.helpers import (
    LS_PROSECUTOR,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
    org_with_second_county,
)
from tests.conftest import Console, make_settings, open_console

LS_INV = "p-investigator-ls"
LS_CHIEF = "p-chief-c01-02"  # 乐顺's 检察长 (袁浩); 乐顺 has no 院领导
CITY_CHIEF = "p-chief-c01"  # 示范市's 检察长
HC_LEADER = "p-leader-hc"  # 院领导 of 海澄, the other county office


def ls_roster(tmp_path: Path, demoted: Sequence[str] = ()) -> Path:
    """The demo roster with 乐顺's prosecutor and investigator; ``demoted`` lose their 院领导
    and 检察长 roles (kept as prosecutors, so the chats naming them stay valid)."""
    path = org_with_second_county(tmp_path)
    data = read_org_file(path)
    for p in data["people"]:
        if p["id"] in demoted:
            p["roles"] = [r for r in p["roles"] if r not in ("leader", "chief")] or ["prosecutor"]
    write_org_file(path, data)
    return path


@asynccontextmanager
async def ls_console(tmp_path: Path, port: int, demoted: Sequence[str] = ()
                     ) -> AsyncIterator[Console]:
    settings = make_settings(tmp_path, org=str(ls_roster(tmp_path, demoted)),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as c:
        yield c


async def ls_red_case(console: Console, **over: Any) -> str:
    code = await create_case(console, prosecutor=LS_PROSECUTOR, police_unit="ps-ls",
                             investigators=[LS_INV], **over)
    await evaluate(console, code, RED, by=LS_PROSECUTOR)
    return code


async def cards_titled(console: Console, person: str, word: str) -> list[dict[str, Any]]:
    return [m for m in cards(await console.messages(f"dm:{person}"))
            if word in m["card"]["title"]]


async def listing(console: Console, person: str) -> str:
    """The answer to 「提醒」: the card's body, or the text when there is no card."""
    [msg] = (await console.send(person, f"dm:{person}", "提醒"))["messages"]
    return str(msg["card"]["body"] if msg["card"] else msg["text"])


def labels(m: dict[str, Any]) -> list[str]:
    return [a["label"] for a in m["card"]["actions"]]


async def test_a_county_chief_gets_the_accountability_review_without_a_leader(
        tmp_path: Path, port: int) -> None:
    """乐顺 has no 院领导: custody runs out on Saturday 11-07 with the case red, and the
    责任倒查 goes to its 检察长 on Monday 11-09 09:00 (with the prosecutor's copy). After
    已处理 the card still leads to the case (查看案件)."""
    async with ls_console(tmp_path, port) as console:
        code = await ls_red_case(console, custody_deadline="2026-11-07")
        assert await listing(console, LS_CHIEF) == (
            f"即将提醒（1条）：\n· 责任倒查 {code} 将于 2026-11-09（周一）09:00 提醒")

        await console.advance("7d")  # Monday 11-09 09:30
        [card] = await cards_titled(console, LS_CHIEF, "责任倒查")
        # addressed to the 检察长 it reaches, not to a 院领导 乐顺 does not have
        assert "案件仍为红码。请您启动责任倒查。" in card["card"]["body"]
        assert "院领导" not in card["card"]["body"]
        assert labels(card) == ["查看案件", "已处理"]
        [mine] = await cards_titled(console, LS_PROSECUTOR, "责任倒查")
        assert "请您启动" not in mine["card"]["body"]  # the prosecutor does not start it
        for other in (HC_LEADER, CITY_CHIEF, "p-leader-1"):
            assert await cards_titled(console, other, "责任倒查") == []
        assert await listing(console, LS_CHIEF) == (
            f"待处理提醒（1条）：\n· 责任倒查 {code} 羁押期限 2026-11-07（周六）")

        view = card["card"]["actions"][0]["url"]
        await console.click(LS_CHIEF, card["id"], "reminder.done")
        [card] = await cards_titled(console, LS_CHIEF, "责任倒查")
        assert card["card"]["footer"].startswith("已处理：袁浩")
        assert [(a["label"], a["url"]) for a in card["card"]["actions"]] == [("查看案件", view)]
        assert await listing(console, LS_CHIEF) == "您目前没有待办提醒。"


async def test_an_office_with_neither_escalates_to_the_city(
        tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture) -> None:
    """Without a 院领导 or a 检察长 in 乐顺, the 责任倒查 goes to the city's 检察长."""
    async with ls_console(tmp_path, port, demoted=[LS_CHIEF]) as console:
        code = await ls_red_case(console, custody_deadline="2026-11-07")
        assert f"· 责任倒查 {code} 将于 2026-11-09（周一）09:00 提醒" in await listing(console, CITY_CHIEF)
        with caplog.at_level(logging.WARNING, logger="bot.reminders"):
            await console.advance("7d")
        assert len(await cards_titled(console, CITY_CHIEF, "责任倒查")) == 1
        assert await cards_titled(console, LS_CHIEF, "责任倒查") == []
        assert not [r for r in caplog.records if "escalation" in r.getMessage()]


async def test_an_escalation_reaching_no_head_at_all_is_logged(
        tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture) -> None:
    """No 院领导 or 检察长 in the office nor above it: the prosecutor still gets the card, and
    the operator a WARNING naming the escalation."""
    heads = [LS_CHIEF, CITY_CHIEF, "p-leader-1", "p-leader-2"]
    async with ls_console(tmp_path, port, demoted=heads) as console:
        code = await ls_red_case(console, custody_deadline="2026-11-07")
        with caplog.at_level(logging.WARNING, logger="bot.reminders"):
            await console.advance("7d")
        assert len(await cards_titled(console, LS_PROSECUTOR, "责任倒查")) == 1
        [warning] = [r for r in caplog.records if "escalation" in r.getMessage()]
        assert warning.levelno == logging.WARNING and code in warning.getMessage()


async def test_an_overdue_answer_escalates_to_the_chief_counted_per_recipient(
        tmp_path: Path, port: int) -> None:
    """A request filed Monday 11-02, due Thursday 11-05 by 18:00, never answered: the prosecutor
    is reminded the next morning, and from Tuesday 11-10 every 2 working days the 检察长 too. Each one's 提醒
    counts the cards they were sent."""
    async with ls_console(tmp_path, port) as console:
        code = await ls_red_case(console)
        [card] = cards(await console.messages(f"dm:{LS_INV}"))
        r = await console.click(LS_INV, card["id"], "review.file",
                                {"items": "1", "reason": "监控已调取"})
        assert "复核申请 #1 已提交" in r["messages"][-1]["text"]

        await console.advance("8d")  # Tuesday 11-10 09:30: the first escalation
        [up] = await cards_titled(console, LS_CHIEF, "复核答复")
        assert "（升级）" in up["card"]["title"]
        line = f"· 复核答复（升级） 复核申请 #1（{code}） 答复期限 2026-11-05（周四）18:00 前"
        chief = await listing(console, LS_CHIEF)
        assert f"{line}\n" in chief + "\n" and "已提醒" not in chief, chief
        assert f"{line}（已提醒 2 次）" in await listing(console, LS_PROSECUTOR)

        await console.advance("2d")  # Thursday 11-12: the second escalation
        assert len(await cards_titled(console, LS_CHIEF, "复核答复")) == 2
        assert f"{line}（已提醒 2 次）" in await listing(console, LS_CHIEF)
        assert f"{line}（已提醒 3 次）" in await listing(console, LS_PROSECUTOR)


async def test_a_joint_review_invites_the_chief_without_a_leader(
        tmp_path: Path, port: int) -> None:
    async with ls_console(tmp_path, port) as console:
        await ls_red_case(console)
        [card] = cards(await console.messages(f"dm:{LS_INV}"))
        await console.click(LS_INV, card["id"], "review.file", {"items": "1", "reason": "有异议"})
        [pcard] = [m for m in cards(await console.messages(f"dm:{LS_PROSECUTOR}"))
                   if "复核申请 #1" in m["card"]["title"]]
        r = await console.click(LS_PROSECUTOR, pcard["id"], "review.joint",
                                {"time": "2026-11-05 14:30"})
        assert "已通知申请人高远、检察长袁浩" in r["messages"][-1]["text"], r["messages"]
        [joint] = await cards_titled(console, LS_CHIEF, "检警共同评议")
        assert "共同评议时间：2026-11-05 14:30" in joint["card"]["body"]


async def test_a_reminder_due_when_the_clock_is_advanced_goes_out_at_once(
        console: Console) -> None:
    """Scored at Monday 09:36, 8 days before the investigation deadline: its 诉前会商 is due at
    once. Advancing the test clock a day sends it then, not as a 补发 the next morning."""
    await console.advance("6m")
    code = await create_case(console, investigation_deadline="2026-11-10")
    await evaluate(console, code, YELLOW)
    await console.advance("25h")
    [m] = await cards_titled(console, PROSECUTOR, "诉前会商")
    assert m["card"]["title"] == "预警提醒 · 诉前会商" and "未能按时送达" not in m["card"]["body"]
    assert m["at"].startswith("2026-11-02T01:36"), m["at"]  # 09:36 in Shanghai
    assert code in m["card"]["body"]
