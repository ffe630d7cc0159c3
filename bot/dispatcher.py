"""Routes events to handlers. Inbound chain: errors → de-duplication (Redis, then the database)
→ user resolution → role check → handler; one database transaction per event, except that a
`readonly=True` command reads a snapshot and its writes are group-committed with other events'
(storage/journal.py).

De-duplication: the `processed_events` primary key, inserted in the handling transaction,
decides; Redis only remembers handled ids (after commit) so that redeliveries are dropped
without touching the database."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from bot.context import Context, Outbound, ReadOnlyContext, Services
from bot.domain.helptext import meant_for
from bot.domain.suggest import Offer, simplified, suggest, unquoted
from bot.domain.text import unsafe_char, without_bidi, without_unsafe
from bot.events import CardActionEvent, Event, MessageEvent
from cards.model import KEY_SEP, Card
from config.model import ROLE_LABELS, Person
from storage import db
from storage import messages as msgs
from storage.dedupe import RedisDedupe, claim_in_db
from storage.models import Message

log = logging.getLogger(__name__)

MessageHandler = Callable[[MessageEvent, Context], Awaitable[None]]
ActionHandler = Callable[[CardActionEvent, Context], Awaitable[None]]
# How a feature reads a voice message's recognised text that typed-text rules would miss: the
# text meant (「码 hy 二零二六 零零零一」: 码 HY-2026-0001), or None.
Hearer = Callable[[str], str | None]
# A command's `readonly`: True, False, or decided by its arguments (see `listing_only`)
ReadOnly = bool | Callable[[str], bool]
# `glued_words` of a command whose argument is free text, understood typed straight after the
# command word whatever it starts with (新建案件张某某涉嫌盗窃案: the title) where the bot is
# addressed: a 1:1 chat, or @casebot in a group (in a group without it, 「新案件已移送」 is
# people talking)
ANY_TEXT = ("",)


# what may follow a command word before its argument, as ASCII (`_plain`): 码：HY-…, and the
# comma a phone keyboard puts there (统计，上月)
_AFTER_WORD = ":,"


def _plain(text: str) -> str:
    """Full-width letters, digits and punctuation as ASCII (ｈｅｌｐ：→ help:)."""
    return unicodedata.normalize("NFKC", text)


def listing_only(args: str) -> bool:
    """`readonly=` of a command whose bare form lists and whose forms with arguments act
    (提醒 lists; 提醒 暂停 <案件码> <天数> snoozes)."""
    return not args.strip()


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]
    handler: MessageHandler
    roles: tuple[str, ...]
    summary: str
    usage: str
    readonly: ReadOnly = False  # only reads and replies: handled on a snapshot, group-committed
    # runs from a voice message though not readonly: it changes nothing a person did, only
    # sends the asker cards to act on (待办). Read-only commands run from speech anyway.
    voice: bool = False
    glued_words: tuple[str, ...] = ()  # Chinese arguments typed without a space: 统计上月
    # words before an argument of free text (点评 <内容>: 0; 整改完成 <事项号> <说明>: 1): the
    # sentence punctuation ending such a text is the text's, not dropped (`SENTENCE_END`)
    free_text: int | None = None

    def readonly_for(self, args: str) -> bool:
        return self.readonly(args) if callable(self.readonly) else self.readonly


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    handler: MessageHandler
    roles: tuple[str, ...]
    readonly: bool = False


@dataclass(frozen=True)
class Route:
    """What a message asks for. `handler` None: no command matched (`args` is the word)."""

    handler: MessageHandler | None
    roles: tuple[str, ...]
    what: str  # how a refusal names it
    args: str
    readonly: bool
    voice: bool = False  # may run from a voice message (see Command.voice)


@dataclass(frozen=True)
class Action:
    action_id: str
    handler: ActionHandler
    roles: tuple[str, ...]


class Router:
    """A feature's routes. `bot/app.py` includes the routers in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: list[Command] = []
        self.patterns: list[Pattern] = []
        self.actions: list[Action] = []
        self.hearers: list[Hearer] = []

    def command(self, *names: str, summary: str, usage: str = "", roles: tuple[str, ...] = (),
                readonly: ReadOnly = False, voice: bool = False,
                glued_words: tuple[str, ...] = (), free_text: int | None = None
                ) -> Callable[[MessageHandler], MessageHandler]:
        """`readonly=True`: the handler only reads and replies (it may audit, never update a
        card or write through the session); such events are group-committed. A callable
        decides by the arguments (`listing_only`). `voice=True`: see Command.voice.
        `glued_words`: Chinese arguments also understood typed straight after the command
        word (统计上月); one starting with a letter or digit always is (码HY-2026-0001);
        `ANY_TEXT`: any text is, where the bot is addressed (新建案件张某某涉嫌盗窃案).
        `free_text`: the number of words before an argument of free text, which keeps the
        sentence punctuation it ends with (点评 回答到位。); see Command.free_text."""
        def deco(fn: MessageHandler) -> MessageHandler:
            self.commands.append(Command(names, fn, roles, summary, usage or names[0], readonly,
                                         voice, glued_words, free_text))
            return fn
        return deco

    def hearing(self, fn: Hearer) -> Hearer:
        """Register how this feature reads speech (see Hearer); tried in order, first wins."""
        self.hearers.append(fn)
        return fn

    def pattern(self, regex: str, roles: tuple[str, ...] = (), readonly: bool = False
                ) -> Callable[[MessageHandler], MessageHandler]:
        def deco(fn: MessageHandler) -> MessageHandler:
            self.patterns.append(Pattern(re.compile(regex), fn, roles, readonly))
            return fn
        return deco

    def action(self, action_id: str, roles: tuple[str, ...] = ()
               ) -> Callable[[ActionHandler], ActionHandler]:
        def deco(fn: ActionHandler) -> ActionHandler:
            self.actions.append(Action(action_id, fn, roles))
            return fn
        return deco


Status = Literal["handled", "duplicate", "unknown_user", "error"]


@dataclass
class FeedResult:
    status: Status
    messages: list[Message] = field(default_factory=list)
    forbidden: bool = False  # the handler refused: not the person's to do (Context.forbidden)
    acted: bool = False  # a card action did what its button offers (Context.action_done)
    cards: dict[str, Card] = field(default_factory=dict)  # see Outbound.cards


def role_names(roles: tuple[str, ...]) -> str:
    return "、".join(ROLE_LABELS.get(r, r) for r in roles) or "无"


# "@casebot" (the console's name for the bot; ＠ as Chinese input methods type it), with or
# without a space after it; any other mention ends at a space (or the end of the text).
BOT_MENTION = re.compile(r"^[@＠]\s*casebot(?![A-Za-z0-9_])\s*", re.IGNORECASE)
_MENTION = re.compile(r"^[@＠]\S+(?:\s+|$)")
# What phones put into typed commands: the full-width space of Chinese input methods, and
# zero-width characters that ride along with pasted text.
_WIDE_SPACE = re.compile("[\u3000\u00a0]")
# The full stop, question or exclamation mark a message ends with, as a sentence would
# (「下一题。」「督导 状态？」): not part of the command word nor of its last argument.
SENTENCE_END = re.compile(r"[\s。．｡.？?！!]+$")
# what separates the words before a free text, and it from them, as phones type it: blanks, or
# the comma or colon glued to a case code (撤销案件 HY-2026-0005，重复录入。)
_ARG_GAP = re.compile(r"[\s，,：:；;、]+")
_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")


def _words_in(args: str) -> int:
    """How many words `args` has, a case code with a reason glued to it by ，or ： being two."""
    return sum(1 for w in _ARG_GAP.split(args) if w)


def strip_mentions(text: str) -> tuple[str, bool]:
    """`text` without its leading mentions (「@张三 @李四 我是谁」: 「我是谁」; a text of mentions
    only: ""), and whether the bot was one of them."""
    bot = False
    while text[:1] in ("@", "＠"):
        if m := BOT_MENTION.match(text):
            bot = True
        elif not (m := _MENTION.match(text)):
            break
        text = text[m.end():]
    return text, bot


def typed_text(text: str) -> str:
    """The text as typed, without its mentions and invisible characters: `command_text` but
    with the full-width and no-break spaces kept, each character where it has it (what a
    free-text argument is read from, stored as typed)."""
    text = without_bidi(_ZERO_WIDTH.sub("", text)).strip()
    return strip_mentions(text)[0].strip()


def command_text(text: str) -> str:
    """The text as commands are matched: mentions and invisible characters dropped, any space
    an ASCII space."""
    return _WIDE_SPACE.sub(" ", typed_text(text))


def already_done(label: str) -> str:
    """The answer to a tap on a button this very person's earlier tap took off the card."""
    return f"您已点过「{label}」，无需重复操作。"


def _stale(card: Card) -> str:
    """The answer to a button the card no longer has: what the card says now. A card retired
    with a footer (已更新为第2版…, 已处理：…) keeps its title, so the footer says what happened."""
    if card.footer:
        end = "" if card.footer.endswith("。") else "。"
        # nothing newer to look at for one who may no longer see the case (不再更新)
        rest = "" if "最新卡片" in card.footer or "不再更新" in card.footer else "请以最新卡片为准。"
        return f"该按钮已失效：「{card.title}」{card.footer}{end}{rest}"
    now = f"为「{card.title}」" if card.title else ""  # what it says now, e.g. 已撤回
    return f"该按钮已失效：卡片已更新{now}，请以最新卡片为准。"


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.routers: list[Router] = []
        self._names_index: dict[str, Command] = {}
        self._names_shape: tuple[int, ...] | None = None
        self.dedupe = (
            RedisDedupe(services.redis, services.config.storage.dedupe_ttl_seconds,
                        prefix=f"{services.config.storage.redis_prefix}event:")
            if services.redis is not None else None
        )

        services.dispatcher = self

    def include(self, *routers: Router) -> None:
        self.routers.extend(routers)

    # -- lookup -----------------------------------------------------------------------------
    def commands(self) -> list[Command]:
        return [c for r in self.routers for c in r.commands]

    def _command(self, word: str) -> Command | None:
        return self._names().get(_plain(word).lower())  # HELP, ｈｅｌｐ: like help

    def _names(self) -> dict[str, Command]:
        """Each command name in lower case -> its command, the first included on a clash: one
        look-up per message instead of a scan of every name. Rebuilt when a router gains a
        command (the routers' sizes change)."""
        shape = tuple(len(r.commands) for r in self.routers)
        if shape != self._names_shape:
            names: dict[str, Command] = {}
            for c in self.commands():
                for n in c.names:
                    names.setdefault(n.lower(), c)
            self._names_index, self._names_shape = names, shape
        return self._names_index

    def _glued(self, text: str, addressed: bool = True) -> tuple[Command, str] | None:
        """A command word typed without a space before its argument: 码HY-2026-0001 (a Chinese
        word; full-width 码ＨＹ－… too), 统计上月 (one of its `glued_words`; any text for
        `ANY_TEXT`, when `addressed`), or with a colon or comma after it: 码：HY-2026-0001,
        help:, ｈｅｌｐ：, 统计，上月, 统计,上月."""
        for c in self.commands():
            for name in c.names:
                head, rest = text[:len(name)], text[len(name):]
                if _plain(head).lower() != name.lower():
                    continue
                first = _plain(rest[:1])  # Ｈ, ２, ：, ， as an input method types them
                if first and first in _AFTER_WORD:
                    return c, rest[1:]
                if not name.isascii() and ((first.isascii() and first.isalnum())
                                           or first == "#"  # 整改完成#12, 整改完成＃12
                                           or (c.glued_words and rest.startswith(c.glued_words)
                                               and (addressed or c.glued_words != ANY_TEXT))):
                    return c, rest
        return None

    def _action(self, action_id: str) -> Action | None:
        """The route of a button id; `route:key` (`keyed_action`) is one of several buttons of
        one route on one card, e.g. a 受理 per case of a list."""
        found = next((a for r in self.routers for a in r.actions if a.action_id == action_id),
                     None)
        if found is None and KEY_SEP in action_id:
            return self._action(action_id.partition(KEY_SEP)[0])
        return found

    # -- the chain ----------------------------------------------------------------------------
    async def feed(self, event: Event) -> FeedResult:
        kind = "message" if isinstance(event, MessageEvent) else "action"
        started = time.perf_counter()
        result = await self._feed(event)
        m = self.services.metrics
        m.events.labels(event.platform, kind, result.status).inc()
        m.handler_seconds.labels(kind).observe(time.perf_counter() - started)
        return result

    async def _feed(self, event: Event) -> FeedResult:
        if self.dedupe is not None and await self.dedupe.seen(event.event_id):
            return FeedResult("duplicate")
        try:
            user = self.services.directory.by_platform(event.platform, event.user_id)
            route = self.match(event) if isinstance(event, MessageEvent) else None
            if user is not None and route is not None and route.readonly:
                assert isinstance(event, MessageEvent)
                result = await self._journaled(event, user, route)
            else:
                result = await self._in_transaction(event, user, route)
        except Exception as e:
            if db.unavailable(e):
                raise  # nothing stored, no apology possible: the transport answers or retries
            ref = uuid.uuid4().hex[:8]
            log.exception("handler failed for event %s (ref %s)", event.event_id, ref)
            async with self.services.db() as session, session.begin():
                out = Outbound(self.services, session)
                await out.send(event.chat, text=f"抱歉，处理时出错（编号 {ref}），请稍后重试。")
            return FeedResult("error", out.sent)
        if self.dedupe is not None and result.status in ("handled", "duplicate"):
            await self.dedupe.remember(event.event_id)
        return result

    async def _in_transaction(self, event: Event, user: Person | None,
                              route: Route | None) -> FeedResult:
        """`route` is set for every message event, None for card actions."""
        async with self.services.db() as session, session.begin():
            if not await claim_in_db(session, event.event_id, self.services.clock.now()):
                return FeedResult("duplicate")
            if user is None:
                log.warning("unknown %s user %r", event.platform, event.user_id)
                return FeedResult("unknown_user")
            ctx = Context(self.services, session, event, user)
            if isinstance(event, MessageEvent):
                assert route is not None
                await msgs.add_message(session, chat=event.chat, sender=user.id, at=event.at,
                                       text=without_unsafe(logged_text(event)),
                                       event_id=event.event_id)
                await self._route_message(event, route, ctx)
            elif isinstance(event, CardActionEvent):
                await self._route_action(event, ctx)
            return FeedResult("handled", ctx.sent, ctx.forbidden, ctx.acted, ctx.cards)

    async def _journaled(self, event: MessageEvent, user: Person, route: Route) -> FeedResult:
        """A read-only event: handled on a read snapshot, its writes committed by the journal
        together with other events' (see storage/journal.py)."""
        async with self.services.reads() as session:
            ctx = ReadOnlyContext(self.services, session, event, user)
            ctx.log_inbound(logged_text(event))
            await self._route_message(event, route, ctx)
        if not await self.services.journal.commit(ctx.pending):
            return FeedResult("duplicate")
        return FeedResult("handled", ctx.sent, cards=ctx.cards)

    def match(self, event: MessageEvent) -> Route:
        route = self._match(event)
        if event.spoken and route.handler not in (None, _refuse_chars) \
                and not (route.readonly or route.voice):
            # a misheard word must not change anything: only read-only commands (and those
            # marked `voice`, which only send the asker cards) run from speech
            return Route(_refuse_spoken, (), route.what, route.args, readonly=True)
        return route

    def _match(self, event: MessageEvent) -> Route:
        addressed = event.is_direct or event.mentioned
        if (bad := unsafe_char(without_bidi(event.text), multiline=True)) is not None:
            # in a group without @casebot, text that starts with a command word (as it is
            # recognised there) is refused too; anything else is people talking: no answer
            if addressed or self.for_the_bot(event.text, event.spoken):
                return Route(_refuse_chars, (), "", bad, readonly=False)
            return Route(None, (), "", "", readonly=False)
        text = self._words(event.text, event.spoken)
        typed = text if event.spoken else typed_text(event.text)
        if (route := self._command_route(text, addressed, typed)) is not None:
            return route
        wide = _plain(text)  # patterns also match ＨＹ－２０２６－０００１
        for r in self.routers:
            for p in r.patterns:
                if p.regex.search(text) or p.regex.search(wide):
                    return Route(p.handler, p.roles, "此操作", text, p.readonly)
        return Route(None, (), "", text.partition(" ")[0] or text, readonly=True)

    def for_the_bot(self, text: str, spoken: bool = False) -> bool:
        """Whether a group message without @casebot is for the bot all the same: it starts
        with a command word (as a group without the @ reads it; what else is typed there is
        people talking, and gets no answer)."""
        return self._command_route(self._words(without_unsafe(text), spoken), False) is not None

    def _words(self, text: str, spoken: bool) -> str:
        """The text as commands are matched (`command_text`; speech as the features hear it)."""
        text = command_text(text)
        return self._heard(text) if spoken else text

    def _command_route(self, text: str, addressed: bool, typed: str | None = None
                       ) -> Route | None:
        """The command `text` starts with (`addressed`: a 1:1 chat or @casebot), or None. The
        sentence punctuation `text` ends with is dropped, except from a free-text argument
        (Command.free_text). Only when none matched, the text is read again leniently: sent
        in the brackets the bot quotes commands in (「码 HY-2026-0001」, its own suggestion
        copied), or its command word in traditional characters (碼, 評分, 統計上月). `typed`:
        `text` as typed (`typed_text`), which a free-text argument is taken from."""
        route = self._route_of(text, addressed, False, typed)
        if route is None:
            bare = unquoted(text)
            typed_bare = unquoted(typed) if typed is not None else None
            route = self._route_of(bare, addressed, True,
                                   typed_bare if len(typed_bare or "") == len(bare) else None)
        return route

    def _route_of(self, text: str, addressed: bool, lenient: bool, typed: str | None
                  ) -> Route | None:
        cut = SENTENCE_END.sub("", text)
        word = cut.partition(" ")[0]
        # `simplified` keeps the length: what follows a glued command word stays as typed
        key = simplified(word) if lenient else word
        cmd = self._command(key)
        start = len(word)  # where the arguments start in `cut` (and in `typed`)
        if cmd is None and (glued := self._glued(key, addressed)) is not None:
            cmd, start = glued[0], len(word) - len(glued[1])
            word = key[:start].rstrip("：:，,")
        elif cmd is not None:
            word = key
        if cmd is None:
            return None
        # free text as typed (a full-width space stays); `typed` has each character where
        # `text` has it, only its spaces may differ
        source = typed if cmd.free_text is not None and typed is not None else text
        args = source[start:len(cut)].strip()
        if cmd.free_text is not None and _words_in(args) > cmd.free_text:
            args += source[len(cut):]  # the free text's own 。 or ？
        return Route(cmd.handler, cmd.roles, f"「{word}」", args, cmd.readonly_for(args),
                     cmd.voice)

    def _heard(self, text: str) -> str:
        """A voice message's text as the features read speech (Router.hearing)."""
        for hear in (h for r in self.routers for h in r.hearers):
            if (meant := hear(text)) is not None:
                return meant
        return text

    async def _route_message(self, event: MessageEvent, route: Route, ctx: Context) -> None:
        ctx.args = route.args
        if route.handler is None:
            if not (event.is_direct or event.mentioned):
                return  # group chatter among people
            if any(ch.isalnum() for ch in route.args):
                heard = heard_as(event.text) if event.spoken else ""
                await ctx.reply(heard + self._unknown(
                    route.args, self._words(event.text, event.spoken), ctx.user))
            elif event.is_direct:  # blank, mentions only, or only 👍 / 。: no @ is needed here
                await ctx.reply("请输入命令，例如「码 HY-2026-0001」；发送「帮助」查看可用命令。")
            else:  # only "@casebot"
                await ctx.reply("您好，请在 @ 后输入命令，例如「码 HY-2026-0001」；"
                                "发送「帮助」查看可用命令。")
        elif await self._allowed(ctx, route.roles, route.what):
            await route.handler(event, ctx)

    def _unknown(self, word: str, text: str, person: Person) -> str:
        """The answer to a message naming no command: what this person most likely meant,
        among the commands they may use, with what they typed after it kept."""
        offers = [Offer(c.names, "<案件码>" in c.usage) for c in self.commands()
                  if may_use(person, c) and meant_for(c.names[0], person.roles)]
        meant = suggest(text, offers, self._code_prefix(person))
        hint = f"您是不是想输入「{meant}」？" if meant else ""
        if not meant and _plain(word).isdigit():  # 1, 0001: part of a case code?
            hint = "查看案件请发送完整的案件码，例如「码 HY-2026-0001」。"
        shown = word if len(word) <= 20 else word[:20] + "…"
        return f"未知命令「{shown}」。{hint}发送「帮助」查看可用命令。"

    def _code_prefix(self, person: Person) -> str | None:
        """The case-code prefix of the person's office (their unit or the nearest above it
        that has one): completes a code typed without it (2026-0001)."""
        unit = self.services.directory.unit(person.unit)
        while unit is not None and unit.code_prefix is None:
            unit = self.services.directory.unit(unit.parent) if unit.parent else None
        return unit.code_prefix if unit is not None else None

    async def _route_action(self, event: CardActionEvent, ctx: Context) -> None:
        msg = await msgs.get_message(ctx.session, event.message_id)
        card = msgs.message_card(msg) if msg is not None else None
        if msg is None or card is None:
            await ctx.reply("找不到这张卡片。")
            return
        if not self.services.directory.may_post(ctx.user.id, msg.chat):
            # to the clicker alone: the card's chat is not theirs (nor is the refusal its)
            ctx.forbidden = True
            await ctx.send_dm(ctx.user.id, text="您不在这张卡片所在的会话中，无法操作。")
            return
        button = card.button(event.action)
        action = self._action(event.action)
        if button is not None and action is None and button.url:
            await ctx.reply(f"「{button.label}」是链接，请直接打开：{button.url}")
            return
        if button is None and (done := card.done_by(event.action, ctx.user.id)) is not None:
            await ctx.reply(already_done(done.label))  # their own double tap
            return
        if button is None or action is None:  # the card changed since it was drawn
            await ctx.reply(_stale(card))
            return
        ctx.button, ctx.card_message = button, msg
        labels = {f.name: f.label for f in button.form}
        for name, value in event.form.items():
            if (bad := unsafe_char(value, multiline=True)) is not None:
                await ctx.reply(_BAD_CHARS.format(what=f"「{labels.get(name, name)}」", char=bad))
                return
        if await self._allowed(ctx, action.roles, f"「{button.label}」"):
            await action.handler(event, ctx)
            await ctx.record_done()

    async def _allowed(self, ctx: Context, roles: tuple[str, ...], what: str) -> bool:
        if not roles or ctx.user.has(*roles):
            return True
        await ctx.reply(f"{what}仅限{role_names(roles)}使用。您的角色：{role_names(ctx.user.roles)}。")
        return False


SPOKEN = "[语音] "  # marks a stored voice message's text (DingTalk's speech-to-text)
HEARD_SHOWN = 60  # characters of the recognised text quoted back


def logged_text(event: MessageEvent) -> str:
    """The person's message as stored (the console, the history): a voice message's
    recognised text, marked as such."""
    return SPOKEN + event.text if event.spoken else event.text


def heard_as(text: str) -> str:
    """What the bot heard, quoted back before the answer to a voice message it cannot run."""
    shown = text if len(text) <= HEARD_SHOWN else text[:HEARD_SHOWN] + "…"
    return f"语音识别为：「{shown}」。"


async def _refuse_spoken(event: MessageEvent, ctx: Context) -> None:
    """A voice message naming a command that changes data: not run, whatever it heard."""
    await ctx.reply(heard_as(event.text) + "该命令会修改数据，请以文字发送。")


_BAD_CHARS = "{what}含有控制字符或不可见的格式字符（{char}），未处理。请删除后重新发送。"


async def _refuse_chars(event: MessageEvent, ctx: Context) -> None:
    """Text that could not be stored or shown as sent (NUL, bidi overrides …) is not acted on
    (`Dispatcher._match` routes group chatter among people elsewhere)."""
    await ctx.reply(_BAD_CHARS.format(what="消息", char=ctx.args))


def may_use(person: Person, cmd: Command) -> bool:
    return not cmd.roles or person.has(*cmd.roles)


def dispatcher_of(services: Services) -> Dispatcher:
    assert services.dispatcher is not None, "no Dispatcher built on these services"
    return services.dispatcher
