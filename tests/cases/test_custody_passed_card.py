"""A passed 羁押期限 reads 已届满 on the 码 card as on the code page (the same rule: at the end
of its last day)."""

from __future__ import annotations

from tests.cases.helpers import RED, cards, create_case, evaluate
from tests.conftest import Console

LEADER = "p-leader-hc"


async def test_the_leaders_code_card_says_custody_passed_as_the_page_does(
        console: Console) -> None:
    code = await create_case(console, custody_deadline="2026-11-02")
    await evaluate(console, code, RED)
    [card] = cards((await console.send(LEADER, f"dm:{LEADER}", f"码 {code}"))["messages"])
    assert "羁押期限：2026-11-02（周一）\n" in card["card"]["body"]  # its last day: not yet
    await console.advance("14h")
    await console.advance("30m")  # Tuesday 00:00: custody ran out at the end of Monday
    [card] = cards((await console.send(LEADER, f"dm:{LEADER}", f"码 {code}"))["messages"])
    assert "羁押期限：2026-11-02（周一）已届满\n" in card["card"]["body"], card["card"]["body"]
    link = next(a["url"] for a in card["card"]["actions"] if a["id"] == "case.open")
    await console.client.post("/console/api/login", json={"user": LEADER})
    page = await (await console.client.get(link[link.index("/c/"):])).text()
    assert 'id="custody-passed">已届满' in page, page[:2000]
