"""What a reminder card says about its deadline when its slot falls on a day off (SPEC §3:
delivered in office hours on working days)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.cases.helpers import AUTH, INVESTIGATORS, PROSECUTOR, RED, YELLOW, create_case, evaluate
from tests.conftest import Console, open_console
from tests.reminders.test_reminders_e2e import reminder_cards

TZ = ZoneInfo("Asia/Shanghai")


async def consultation_cards(console: Console, person: str) -> list[dict[str, Any]]:
    return [m for m in await reminder_cards(console, person) if "诉前会商" in m["card"]["title"]]


async def test_a_weekly_reevaluation_due_on_a_holiday_is_due_the_day_it_is_delivered(
        settings: Any, port: int) -> None:
    """Evaluated red on Friday 2026-12-25: the week is up on 2027-01-01 (元旦, from the
    statutory fallback: chinese-calendar has no 2027), the card comes on Monday 01-04 and gives
    until that evening, not a deadline on the holiday already three days past."""
    async with open_console(settings, port, start=datetime(2026, 12, 25, 9, 30, tzinfo=TZ)
                            ) as console:
        code = await create_case(console, investigation_deadline="2027-03-31",
                                 custody_deadline="2027-04-30")
        await evaluate(console, code, RED)
        await console.advance("4d")  # Tuesday 12-29: nothing yet
        assert await reminder_cards(console, PROSECUTOR) == []
        await console.advance("6d")  # Monday 2027-01-04 09:30
        [card] = await reminder_cards(console, PROSECUTOR)
        assert card["at"].startswith("2027-01-04T01:00")
        body = card["card"]["body"]
        assert "应评估日期为 2027-01-01（周五）" in body
        assert "评估期限：2027-01-04（周一）18:00 前" in body, body
        assert "2027-01-01（周五）18:00" not in body


async def test_a_restart_neither_resends_nor_loses_reminders(settings: Any, port: int) -> None:
    """The bot stopped and started again on the same database (a Friday evening to Monday):
    the card already sent is not sent again, the list is what it was, and the next week's
    card still goes out once and takes over the old card's buttons."""
    async with open_console(settings, port) as console:  # Monday 2026-11-02 09:30
        code = await create_case(console)
        await evaluate(console, code, RED)
        await console.advance("8d")  # the 11-09 card
        [first] = await reminder_cards(console, PROSECUTOR)
        listed = (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
                  )["messages"][0]["card"]["body"]
        stopped = console.clock.now() + timedelta(days=3, hours=8)  # Friday 11-13 17:30
    async with open_console(settings, port, start=stopped) as console:
        await console.advance("1m")
        assert [m["id"] for m in await reminder_cards(console, PROSECUTOR)] == [first["id"]]
        assert (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "提醒")
                )["messages"][0]["card"]["body"] == listed
        await console.advance("3d")  # Monday 11-16 17:31
        old, new = await reminder_cards(console, PROSECUTOR)
        assert old["id"] == first["id"] and old["card"]["actions"] == []
        assert old["card"]["footer"] == "已由 2026-11-16 的新提醒取代"
        assert new["at"].startswith("2026-11-16T01:00") and not new["card"]["title"].startswith("【补发】")
        assert [a["label"] for a in new["card"]["actions"]] == ["去评估", "已处理"]


async def test_a_consultation_for_a_moved_deadline_takes_over_the_earlier_card(
        console: Console) -> None:
    """The 诉前会商 went out for an investigation deadline of 11-20, then the deadline was
    extended to 12-31 (PATCH): the card for the new deadline is the one to act on, the earlier
    one loses its buttons, and 提醒 names the consultation once."""
    code = await create_case(console, investigation_deadline="2026-11-20")
    await evaluate(console, code, YELLOW)
    await console.advance("4d")  # Friday 11-06: the 11-05 card
    [first] = await consultation_cards(console, INVESTIGATORS[0])
    assert "侦查期限将于 2026-11-20（周五）届满" in first["card"]["body"]
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"investigation_deadline": "2026-12-31"})
    assert r.status == 200
    await console.advance("40d")  # Wednesday 12-16: 15 days before the new deadline
    for person in (INVESTIGATORS[0], PROSECUTOR):
        old, new = await consultation_cards(console, person)
        assert "侦查期限将于 2026-12-31（周四）届满" in new["card"]["body"]
        assert [a["label"] for a in new["card"]["actions"]] == ["发起会商", "已处理"]
        assert old["card"]["actions"] == [], old
        assert old["card"]["footer"] == "已由 2026-12-16 的新提醒取代"
    listed = (await console.send(INVESTIGATORS[0], f"dm:{INVESTIGATORS[0]}", "提醒")
              )["messages"][0]["card"]["body"]
    assert listed.count(f"诉前会商 {code}") == 1, listed
