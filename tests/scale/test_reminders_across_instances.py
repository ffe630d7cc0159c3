"""Reminders and the answers that settle them on two instances of one PostgreSQL database, at
the same moment: instance A's sweep is sending a review request's overdue-answer reminder
(its transaction not yet committed) while the prosecutor answers the request through
instance B (or the chief reports a rectification item done). The answer is not refused with
an error (the two transactions do not deadlock), the reminder is sent once, its card closed
by the answer, and the same slot is never sent again (SPEC §3: exactly once per rule,
subject and due slot)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.reminders import ReminderService, service_of
from config.loader import DEFAULT_DIR, Settings
from storage.reminders import Reminder
from tests.admin.test_handover_rectification import items_of_first_unit
from tests.cases.helpers import INVESTIGATORS, PROSECUTOR
from tests.conftest import Console, free_port, fresh_postgres, make_settings, open_console
from tests.inspection.test_rectification_done import answer
from tests.reminders.test_reminders_e2e import reminder_cards
from tests.reminders.test_review_reminders import buttons, file_review, review_reminders

pytestmark = pytest.mark.postgres
INV = INVESTIGATORS[0]  # who filed the request


@pytest.fixture
async def pg_settings(tmp_path: Path) -> AsyncIterator[list[Settings]]:
    """Two instances' settings on one fresh database, each with its own org.yaml."""
    async with fresh_postgres("casebot_remrace") as url:
        made = []
        for name in "ab":
            home = tmp_path / name
            home.mkdir()
            shutil.copy(DEFAULT_DIR / "org.yaml", home / "org.yaml")
            made.append(make_settings(home, org=str(home / "org.yaml"),
                                      storage={"database_url": url}))
        yield made


async def lock_waits(console: Console) -> list[str]:
    """The statements of this database waiting for a row lock another transaction holds."""
    async with console.app.services.db() as s:
        rows = await s.execute(text(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))
        return [str(q) for q in rows.scalars()]


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 10) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (found := await check()):
        assert loop.time() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.01)
    return found


def hold_sweep(svc: ReminderService, monkeypatch: pytest.MonkeyPatch, *, written: bool
               ) -> tuple[asyncio.Event, asyncio.Event]:
    """The sweep's transaction, once it has claimed its rows (and, when `written`, written
    their cards), waits until `release` is set; `reached` is set when it got there."""
    reached, release = asyncio.Event(), asyncio.Event()
    deliver = svc._deliver

    async def held(*args: Any) -> None:
        if written:
            await deliver(*args)
        reached.set()
        await release.wait()
        if not written:
            await deliver(*args)

    monkeypatch.setattr(svc, "_deliver", held)
    return reached, release


async def decision_card(console: Console) -> dict[str, Any]:
    [decision] = [m for m in await console.messages(f"dm:{PROSECUTOR}")
                  if m["card"] and m["card"]["title"].startswith("复核申请 #1")]
    return decision


async def test_a_request_answered_while_another_instance_claims_its_reminder(
        pg_settings: list[Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """B's answer waits for the reminder row A's sweep holds; A then finishes its sweep (its
    audit record included) and commits, and B's answer goes through."""
    async with open_console(pg_settings[0], free_port()) as a, \
            open_console(pg_settings[1], free_port()) as b:
        await file_review(a)  # Monday 11-02 09:30: to be answered by Thursday 18:00
        decision = await decision_card(a)
        for c in (a, b):
            c.clock.advance(timedelta(days=4))  # Friday 09:30: the reminder is due

        claimed, release = hold_sweep(service_of(a.app.services), monkeypatch, written=False)
        sweeping = asyncio.create_task(service_of(a.app.services).sweep())
        await claimed.wait()  # A holds the reminder row, has written nothing yet
        answering = asyncio.create_task(
            b.click(PROSECUTOR, decision["id"], "review.accept"))  # 同意并调整, on B
        waiting = await until(lambda: lock_waits(b), "B waiting for A's reminder row")
        assert any("reminders" in q for q in waiting), waiting
        release.set()
        assert (await sweeping).sent == 1
        answer = await answering
        assert answer["status"] == "handled", answer
        assert not any("出错" in (m["text"] or "") for m in answer["messages"]), answer
        assert "复核申请 #1" in (await decision_card(b))["card"]["title"]
        told = [m["text"] for m in await b.messages(f"dm:{INV}") if m["text"]]
        assert any(t.startswith("您的复核申请 #1") for t in told), told


async def test_a_request_answered_while_another_instance_sends_its_reminder(
        pg_settings: list[Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """B's answer read the reminder as pending just before A's sweep committed it sent: it
    must not call it cancelled (the re-score's plan, on the same series, would bring the slot
    back and send it again), and the card A sent is closed with the others (已答复)."""
    async with open_console(pg_settings[0], free_port()) as a, \
            open_console(pg_settings[1], free_port()) as b:
        await file_review(a)
        decision = await decision_card(a)
        for c in (a, b):
            c.clock.advance(timedelta(days=4))

        written, release = hold_sweep(service_of(a.app.services), monkeypatch, written=True)
        sweeping = asyncio.create_task(service_of(a.app.services).sweep())
        await written.wait()  # A has written the reminder card, not yet committed
        answering = asyncio.create_task(
            b.click(PROSECUTOR, decision["id"], "review.accept"))  # 同意并调整, on B
        waiting = await until(lambda: lock_waits(b), "B waiting for A's reminder row")
        assert any("reminders" in q for q in waiting), waiting
        release.set()
        assert (await sweeping).sent == 1
        assert (await answering)["status"] == "handled"

        # the re-score is chased from the series' next slot on: this one is not sent again
        await service_of(b.app.services).sweep()
        [card] = await review_reminders(b, PROSECUTOR)  # sent once, by A
        async with b.app.services.db() as s:
            st = dict((await s.execute(select(Reminder.key, Reminder.status)
                                       .where(Reminder.subject == "review-1"))).all())
        assert sorted(st.values()) == ["pending", "sent"], st
        assert buttons(card) == [] and card["card"]["footer"].startswith("已答复："), card


async def test_an_item_reported_done_while_another_instance_sends_its_reminder(
        pg_settings: list[Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """A's sweep has written a rectification item's overdue reminder (not yet committed) when
    the chief reports the item done (整改完成) through B: the card A sent is closed with the
    others (no 报告整改完成 / 已处理 left on it), not left offering them for an item already
    销号, and it is sent once."""
    async with open_console(pg_settings[0], free_port()) as a, \
            open_console(pg_settings[1], free_port()) as b:
        unit, item, _ = await items_of_first_unit(a)  # due Tuesday 11-03
        chief = f"p-chief-{unit}"
        for c in (a, b):
            c.clock.advance(timedelta(days=2))  # Wednesday: its first overdue reminder is due

        written, release = hold_sweep(service_of(a.app.services), monkeypatch, written=True)
        sweeping = asyncio.create_task(service_of(a.app.services).sweep())
        await written.wait()  # A has written the reminder card, not yet committed
        reporting = asyncio.create_task(
            b.send(chief, f"dm:{chief}", f"整改完成 #{item} 已建立月报制度"))  # on B
        waiting = await until(lambda: lock_waits(b), "B waiting for A's reminder row")
        assert any("reminders" in q for q in waiting), waiting
        release.set()
        assert (await sweeping).sent == 1
        assert answer(await reporting).startswith(f"已报告整改事项 #{item} 整改完成并销号")

        [card] = await reminder_cards(b, chief)  # sent once, by A
        assert card["card"]["actions"] == [], card
        assert card["card"]["footer"].startswith("已处理："), card
        await service_of(b.app.services).sweep()
        assert len(await reminder_cards(b, chief)) == 1
