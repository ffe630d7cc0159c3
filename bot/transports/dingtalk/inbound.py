"""Inbound: frames → core events → the dispatcher. Bot messages are ACKed as soon as they are
parsed and de-duplicated, then handled in tracked tasks (bounded); one that cannot be stored yet
is spooled to disk while it is retried, and replayed at the next start if the process dies
first. Card callbacks get the updated card data in their ACK when the handler finishes within a
small budget."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage
from sqlalchemy import select

from bot.cases import code_in_scan
from bot.dispatcher import FeedResult
from bot.events import Event
from bot.outbox import backoff
from bot.qrscan import NotAPicture, qr_texts
from bot.transports.dingtalk import mapping
from bot.transports.dingtalk.mapping import Incoming, MalformedFrame, Refusal
from bot.transports.dingtalk.openapi import DingTalkApiError
from bot.transports.dingtalk.spool import Spool, Spooled
from cards.dingtalk import card_data, notice_data, webhook_text
from cards.model import Button
from config.model import DingTalkStreamConfig
from storage import dedupe
from storage import messages as msgs
from storage.models import Message

if TYPE_CHECKING:
    from bot.app import App
    from bot.transports.dingtalk.delivery import SenderBook, WebhookBook
    from bot.transports.dingtalk.openapi import OpenApi

log = logging.getLogger(__name__)

PICTURE_RETRY_DELAYS = (0.5, 1.5)  # seconds before each new try at a failed picture download


class SeenIds:
    """msgIds seen in the last `ttl` seconds (in-flight and done), in this process. Redis and
    the processed_events table de-duplicate across instances and restarts; this keeps a
    redelivery from even starting a task."""

    def __init__(self, ttl: float, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = now
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        now = self._now()
        while self._seen and next(iter(self._seen.values())) < now - self.ttl:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)


class Inbound:
    def __init__(self, app: App, api: OpenApi, webhooks: WebhookBook,
                 config: DingTalkStreamConfig, on_handled: Callable[[], None],
                 link_for: Callable[[Message, Button], str], spool: Spool,
                 senders: SenderBook) -> None:
        self.app = app
        self.senders = senders
        self.spool = spool
        self.link_for = link_for
        self.api = api
        self.webhooks = webhooks
        self.config = config
        self.on_handled = on_handled
        self.chats = mapping.chat_index(app.settings.org)
        self.seen = SeenIds(config.dedupe_seconds)
        self.slots = asyncio.Semaphore(config.max_inflight)
        self.tasks: set[asyncio.Future[Any]] = set()
        self.handled = 0
        self.duplicates = 0
        self.malformed = 0
        self.store_retries = 0
        self.spooled = 0  # messages written to the spool
        self.replayed = 0  # spooled messages picked up at start

    # -- bot messages ---------------------------------------------------------------------------
    def accept_message(self, data: Mapping[str, Any]) -> tuple[int, str]:
        """Parse, de-duplicate, start handling; returns the ACK (code, message) at once."""
        return self._accept(data, None)

    def replay(self) -> int:
        """At start: handle, like fresh ones, the messages that a previous run of this instance
        ACKed but could not store (see spool.py). Returns how many."""
        try:
            entries = self.spool.load()
        except OSError as e:
            log.error("dingtalk: spool %s unusable (%s): messages acked during a database "
                      "outage will not survive a restart", self.spool.directory, e)
            return 0
        for entry in entries:
            self._accept(entry.data, entry)
        self.replayed += len(entries)
        return len(entries)

    def _accept(self, data: Mapping[str, Any], spooled: Spooled | None) -> tuple[int, str]:
        try:
            msg = mapping.parse_bot_message(data)
        except MalformedFrame as e:
            self.malformed += 1
            log.warning("dingtalk: malformed bot message refused: %s", e)
            if spooled is not None and spooled.path is not None:
                self.spool.set_aside(spooled.path, str(e))
            return AckMessage.STATUS_BAD_REQUEST, str(e)[:200]
        if not self.seen.first_time(msg.message_id):
            self.duplicates += 1
            log.info("dingtalk: duplicate msgId %s ignored", msg.message_id)
            return AckMessage.STATUS_OK, "duplicate"
        now = self.app.services.clock.now()
        mapped = mapping.message_event(msg, self.app.services.directory, self.chats, now, data,
                                       self.app.dispatcher.for_the_bot)
        if mapped is None:
            log.info("dingtalk: %s %s not addressed to the bot; ignored", msg.message_type,
                     msg.message_id)
            return AckMessage.STATUS_OK, "OK"
        self._track(self._handle(mapped, spooled or Spooled(data, now), msg.message_id,
                                 msg.session_webhook, msg.sender_staff_id))
        return AckMessage.STATUS_OK, "OK"

    def _track(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, mapped: Incoming | Refusal, entry: Spooled, msg_id: str,
                      webhook: str | None, staff_id: str | None) -> None:
        try:
            async with self.slots:
                if isinstance(mapped, Incoming) and mapped.pictures:
                    mapped = await self._read_pictures(mapped)
                if isinstance(mapped, Refusal):
                    log.warning("dingtalk: message %s refused: %s", msg_id, mapped.reason)
                    await self._answer(mapped)
                else:
                    await self._take(mapped, entry, msg_id, staff_id)
        except asyncio.CancelledError:  # shutting down before it was done: keep it for next start
            if entry.path is None:
                self._spool(msg_id, entry)
            raise
        self.spool.remove(entry)  # handled or given up on

    async def _read_pictures(self, mapped: Incoming) -> Incoming | Refusal:
        """A picture sent to the bot: the first case code found in its QR codes, as the command
        sent with it, 「码 <code>」 by default (「扫码受理」 with it: 「扫码受理 <code>」), so the
        sender gets exactly what typing it gives them, permissions and all. Otherwise a short
        answer; a command other than 码 with no code found is read as typed (its usage). The
        decoding runs in a thread, off the event loop."""
        event = mapped.event
        failed = None
        for download_code in mapped.pictures:
            try:
                data = await self._download(download_code, event.event_id)
                texts = await asyncio.to_thread(qr_texts, data)
            except (DingTalkApiError, NotAPicture) as e:
                log.warning("dingtalk: picture of %s not read: %s", event.event_id, e)
                failed = e
                continue
            signer = self.app.services.signer
            if (code := next(filter(None, (code_in_scan(signer, t) for t in texts)), None)):
                log.info("dingtalk: picture of %s shows case code %s (%s)", event.event_id, code,
                         mapped.command)
                return replace(mapped, event=replace(event, text=f"{mapped.command} {code}"),
                               pictures=())
            log.info("dingtalk: no case code in picture of %s (%d QR code(s))",
                     event.event_id, len(texts))
        if failed is not None:
            return mapped.refused(f"picture not read: {failed}", mapping.PICTURE_FAILED)
        if mapped.command != "码":
            return replace(mapped, pictures=())
        return mapped.refused("no case code in the picture", mapping.NO_CODE_IN_PICTURE)

    async def _download(self, download_code: str, event_id: str) -> bytes:
        """A picture's bytes, asked for again after a short wait (PICTURE_RETRY_DELAYS) when
        DingTalk failed in a way worth retrying (a 5xx, a timeout): the sender is waiting."""
        for delay in (*PICTURE_RETRY_DELAYS, None):
            try:
                return await self.api.message_file(download_code, self.config.picture_max_bytes)
            except DingTalkApiError as e:
                wait = max(delay or 0.0, e.retry_after or 0.0)
                if e.kind not in ("retry", "limited") or delay is None or \
                        wait > PICTURE_RETRY_DELAYS[-1] * 2:
                    raise
                log.info("dingtalk: picture of %s not fetched (%s); retrying in %.1fs",
                         event_id, e, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _take(self, mapped: Incoming, entry: Spooled, msg_id: str,
                    staff_id: str | None) -> None:
        event = mapped.event
        if mapped.webhook:
            self.webhooks.remember(event.event_id, mapped.webhook, mapped.webhook_expires_ms)
        if mapped.sender is not None:
            self.senders.remember(event.event_id, mapped.sender)
        age = (self.app.services.clock.now() - entry.received_at).total_seconds()
        if age > self.config.store_retry_seconds:  # replayed too late to act on it now
            if await self._was_handled(event):  # stored just before the previous run died
                log.info("dingtalk: spooled message %s was handled already", msg_id)
                return
            log.warning("dingtalk: spooled message %s is %.0fs old; not handled", msg_id, age)
            result = None
        else:
            result = await self._feed_retrying(event, msg_id, entry,
                                               self.config.store_retry_seconds - age)
        if result is None:
            self.seen.forget(msg_id)
            if self._webhook_valid(mapped):
                await self._answer_directly(mapped.webhook, mapping.NOT_STORED, mapped.sender)
            else:
                log.warning("dingtalk: message %s dropped: no valid sessionWebhook to ask "
                            "the sender to send it again", msg_id)
            return
        self.handled += 1
        if result.status == "unknown_user":  # in a group of the roster
            await self._answer(Refusal(f"unknown user {staff_id!r}", mapping.NOT_REGISTERED_USER
                                       if staff_id else mapping.EXTERNAL_USER,
                                       event.chat, event.event_id, mapped.webhook,
                                       mapped.webhook_expires_ms, mapped.sender))
        if result.messages:
            self.on_handled()

    async def _was_handled(self, event: Event) -> bool:
        try:
            async with self.app.services.db() as session:
                return await dedupe.was_handled(session, event.event_id)
        except Exception as e:
            log.warning("dingtalk: could not check whether %s was handled: %s", event.event_id, e)
            return False

    def _webhook_valid(self, mapped: Incoming) -> bool:
        """Like WebhookBook.get: usable until `webhook_margin_seconds` before it expires."""
        if not mapped.webhook:
            return False
        if not mapped.webhook_expires_ms:
            return True
        margin = self.app.settings.config.transports.dingtalk.delivery.webhook_margin_seconds
        now_ms = self.app.services.clock.now().timestamp() * 1000
        return mapped.webhook_expires_ms - margin * 1000 > now_ms

    async def _feed_retrying(self, event: Event, msg_id: str, entry: Spooled,
                             budget: float) -> FeedResult | None:
        """The message is acked already, so DingTalk will not send it again: when it cannot be
        handled (the dispatcher answers handler errors itself, so this is the database being
        unreachable), spool it and retry with backoff for `budget` seconds. None: gave up."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + budget
        attempt = 0
        while True:
            try:
                return await self.app.dispatcher.feed(event)
            except Exception as e:
                attempt += 1
                delay = backoff(attempt, self.config.store_retry_min_seconds, 30.0)
                if loop.time() + delay > give_up:
                    log.exception("dingtalk: message %s could not be handled; gave up after %d "
                                  "attempts", msg_id, attempt)
                    return None
                if entry.path is None:
                    await asyncio.to_thread(self._spool, msg_id, entry)
                self.store_retries += 1
                log.warning("dingtalk: message %s not handled yet (%s); retrying in %.1fs",
                            msg_id, e, delay)
                await asyncio.sleep(delay)

    def _spool(self, msg_id: str, entry: Spooled) -> None:
        try:
            self.spool.put(msg_id, entry)
            self.spooled += 1
        except Exception:  # a full disk, say: the retries go on, in memory only
            log.exception("dingtalk: message %s could not be spooled", msg_id)

    async def _answer(self, refusal: Refusal) -> None:
        """Answer a message the core does not (an unknown sender or group, not text) like any
        reply: an outbox row, retried and rate-limited, through the sessionWebhook while it is
        valid. Once per message across instances (`processed_events`). Straight through the
        webhook only when the answer cannot be stored (or there is no chat to answer in)."""
        if refusal.chat is not None:
            if refusal.webhook:
                self.webhooks.remember(refusal.event_id, refusal.webhook,
                                       refusal.webhook_expires_ms)
            if refusal.sender is not None:
                self.senders.remember(refusal.event_id, refusal.sender)
            try:
                await self.enqueue_answer(refusal.chat, refusal.reply, refusal.event_id,
                                          refusal.sender)
                return
            except Exception as e:
                log.warning("dingtalk: answer to %s not stored (%s); sent directly",
                            refusal.event_id, e)
        await self._answer_directly(refusal.webhook, refusal.reply, refusal.sender)

    async def enqueue_answer(self, chat: str, text: str, event_id: str,
                             sender: mapping.Addressee | None = None) -> None:
        """One outbox row for DingTalk with `text` to `chat`, unless `event_id` was answered.
        `sender` (in a group) is stored with it: not in the roster, they are known nowhere
        else once this instance forgets them, and the answer may go out from another one."""
        now = self.app.services.clock.now()
        async with self.app.services.db() as session, session.begin():
            if not await dedupe.claim_in_db(session, f"{event_id}#answer", now):
                return
            msg = await msgs.add_message(session, chat=chat, sender="bot", at=now, text=text,
                                         event_id=event_id,
                                         mention=sender.encode() if sender else None)
            await msgs.enqueue(session, message_id=msg.id, transport="dingtalk", op="send",
                               at=now)
        self.on_handled()

    async def _answer_directly(self, webhook: str | None, text: str,
                               sender: mapping.Addressee | None) -> None:
        """When the answer cannot go through the outbox: the sessionWebhook, once (in a group,
        @-mentioning the sender)."""
        if not webhook:
            log.warning("dingtalk: answer 「%s」 not sent: not stored and no sessionWebhook", text)
            return
        try:
            await self.api.post_webhook(webhook, webhook_text(
                text, *mapping.at_ids([sender] if sender else [])))
        except Exception as e:
            log.warning("dingtalk: direct answer failed: %s", e)

    # -- card callbacks -------------------------------------------------------------------------
    async def card_callback(self, data: Mapping[str, Any], callback_id: str) -> tuple[int, Any]:
        try:
            click = mapping.parse_card_callback(data)
        except MalformedFrame as e:
            self.malformed += 1
            log.warning("dingtalk: malformed card callback refused: %s", e)
            return AckMessage.STATUS_BAD_REQUEST, {}
        if not click.user_id:
            return self._external_clicker(click)
        clicker = self.app.services.directory.by_platform("dingtalk", click.user_id)
        if clicker is None:
            return await self._unknown_clicker(click, callback_id)
        async with self.app.services.db() as session:
            msg = (await session.execute(
                select(Message).where(Message.platform_ref == click.out_track_id))).scalars().first()
        if msg is None:
            log.warning("dingtalk: card callback for unknown outTrackId %s", click.out_track_id)
            return AckMessage.STATUS_OK, {}
        event = mapping.card_event(click, callback_id=callback_id, message_id=msg.id,
                                   chat=msg.chat, now=self.app.services.clock.now(), raw=data,
                                   clicker_name=clicker.name)
        task = asyncio.ensure_future(self.app.dispatcher.feed(event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _t: self.on_handled())
        try:
            result = await asyncio.wait_for(asyncio.shield(task), self.config.card_callback_budget_seconds)
        except TimeoutError:
            log.info("dingtalk: card callback %s slower than budget; update follows", callback_id)
            return AckMessage.STATUS_OK, {}
        updated = next((m for m in result.messages if m.id == msg.id), None)
        card = msgs.message_card(updated) if updated is not None else None
        if card is None:
            return AckMessage.STATUS_OK, {}
        return AckMessage.STATUS_OK, {"cardData": card_data(card, lambda b: self.link_for(msg, b))}

    async def _unknown_clicker(self, click: mapping.CardClick,
                               callback_id: str) -> tuple[int, Any]:
        """A click by someone not in the roster: the answer a message of theirs gets, as a 1:1
        message (through the outbox) and on the card for them alone (`notice`)."""
        log.warning("dingtalk: card click by unknown user %r", click.user_id)
        text = mapping.NOT_REGISTERED_USER
        await self._answer(Refusal(f"unknown user {click.user_id!r}", text,
                                   f"{mapping.RAW_USER}{click.user_id}",
                                   f"dingtalk:card:{callback_id}"))
        return AckMessage.STATUS_OK, notice_data(text)

    def _external_clicker(self, click: mapping.CardClick) -> tuple[int, Any]:
        """A click by someone from outside the org (no userId in the callback): nothing is done,
        and they are told why on the card, for them alone. No 1:1 message: the robot sends
        those by userId, which they do not have."""
        log.warning("dingtalk: card click on %s by an external contact (%s) not acted on",
                    click.out_track_id, click.other_id or "no id")
        return AckMessage.STATUS_OK, notice_data(mapping.EXTERNAL_USER)

    async def drain(self, grace: float = 5.0) -> None:
        """On shutdown: let accepted (already ACKed) messages finish, then cancel the rest."""
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


class BotMessageHandler(CallbackHandler):
    """SDK handler for `/v1.0/im/bot/messages/get`: ACK fast, work after."""

    def __init__(self, inbound: Inbound) -> None:
        super().__init__()
        self.inbound = inbound

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        return self.inbound.accept_message(message.data)


class CardCallbackHandler(CallbackHandler):
    """SDK handler for `/v1.0/card/instances/callback`: the ACK carries the updated card."""

    def __init__(self, inbound: Inbound) -> None:
        super().__init__()
        self.inbound = inbound

    async def process(self, message: CallbackMessage) -> tuple[int, Any]:
        return await self.inbound.card_callback(message.data, str(message.headers.message_id))
