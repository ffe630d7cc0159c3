"""A 诉前会商 or 责任倒查 already past when the case is scored was owed late, not sent late: it
goes out at once (in office hours) without 【补发】 and without claiming the bot was down; one
planned in time and missed through a downtime is still a 补发 (SPEC §3: catch up once).

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.cases.helpers import AUTH, INVESTIGATORS, PROSECUTOR, RED, YELLOW, create_case, evaluate
from tests.conftest import Console

LEADER = "p-leader-hc"
DOWN = "未能按时送达"


async def cards_about(console: Console, person: str, word: str) -> list[dict[str, Any]]:
    return [m for m in await console.messages(f"dm:{person}")
            if m["card"] and word in m["card"]["title"]]


async def test_a_case_scored_inside_the_15_days_gets_its_consultation_at_once(
        console: Console) -> None:
    # 8 days before the investigation deadline: its 诉前会商 date (10-26) is already behind
    code = await create_case(console, investigation_deadline="2026-11-10")
    await evaluate(console, code, YELLOW)
    await console.advance("1m")
    for person in (*INVESTIGATORS, PROSECUTOR):
        [m] = await cards_about(console, person, "诉前会商")
        card = m["card"]
        assert card["title"] == "预警提醒 · 诉前会商", card["title"]
        assert DOWN not in card["body"]
        assert "侦查期限将于 2026-11-10（周二）届满" in card["body"]
        assert m["at"].startswith("2026-11-02T01:3")  # at once: 09:3x in Shanghai
    await console.advance("3d")
    assert len(await cards_about(console, INVESTIGATORS[0], "诉前会商")) == 1  # once


async def test_a_custody_deadline_corrected_into_the_past_escalates_without_bu_fa(
        console: Console) -> None:
    code = await create_case(console)  # custody deadline 12-31
    await evaluate(console, code, RED)
    await console.advance("57h")  # Wednesday 11-04 18:30, after office hours
    # the case-management system corrects it: custody ran out on Tuesday, the case red then
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"custody_deadline": "2026-11-03"})
    assert r.status == 200, await r.text()
    await console.advance("1h")
    assert await cards_about(console, LEADER, "责任倒查") == []  # not in the evening
    await console.advance("15h")  # Thursday 10:30
    [m] = await cards_about(console, LEADER, "责任倒查")
    assert m["at"].startswith("2026-11-05T01:00")  # 09:00 in Shanghai, when the office opens
    assert not m["card"]["title"].startswith("【补发】") and DOWN not in m["card"]["body"]
    assert "羁押期限已于 2026-11-03（周二）届满" in m["card"]["body"]


async def test_a_consultation_missed_through_a_downtime_is_still_caught_up_as_bu_fa(
        console: Console) -> None:
    code = await create_case(console, investigation_deadline="2026-11-20")  # 诉前会商 11-05
    await evaluate(console, code, YELLOW)
    console.clock.advance(timedelta(days=5))  # down from Monday to Saturday: no tick
    await console.advance("2d")  # back on Monday 11-09
    [m] = await cards_about(console, INVESTIGATORS[0], "诉前会商")
    assert m["card"]["title"] == "【补发】预警提醒 · 诉前会商" and DOWN in m["card"]["body"]
