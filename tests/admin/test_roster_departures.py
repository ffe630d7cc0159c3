"""People who leave the roster by a hand edit of org.yaml (no import, no handover): what was
planned for them goes to those who now answer for it, nothing to the one who left."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.roster import read_org_file, write_org_file
from storage import inspection as store
from tests.conftest import Console
from tests.inspection.helpers import HOST, quick_session, say
from tests.reminders.test_reminders_e2e import reminder_cards

ESCALATED = "逾期提醒 · 督察整改（升级）"


async def hand_edit(console: Console, org_path: Path, change: Callable[[dict[str, Any]], None]
                    ) -> None:
    """Edit org.yaml as an operator would; the console takes it at its next tick."""
    data = read_org_file(org_path)
    change(data)
    write_org_file(org_path, data)
    await console.advance("1m")


def without(person_id: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["people"] = [p for p in data["people"] if p["id"] != person_id]
        for chat in data["chats"]:
            chat["members"] = [m for m in chat["members"] if m != person_id]
    return change


async def overdue_item(console: Console) -> tuple[str, store.RectificationItem]:
    """A session's third unit with an item due in 10 days; returns (unit, item)."""
    s = await quick_session(console)
    unit = json.loads(s.result or "")["units"][2]
    await say(console, "结束 确认")
    await say(console, "整改 3 １０天 建立月报制度")
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, s.id)
    return unit, item


async def test_the_escalation_of_an_inspector_who_left_goes_to_the_other_inspectors(
        console: Console, org_path: Path) -> None:
    _, item = await overdue_item(console)
    await hand_edit(console, org_path, without(HOST))  # the session's inspector leaves
    for step in ("11d", "7h", "5d"):  # overdue past its first reminder: escalated
        await console.advance(step)
    assert await reminder_cards(console, HOST) == []
    for other in ("p-inspector-2", "p-inspector-3"):
        [card] = await reminder_cards(console, other)
        assert card["card"]["title"] == ESCALATED and f"#{item.id}" in card["card"]["body"]


async def test_a_chief_replaced_by_hand_is_not_reminded_the_new_one_is(
        console: Console, org_path: Path) -> None:
    unit, item = await overdue_item(console)
    old, new = f"p-chief-{unit}", "p-chief-new"

    def replace_chief(data: dict[str, Any]) -> None:
        without(old)(data)
        data["people"].append({"id": new, "name": "钱新任", "unit": unit, "roles": ["chief"]})
    await hand_edit(console, org_path, replace_chief)
    await console.advance("11d")  # overdue: the first reminder
    assert await reminder_cards(console, old) == []
    [card] = await reminder_cards(console, new)
    assert f"#{item.id}" in card["card"]["body"]
    assert "报告整改完成" in [a["label"] for a in card["card"]["actions"]]
