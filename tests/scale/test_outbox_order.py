"""One card's creation and its updates, delivered by the outbox workers of two instances on one
PostgreSQL database while the platform is slow: the platform gets them in order, so an update
never arrives before its card exists and the card ends showing its latest version (a button
that should be gone does not come back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import SystemClock
from bot.context import Outbound
from bot.outbox import DeliveryError, OutboxWorker, pending_count
from cards.model import Button, Card
from config.model import OutboxConfig
from storage import db
from storage import messages as msgs
from storage.models import Message, OutboxItem
from tests.conftest import fresh_postgres, make_settings

FAST = OutboxConfig(poll_seconds=0.05, retry_base_seconds=0.01, retry_max_seconds=0.05,
                    lease_seconds=60)
CHAT = "dm:p-prosecutor-1"
ASKED = Card("退回审查申请", body="待审批",
             actions=(Button("review.approve", "同意"), Button("review.reject", "退回")))
APPROVED = Card("退回审查申请", body="已同意")
NOTIFIED = Card("退回审查申请", body="已同意，已通知承办人")
Shown = tuple[str, tuple[str, ...]]  # a card's body and buttons, as the user sees them


def shown(card: Card) -> Shown:
    return card.body, tuple(b.label for b in card.actions)


class CardPlatform:
    """Cards as a platform keeps them: `send` creates one, `update` replaces what it shows and
    is refused for a card not created yet. After `hold_next()` the next delivery hangs (a slow
    platform) until `release()`."""

    def __init__(self) -> None:
        self.cards: dict[int, Shown] = {}
        self.received: list[tuple[str, Shown]] = []
        self.refused: list[tuple[str, Shown]] = []
        self.holding = asyncio.Event()  # the held delivery is in flight
        self._gate = asyncio.Event()
        self._hold = False

    def hold_next(self) -> None:
        self._gate, self._hold = asyncio.Event(), True
        self.holding.clear()

    def release(self) -> None:
        self._gate.set()

    async def deliver(self, item: OutboxItem, message: Message) -> None:
        card = msgs.message_card(message)
        assert card is not None
        if self._hold:
            self._hold = False
            self.holding.set()
            await self._gate.wait()
        if item.op == "update" and message.id not in self.cards:
            self.refused.append((item.op, shown(card)))
            raise DeliveryError("card does not exist")
        self.cards[message.id] = shown(card)
        self.received.append((item.op, shown(card)))


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with fresh_postgres("casebot_outorder") as url:
        a = App(make_settings(tmp_path, storage={"database_url": url}), SystemClock(),
                scheduler=False)
        await a.start()
        a.services.external_transports = ("fake",)
        yield a
        await a.stop()


@pytest.fixture
async def workers(app: App) -> AsyncIterator[tuple[OutboxWorker, OutboxWorker, CardPlatform]]:
    """Two instances' outbox workers (each with its own connection pool) on one platform."""
    platform = CardPlatform()
    engines = [db.create_engine(app.settings.config.storage.database_url) for _ in range(2)]
    a, b = (OutboxWorker(db.sessionmaker(e), app.clock, FAST, {"fake": platform},
                         dialect="postgresql") for e in engines)
    yield a, b, platform
    for e in engines:
        await e.dispose()


async def send(app: App, card: Card) -> Message:
    async with app.services.db() as session, session.begin():
        return await Outbound(app.services, session).send(CHAT, card=card)


async def redraw(app: App, msg: Message, card: Card) -> None:
    async with app.services.db() as session, session.begin():
        await Outbound(app.services, session).update_card(msg, card)


async def drain(app: App, *workers: OutboxWorker) -> None:
    """Both instances deliver side by side until nothing is left to deliver."""
    deadline = asyncio.get_running_loop().time() + 10
    while await pending_count(app.services.db, "fake"):
        assert asyncio.get_running_loop().time() < deadline, "the outbox did not drain"
        await asyncio.gather(*(w.run_once() for w in workers))


async def test_updates_wait_for_the_card_created_on_another_instance(
        app: App, workers: tuple[OutboxWorker, OutboxWorker, CardPlatform]) -> None:
    a, b, platform = workers
    platform.hold_next()
    msg = await send(app, ASKED)
    creating = asyncio.create_task(a.run_once())
    await platform.holding.wait()  # instance A is creating the card; the platform is slow
    await redraw(app, msg, APPROVED)  # 同意 clicked meanwhile, then the card is redrawn again
    await redraw(app, msg, NOTIFIED)

    assert await b.run_once() == 0  # instance B leaves the updates to wait for the card
    platform.release()
    assert await creating == 1
    await drain(app, a, b)

    assert platform.refused == []  # no update reached the platform before its card
    assert [op for op, _ in platform.received] == ["send", "update", "update"]
    assert platform.received[0] == ("send", shown(ASKED))
    assert platform.cards[msg.id] == shown(NOTIFIED)  # the latest version, buttons gone


async def test_an_older_version_never_arrives_last(
        app: App, workers: tuple[OutboxWorker, OutboxWorker, CardPlatform]) -> None:
    a, b, platform = workers
    msg = await send(app, ASKED)
    await drain(app, a)
    platform.hold_next()
    await redraw(app, msg, APPROVED)
    updating = asyncio.create_task(a.run_once())
    await platform.holding.wait()  # instance A is delivering the 已同意 version
    await redraw(app, msg, NOTIFIED)

    assert await b.run_once() == 0  # the newer version waits for the older one to land
    platform.release()
    assert await updating == 1
    await drain(app, a, b)

    assert platform.received == [("send", shown(ASKED)), ("update", shown(APPROVED)),
                                 ("update", shown(NOTIFIED))]
    assert platform.cards[msg.id] == shown(NOTIFIED)
