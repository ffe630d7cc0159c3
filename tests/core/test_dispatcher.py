"""Routing, role refusal, errors and de-duplication, through the real dispatcher and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.context import Context, unit_of_work
from bot.dispatcher import Router
from bot.events import CardActionEvent, MessageEvent
from bot.transports.console import message_json
from cards.model import Button, Card
from config.loader import Settings
from storage import messages as msgs
from tests.conftest import START

secret = Router("test-secret")
calls: list[str] = []


@secret.command("机密", summary="only inspectors", roles=("inspector",))
async def _secret(event: MessageEvent, ctx: Context) -> None:
    calls.append(event.event_id)
    await ctx.reply("机密内容")


@secret.command("爆炸", summary="raises")
async def _boom(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply("this reply must be rolled back")
    raise RuntimeError("boom")


@secret.command("签到卡", summary="a card with buttons, in the chat it is asked for")
async def _sign_card(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="周例会", actions=(Button("test.sign", "签到"),
                                                      Button("test.try", "试试"))))


@secret.action("test.sign")
async def _sign(event: CardActionEvent, ctx: Context) -> None:
    """Takes effect: the button goes, the footer says who (like 已知悉：<name>)."""
    assert ctx.card_message is not None and ctx.button is not None
    calls.append(event.event_id)
    card = msgs.message_card(ctx.card_message)
    assert card is not None
    ctx.action_done()
    await ctx.update_card(ctx.card_message, replace(
        card, actions=tuple(b for b in card.actions if b.id != "test.sign"),
        footer=f"已签到：{ctx.user.name}"))
    await ctx.reply("签到成功")


@secret.action("test.try")
async def _try(event: CardActionEvent, ctx: Context) -> None:
    """Does not take effect (a refusal), but redraws the card without the button."""
    assert ctx.card_message is not None
    card = msgs.message_card(ctx.card_message)
    assert card is not None
    await ctx.update_card(ctx.card_message, replace(card, actions=(), footer="会议已取消"))
    await ctx.reply("会议已取消，无法操作")


@secret.command("备忘", summary="echoes its free text (after one word) as it arrives",
                free_text=1)
async def _memo(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(f"[{ctx.args}]")


@secret.command("回声", summary="echoes its arguments: a command without free text")
async def _echo(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(f"[{ctx.args}]")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    a = App(settings, ManualClock(START))
    await a.start()
    a.dispatcher.include(secret)
    calls.clear()
    yield a
    await a.stop()


def msg(user: str, text: str, event_id: str = "e1", chat: str | None = None) -> MessageEvent:
    return MessageEvent(event_id=event_id, platform="console", user_id=user,
                        chat=chat or f"dm:{user}", at=START, text=text, is_direct=True)


async def test_routes_to_the_command(app: App) -> None:
    r = await app.dispatcher.feed(msg("p-inspector-1", "机密"))
    assert r.status == "handled"
    assert [m.text for m in r.messages] == ["机密内容"]


async def test_mention_prefix_is_ignored(app: App) -> None:
    r = await app.dispatcher.feed(msg("p-inspector-1", "@casebot 机密"))
    assert [m.text for m in r.messages] == ["机密内容"]


async def test_role_refusal_is_a_clear_message(app: App) -> None:
    r = await app.dispatcher.feed(msg("p-prosecutor-1", "机密"))
    assert calls == []
    [m] = r.messages
    assert m.text is not None and "仅限检务督察使用" in m.text and "承办检察官" in m.text


async def test_unknown_command_suggests_closest(app: App) -> None:
    r = await app.dispatcher.feed(msg("p-prosecutor-1", "帮组"))
    [m] = r.messages
    assert m.text is not None and "未知命令「帮组」" in m.text and "「帮助」" in m.text


async def test_repeated_event_id_is_handled_once(app: App) -> None:
    first = await app.dispatcher.feed(msg("p-inspector-1", "机密", "dup-1"))
    second = await app.dispatcher.feed(msg("p-inspector-1", "机密", "dup-1"))
    assert (first.status, second.status) == ("handled", "duplicate")
    assert calls == ["dup-1"] and second.messages == []


async def test_handler_error_rolls_back_and_answers(app: App) -> None:
    r = await app.dispatcher.feed(msg("p-inspector-1", "爆炸", "err-1"))
    assert r.status == "error"
    [m] = r.messages
    assert m.text is not None and m.text.startswith("抱歉，处理时出错")
    from storage import messages as msgs
    async with app.services.db() as s:
        texts = [x.text for x in await msgs.list_messages(s, "dm:p-inspector-1")]
    assert "this reply must be rolled back" not in texts
    # the event was not recorded as processed, so a redelivery is handled again
    again = await app.dispatcher.feed(msg("p-inspector-1", "爆炸", "err-1"))
    assert again.status == "error"


async def test_unknown_platform_user(app: App) -> None:
    r = await app.dispatcher.feed(msg("nobody", "帮助"))
    assert r.status == "unknown_user"


def group_msg(user: str, text: str, event_id: str, mentioned: bool = True) -> MessageEvent:
    return MessageEvent(event_id=event_id, platform="console", user_id=user, chat="g-case-team",
                        at=START, text=text, is_direct=False, mentioned=mentioned)


@pytest.mark.parametrize("text", ["@张三 @李四 我是谁", "＠张三\u3000＠李四\u3000我是谁",
                                  "@casebot @张三 ＠李四 我是谁", "@张三 @casebot 我是谁"])
async def test_every_leading_mention_is_dropped(app: App, text: str) -> None:
    r = await app.dispatcher.feed(msg("p-prosecutor-1", text))
    [m] = r.messages
    assert m.text is not None and "单位：" in m.text and "未知命令" not in m.text, m.text


async def test_mentions_alone_are_answered_like_an_empty_mention(app: App) -> None:
    r = await app.dispatcher.feed(group_msg("p-prosecutor-1", "@张三 @李四", "g1"))
    [m] = r.messages
    assert m.text is not None and m.text.startswith("您好，请在 @ 后输入命令"), m.text
    r = await app.dispatcher.feed(msg("p-prosecutor-1", "＠张三\u3000＠李四", "d1"))
    [m] = r.messages
    assert m.text == "请输入命令，例如「码 HY-2026-0001」；发送「帮助」查看可用命令。"


async def test_a_blank_message_in_a_direct_chat_asks_for_a_command_without_the_at(
        app: App) -> None:
    r = await app.dispatcher.feed(msg("p-prosecutor-1", " \u3000 "))
    [m] = r.messages
    assert m.text == "请输入命令，例如「码 HY-2026-0001」；发送「帮助」查看可用命令。"
    # in a group the bot is addressed with the @, so that is what it asks for
    r = await app.dispatcher.feed(group_msg("p-prosecutor-1", "", "g2"))
    [m] = r.messages
    assert m.text is not None and m.text.startswith("您好，请在 @ 后输入命令")


async def test_a_group_command_with_a_control_character_is_refused_not_dropped(
        app: App) -> None:
    """Without the @ a group command word is still recognised, so its control character is
    answered as in a 1:1 chat; group chatter with one stays unanswered."""
    refusal = "消息含有控制字符或不可见的格式字符（U+0001），未处理。请删除后重新发送。"
    for i, text in enumerate(["机密 补充\x01一点", "\x01机密", "点评 补充\x01一点", "我是谁\x01"]):
        r = await app.dispatcher.feed(group_msg("p-prosecutor-1", text, f"cc{i}", mentioned=False))
        assert (r.status, [m.text for m in r.messages]) == ("handled", [refusal]), text
    r = await app.dispatcher.feed(group_msg("p-prosecutor-1", "今天\x01开会", "cc9",
                                            mentioned=False))
    assert (r.status, r.messages) == ("handled", [])
    assert calls == []
    async with app.services.db() as s:
        said = [(m.sender, m.text) for m in await msgs.list_messages(s, "g-case-team")]
    assert ("p-prosecutor-1", "机密 补充一点") in said and ("p-prosecutor-1", "今天开会") in said


def click(user: str, message_id: int, action: str, event_id: str) -> CardActionEvent:
    return CardActionEvent(event_id=event_id, platform="console", user_id=user,
                           chat="g-case-team", at=START, message_id=message_id, action=action)


async def test_a_second_tap_on_ones_own_done_button_is_confirmed_not_called_stale(
        app: App) -> None:
    [card] = (await app.dispatcher.feed(group_msg("p-prosecutor-1", "签到卡", "c1"))).messages
    first = await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.sign", "k1"))
    assert [m.text for m in first.messages if m.text] == ["签到成功"]
    again = await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.sign", "k2"))
    assert [m.text for m in again.messages] == ["您已点过「签到」，无需重复操作。"]
    assert calls == ["k1"]  # acted once
    # someone else tapping the button that is gone: what the card says now
    other = await app.dispatcher.feed(click("p-prosecutor-2", card.id, "test.sign", "k3"))
    assert [m.text for m in other.messages] == [
        "该按钮已失效：「周例会」已签到：余斌梅。请以最新卡片为准。"]
    # a click that did not take effect records nobody, even though the button went
    await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.try", "k4"))
    tried = await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.try", "k5"))
    assert [m.text for m in tried.messages] == [
        "该按钮已失效：「周例会」会议已取消。请以最新卡片为准。"]
    # and once the card says something else, the old 签到 is not what it shows any more
    again = await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.sign", "k6"))
    assert [m.text for m in again.messages] == [
        "该按钮已失效：「周例会」会议已取消。请以最新卡片为准。"]


async def test_a_record_of_who_acted_lasts_while_the_card_says_so(app: App) -> None:
    [card] = (await app.dispatcher.feed(group_msg("p-prosecutor-1", "签到卡", "c1"))).messages
    await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.sign", "k1"))
    async with unit_of_work(app.services) as out:  # another update, the state unchanged
        msg = await msgs.get_message(out.session, card.id)
        assert msg is not None
        now = msgs.message_card(msg)
        assert now is not None
        await out.update_card(msg, replace(now, body="议程已更新"))
    again = await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.sign", "k2"))
    assert [m.text for m in again.messages] == ["您已点过「签到」，无需重复操作。"]


async def test_the_console_renders_the_sent_card_as_its_stored_json_reads(app: App) -> None:
    """FeedResult.cards spares the console parsing a reply's card back: same answer; a card
    updated since (the click's redrawn card) is read from its stored JSON."""
    sent = await app.dispatcher.feed(group_msg("p-prosecutor-1", "签到卡", "c1"))
    [card] = sent.messages
    assert list(sent.cards.values()) == [msgs.message_card(card)]
    assert message_json(card, sent.cards) == message_json(card)
    clicked = await app.dispatcher.feed(click("p-prosecutor-1", card.id, "test.sign", "k1"))
    redrawn = next(m for m in clicked.messages if m.id == card.id)
    shown = message_json(redrawn, clicked.cards | sent.cards)
    assert shown == message_json(redrawn) and shown["card"]["footer"] == "已签到：余斌梅"


async def test_a_command_added_to_an_included_router_is_routed(app: App) -> None:
    late = Router("test-late")
    app.dispatcher.include(late)
    assert (await app.dispatcher.feed(msg("p-inspector-1", "晚到", "l1"))).messages[0].text \
        != "来了"

    @late.command("晚到", summary="registered after include")
    async def _late(event: MessageEvent, ctx: Context) -> None:
        await ctx.reply("来了")

    assert [m.text for m in (await app.dispatcher.feed(msg("p-inspector-1", "晚到", "l2"))
                             ).messages] == ["来了"]


@pytest.mark.parametrize(("text", "args"), [
    ("备忘　1  台账　未建立\n缺两期。", "1  台账　未建立\n缺两期。"),
    ("@casebot 备忘：1 台账  未建立 ", "1 台账  未建立"),  # glued, after a mention
    ("「备忘 1 台账　未建立」", "1 台账　未建立"),  # in the bot's quotes: read leniently
    ("回声　1　台账", "1 台账"),  # arguments that are not free text: ASCII spaces
])
async def test_a_free_text_argument_arrives_as_typed(app: App, text: str, args: str) -> None:
    r = await app.dispatcher.feed(msg("p-inspector-1", text))
    assert [m.text for m in r.messages] == [f"[{args}]"]
