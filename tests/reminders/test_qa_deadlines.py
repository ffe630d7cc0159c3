"""What a reminder card says about its deadline when its slot falls on a day off (SPEC §3:
delivered in office hours on working days)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.cases.helpers import PROSECUTOR, RED, create_case, evaluate
from tests.conftest import open_console
from tests.reminders.test_reminders_e2e import reminder_cards

TZ = ZoneInfo("Asia/Shanghai")


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
        assert "应评估日期 2027-01-01" in body
        assert "评估期限：2027-01-04（星期一）18:00 前" in body, body
        assert "2027-01-01（星期五）18:00" not in body
