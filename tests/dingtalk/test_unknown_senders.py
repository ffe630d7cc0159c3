"""People and groups not in the roster: their messages and card clicks get a short answer, sent
through the outbox like any reply (retried, rate-limited), to the DingTalk id itself."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from bot.app import App
from bot.transports.dingtalk import mapping
from bot.transports.dingtalk.delivery import Target
from storage.models import Message, OutboxItem
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, AppFactory, database_down, eventually
from tests.dingtalk.fake import EXTERNAL, FakeDingTalk

TEMPLATE = "tpl-casebot.schema"
STRANGER = "dt-stranger"


async def rows(app: App) -> list[tuple[OutboxItem, Message]]:
    async with app.services.db() as session:
        return [(i, m) for i, m in (await session.execute(
            select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_id)
            .order_by(OutboxItem.id))).all()]


async def sent_rows(app: App) -> list[tuple[OutboxItem, Message]] | None:
    found = await rows(app)
    return found if found and all(i.status == "sent" for i, _ in found) else None


def test_raw_chats_name_their_dingtalk_target() -> None:
    assert mapping.raw_target(f"{mapping.RAW_USER}{STRANGER}") == (False, STRANGER)
    assert mapping.raw_target(f"{mapping.RAW_GROUP}cidX==") == (True, "cidX==")
    assert mapping.raw_target("dm:p-1") is None and mapping.raw_target(mapping.RAW_USER) is None


async def test_an_unknown_users_answer_is_retried_through_the_outbox(
        app: App, fake: FakeDingTalk) -> None:
    fake.faults.append("500")  # the webhook fails once: before, the answer was lost
    fake.send_message("帮助", staff_id=STRANGER, msg_id="m-who")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.target == "m-who"
    assert reply.text == "您尚未在本系统登记钉钉账号，请联系管理员"
    [(item, msg)] = await eventually(lambda: sent_rows(app), what="the row marked sent")
    assert msg.chat == f"{mapping.RAW_USER}{STRANGER}" and item.attempts == 2
    assert app.dingtalk is not None
    assert app.dingtalk.target(msg.chat) == Target(False, STRANGER)


async def test_an_unknown_group_without_webhook_is_answered_through_the_openapi(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id=PROSECUTOR[1], group="cidNobodyKnows", webhook=False)
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "group" and reply.target == "cidNobodyKnows"
    assert reply.text == "@余斌梅 本群尚未登记，请联系管理员"


async def test_an_unknown_user_in_a_known_group_is_mentioned_in_the_answer(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id=STRANGER, group=GROUP_CID, msg_id="m-g")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.target == "m-g"
    # a real @: in the at-list, and as @userId in the text (DingTalk shows their nick there)
    assert reply.mentioned == [STRANGER]
    assert reply.text == f"@{STRANGER} 您尚未在本系统登记钉钉账号，请联系管理员"
    assert reply.shown == "@路人甲 您尚未在本系统登记钉钉账号，请联系管理员"
    [(_, msg)] = await eventually(lambda: sent_rows(app), what="the row marked sent")
    assert msg.chat == "g-case-team"
    assert msg.text == "您尚未在本系统登记钉钉账号，请联系管理员"  # the history: no markup


async def test_an_unknown_user_in_a_known_group_without_webhook_is_named(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id=STRANGER, group=GROUP_CID, webhook=False)
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    # groupMessages/send cannot mention: their nick, as text
    assert reply.kind == "group" and reply.mentioned == []
    assert reply.text == "@路人甲 您尚未在本系统登记钉钉账号，请联系管理员"


async def test_a_redelivered_message_is_answered_once(app: App, fake: FakeDingTalk) -> None:
    assert app.dingtalk is not None
    inbound = app.dingtalk.inbound
    inbound.seen.ttl = 0  # as if it came to another instance
    fake.send_message("帮助", staff_id=STRANGER, msg_id="m-twice")
    await eventually(lambda: sent_rows(app), what="the answer")
    again = fake.send_message("帮助", staff_id=STRANGER, msg_id="m-twice")
    await eventually(lambda: again in fake.acks and not inbound.tasks, what="the redelivery")
    assert len(fake.sent) == 1 and len(await rows(app)) == 1


async def test_the_answer_waits_for_the_rate_limit(make_app: AppFactory,
                                                   fake: FakeDingTalk) -> None:
    app = await make_app(delivery={"robot_per_minute": 1})
    fake.send_message("回声 一", staff_id=PROSECUTOR[1])
    await eventually(lambda: fake.sent, what="the first reply")
    fake.send_message("帮助", staff_id=STRANGER)

    async def postponed() -> bool:  # the robot's one slot a minute is taken: it waits
        found = await rows(app)
        return len(found) == 2 and found[1][0].status == "pending" and \
            (found[1][0].next_attempt_at - found[1][0].created_at).total_seconds() > 10

    await eventually(postponed, what="the answer postponed")
    assert [s.text for s in fake.sent] == ["回声：一"]


async def test_a_click_by_an_unknown_user_is_answered_on_the_card_and_in_private(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    await make_app(card_template_id=TEMPLATE)
    fake.send_message("卡片 7", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the card")
    frame_id = fake.click(card.body["outTrackId"], STRANGER, "test.press")
    ack = await eventually(lambda: fake.acks.get(frame_id), what="the click ACK")
    assert ack["code"] == 200
    answer = json.loads(ack["data"])["response"]
    assert answer["userPrivateData"]["cardParamMap"] == {
        "notice": "您尚未在本系统登记钉钉账号，请联系管理员"}
    # only `notice` changes, for them: the card itself is not replaced by this one-key map
    assert "cardData" not in answer
    assert answer["cardUpdateOptions"] == {"updateCardDataByKey": True,
                                           "updatePrivateDataByKey": True}
    dm = await eventually(lambda: [s for s in fake.sent if s.kind == "users"], what="the DM")
    assert [(s.target, s.text) for s in dm] == [
        (STRANGER, "您尚未在本系统登记钉钉账号，请联系管理员")]
    assert "已确认" not in fake.cards[card.body["outTrackId"]]["body"]  # the click did nothing
    assert fake.cards[card.body["outTrackId"]]["notice"] == ""


async def test_without_the_database_the_answer_goes_straight_through_the_webhook(
        app: App, fake: FakeDingTalk) -> None:
    database_down(app)
    fake.send_message("帮助", staff_id=STRANGER, msg_id="m-down")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.text == "您尚未在本系统登记钉钉账号，请联系管理员"


async def test_without_the_database_a_group_answer_still_mentions_the_sender(
        app: App, fake: FakeDingTalk) -> None:
    database_down(app)
    fake.send_message("帮助", staff_id=STRANGER, group="cidNobodyKnows", msg_id="m-down-g")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.mentioned == [STRANGER]
    assert reply.shown == "@路人甲 本群尚未登记，请联系管理员"


async def test_an_answer_that_can_go_nowhere_is_logged(app: App, fake: FakeDingTalk,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    database_down(app)
    fake.send_message("帮助", staff_id=STRANGER, group="cidNobodyKnows", webhook=False)
    await eventually(lambda: "no sessionWebhook" in caplog.text, what="the warning")
    assert fake.sent == [] and "本群尚未登记" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records if "not sent" in r.message)


async def test_chatter_in_an_unregistered_group_gets_no_answer(
        app: App, fake: FakeDingTalk) -> None:
    """A QA walk: people talking in a group the bot is in but that is not in the roster got
    「本群尚未登记」 for every message. Only what is for the bot is answered, as in a registered
    group: an @casebot, or a command word typed without it."""
    assert app.dingtalk is not None
    inbound = app.dingtalk.inbound
    for i, text in enumerate(("大家辛苦了", "下午三点开会，@张三 记得带材料")):
        data = fake.bot_message(text, staff_id=PROSECUTOR[1], group="cidNobodyKnows",
                                msg_id=f"m-chat-{i}")
        data.update(isInAtList=False, atUsers=[])
        fake.push(fake.frame("/v1.0/im/bot/messages/get", data))
    await eventually(lambda: len(fake.acks) == 2 and not inbound.tasks, what="the chatter")
    data = fake.bot_message("帮助", staff_id=PROSECUTOR[1], group="cidNobodyKnows",
                            msg_id="m-cmd")
    data.update(isInAtList=False, atUsers=[])  # a command word, without the @
    fake.push(fake.frame("/v1.0/im/bot/messages/get", data))
    [reply] = await eventually(lambda: fake.sent, what="the answer to the command")
    assert reply.shown == "@余斌梅 本群尚未登记，请联系管理员"
    fake.send_message("大家辛苦了", staff_id=PROSECUTOR[1], group="cidNobodyKnows",
                      msg_id="m-at")  # with the @
    await eventually(lambda: len(fake.sent) == 2, what="the answer to the @")
    assert fake.sent[1].shown == "@余斌梅 本群尚未登记，请联系管理员"
    found = await eventually(lambda: sent_rows(app), what="the rows")
    assert len(found) == 2


# -- external contacts (外部联系人): no senderStaffId, only a senderId (a dingtalkId) ----------------

async def test_an_external_user_in_a_group_is_mentioned_and_told_they_cannot_use_it(
        app: App, fake: FakeDingTalk) -> None:
    """A QA pass: someone from outside the org, in a group of the roster, was answered without
    the @ staff get (mentions went by staff userId only), and told to have their DingTalk
    account registered, which an external contact cannot. Now the sessionWebhook @-mentions
    them by their senderId (`at.atDingtalkIds`, 「@senderId」 in the text) and says why."""
    fake.send_message("帮助", staff_id=EXTERNAL, group=GROUP_CID, msg_id="m-ext")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.target == "m-ext"
    assert reply.body["at"] == {"atDingtalkIds": [EXTERNAL]} and reply.mentioned == [EXTERNAL]
    assert reply.shown == f"@访客王 {mapping.EXTERNAL_USER}"
    assert "外部联系人" in mapping.EXTERNAL_USER and "登记钉钉账号" not in mapping.EXTERNAL_USER
    [(_, msg)] = await eventually(lambda: sent_rows(app), what="the row marked sent")
    assert msg.chat == "g-case-team" and msg.text == mapping.EXTERNAL_USER
    # stored with the answer, so another instance (or after a restart) mentions them too
    assert mapping.Addressee.decode(msg.mention) == mapping.Addressee("", "访客王", EXTERNAL)


async def test_an_external_user_in_an_unregistered_group_is_mentioned(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id=EXTERNAL, group="cidNobodyKnows")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.mentioned == [EXTERNAL] and reply.shown == "@访客王 本群尚未登记，请联系管理员"


async def test_an_external_user_without_webhook_is_named(app: App, fake: FakeDingTalk) -> None:
    """groupMessages/send has no `at` (for anyone): their nick, as text."""
    fake.send_message("帮助", staff_id=EXTERNAL, group=GROUP_CID, webhook=False)
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "group" and reply.text == f"@访客王 {mapping.EXTERNAL_USER}"


async def test_without_the_database_an_external_user_is_still_mentioned(
        app: App, fake: FakeDingTalk) -> None:
    database_down(app)  # the answer goes straight through the webhook
    fake.send_message("帮助", staff_id=EXTERNAL, group="cidNobodyKnows")
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.body["at"] == {"atDingtalkIds": [EXTERNAL]}
    assert reply.shown == "@访客王 本群尚未登记，请联系管理员"


async def test_an_external_user_in_a_1to1_chat_is_told_they_cannot_use_it(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id=EXTERNAL)
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.kind == "webhook" and reply.mentioned == [] and reply.text == mapping.EXTERNAL_USER


@pytest.mark.parametrize("who", [
    {"user_id": None, "unionId": "ext-union-01"},  # no userId: only a unionId
    {"user_id": "", "unionId": "ext-union-01"},
    {"user_id": "ext-union-01", "userIdType": 2},  # named by unionId, not by userId
], ids=["no-userId", "empty-userId", "unionId-type"])
async def test_a_click_by_an_external_user_is_answered_on_the_card_and_does_nothing(
        make_app: AppFactory, fake: FakeDingTalk, who: dict[str, str | int | None]) -> None:
    """A QA pass: an external contact (no userId in the org) clicking a button on a card in a
    group got a refused callback (400: "malformed"), so DingTalk showed them an error and
    nothing said why. Now the card tells them, for them alone, that the system is for staff;
    the click acts on nothing, and no 1:1 message is tried (robots send those by userId)."""
    app = await make_app(card_template_id=TEMPLATE)
    fake.send_message("卡片 7", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the card")
    track = card.body["outTrackId"]
    frame_id = fake.click(track, who["user_id"], "test.press",  # type: ignore[arg-type]
                          **{k: v for k, v in who.items() if k != "user_id"})
    ack = await eventually(lambda: fake.acks.get(frame_id), what="the click ACK")
    assert ack["code"] == 200
    answer = json.loads(ack["data"])["response"]
    assert answer["userPrivateData"]["cardParamMap"] == {"notice": mapping.EXTERNAL_USER}
    assert "cardData" not in answer
    assert "已确认" not in fake.cards[track]["body"] and fake.cards[track]["notice"] == ""
    assert app.dingtalk is not None and not app.dingtalk.inbound.tasks
    assert [s.kind for s in fake.sent] == [card.kind]  # no 1:1 message, nothing else
    assert len(await rows(app)) == 1  # the card's row only
