"""What a handler gets besides its event: the app's services and this event's unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.directory import Directory
from bot.domain.workcal import WorkCalendar
from bot.events import Event
from bot.metrics import Metrics
from bot.signing import Signer
from cards.model import Button, Card, Done, kept_done
from config.loader import Settings
from config.model import AppConfig, Person
from storage import audit
from storage import messages as msgs
from storage.bulk import BulkReader
from storage.journal import Journal, PendingWrites
from storage.models import Message

if TYPE_CHECKING:
    from bot.dispatcher import Dispatcher
    from bot.domain.scoring import Evaluation
    from bot.live import Publisher
    from bot.reminders import ReminderService
    from storage.cases import CaseRow


@dataclass
class Services:
    """Built once at start and shared by every event."""

    settings: Settings
    clock: Clock
    db: async_sessionmaker[AsyncSession]
    directory: Directory
    signer: Signer  # from the secrets (settings.secrets.link_keys), as every command uses
    redis: Redis | None = None
    calendar: WorkCalendar = field(init=False)  # official calendar + reminders.holidays/workdays
    metrics: Metrics = field(default_factory=Metrics)
    external_transports: tuple[str, ...] = ()  # transports that get an outbox row per send
    dispatcher: Dispatcher | None = None  # set by the Dispatcher itself
    reminders: ReminderService | None = None  # set by bot.reminders.install
    on_evaluation: list[EvaluationHook] = field(default_factory=list)  # run in order
    live: Publisher | None = None  # the big screens' publisher (bot.inspection.publisher)
    read_db: async_sessionmaker[AsyncSession] | None = None  # read-only pool (SQLite), else db
    journal: Journal = field(init=False)  # group commit for read-only events
    bulk: BulkReader = field(init=False)  # reads over every row (statistics), off the loop

    def __post_init__(self) -> None:
        self.calendar = self.settings.config.reminders.work_calendar()
        # App.start installs the SQLite-tuned ones
        self.journal = Journal(self.db.kw["bind"].begin)
        self.bulk = BulkReader(self.db.kw["bind"])

    @property
    def config(self) -> AppConfig:
        return self.settings.config

    @property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        return self.read_db or self.db


class Outbound:
    """Sends and updates messages inside one transaction: the message row and its outbox rows
    commit together with the state change that caused them, so nothing is lost or half-sent."""

    def __init__(self, services: Services, session: AsyncSession) -> None:
        self.services = services
        self.session = session
        self.sent: list[Message] = []
        # each sent card by its stored JSON: the console answers with the Card it already has
        # instead of parsing the JSON back (a card updated since is parsed as before)
        self.cards: dict[str, Card] = {}

    @property
    def clock(self) -> Clock:
        return self.services.clock

    @property
    def directory(self) -> Directory:
        return self.services.directory

    @property
    def config(self) -> AppConfig:
        return self.services.config

    def now(self) -> datetime:
        return self.services.clock.now()

    async def send(self, chat: str, text: str | None = None, card: Card | None = None,
                   event_id: str | None = None, mention: str | None = None) -> Message:
        msg = await msgs.add_message(self.session, chat=chat, sender="bot", at=self.now(),
                                     text=text, card=card, event_id=event_id, mention=mention)
        for transport in self.services.external_transports:
            await msgs.enqueue(self.session, message_id=msg.id, transport=transport, op="send",
                               at=self.now())
        self._sent(msg, card)
        return msg

    def _sent(self, msg: Message, card: Card | None) -> None:
        self.sent.append(msg)
        if card is not None and msg.card is not None:
            self.cards[msg.card] = card

    async def send_dm(self, person_id: str, text: str | None = None,
                      card: Card | None = None) -> Message:
        return await self.send(f"dm:{person_id}", text=text, card=card)

    async def update_card(self, msg: Message, card: Card, *, retire: bool = False) -> None:
        """Replace a card in place (buttons that no longer apply disappear). Who took which
        button off it (`Card.done`) is carried over while the card still says so. `retire`:
        the card is only closed because a newer one about the same thing is sent right after
        (an earlier version's code card, a reminder the next of its series replaces); a
        platform that cannot edit a sent message (DingTalk without a card template) sends
        nothing for it rather than the old card again."""
        old = msgs.message_card(msg)
        self._updating(msg, old)
        card = replace(card, done=kept_done(old, card))
        await msgs.set_card(self.session, msg, card, self.now())
        for transport in self.services.external_transports:
            await msgs.enqueue(self.session, message_id=msg.id, transport=transport,
                               op="retire" if retire else "update",
                               at=self.now())
        if msg not in self.sent:
            self.sent.append(msg)

    def _updating(self, msg: Message, old: Card | None) -> None:
        """Called with a card's state before each update (see Context)."""

    async def audit(self, actor: str, action: str, subject: str,
                    data: dict[str, Any] | None = None) -> None:
        await audit.append(self.session, at=self.now(), actor=actor, action=action,
                           subject=subject, data=data)


# What every new evaluation runs after it is stored and delivered, in the same transaction
# (bot/cases.record_evaluation): review requests answered by a re-score, reminders re-planned.
EvaluationHook = Callable[[Outbound, "CaseRow", "Evaluation"], Awaitable[None]]


class Context(Outbound):
    """One inbound event being handled: the sender, and replies go to the event's chat."""

    def __init__(self, services: Services, session: AsyncSession, event: Event,
                 user: Person) -> None:
        super().__init__(services, session)
        self.event = event
        self.user = user
        self.args = ""  # the text after the command word
        self.button: Button | None = None  # for card actions: the clicked button
        self.card_message: Message | None = None  # for card actions: the clicked message
        self.acted = False  # the clicked button's action took effect (see action_done)
        self.forbidden = False  # refused as not theirs to do: a web form answers HTTP 403
        # messages updated while handling a click: had the card the clicked button before?
        self._had_button: dict[int, tuple[Message, bool]] = {}

    async def reply(self, text: str | None = None, card: Card | None = None) -> Message:
        return await self.send(self.event.chat, text=text, card=card,
                               event_id=self.event.event_id, mention=self.event.mention)

    async def send(self, chat: str, text: str | None = None, card: Card | None = None,
                   event_id: str | None = None, mention: str | None = None) -> Message:
        """A message to the event's own chat is an answer to it, however it was sent (a
        shared helper's `out.send(chat, …)`, like the commitment card at 督导 新建): it goes
        back the way the event came and mentions the sender in a group, as `reply` does."""
        if event_id is None and chat == self.event.chat:
            event_id, mention = self.event.event_id, mention or self.event.mention
        return await super().send(chat, text=text, card=card, event_id=event_id,
                                  mention=mention)

    def action_done(self) -> None:
        """A card action handler says the click did what the button offers (not a refusal,
        nor a choice made moot): every card it took that button off records who clicked, so
        their second tap is answered 「您已点过…」 rather than as a stale button."""
        self.acted = True

    def _updating(self, msg: Message, old: Card | None) -> None:
        b = self.button
        if b is not None and msg.id not in self._had_button:
            had = old is not None and any(a.id == b.id and a.data == b.data for a in old.actions)
            self._had_button[msg.id] = (msg, had)

    async def record_done(self) -> None:
        """After the handler: on each card the click took its button off, who did it."""
        b = self.button
        if b is None or not self.acted:
            return
        for msg, had in self._had_button.values():
            card = msgs.message_card(msg)
            if not had or card is None or card.button(b.id) is not None:
                continue
            done = (*(d for d in card.done if d.action != b.id), Done(b.id, b.label, self.user.id))
            await msgs.set_card(self.session, msg, replace(card, done=done), self.now())


class ReadOnlyContext(Context):
    """For handlers registered `readonly=True`: the session reads a snapshot, and what the
    event leaves behind (the person's message, replies, audit records) is gathered in
    `pending` and committed by the dispatcher through the journal, batched with other events."""

    def __init__(self, services: Services, session: AsyncSession, event: Event,
                 user: Person) -> None:
        super().__init__(services, session, event, user)
        self.pending = PendingWrites(event.event_id, event.at)

    def log_inbound(self, text: str) -> None:
        self.pending.messages.append(msgs.new_message(
            chat=self.event.chat, sender=self.user.id, at=self.event.at, text=text,
            event_id=self.event.event_id))

    async def send(self, chat: str, text: str | None = None, card: Card | None = None,
                   event_id: str | None = None, mention: str | None = None) -> Message:
        if event_id is None and chat == self.event.chat:  # an answer: see Context.send
            event_id, mention = self.event.event_id, mention or self.event.mention
        msg = msgs.new_message(chat=chat, sender="bot", at=self.now(), text=text, card=card,
                               event_id=event_id, mention=mention)
        self.pending.messages.append(msg)
        self.pending.outbox.extend((msg, t) for t in self.services.external_transports)
        self._sent(msg, card)
        return msg

    async def update_card(self, msg: Message, card: Card, *, retire: bool = False) -> None:
        raise RuntimeError("a read-only handler cannot update cards; register it without "
                           "readonly=True")

    async def audit(self, actor: str, action: str, subject: str,
                    data: dict[str, Any] | None = None) -> None:
        self.pending.audits.append(audit.Entry(self.now(), actor, action, subject, data))


@asynccontextmanager
async def unit_of_work(services: Services) -> AsyncIterator[Outbound]:
    """One transaction with an Outbound, for work that is not an inbound chat event (the
    integration API, web forms, scheduled jobs)."""
    async with services.db() as session, session.begin():
        yield Outbound(services, session)
