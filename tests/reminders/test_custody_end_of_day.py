"""责任倒查 and the last day of custody: the 羁押期限 date is the last day of custody, reached
(届满) at the end of that day. A case re-scored green on that day owes no 责任倒查; one still
red when the day ends gets it in the next office hours, naming the deadline date.

The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai (tests/conftest.py START)."""

from __future__ import annotations

from typing import Any

from tests.cases.helpers import GREEN, PROSECUTOR, RED, create_case, evaluate
from tests.conftest import Console

LEADER = "p-leader-hc"


async def custody_cards(console: Console, person: str) -> list[dict[str, Any]]:
    return [m for m in await console.messages(f"dm:{person}")
            if m["card"] and "责任倒查" in m["card"]["title"]]


async def listing(console: Console, person: str) -> str:
    [msg] = (await console.send(person, f"dm:{person}", "提醒"))["messages"]
    return str(msg["card"]["body"] if msg["card"] else msg["text"])


async def test_a_case_turned_green_on_its_last_day_of_custody_owes_no_accountability_review(
        console: Console) -> None:
    """Custody of both cases ends with Thursday 11-05. One is re-scored green on 11-05 at
    08:30: nothing goes out at 09:00 nor later, and 统计 does not count it. The other stays
    red: its 责任倒查 goes out on Friday 11-06 at 09:00 (提醒 said so beforehand)."""
    greened = await create_case(console, custody_deadline="2026-11-05")
    await evaluate(console, greened, RED)
    red = await create_case(console, custody_deadline="2026-11-05")
    await evaluate(console, red, RED)
    body = await listing(console, LEADER)
    assert f"· 责任倒查 {greened} 将于 2026-11-06（周五）09:00 提醒" in body, body
    assert f"· 责任倒查 {red} 将于 2026-11-06（周五）09:00 提醒" in body, body

    await console.advance("71h")  # Thursday 11-05 08:30, the last day of custody
    await evaluate(console, greened, GREEN)
    await console.advance("1h")  # 09:30 that day: custody has not run out yet
    assert await custody_cards(console, LEADER) == []
    assert await listing(console, LEADER) == (
        f"即将提醒（1条）：\n· 责任倒查 {red} 将于 2026-11-06（周五）09:00 提醒")

    await console.advance("1d")  # Friday 11-06 09:30
    [lead] = await custody_cards(console, LEADER)
    [p] = await custody_cards(console, PROSECUTOR)
    for m in (lead, p):
        body = m["card"]["body"]
        assert red in body and greened not in body
        assert "羁押期限已于 2026-11-05（周四）届满，案件仍为红码" in body, body
        assert "羁押期限：2026-11-05（周四）" in body, body
        assert m["at"].startswith("2026-11-06T01:00")  # 09:00 Shanghai
    assert not lead["card"]["title"].startswith("【补发】")
    assert f"· 责任倒查 {red} 羁押期限 2026-11-05（周四）" in await listing(console, LEADER)
    stats = (await console.send(LEADER, f"dm:{LEADER}", "统计"))["messages"][0]["card"]["body"]
    assert "羁押期限届满仍为红码：1" in stats, stats

    await console.advance("30d")  # once, and never for the case that turned green in time
    assert len(await custody_cards(console, LEADER)) == 1
