"""Reminders and people who may no longer see the case (SPEC §3): a 院领导 moved to another
office by a roster edit, an investigator who left the roster. A sweep sends them nothing of
it, and the cards they were sent before are not redrawn with what became of the case.

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai (tests/conftest.py START)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.admin.test_roster_departures import hand_edit, without
from tests.cases.helpers import (
    AUTH,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    cards,
    create_case,
    editable_console,
    evaluate,
)
from tests.conftest import Console

INV, INV2 = INVESTIGATORS
LEADER = "p-leader-hc"  # 院领导 of 海澄 (c01-01), the cases' office
HC_CHIEF = "p-chief-c01-01"  # 海澄's 检察长: its escalations once it has no 院领导
NEUTRAL = "您已无权查看此案件，本卡片不再更新"


def to_le_shun(person_id: str) -> Any:
    """The roster edit moving `person_id` to 乐顺 (c01-02), another county office."""
    def change(data: dict[str, Any]) -> None:
        next(p for p in data["people"] if p["id"] == person_id)["unit"] = "c01-02"
    return change


async def titled(console: Console, person: str, word: str) -> list[dict[str, Any]]:
    return [m for m in cards(await console.messages(f"dm:{person}")) if word in m["card"]["title"]]


async def current(console: Console, person: str, message_id: int) -> dict[str, Any]:
    [msg] = [m for m in await console.messages(f"dm:{person}") if m["id"] == message_id]
    return dict(msg["card"])


async def test_a_leader_moved_away_is_not_sent_the_accountability_review(
        tmp_path: Path, port: int) -> None:
    """Custody runs out on Saturday 11-07 with the case red; before the 责任倒查 goes out
    (Monday 11-09), 海澄's 院领导 is moved to 乐顺: the escalation reaches 海澄's 检察长, and
    the leader gets nothing."""
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console, custody_deadline="2026-11-07")
        await evaluate(console, code, RED)
        await hand_edit(console, org, to_le_shun(LEADER))
        await console.advance("7d")  # Monday 11-09 09:31
        assert len(await titled(console, PROSECUTOR, "责任倒查")) == 1
        assert len(await titled(console, HC_CHIEF, "责任倒查")) == 1
        assert await titled(console, LEADER, "责任倒查") == []
        assert not [m for m in await console.messages(f"dm:{LEADER}") if code in str(m)]


async def test_an_investigator_off_the_roster_is_not_sent_the_consultation_reminder(
        tmp_path: Path, port: int) -> None:
    """诉前会商 goes to the case's investigators (recorded on it) and its prosecutor, 15 days
    before the investigation deadline; one investigator has left the roster by then: the
    other and the prosecutor get it, they nothing."""
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console, investigation_deadline="2026-11-20")
        await evaluate(console, code, RED)
        await hand_edit(console, org, without(INV))
        before = await console.messages(f"dm:{INV}")
        await console.advance("3d")  # Thursday 11-05 09:30, 15 days before the deadline
        assert len(await titled(console, INV2, "诉前会商")) == 1
        assert len(await titled(console, PROSECUTOR, "诉前会商")) == 1
        assert await console.messages(f"dm:{INV}") == before


async def test_a_leader_moved_away_keeps_the_review_escalation_as_it_was(
        tmp_path: Path, port: int) -> None:
    """The 复核答复（升级） reached 海澄's 院领导 on Tuesday 11-10; they are moved to 乐顺, then
    the prosecutor answers (驳回): their card is not redrawn with the answer, only loses its
    buttons, footed that they may no longer see the case. The prosecutor's card is closed as
    ever."""
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console)
        await evaluate(console, code, RED)
        [card] = cards(await console.messages(f"dm:{INV}"))
        await console.click(INV, card["id"], "review.file", {"items": "1", "reason": "监控已调取"})
        await console.advance("8d")  # Tuesday 11-10 09:30: escalated
        [sent] = await titled(console, LEADER, "复核答复")
        assert sent["card"]["body"].startswith("【升级督办】")
        await hand_edit(console, org, to_le_shun(LEADER))

        [decision] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                      if m["card"]["title"].startswith("复核申请 #1")]
        await console.click(PROSECUTOR, decision["id"], "review.reject", {"reason": "证据仍不足"})
        mine = (await titled(console, PROSECUTOR, "复核答复"))[-1]["card"]
        assert mine["actions"] == [] and mine["footer"] != NEUTRAL  # closed: 已驳回 …
        now = await current(console, LEADER, sent["id"])
        assert now["body"] == sent["card"]["body"] and now["title"] == sent["card"]["title"]
        assert now["actions"] == [] and now["footer"] == NEUTRAL
        assert [m["id"] for m in await titled(console, LEADER, "复核答复")] == [sent["id"]]


async def test_a_leader_moved_away_keeps_the_accountability_review_as_it_was(
        tmp_path: Path, port: int) -> None:
    """The 责任倒查 reached 海澄's 院领导; they are moved to 乐顺, then the case is re-scored
    and closed: their card gets no 现状 line (仍为红码, 已结案), nor does the reopening
    give it buttons back."""
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console, custody_deadline="2026-11-07")
        await evaluate(console, code, RED)
        await console.advance("7d")  # Monday 11-09 09:30
        [sent] = await titled(console, LEADER, "责任倒查")
        await hand_edit(console, org, to_le_shun(LEADER))

        await evaluate(console, code, RED)
        [mine] = await titled(console, PROSECUTOR, "责任倒查")
        assert "仍为红码" in mine["card"]["body"]  # the prosecutor's copy is restated
        for status in ("closed", "open"):
            r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                           json={"status": status})
            assert r.status == 200, await r.text()
            now = await current(console, LEADER, sent["id"])
            assert now["body"] == sent["card"]["body"], status
            assert now["actions"] == [] and now["footer"] == NEUTRAL, status


async def test_a_leader_moved_away_cannot_settle_the_accountability_review(
        tmp_path: Path, port: int) -> None:
    """The 责任倒查 reached 海澄's 院领导, who is then moved to 乐顺 (still a 院领导 there): a
    tap on 已处理 on the card they kept is refused with the rule, settles nothing, and says
    nothing of the case; the prosecutor's copy stays open."""
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console, custody_deadline="2026-11-07")
        await evaluate(console, code, RED)
        await console.advance("7d")  # Monday 11-09 09:30
        [sent] = await titled(console, LEADER, "责任倒查")
        await hand_edit(console, org, to_le_shun(LEADER))

        r = await console.click(LEADER, sent["id"], "reminder.done")
        assert r["messages"][-1]["text"] == (
            f"您已无权查看案件 {code}，不能处理这条提醒。")
        [mine] = await titled(console, PROSECUTOR, "责任倒查")
        assert "已处理" not in (mine["card"].get("footer") or "")
        assert [a["label"] for a in mine["card"]["actions"]][-1] == "已处理"
