"""Answers in a group @-mention whom they answer, as DingTalk users expect: for real where the
protocol can (a sessionWebhook's `at` with 「@userId」 in the text; a card's
`imGroupOpenDeliverModel.atUserIds`), by name where it cannot (groupMessages/send has no `at`).
Answers in 1:1 chats and messages that answer nobody (reminders, pushes) mention no one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bot.app import App
from bot.context import Context
from bot.dispatcher import Router
from bot.events import CardActionEvent, MessageEvent
from bot.transports.dingtalk.delivery import SenderBook
from bot.transports.dingtalk.mapping import NOT_REGISTERED_USER, Addressee
from cards.model import Button, Card
from storage.models import Message, OutboxItem
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, AppFactory, eventually
from tests.dingtalk.fake import FakeDingTalk

TEMPLATE = "tpl-casebot.schema"
list_router = Router("dingtalk-mentions")


@list_router.command("清单", summary="测试：无按钮的卡片（markdown）")
async def _list(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="清单", body="第一行\n第二行"))


@list_router.command("两句", summary="测试：一条消息，两条回复")
async def _twice(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply("第一句")
    await ctx.reply("第二句")


@list_router.command("点我", summary="测试：点了会回话的卡片")
async def _clickable(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="点我", actions=(Button("mention.press", "点"),)))


@list_router.action("mention.press")
async def _pressed(event: CardActionEvent, ctx: Context) -> None:
    await ctx.reply("收到")


async def test_a_reply_in_a_group_mentions_the_sender(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("回声 一", staff_id=PROSECUTOR[1], group=GROUP_CID, msg_id="m-1")
    [reply] = await eventually(lambda: fake.sent, what="the reply")
    assert reply.kind == "webhook" and reply.target == "m-1"
    assert reply.mentioned == [PROSECUTOR[1]]
    assert reply.text == f"@{PROSECUTOR[1]} 回声：一" and reply.shown == "@余斌梅 回声：一"


async def test_a_reply_in_a_1to1_chat_mentions_no_one(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("回声 二", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the reply")
    assert reply.kind == "webhook" and reply.mentioned == [] and reply.text == "回声：二"


async def test_a_markdown_reply_mentions_on_a_line_of_its_own(app: App,
                                                               fake: FakeDingTalk) -> None:
    app.dispatcher.include(list_router)
    fake.send_message("清单", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [reply] = await eventually(lambda: fake.sent, what="the list")
    assert reply.body["msgtype"] == "markdown" and reply.mentioned == [PROSECUTOR[1]]
    assert reply.shown == "@余斌梅\n\n### 清单\n\n第一行  \n第二行"  # the heading stays one


async def test_a_group_reply_through_the_openapi_names_the_sender(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("回声 三", staff_id=PROSECUTOR[1], group=GROUP_CID, webhook=False)
    [reply] = await eventually(lambda: fake.sent, what="the reply")
    assert reply.kind == "group" and reply.text == "@余斌梅 回声：三"


async def test_a_card_in_a_group_mentions_the_sender(make_app: AppFactory,
                                                      fake: FakeDingTalk) -> None:
    await make_app(card_template_id=TEMPLATE)
    fake.send_message("卡片 1", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the card")
    assert card.kind == "card" and card.mentioned == [PROSECUTOR[1]]
    assert card.body["imGroupOpenDeliverModel"]["atUserIds"] == {PROSECUTOR[1]: "余斌梅"}
    fake.send_message("卡片 2", staff_id=PROSECUTOR[1])  # 1:1: nothing to mention
    sent = await eventually(lambda: len(fake.sent) >= 2 and fake.sent, what="the 1:1 card")
    assert "imGroupOpenDeliverModel" not in sent[1].body and sent[1].mentioned == []


async def test_an_answer_to_a_click_in_a_group_names_the_clicker(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app(card_template_id=TEMPLATE)
    app.dispatcher.include(list_router)
    fake.send_message("点我", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the card")
    fake.click(card.body["outTrackId"], PROSECUTOR[1], "mention.press")
    sent = await eventually(lambda: len(fake.sent) >= 2 and fake.sent, what="the answer")
    # a click comes with no sessionWebhook: the OpenAPI, which can only name them
    assert (sent[1].kind, sent[1].text) == ("group", "@余斌梅 收到")


async def test_another_instance_finds_the_sender_in_the_roster(
        app: App, fake: FakeDingTalk) -> None:
    """The instance that delivers may not be the one that received the message (or it
    restarted since): a roster member is found through their stored message."""
    fake.send_message("回声 四", staff_id=PROSECUTOR[1], group=GROUP_CID, webhook=False)
    await eventually(lambda: fake.sent, what="the reply")
    assert app.dingtalk is not None
    app.dingtalk.senders = SenderBook()  # what this instance saw is gone
    async with app.services.db() as session:
        reply = (await session.execute(select(Message).where(
            Message.sender == "bot", Message.chat == "g-case-team"))).scalars().one()
    assert await app.dingtalk.addressee(reply) == Addressee(PROSECUTOR[1], "余斌梅")
    reply.event_id = "dingtalk:someone-elses"
    assert await app.dingtalk.addressee(reply) is None


async def test_every_answer_to_an_event_mentions_the_sender(
        app: App, fake: FakeDingTalk) -> None:
    """Like 「抽签」 (the draw's card, then 「抽签完成…」): each answer is the sender's to read,
    so each mentions them."""
    app.dispatcher.include(list_router)
    fake.send_message("两句", staff_id=PROSECUTOR[1], group=GROUP_CID)
    sent = await eventually(lambda: len(fake.sent) >= 2 and fake.sent, what="both answers")
    assert sorted((s.shown, tuple(s.mentioned)) for s in sent) == [
        ("@余斌梅 第一句", (PROSECUTOR[1],)), ("@余斌梅 第二句", (PROSECUTOR[1],))]


async def test_group_chatter_not_addressed_to_the_bot_gets_no_answer(
        app: App, fake: FakeDingTalk) -> None:
    """As on the console: a group message without @casebot that is no command is people
    talking (DingTalk rarely delivers one; when it does, no 未知命令 for it)."""
    assert app.dingtalk is not None
    data = fake.bot_message("大家辛苦了", staff_id=PROSECUTOR[1], group=GROUP_CID)
    data.update(isInAtList=False, atUsers=[])
    fake.push(fake.frame("/v1.0/im/bot/messages/get", data))
    inbound = app.dingtalk.inbound
    await eventually(lambda: inbound.handled == 1, what="the chatter handled")
    fake.send_message("大家辛苦了", staff_id=PROSECUTOR[1], group=GROUP_CID)  # with the @
    [reply] = await eventually(lambda: fake.sent, what="the answer to the @")
    assert reply.shown.startswith("@余斌梅 未知命令「大家辛苦了」")
    async with app.services.db() as session:
        answers = (await session.execute(select(func.count()).select_from(Message).where(
            Message.sender == "bot"))).scalar_one()
    assert answers == 1


async def test_after_a_restart_the_answers_still_mention_whom_they_answer(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    """The instance that received the messages stores the answers and is gone before they
    go out: the one that delivers them (a new transport on the same database, with nothing
    in memory) still mentions a sender not in the roster, and each sender once."""
    shared = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"}
    first = await make_app(storage=shared, stream={"spool_dir": str(tmp_path / "spool-1")})
    first.dispatcher.include(list_router)
    assert first.outbox is not None
    await first.outbox.stop()  # it delivers nothing more
    fake.send_message("回声 六", staff_id="dt-stranger", group=GROUP_CID)
    fake.send_message("两句", staff_id=PROSECUTOR[1], group=GROUP_CID)

    async def pending() -> int:
        async with first.services.db() as session:
            return int((await session.execute(
                select(func.count()).select_from(OutboxItem))).scalar_one())

    for _ in range(300):
        if await pending() == 3:
            break
        await asyncio.sleep(0.05)
    assert await pending() == 3 and fake.sent == []
    # the restart: its outbox worker delivers the rows
    await make_app(storage=shared, stream={"spool_dir": str(tmp_path / "spool-2")})
    sent = await eventually(lambda: len(fake.sent) >= 3 and fake.sent, what="the answers")
    # no sessionWebhook known to the new instance: the OpenAPI, which names the sender
    assert sorted(s.text for s in sent) == sorted([
        f"@路人甲 {NOT_REGISTERED_USER}", "@余斌梅 第一句", "@余斌梅 第二句"])


async def test_an_answer_to_a_click_delivered_after_a_restart_names_the_clicker(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    """No message of the clicker's is stored to find them by: whom the answer mentions is
    stored with it, so the instance that delivers it (here a new one on the same database,
    with nothing in memory) still names them."""
    shared = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"}
    first = await make_app(storage=shared, stream={"spool_dir": str(tmp_path / "spool-1")},
                           card_template_id=TEMPLATE)
    first.dispatcher.include(list_router)
    fake.send_message("点我", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the card")
    assert first.outbox is not None
    await first.outbox.stop()  # it delivers nothing more
    fake.click(card.body["outTrackId"], PROSECUTOR[1], "mention.press")

    async def answer_stored() -> bool:
        async with first.services.db() as session:
            return (await session.execute(select(func.count()).select_from(OutboxItem).where(
                OutboxItem.status == "pending"))).scalar_one() == 1

    await eventually(answer_stored, what="the answer in the outbox")
    assert len(fake.sent) == 1
    await make_app(storage=shared, stream={"spool_dir": str(tmp_path / "spool-2")},
                   card_template_id=TEMPLATE)
    sent = await eventually(lambda: len(fake.sent) >= 2 and fake.sent, what="the answer")
    assert (sent[1].kind, sent[1].text) == ("group", "@余斌梅 收到")
