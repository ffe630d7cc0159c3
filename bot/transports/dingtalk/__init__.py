"""The DingTalk transport: Stream mode in (`stream.py`, `inbound.py`, `mapping.py`; `spool.py`
keeps acked messages across a restart), OpenAPI out through the outbox (`delivery.py`,
`openapi.py`), H5 login and HTTP-mode callbacks (`web.py`). It only translates; the dispatcher
and handlers do the work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from dingtalk_stream import Card_Callback_Router_Topic, ChatbotMessage
from sqlalchemy import update

from bot.ratelimit import make_limiter
from bot.transports.dingtalk import mapping
from bot.transports.dingtalk.delivery import DingTalkDelivery, SenderBook, Target, WebhookBook
from bot.transports.dingtalk.inbound import BotMessageHandler, CardCallbackHandler, Inbound
from bot.transports.dingtalk.mapping import Addressee
from bot.transports.dingtalk.openapi import Credentials, OpenApi
from bot.transports.dingtalk.spool import Spool, SpoolInUse, spool_dir
from bot.transports.dingtalk.stream import FAILURE_REASONS, StreamClient
from cards.model import Button
from config.loader import ConfigError
from config.model import DingTalkConfig, Org
from storage import messages as msgs
from storage.models import Message

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

ACTION_LINK_LIFETIME = timedelta(days=14)


def credentials(cfg: DingTalkConfig, env: Mapping[str, str]) -> Credentials:
    """Read the app's credentials from the environment variables the config names; a missing
    one stops the start with a precise message. The robot code defaults to the client id (true
    for an in-house app's robot)."""
    if missing := cfg.missing_credentials(env):
        raise ConfigError(missing)
    client_id = env[cfg.client_id_env].strip()
    return Credentials(client_id, env[cfg.client_secret_env].strip(),
                       env.get(cfg.robot_code_env, "").strip() or client_id)


class DingTalkTransport:
    name = "dingtalk"

    def __init__(self, app: App, creds: Credentials) -> None:
        cfg = app.settings.config.transports.dingtalk
        services = app.services
        self.app = app
        self.config = cfg
        self.creds = creds
        self.api = OpenApi(creds, api_base=cfg.api_base, oapi_base=cfg.oapi_base,
                           timeout_seconds=cfg.delivery.http_timeout_seconds,
                           refresh_margin_seconds=cfg.delivery.token_refresh_margin_seconds)
        self.webhooks = WebhookBook()
        self.senders = SenderBook()
        self.delivery = DingTalkDelivery(
            api=self.api, webhooks=self.webhooks,
            limiter=make_limiter(services.redis, services.config.storage.redis_prefix),
            config=cfg.delivery, template_id=cfg.card_template_id, target_of=self.target,
            link_for=self.action_link, save_ref=self.save_ref, addressees_of=self.addressees)
        self._wake: Callable[[], None] = lambda: None
        self.inbound = Inbound(app, self.api, self.webhooks, cfg.stream, lambda: self._wake(),
                               link_for=self.action_link, senders=self.senders,
                               spool=Spool(spool_dir(app.settings.config)))
        self.stream = StreamClient(creds.client_id, creds.client_secret, api_base=cfg.api_base,
                                   config=cfg.stream, clock=services.clock, tz=app.settings.config.tz,
                                   credential_vars=(cfg.client_id_env, cfg.client_secret_env))
        if cfg.stream_mode:
            connected, failures = services.metrics.dingtalk_stream(FAILURE_REASONS)
            connected.set(0)
            self.stream.on_connected = lambda up: connected.set(1 if up else 0)
            self.stream.on_failure = lambda reason: failures.labels(reason).inc()
        self.stream.register_callback_handler(ChatbotMessage.TOPIC, BotMessageHandler(self.inbound))
        self.stream.register_callback_handler(Card_Callback_Router_Topic,
                                              CardCallbackHandler(self.inbound))

    def use_org(self, org: Org) -> None:
        """A new roster (App.use_org): group chats are mapped by their DingTalk ids."""
        self.inbound.chats = mapping.chat_index(org)

    def target(self, chat: str) -> Target | None:
        """Where a chat's messages go: its DingTalk id in the roster, or the id in a raw chat
        (answers to users and groups not in the roster, see mapping.RAW_USER)."""
        if (raw := mapping.raw_target(chat)) is not None:
            return Target(*raw)
        d = self.app.services.directory
        if chat.startswith("dm:"):
            person = d.person(chat[3:])
            staff = person.ids.get("dingtalk") if person else None
            return Target(False, staff) if staff else None
        c = d.chat(chat)
        conv = c.ids.get("dingtalk") if c else None
        return Target(True, conv) if conv else None

    async def addressees(self, message: Message) -> list[Addressee]:
        """Whom `message` (in a group) @-mentions: the people its card is for (the chief who
        must answer a question), then whom it answers, if anyone (`addressee`)."""
        d = self.app.services.directory
        card = msgs.message_card(message)
        found: list[Addressee] = []
        for person in (d.person(p) for p in (card.mentions if card else ())):
            staff = person.ids.get("dingtalk") if person else None
            if person and staff:
                found.append(Addressee(staff, person.name))
        sender = await self.addressee(message) if message.event_id else None
        if sender is not None and all(a.key != sender.key for a in found):
            found.append(sender)
        return found

    async def addressee(self, reply: Message) -> Addressee | None:
        """Whom `reply` (in a group) answers: the sender this instance saw; when another
        instance received the message or this one restarted since, the one stored with the
        reply (a sender not in the roster, a card's clicker), or the roster member whose
        message it answers. Every answer mentions them, the second of two (「抽签完成」 after
        the draw's card) too: each is theirs to read."""
        if (seen := self.senders.get(reply.event_id)) is not None:
            return seen
        if (stored := Addressee.decode(reply.mention)) is not None:
            return stored
        async with self.app.services.db() as session:
            person_id = await msgs.sender_of_event(session, reply)
        person = self.app.services.directory.person(person_id) if person_id else None
        staff = person.ids.get("dingtalk") if person else None
        return Addressee(staff, person.name) if person and staff else None

    async def save_ref(self, message_id: int, ref: str) -> None:
        async with self.app.services.db() as session, session.begin():
            await session.execute(
                update(Message).where(Message.id == message_id).values(platform_ref=ref)
                .execution_options(synchronize_session=False))

    def action_link(self, message: Message, button: Button) -> str:
        """A button in a markdown/actionCard message is a link: a signed one to our page that
        performs the click as the signed-in (H5 login) user."""
        if button.url:
            return button.url
        services = self.app.services
        token = services.signer.sign("dtact", {"m": message.id, "a": button.id},
                                     services.clock.now() + ACTION_LINK_LIFETIME)
        base = self.app.settings.config.web.base_url
        return f"{base}/dingtalk/act?t={token}"

    def health(self) -> tuple[str, bool]:
        """/readyz's `dingtalk` field and whether it lets the instance count as ready."""
        if not self.config.stream_mode:
            return "stream mode off", True  # HTTP callbacks only: nothing held open to check
        return self.stream.health()

    async def start(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        spool = self.inbound.spool
        try:
            spool.claim()
        except SpoolInUse:
            raise ConfigError([f"{self.app.settings.source}: transports.dingtalk.stream.spool_dir: "
                               f"{spool.directory} is in use by another running instance (each "
                               "instance needs its own: docs/deploy.md)"]) from None
        except OSError:
            pass  # an unusable directory: replay() says so, and messages are retried in memory
        replayed = self.inbound.replay()  # before receiving: what a previous run acked, not stored
        if replayed:
            log.info("dingtalk: %d spooled message(s) from a previous run replayed", replayed)
        if self.config.stream_mode:
            self.stream.run()
        log.info("dingtalk transport started (stream=%s, http callback=%s, cards=%s)",
                 self.config.stream_mode, self.config.http_callback,
                 "template" if self.config.card_template_id else "markdown")

    async def stop(self) -> None:
        """Stop receiving, let accepted messages finish (their replies land in the outbox)."""
        await self.stream.stop()
        await self.inbound.drain()

    async def close(self) -> None:
        await self.api.close()
        self.inbound.spool.release()
