"""End to end over the fake DingTalk: frames in through the real dingtalk-stream SDK classes,
replies and cards out through the sessionWebhook and the OpenAPI, card clicks in, cards updated."""

from __future__ import annotations

import json
import logging

import pytest

from bot.app import App
from bot.transports.dingtalk.mapping import NO_CODE_IN_PICTURE
from storage.models import Message
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, AppFactory, database_down, eventually
from tests.dingtalk.fake import CLIENT_ID, TEMPLATE_VARIABLES, FakeDingTalk, opened
from tests.dingtalk.test_pictures import plain_png

TEMPLATE = "tpl-casebot.schema"
INVESTIGATOR = "dt-0135"  # p-investigator-1, 胡宇, in g-case-team


async def test_help_message_in_reply_out_through_the_session_webhook(
        app: App, fake: FakeDingTalk) -> None:
    frame_id = fake.send_message("帮助", staff_id=PROSECUTOR[1], msg_id="m-help")
    [reply] = await eventually(lambda: fake.sent, what="the help text")
    assert reply.kind == "webhook" and reply.target == "m-help"
    assert "余斌梅（承办检察官）可以使用" in reply.text and "我是谁" in reply.text
    ack = fake.acks[frame_id]
    assert ack["code"] == 200 and ack["headers"]["messageId"] == frame_id
    # the connection was opened the way the SDK does, with both topics
    topics = {s["topic"] for s in fake.opens[0]["subscriptions"]}
    assert topics == {"/v1.0/im/bot/messages/get", "/v1.0/card/instances/callback"}
    assert fake.opens[0]["clientId"] == CLIENT_ID and "0.24.3" in fake.opens[0]["ua"]


async def test_whoami_in_a_group_goes_to_the_group_via_openapi(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("我是谁", staff_id=PROSECUTOR[1], group=GROUP_CID, webhook=False)
    [reply] = await eventually(lambda: fake.sent, what="the group reply")
    assert reply.kind == "group" and reply.target == GROUP_CID
    assert reply.body["robotCode"] == CLIENT_ID and reply.body["msgKey"] == "sampleText"
    assert "您是 余斌梅" in reply.text
    async with app.services.db() as session:
        rows = (await session.execute(Message.__table__.select())).all()
    assert {r.chat for r in rows} == {"g-case-team"}


async def test_direct_message_without_webhook_uses_batch_send(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("回声 你好", staff_id=PROSECUTOR[1], webhook=False)
    [reply] = await eventually(lambda: fake.sent, what="the 1:1 reply")
    assert reply.kind == "users" and reply.target == PROSECUTOR[1]
    assert reply.text == "回声：你好"


async def test_expired_session_webhook_falls_back_to_openapi(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("回声 晚了", staff_id=PROSECUTOR[1], webhook_ttl_ms=1000)
    [reply] = await eventually(lambda: fake.sent, what="the reply")
    assert reply.kind == "users" and reply.text == "回声：晚了"


async def test_unknown_group_gets_a_short_answer(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id=PROSECUTOR[1], group="cidNobodyKnows")
    [reply] = await eventually(lambda: fake.sent, what="the refusal")
    assert reply.kind == "webhook" and reply.shown == "@余斌梅 本群尚未登记，请联系管理员"
    assert reply.mentioned == [PROSECUTOR[1]]


async def test_unknown_user_gets_a_short_answer(app: App, fake: FakeDingTalk) -> None:
    fake.send_message("帮助", staff_id="dt-stranger")
    [reply] = await eventually(lambda: fake.sent, what="the refusal")
    assert "尚未在本系统登记" in reply.text


async def test_a_picture_sent_with_the_mention_is_read_for_a_case_code(
        app: App, fake: FakeDingTalk) -> None:
    """In a group a picture reaches the bot only with an @ (a richText message: the @ removed,
    no text left), e.g. a photo of a case's QR code. It is answered as a picture sent 1:1 is
    (test_pictures.py; here one without a code), not with the greeting for an @ without a
    command."""
    fake.files["d"] = plain_png()
    data = fake.bot_message("", staff_id=PROSECUTOR[1], group=GROUP_CID)
    del data["text"]
    data.update(msgtype="richText", content={"richText": [
        {"text": " "}, {"pictureDownloadCode": "p", "downloadCode": "d", "type": "picture"}]})
    fake.push(fake.frame("/v1.0/im/bot/messages/get", data))
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.shown == "@余斌梅 " + NO_CODE_IN_PICTURE


async def test_card_created_clicked_and_updated_in_place(make_app: AppFactory,
                                                         fake: FakeDingTalk) -> None:
    app = await make_app(card_template_id=TEMPLATE)
    fake.send_message("卡片 42", staff_id=PROSECUTOR[1])
    [created] = await eventually(lambda: fake.sent, what="the card")
    assert created.kind == "card"
    body = created.body
    assert body["cardTemplateId"] == TEMPLATE and body["openSpaceId"] == "dtv1.card//IM_ROBOT.dt-0129"
    track = body["outTrackId"]
    params = fake.cards[track]
    assert params["title"].endswith("测试卡片") and params["color"] == "yellow"
    actions = json.loads(params["actions"])
    assert [a["id"] for a in actions] == ["test.press", "test.link"]
    assert actions[0]["params"] == {"action": "test.press", "n": "42"}
    async with app.services.db() as session:
        [msg] = [m for m in (await session.execute(Message.__table__.select())).all()
                 if m.platform_ref == track]

    frame_id = fake.click(track, PROSECUTOR[1], "test.press", {"n": "42"})
    ack = await eventually(lambda: fake.acks.get(frame_id), what="the click ACK")
    assert ack["code"] == 200
    answered = json.loads(ack["data"])["response"]["cardData"]["cardParamMap"]
    assert "已确认 by 余斌梅" in answered["body"] and answered["actions"] == "[]"
    # every template variable is in the answer: the buttons that no longer apply are emptied
    # (DingTalk may apply it key by key), and `notice` is bound
    assert answered.keys() == TEMPLATE_VARIABLES
    assert answered["btn1_label"] == answered["btn2_label"] == answered["notice"] == ""
    await eventually(lambda: "已确认" in fake.cards[track]["body"], what="the PUT update")
    assert [s.kind for s in fake.sent] == ["card", "card_update"]
    assert msg.chat == "dm:p-prosecutor-1"


async def test_slow_card_handler_acks_empty_and_updates_later(make_app: AppFactory,
                                                               fake: FakeDingTalk) -> None:
    await make_app(card_template_id=TEMPLATE, stream={"card_callback_budget_seconds": 0.000001})
    fake.send_message("卡片 1", staff_id=PROSECUTOR[1])
    [created] = await eventually(lambda: fake.sent, what="the card")
    track = created.body["outTrackId"]
    frame_id = fake.click(track, PROSECUTOR[1], "test.press")
    ack = await eventually(lambda: fake.acks.get(frame_id), what="the click ACK")
    assert ack["code"] == 200 and json.loads(ack["data"]) == {"response": {}}
    await eventually(lambda: "已确认" in fake.cards[track]["body"], what="the PUT update")


async def test_card_in_a_group_is_delivered_to_the_group_space(make_app: AppFactory,
                                                               fake: FakeDingTalk) -> None:
    await make_app(card_template_id=TEMPLATE)
    fake.send_message("卡片", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [created] = await eventually(lambda: fake.sent, what="the card")
    assert created.body["openSpaceId"] == f"dtv1.card//IM_GROUP.{GROUP_CID}"
    assert created.body["imGroupOpenDeliverModel"]["robotCode"] == CLIENT_ID


async def test_without_template_a_card_is_an_action_card_with_signed_links(
        app: App, fake: FakeDingTalk) -> None:
    fake.send_message("卡片 1", staff_id=PROSECUTOR[1])
    [sent] = await eventually(lambda: fake.sent, what="the action card")
    assert sent.kind == "users" and sent.body["msgKey"] == "sampleActionCard2"
    param = json.loads(sent.body["msgParam"])
    assert param["actionTitle1"] == "确认" and "/dingtalk/act?t=" in opened(param["actionURL1"])
    assert opened(param["actionURL2"]) == "https://example.invalid/x"
    # on a PC a plain link opens the browser, where the in-app login cannot run: every
    # button opens inside DingTalk (the PC sidebar)
    for url in (param["actionURL1"], param["actionURL2"]):
        assert url.startswith("dingtalk://dingtalkclient/page/link?url=http")
        assert url.endswith("&pc_slide=true")
    # its colour is styling, not a case code's: no 黄码 label (see the case-code card tests)
    assert "测试卡片" in param["text"] and "黄码" not in param["text"]


async def test_click_on_unknown_card_is_acked_and_ignored(app: App, fake: FakeDingTalk) -> None:
    frame_id = fake.click("no-such-card", PROSECUTOR[1], "test.press")
    ack = await eventually(lambda: fake.acks.get(frame_id), what="the ACK")
    assert ack["code"] == 200 and fake.sent == []


async def test_click_in_a_database_outage_is_acked_500_with_one_log_line(
        app: App, fake: FakeDingTalk, caplog: pytest.LogCaptureFixture) -> None:
    database_down(app)
    with caplog.at_level(logging.WARNING):
        frame_id = fake.click("some-card", PROSECUTOR[1], "test.press")
        ack = await eventually(lambda: fake.acks.get(frame_id), what="the ACK")
    assert ack["code"] == 500  # the card shows an error; click again (docs/deploy.md)
    [line] = [r for r in caplog.records if r.name.startswith("bot.transports.dingtalk")]
    assert line.exc_info is None and "database unavailable" in line.getMessage()


async def test_ping_is_echoed_and_disconnect_reconnects(app: App, fake: FakeDingTalk) -> None:
    fake.push(fake.frame("ping", {"opaque": "op-1"}, kind="SYSTEM", message_id="ping-1"))
    ack = await eventually(lambda: fake.acks.get("ping-1"), what="the ping ACK")
    assert ack["code"] == 200 and json.loads(ack["data"]) == {"opaque": "op-1"}
    opens = len(fake.opens)
    fake.push(fake.frame("disconnect", {"reason": "connection is expired"}, kind="SYSTEM",
                         message_id="bye-1"))
    await eventually(lambda: len(fake.opens) > opens and fake.ws is not None, what="reconnect")
    fake.send_message("回声 回来了", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：回来了" in fake.texts(), what="a reply after the move")


async def test_stop_is_clean_and_prompt(make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app()
    assert app.dingtalk is not None
    stream = app.dingtalk.stream
    await app.stop()
    assert stream._task is None
    await eventually(lambda: fake.ws is None, what="the socket to close")
    opens = len(fake.opens)
    await app.stop()  # idempotent
    assert len(fake.opens) == opens


async def test_a_double_tap_on_a_card_in_a_group_is_confirmed_to_whoever_tapped(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    """The same person's second tap on a button their first tap took off the card is answered
    that it is done (the callback ACKed as ever); someone else's tap on it is told the button
    is gone."""
    await make_app(card_template_id=TEMPLATE)
    fake.send_message("卡片 3", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [created] = await eventually(lambda: fake.sent, what="the card")
    track = created.body["outTrackId"]
    first = fake.click(track, PROSECUTOR[1], "test.press", {"n": "3"})
    assert (await eventually(lambda: fake.acks.get(first), what="the click ACK"))["code"] == 200
    second = fake.click(track, PROSECUTOR[1], "test.press", {"n": "3"})
    assert (await eventually(lambda: fake.acks.get(second), what="the 2nd ACK"))["code"] == 200
    [again] = await eventually(lambda: [s for s in fake.sent if s.kind == "group"],
                               what="the answer to the second tap")
    assert again.text == "@余斌梅 您已点过「确认」，无需重复操作。"
    fake.click(track, INVESTIGATOR, "test.press", {"n": "3"})
    answers = await eventually(lambda: [s for s in fake.sent if s.kind == "group"][1:],
                               what="the answer to another person's tap")
    assert answers[0].text.startswith("@胡宇 该按钮已失效："), answers[0].text
