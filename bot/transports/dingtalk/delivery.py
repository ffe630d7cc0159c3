"""Outbox rows → DingTalk. Replies go through the inbound message's sessionWebhook while it is
valid, everything else through the OpenAPI; cards become interactive cards when a template id is
configured (outTrackId kept in `messages.platform_ref`), markdown/actionCard messages otherwise.
Text and lists too long for one DingTalk message go as several, in order (`cards.dingtalk`
has the limits). Rate limits per robot and per conversation, per message sent; DingTalk's
answers decide retry or give up."""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.outbox import DeliveryError, Postpone
from bot.ratelimit import Limit, RateLimiter
from bot.transports.dingtalk.mapping import Addressee, at_ids
from bot.transports.dingtalk.openapi import CARD_EXISTS, DingTalkApiError, OpenApi
from cards import dingtalk as render
from cards.model import Button, Card
from config.model import DingTalkDeliveryConfig
from storage import messages as msgs
from storage.models import Message, OutboxItem

log = logging.getLogger(__name__)

LinkMaker = Callable[[Message, Button], str]
# platform_ref of a message sent in several parts: how many an outbox row has delivered
PARTS_REF = "dt-parts:"


class WebhookBook:
    """sessionWebhook per inbound event id, until it expires (about 90 minutes). In memory:
    after a restart, or on another instance, replies simply go through the OpenAPI."""

    def __init__(self, max_entries: int = 10000, now_ms: Callable[[], float] | None = None) -> None:
        self.max_entries = max_entries
        self._now_ms = now_ms or (lambda: time.time() * 1000)
        self._hooks: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def remember(self, event_id: str, url: str, expires_ms: int) -> None:
        self._hooks[event_id] = (url, expires_ms)
        while len(self._hooks) > self.max_entries:
            self._hooks.popitem(last=False)

    def forget(self, event_id: str | None) -> None:
        """The webhook refused a reply: do not try it again."""
        self._hooks.pop(event_id or "", None)

    def get(self, event_id: str | None, margin_seconds: float) -> str | None:
        if not event_id or event_id not in self._hooks:
            return None
        url, expires = self._hooks[event_id]
        if expires and expires - margin_seconds * 1000 <= self._now_ms():
            del self._hooks[event_id]
            return None
        return url


class SenderBook:
    """Who sent each recent inbound event (in a group), so its answers can mention them. In
    memory, like the webhooks; `DingTalkTransport.addressee` falls back to the database:
    `messages.mention` (stored with answers to senders not in the roster and to card clicks),
    or the roster."""

    def __init__(self, max_entries: int = 10000) -> None:
        self.max_entries = max_entries
        self._senders: OrderedDict[str, Addressee] = OrderedDict()

    def remember(self, event_id: str, sender: Addressee) -> None:
        self._senders[event_id] = sender
        while len(self._senders) > self.max_entries:
            self._senders.popitem(last=False)

    def get(self, event_id: str | None) -> Addressee | None:
        return self._senders.get(event_id) if event_id else None


@dataclass(frozen=True)
class Target:
    group: bool
    id: str  # openConversationId for a group, the staff userId for 1:1

    @property
    def open_space_id(self) -> str:
        return f"dtv1.card//IM_GROUP.{self.id}" if self.group else f"dtv1.card//IM_ROBOT.{self.id}"


class DingTalkDelivery:
    def __init__(self, *, api: OpenApi, limiter: RateLimiter, webhooks: WebhookBook,
                 config: DingTalkDeliveryConfig, template_id: str | None,
                 target_of: Callable[[str], Target | None], link_for: LinkMaker,
                 save_ref: Callable[[int, str], Awaitable[None]],
                 addressees_of: Callable[[Message], Awaitable[list[Addressee]]] | None = None
                 ) -> None:
        self.api = api
        self.limiter = limiter
        self.webhooks = webhooks
        self.config = config
        self.template_id = template_id
        self.target_of = target_of
        self.link_for = link_for
        self.save_ref = save_ref
        self.addressees_of = addressees_of
        self.robot_key = f"dingtalk:robot:{api.creds.robot_code}"

    async def deliver(self, item: OutboxItem, message: Message) -> None:
        target = self.target_of(message.chat)
        if target is None:
            raise DeliveryError(f"chat {message.chat} has no DingTalk id", retryable=False)
        card = msgs.message_card(message)
        update = item.op in ("update", "retire")
        if update and card is None:
            return
        if update and self.template_id and not message.platform_ref:
            # wait for the send; if it never succeeds, stop trying after a while
            raise DeliveryError("card update before the card was delivered",
                                retryable=item.attempts < 12)
        try:
            if update:
                await self._update(item, message, card, target, retire=item.op == "retire")
            else:
                await self._send(item, message, card, target)
        except DingTalkApiError as e:
            await self._raise_for(e)

    async def _take_slot(self, target: Target) -> None:
        """One slot per message that reaches DingTalk (each part of a long one too)."""
        wait = await self.limiter.acquire([
            Limit(self.robot_key, self.config.robot_per_minute, 60.0),
            Limit(f"dingtalk:conv:{target.id}", self.config.conversation_per_minute, 60.0),
        ])
        if wait > 0:
            raise Postpone(wait, "rate limit")

    async def _raise_for(self, e: DingTalkApiError) -> None:
        if e.kind == "limited":
            # this API refused this call (a QPS limit, an HTTP 429): not done, so it is tried
            # again as it was, with backoff, not before its Retry-After; other sends go on
            raise DeliveryError(str(e), min_delay=e.retry_after) from e
        if e.kind == "throttled":  # the robot itself: every send waits
            pause = self.config.throttled_pause_seconds
            await self.limiter.block(self.robot_key, pause)
            raise DeliveryError(str(e), retry_after=pause) from e
        raise DeliveryError(str(e), retryable=e.kind in ("retry", "auth")) from e

    async def _addressees(self, message: Message, target: Target) -> list[Addressee]:
        """Whom a new message in a group @-mentions: the people its card is for, and the
        sender of the event it answers (every answer: the reply path is the one place that
        decides it). None in 1:1 chats; nobody for a message that answers no one and names
        no one (a reminder, a push)."""
        if not target.group or self.addressees_of is None:
            return []
        return await self.addressees_of(message)

    def _links(self, message: Message) -> render.LinkFor:
        return lambda b: self.link_for(message, b)

    async def _send(self, item: OutboxItem, message: Message, card: Card | None,
                    target: Target) -> None:
        to = await self._addressees(message, target)
        # an interactive card, unless it is a long one without buttons (a list): that one is
        # split into markdown messages, like text
        if card is not None and self.template_id and (card.actions or render.card_fits(card)):
            if message.text:  # one message, one delivery: a retry never repeats half of it
                card = replace(card, body=f"{message.text}\n\n{card.body}".strip())
            if not message.platform_ref or message.platform_ref.startswith(PARTS_REF):
                # stored before the call: a click can come back before the call returns
                message.platform_ref = f"cb-{message.id}-{secrets.token_hex(6)}"
                await self.save_ref(message.id, message.platform_ref)
            await self._take_slot(target)
            await self._create_card(self.template_id, message.platform_ref,
                                    render.card_data(card, self._links(message)), target, to)
            return
        parts = render.robot_messages(message.text, card, self._links(message),
                                      self.config.open_links_in_client)
        # with a template, a card sent as markdown needs a ref too: its updates look for one
        await self._send_parts(item, message, parts, target,
                               track=card is not None and self.template_id is not None, to=to)

    async def _create_card(self, template_id: str, out_track_id: str, data: dict[str, Any],
                           target: Target, to: list[Addressee]) -> None:
        """Create and deliver a template card. A retry keeps the outTrackId, so a card created
        by an attempt that timed out is not created twice: DingTalk then answers that it exists.
        That attempt may have timed out before DingTalk delivered the card, so it is delivered
        now (`instances/deliver`, same outTrackId and chat) and given this attempt's content
        (the current version). That a card already in the chat is not posted there again is
        assumed, not verified on DingTalk (docs/dingtalk.md, "Cards"); a deliver refused
        outright is taken to mean the earlier attempt delivered it (logged, then updated)."""
        # atUserIds takes userIds (userIdType 1): an external contact is not mentioned on a card
        at_users = {a.staff_id: a.nick for a in to if a.staff_id} or None
        try:
            await self.api.create_and_deliver_card(
                template_id=template_id, out_track_id=out_track_id, card_data=data,
                open_space_id=target.open_space_id, group=target.group, at_users=at_users)
        except DingTalkApiError as e:
            if e.code != CARD_EXISTS:
                raise
            log.info("dingtalk card %s was created by an earlier attempt; delivering and "
                     "updating it", out_track_id)
            try:
                await self.api.deliver_card(out_track_id=out_track_id,
                                            open_space_id=target.open_space_id,
                                            group=target.group, at_users=at_users)
            except DingTalkApiError as refused:
                if refused.kind != "fatal":
                    raise  # retried: the card still exists next time
                # most often the first attempt did deliver it; a refusal must not lose the
                # update nor fail a card the person may be looking at
                log.warning("dingtalk card %s exists but deliver was refused (%s); counting "
                            "it delivered by the earlier attempt", out_track_id, refused)
            await self.api.update_card(out_track_id, data)

    async def _send_parts(self, item: OutboxItem, message: Message,
                          parts: list[render.RobotMessage], target: Target,
                          track: bool = False, to: list[Addressee] | None = None) -> None:
        """Robot messages in order. How many of a long message's parts are delivered is kept
        in `platform_ref` (`dt-parts:<outbox id>:<n>`), so a retry (after an error, a rate
        limit wait or a restart) goes on with the next part and repeats none. `to` is
        mentioned in the first part (once per answer, not once per part)."""
        for i in range(_parts_done(item, message), len(parts)):
            await self._take_slot(target)
            await self._send_one(message, *parts[i], target, to if i == 0 else None)
            ref = f"{PARTS_REF}{item.id}:{i + 1}"
            if len(parts) > 1 or track:
                message.platform_ref = ref
            if len(parts) > 1:  # at once: a restart must not send this part again
                await self.save_ref(message.id, ref)

    async def _send_one(self, message: Message, key: str, param: dict[str, str],
                        target: Target, to: list[Addressee] | None = None) -> None:
        hook = self.webhooks.get(message.event_id, self.config.webhook_margin_seconds)
        body = render.webhook_body(key, param, *at_ids(to or ())) if hook is not None else None
        if hook is not None and body is not None:
            try:
                await self.api.post_webhook(hook, body)
                return
            except DingTalkApiError as e:
                if e.kind in ("retry", "limited", "throttled"):  # may arrive later: not twice
                    raise
                # refused (expired before its stated time, say): the OpenAPI still reaches
                # the conversation
                log.warning("dingtalk sessionWebhook refused the reply (%s); using the OpenAPI", e)
                self.webhooks.forget(message.event_id)
        if target.group:
            # groupMessages/send takes no `at` (robotCode, openConversationId, msgKey,
            # msgParam only: DINGTALK.md §1.9b), and an 「@userId」 in the text stays plain
            # text there: the sender can only be named
            await self.api.send_group(target.id, key, render.mentioning(
                key, param, [a.nick for a in to or () if a.nick]))
        else:
            await self.api.send_users([target.id], key, param)

    async def _update(self, item: OutboxItem, message: Message, card: Card | None,
                      target: Target, retire: bool = False) -> None:
        assert card is not None
        ref = message.platform_ref
        if self.template_id and ref and not ref.startswith(PARTS_REF):
            await self._take_slot(target)
            await self.api.update_card(ref, render.card_data(card, self._links(message)))
            return
        if retire:
            # only closed, and its successor follows: sending the old card again (「已更新」,
            # an outdated score) would read as news; its dead links say 卡片已更新
            log.debug("dingtalk: retired card %s not re-sent (messages cannot be edited)",
                      message.id)
            return
        # no template (or a list sent as markdown): robot messages cannot be edited, so a
        # change that matters to the reader (a review decided, 已知悉) is sent again
        updated = replace(card, title=f"{card.title}（已更新）")
        parts = render.robot_messages(None, updated, self._links(message),
                                      self.config.open_links_in_client)
        await self._send_parts(item, message, parts, target)


def _parts_done(item: OutboxItem, message: Message) -> int:
    """How many parts of this outbox row an earlier attempt delivered (see `_send_parts`)."""
    prefix = f"{PARTS_REF}{item.id}:"
    ref = message.platform_ref or ""
    done = ref[len(prefix):] if ref.startswith(prefix) else ""
    return int(done) if done.isascii() and done.isdigit() else 0
