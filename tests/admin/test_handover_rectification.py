"""A handover (检察长换任) moves the outgoing chief's open 整改事项 to the incoming chief: the
import's preview says 「移交 N 项未完成整改」, the new chief gets one notice listing them, sees
them in 提醒, may report them done and is reminded of them; the old chief's cards lose
报告整改完成 and their 整改完成 is refused. Closed items keep their history. Through the admin
page and through `casebot import roster --replace-chiefs`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from config.loader import DEFAULT_DIR
from storage import inspection as store
from storage.models import AuditRecord
from tests.admin.conftest import ADMIN
from tests.admin.test_roster_handover import confirm
from tests.admin.test_roster_page import HEADER, login, preview
from tests.conftest import Console
from tests.inspection.helpers import quick_session, say
from tests.inspection.test_rectification_done import answer, dm_card, dm_texts, status
from tests.inspection.test_roster_import import run
from tests.reminders.test_reminders_e2e import reminder_cards

NEW = "p-chief-new"


async def items_of_first_unit(console: Console) -> tuple[str, int, int]:
    """A session's first unit with two items owned by its chief: one open (due Tuesday
    11-03), one the chief has already reported done. Returns (unit, open item, closed item)."""
    s = await quick_session(console)
    unit = json.loads(s.result or "")["units"][0]
    await say(console, "结束 确认")
    await say(console, "整改 1 2026-11-03 建立月报制度")
    await say(console, "整改 1 2026-11-20 补齐台账")
    async with console.app.services.db() as db:
        first, second = await store.rectifications_of(db, s.id)
    r = await console.send(f"p-chief-{unit}", f"dm:p-chief-{unit}", f"整改完成 #{second.id} 台账已补齐")
    assert answer(r).startswith(f"已报告整改事项 #{second.id} 整改完成并销号")
    return unit, first.id, second.id


def handover_csv(console: Console, unit: str) -> str:
    u = console.app.services.directory.units[unit]
    return HEADER + f"{unit},{u.name},{u.kind},,,{NEW},钱新任,dt-9901\n"


async def handover_records(console: Console) -> list[dict[str, str]]:
    async with console.app.services.db() as db:
        rows = (await db.execute(select(AuditRecord).where(
            AuditRecord.action == "inspection.rectification.handover"))).scalars().all()
    return [json.loads(r.data) for r in rows]


async def test_the_admin_page_hands_open_items_to_the_new_chief(console: Console) -> None:
    unit, open_id, closed_id = await items_of_first_unit(console)
    old = f"p-chief-{unit}"
    await login(console, ADMIN)
    _, page = await preview(console, handover_csv(console, unit))
    box = page[page.index('id="handovers"'):page.index('id="apply"')]
    assert "移交 1 项未完成整改</span>给 钱新任" in box

    done = await confirm(console, page, replace=True)
    assert "移交 1 项未完成整改</span>给 钱新任，并已通知" in done
    assert (await status(console, open_id)).owner_person_id == NEW
    closed = await status(console, closed_id)  # history unchanged
    assert closed.owner_person_id == old and closed.closed_by_person == old
    assert await handover_records(console) == [
        {"item": open_id, "unit": unit, "from": old, "to": NEW}]

    # one notice to the new chief, listing the open item only
    [notice] = await dm_texts(console, NEW)
    assert notice.startswith(f"您已接任{console.app.services.directory.units[unit].name}检察长。")
    assert f"1 项未完成整改事项已移交给您：\n· 整改事项 #{open_id}，整改期限 2026-11-03（周二）" in notice
    assert f"#{closed_id}" not in notice
    # the old chief's item card no longer offers 报告整改完成
    item_card = await dm_card(console, old, f"整改事项 #{open_id}")
    assert item_card["card"]["actions"] == []
    assert item_card["card"]["footer"].startswith("已移交：") and "钱新任" in item_card["card"]["footer"]

    # 提醒: the new chief's list has it, the old chief's no longer
    [mine] = (await console.send(NEW, f"dm:{NEW}", "提醒"))["messages"]
    assert f"整改事项 #{open_id}，整改期限 2026-11-03（周二）" in mine["card"]["body"]
    [theirs] = (await console.send(old, f"dm:{old}", "提醒"))["messages"]
    assert f"#{open_id}" not in json.dumps(theirs, ensure_ascii=False)

    # overdue: the reminder goes to the new chief, not the old one
    await console.advance("2d")
    [reminder] = await reminder_cards(console, NEW)
    assert "报告整改完成" in [a["label"] for a in reminder["card"]["actions"]]
    assert await reminder_cards(console, old) == []

    r = await console.send(old, f"dm:{old}", f"整改完成 #{open_id} 已建立")
    assert (await status(console, open_id)).status == "open", r
    r = await console.click(NEW, reminder["id"], "rectification.report", {"note": "已建立月报制度"})
    assert answer(r).startswith(f"已报告整改事项 #{open_id} 整改完成并销号")
    assert (await status(console, open_id)).closed_by_person == NEW


async def test_the_cli_import_hands_items_over_and_the_next_reminder_goes_to_the_new_chief(
        console: Console, org_path: Path, tmp_path: Path) -> None:
    unit, open_id, _ = await items_of_first_unit(console)
    old = f"p-chief-{unit}"
    await console.advance("2d")  # Wednesday: the old chief's first overdue reminder
    [old_reminder] = await reminder_cards(console, old)
    assert old_reminder["card"]["actions"]

    cfg = tmp_path / "cli.casebot.yaml"
    cfg.write_text(f"org: {org_path}\nscore_template: {DEFAULT_DIR / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{tmp_path / 'casebot.db'}'}}\n",
                   encoding="utf-8")
    csv_path = tmp_path / "handover.csv"
    csv_path.write_text(handover_csv(console, unit), encoding="utf-8")
    r = await asyncio.to_thread(run, "import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "移交 1 项未完成整改" in r.stderr  # not a handover yet: says what one would move
    assert (await status(console, open_id)).owner_person_id == old
    r = await asyncio.to_thread(run, "import", "roster", str(csv_path), "--config", str(cfg),
                                "--replace-chiefs")
    assert r.returncode == 0, r.stderr
    assert f"移交 1 项未完成整改: 1 open rectification items handed to {NEW}" in r.stdout
    await console.advance("1m")  # the console takes the new roster at its next tick

    assert (await status(console, open_id)).owner_person_id == NEW
    assert len(await handover_records(console)) == 1
    [notice] = await dm_texts(console, NEW)
    assert f"· 整改事项 #{open_id}，整改期限 2026-11-03（周二），已逾期：" in notice
    # the old chief's reminder card: no 报告整改完成 / 已处理, says where it went
    [old_reminder] = await reminder_cards(console, old)
    assert old_reminder["card"]["actions"] == []
    assert old_reminder["card"]["footer"].startswith("已移交：")

    # the new chief's copy of it, theirs to act on
    [copy] = await reminder_cards(console, NEW)
    assert [a["label"] for a in copy["card"]["actions"]] == ["报告整改完成", "已处理"]
    assert copy["card"]["footer"].endswith("已随换任移交您")

    await console.advance("5d")  # the series' next reminder (3 working days on)
    copy, latest = await reminder_cards(console, NEW)  # it supersedes the copy
    assert copy["card"]["actions"] == [] and latest["card"]["actions"]
    assert len(await reminder_cards(console, old)) == 1  # nothing new for the old chief
    r = await console.send(NEW, f"dm:{NEW}", f"整改完成 #{open_id} 已建立月报制度")
    assert answer(r).startswith(f"已报告整改事项 #{open_id} 整改完成并销号")


@pytest.mark.parametrize("moving_row_first", [True, False],
                         ids=["moving-chief-row-first", "new-chief-row-first"])
async def test_a_chief_moving_to_another_office_hands_their_items_over_in_either_order(
        console: Console, moving_row_first: bool) -> None:
    """One row names the unit's chief as chief of another office, another a new chief for the
    unit: whatever the order, the unit is handed over (its open item goes to the new chief,
    who is told) and the moving chief is the other office's chief, not its old one."""
    unit, open_id, _ = await items_of_first_unit(console)
    d = console.app.services.directory
    old, u = f"p-chief-{unit}", d.units[unit]
    other = next(o for o in d.org.units if o.id != unit and o.parent == u.parent
                 and d.person(f"p-chief-{o.id}") is not None)
    moves = f"{other.id},{other.name},{other.kind},,,{old},,\n"
    succeeds = f"{unit},{u.name},{u.kind},,,{NEW},钱新任,dt-9901\n"
    old_name, other_chief = str(d.person_name(old)), d.person(f"p-chief-{other.id}")
    assert other_chief is not None
    await login(console, ADMIN)
    _, page = await preview(console, HEADER + (moves + succeeds if moving_row_first
                                               else succeeds + moves))
    box = page[page.index('id="handovers"'):page.index('id="apply"')]
    moving_row = 2 if not moving_row_first else 3  # the row naming the new chief
    assert (f"调任：{old_name}（{old}）调任{other.name}检察长 <span class=\"muted\">（第 "
            f"{moving_row} 行 {u.name}：{old_name} → 钱新任；<span class=\"handover-items\">"
            "移交 1 项未完成整改</span>给 钱新任）") in box
    assert f'name="replace" value="{unit}"' not in box  # not a choice: they leave the unit
    assert (f'name="replace" value="{other.id}" checked> 换任：撤销 {other_chief.name} '
            "的检察长身份") in box

    done = await confirm(console, page, replace=True)
    assert (f"{old_name}（{old}）调任{other.name}检察长；{u.name}检察长：钱新任；已"
            '<span class="handover-items">移交 1 项未完成整改</span>给 钱新任，并已通知。') in done
    assert f"已撤销 {other_chief.name}（{other_chief.id}）在{other.name}的检察长身份" in done
    assert "已撤销 " + old_name not in done

    mover = d.person(old) if (d := console.app.services.directory) else None
    assert mover is not None and mover.unit == other.id and "chief" in mover.roles
    assert (await status(console, open_id)).owner_person_id == NEW
    assert await handover_records(console) == [
        {"item": open_id, "unit": unit, "from": old, "to": NEW}]
    [notice] = await dm_texts(console, NEW)
    assert notice.startswith(f"您已接任{u.name}检察长。原检察长{old_name}负责的 1 项未完成整改")
    assert f"· 整改事项 #{open_id}，整改期限 2026-11-03（周二）" in notice
    item_card = await dm_card(console, old, f"整改事项 #{open_id}")
    assert item_card["card"]["actions"] == [] and "钱新任" in item_card["card"]["footer"]
    [theirs] = (await console.send(old, f"dm:{old}", "提醒"))["messages"]
    assert f"#{open_id}" not in json.dumps(theirs, ensure_ascii=False)
    assert await dm_texts(console, other_chief.id) == []  # nothing of theirs moved


async def test_a_reminder_sent_to_the_old_chief_and_not_settled_follows_the_item(
        console: Console) -> None:
    """QA: the overdue reminder already sent to the outgoing chief was closed at the handover
    (its card lost its buttons, no copy left) and never reached the new chief until the
    series' next slot, three working days on; nor did their 提醒 list it."""
    unit, open_id, _ = await items_of_first_unit(console)
    old = f"p-chief-{unit}"
    await console.advance("2d")  # Wednesday: the old chief's first overdue reminder
    [sent] = await reminder_cards(console, old)
    assert "报告整改完成" in [a["label"] for a in sent["card"]["actions"]]

    await login(console, ADMIN)
    _, page = await preview(console, handover_csv(console, unit))
    await confirm(console, page, replace=True)

    [was] = await reminder_cards(console, old)  # the old chief's copy: no buttons
    assert was["card"]["actions"] == [] and was["card"]["footer"].startswith("已移交：")
    # the new chief: the notice, then their own copy of the open reminder
    [copy] = await reminder_cards(console, NEW)
    assert [a["label"] for a in copy["card"]["actions"]] == ["报告整改完成", "已处理"]
    assert copy["card"]["footer"] == (
        f"原检察长 {console.app.services.directory.person_name(old)} 的提醒"
        "（2026-11-04 发出），已随换任移交您")
    [mine] = (await console.send(NEW, f"dm:{NEW}", "提醒"))["messages"]
    assert "待处理提醒（1条）" in mine["card"]["body"] and f"#{open_id}" in mine["card"]["body"]
    [theirs] = (await console.send(old, f"dm:{old}", "提醒"))["messages"]
    assert f"#{open_id}" not in json.dumps(theirs, ensure_ascii=False)

    # the new chief reports it done from that card: the item and the reminder are settled
    r = await console.click(NEW, copy["id"], "rectification.report", {"note": "已建立月报制度"})
    assert answer(r).startswith(f"已报告整改事项 #{open_id} 整改完成并销号")
    [done] = await reminder_cards(console, NEW)
    assert done["card"]["actions"] == []
