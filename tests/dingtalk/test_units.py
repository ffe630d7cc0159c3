"""Pure parts: frame mapping, card rendering, HTTP-mode signatures, OpenAPI error classes,
credentials from the environment."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.directory import Directory
from bot.domain.scoring import Color, Deduction, Evaluation
from bot.reviews import ReviewError, parse_items
from bot.transports.dingtalk import credentials
from bot.transports.dingtalk.mapping import (
    Addressee,
    Incoming,
    MalformedFrame,
    Refusal,
    at_ids,
    chat_index,
    group_sender,
    message_event,
    parse_bot_message,
    parse_card_callback,
)
from bot.transports.dingtalk.openapi import classify, retry_after_seconds
from bot.transports.dingtalk.signing import check_sign
from bot.transports.dingtalk.web import expired_hint
from cards import dingtalk as render
from cards.model import Button, Card, FormField
from config.loader import ConfigError, Settings
from config.model import DingTalkConfig
from tests.dingtalk.fake import TEMPLATE_VARIABLES, FakeDingTalk

NOW = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)


def bot_data(**over: object) -> dict[str, object]:
    data = FakeDingTalk().bot_message("帮助", staff_id="dt-0129", msg_id="m1", webhook=False)
    data.update(over)
    return data


def test_direct_message_maps_to_the_persons_dm(settings: Settings) -> None:
    d = Directory(settings.org)
    raw = bot_data(createAt=1_790_000_000_000)
    got = message_event(parse_bot_message(raw), d, {}, NOW, raw)
    assert isinstance(got, Incoming)
    e = got.event
    assert (e.event_id, e.platform, e.user_id, e.chat, e.text, e.is_direct) == (
        "dingtalk:m1", "dingtalk", "dt-0129", "dm:p-prosecutor-1", "帮助", True)
    assert e.at == datetime.fromtimestamp(1_790_000_000, UTC)


def test_group_message_maps_by_conversation_id(settings: Settings) -> None:
    raw = bot_data(conversationType="2", conversationId="cidX")
    got = message_event(parse_bot_message(raw), Directory(settings.org), {"cidX": "g-case-team"},
                        NOW, raw)
    assert isinstance(got, Incoming) and got.event.chat == "g-case-team"
    assert not got.event.is_direct
    unknown = message_event(parse_bot_message(raw), Directory(settings.org), {}, NOW, raw)
    assert isinstance(unknown, Refusal) and unknown.reply == "本群尚未登记，请联系管理员"


def test_an_unregistered_group_is_answered_only_where_the_bot_is_addressed(
        settings: Settings) -> None:
    """Chatter without the @ in a group not in the roster: nothing (no 本群尚未登记 for each
    message); a command word without the @, or any text with it: the answer."""
    d = Directory(settings.org)
    commands = {"帮助"}.__contains__

    def mapped(text: str, **over: object) -> object:
        raw = bot_data(conversationType="2", conversationId="cidX", text={"content": text},
                       **over)
        return message_event(parse_bot_message(raw), d, {}, NOW, raw,
                             lambda t, spoken: commands(t))

    chatter = {"isInAtList": False, "atUsers": []}
    assert mapped("大家辛苦了", **chatter) is None
    assert mapped("好的", msgtype="picture", content={"downloadCode": "x"}, **chatter) is None
    for got in (mapped("帮助", **chatter), mapped("大家辛苦了", isInAtList=True)):
        assert isinstance(got, Refusal) and got.reply == "本群尚未登记，请联系管理员"


def test_rich_text_and_other_types(settings: Settings) -> None:
    d = Directory(settings.org)
    raw = bot_data(msgtype="richText", content={"richText": [{"text": "我是"}, {"pictureDownloadCode": "x"},
                                                            {"text": "谁 "}]})
    got = message_event(parse_bot_message(raw), d, {}, NOW, raw)
    assert isinstance(got, Incoming) and got.event.text == "我是谁"
    raw = bot_data(msgtype="audio", content={"downloadCode": "x", "recognition": " 帮助。"})
    got = message_event(parse_bot_message(raw), d, {}, NOW, raw)
    assert isinstance(got, Incoming) and got.event.text == "帮助" and got.event.spoken
    for content in ({"downloadCode": "x"}, {"downloadCode": "x", "recognition": "？"}):
        raw = bot_data(msgtype="audio", content=content)
        assert isinstance(message_event(parse_bot_message(raw), d, {}, NOW, raw), Refusal)
    raw = bot_data(msgtype="video", content={"downloadCode": "x", "duration": "5"})
    assert isinstance(message_event(parse_bot_message(raw), d, {}, NOW, raw), Refusal)


@pytest.mark.parametrize("bad", [
    {"msgId": None}, {"conversationType": "3"}, {"msgtype": "text", "text": None},
    {"atUsers": "nope"},
    {"msgtype": "richText", "content": {"richText": None}},  # was a TypeError: ACK 500
    {"msgtype": "richText", "content": {"richText": "我是谁"}},
    {"sessionWebhookExpiredTime": float("inf")},  # json.loads takes "Infinity"; int() overflows
])
def test_malformed_bot_messages(bad: dict[str, object]) -> None:
    with pytest.raises(MalformedFrame):
        parse_bot_message(bot_data(**bad))


def test_card_callback_parsing() -> None:
    content = {"cardPrivateData": {"actionIds": ["ignored"],
                                   "params": {"action": "case.ack", "reason": "原因", "n": 3}}}
    click = parse_card_callback({"outTrackId": "t1", "userId": "dt-1",
                                 "content": json.dumps(content), "extension": "{}"})
    assert (click.out_track_id, click.user_id, click.action) == ("t1", "dt-1", "case.ack")
    assert click.form == {"reason": "原因", "n": "3"}
    only_ids = {"cardPrivateData": {"actionIds": ["case.ack"]}}
    assert parse_card_callback({"outTrackId": "t", "userId": "u",
                                "content": json.dumps(only_ids)}).action == "case.ack"
    # an external contact: no userId (an empty one, or only a unionId) is no malformed frame
    for who in ({}, {"userId": ""}, {"unionId": "un-1"}, {"userId": "un-1", "userIdType": 2}):
        click = parse_card_callback({"outTrackId": "t", "content": json.dumps(only_ids), **who})
        assert click.user_id == "" and click.action == "case.ack"
        assert click.other_id == ("un-1" if "un-1" in who.values() else "")
    for bad in ({"outTrackId": "t", "userId": "u"},
                {"outTrackId": "t", "userId": "u", "content": "{nope"},
                {"userId": "u", "content": json.dumps(content)}):
        with pytest.raises(MalformedFrame):
            parse_card_callback(bad)


def test_chat_index(settings: Settings) -> None:
    assert chat_index(settings.org) == {}  # the demo roster has no DingTalk groups yet


CARD = Card(title="HY-2026-0042 案件码", body="得分 82\n扣分 2 项", color="yellow",
            image="https://x.invalid/qr.png", footer="海澄县院",
            actions=(Button("case.ack", "已知悉", data={"case": "HY-2026-0042"}),
                     Button("case.view", "查看详情", url="https://x.invalid/c")), code_color=True)


def test_card_param_map_has_only_strings() -> None:
    p = render.card_param_map(CARD)
    assert all(isinstance(v, str) for v in p.values())
    assert p["title"] == "🟡 HY-2026-0042 案件码" and p["color_label"] == "黄码"
    assert (p["btn1_label"], p["btn1_action"], p["btn2_url"]) == ("已知悉", "case.ack",
                                                                "https://x.invalid/c")
    assert json.loads(p["actions"])[0]["params"] == {"action": "case.ack", "case": "HY-2026-0042"}
    assert "![](https://x.invalid/qr.png)" in p["markdown"]


def test_every_card_sets_every_template_variable() -> None:
    """Whatever the template binds is set, `notice` included, however many buttons."""
    for n in range(render.MAX_ACTION_BUTTONS + 2):
        card = Card(title="t", actions=tuple(Button(f"b{i}", f"按钮{i}") for i in range(n)))
        p = render.card_param_map(card)
        assert p.keys() == TEMPLATE_VARIABLES == set(render.TEMPLATE_VARIABLES), n
        assert p["notice"] == "" and p[f"btn{render.MAX_ACTION_BUTTONS}_label"] == \
            ("按钮4" if n >= render.MAX_ACTION_BUTTONS else "")


def test_a_form_button_is_a_link_to_the_web_form_on_a_template_card() -> None:
    form = Button("review.file", "申请复核", data={"code": "HY-2026-0042"},
                  form=(FormField("items", "序号"), FormField("note", "说明", required=False)))
    card = Card(title="t", actions=(CARD.actions[0], form))
    p = render.card_param_map(card, lambda b: f"https://bot/dingtalk/act?t={b.id}")
    ack, review = json.loads(p["actions"])
    assert ack["type"] == "callback" and ack["url"] == "" and "form" not in ack
    assert review["type"] == "link" and review["url"] == "https://bot/dingtalk/act?t=review.file"
    assert review["params"] == {"action": "review.file", "code": "HY-2026-0042"}
    assert [(f["name"], f["required"]) for f in review["form"]] == [("items", True), ("note", False)]
    assert (p["btn2_action"], p["btn2_url"]) == ("", "https://bot/dingtalk/act?t=review.file")
    # without a link maker (a template with input components) it stays a callback
    bare = json.loads(render.card_param_map(card)["actions"])[1]
    assert bare["type"] == "callback" and bare["form"]


def test_robot_message_fallbacks() -> None:
    key, param = render.robot_message(CARD, lambda b: f"https://bot/act/{b.id}")
    assert key == "sampleActionCard2"
    assert (param["actionTitle1"], param["actionURL1"]) == ("已知悉", "https://bot/act/case.ack")
    assert param["actionURL2"] == "https://x.invalid/c"
    plain = Card(title="通知", body="内容")
    assert render.robot_message(plain, lambda b: "")[0] == "sampleMarkdown"
    one = Card(title="t", actions=(Button("a", "A"),))
    assert render.robot_message(one, lambda b: "u")[1]["singleURL"] == "u"
    # inside the DingTalk client (the PC sidebar), the page's URL encoded whole
    inside = render.robot_message(one, lambda b: "https://bot/dingtalk/act?t=a.b&x=1", True)
    assert inside[1]["singleURL"] == ("dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fbot"
                                      "%2Fdingtalk%2Fact%3Ft%3Da.b%26x%3D1&pc_slide=true")
    hook = render.webhook_body(*render.text_message("你好"), ["dt-1"])
    # a mention renders only when 「@userId」 is in the text too
    assert hook == {"msgtype": "text", "text": {"content": "@dt-1 你好"},
                    "at": {"atUserIds": ["dt-1"]}}
    assert hook == render.webhook_text("你好", ["dt-1"])
    [md] = render.robot_messages(None, plain, lambda b: "")
    assert (render.webhook_body(*md) or {})["msgtype"] == "markdown"
    assert (render.webhook_body(*md, ["dt-1"]) or {})["markdown"]["text"].startswith("@dt-1\n\n### ")
    assert render.webhook_body(*render.text_message("你好")) == {
        "msgtype": "text", "text": {"content": "你好"}, "at": {}}
    assert render.webhook_body(*render.robot_message(one, lambda b: "u")) is None
    # someone without a userId (an external contact): by the senderId of their message
    ext = "$:LWCP_v1:$x=="
    assert render.webhook_text("你好", ["dt-1"], [ext]) == {
        "msgtype": "text", "text": {"content": f"@dt-1 @{ext} 你好"},
        "at": {"atUserIds": ["dt-1"], "atDingtalkIds": [ext]}}


def test_an_external_contact_is_addressed_by_sender_id() -> None:
    """No senderStaffId (an external contact): mentioned by senderId, and stored so."""
    data = FakeDingTalk().bot_message("帮助", staff_id="dt-1", group="cidG", webhook=False)
    del data["senderStaffId"]
    data.update(senderId="$:LWCP_v1:$x==", senderNick="访客")
    sender = group_sender(parse_bot_message(data))
    assert sender == Addressee("", "访客", "$:LWCP_v1:$x==") and sender.key == "$:LWCP_v1:$x=="
    assert Addressee.decode(sender.encode()) == sender
    assert at_ids([sender, Addressee("dt-2", "谢平")]) == (["dt-2"], ["$:LWCP_v1:$x=="])
    assert Addressee.decode('{"staffId": "dt-2", "nick": "谢平"}') == Addressee("dt-2", "谢平")
    assert Addressee.decode('{"staffId": "", "nick": "x"}') is None
    data.update(senderStaffId="")  # empty rather than missing: the same
    assert group_sender(parse_bot_message(data)) == sender


TYPED = ("复核理由：证据见附件 [点此查看附件](https://evil.invalid/login) "
         "![](https://evil.invalid/t.png?who=me) <a href=\"https://evil.invalid\">官方通知</a>\n"
         "[1]: https://evil.invalid/ref <font color=#ff0000>已同意</font> 3<5")
MARKUP = re.compile(r"\]\(|\]:|<[A-Za-z/!?]")  # a link, image, reference definition or tag


def test_typed_text_never_becomes_a_link_an_image_or_markup_in_markdown() -> None:
    """A review reason (or a title, a deduction, a comment) holding markdown or HTML shows as
    typed, character for character, and makes no link, image or tag in the card: the bot's
    own QR image and grey footer are its only markup."""
    card = Card(title="复核申请 [急](https://evil.invalid)", color="red", body=TYPED,
                image="https://x.invalid/qr.png", footer="申请人 <b>张三</b>",
                actions=(Button("review.accept", "同意并调整"),))
    _, md = render.markdown(card)
    _, action_card = render.robot_message(card, lambda b: "https://bot/act")
    template = render.card_param_map(card)["markdown"]
    [(_, listed)] = render.robot_messages("见 [链接](https://evil.invalid)",
                                          replace(card, actions=()), lambda b: "")
    for text in (md, action_card["text"], template, listed["text"]):
        own = "![](https://x.invalid/qr.png)", "<font color=#888888>", "</font>"
        assert all(text.count(m) == 1 for m in own), text
        rest = text
        for m in own:
            rest = rest.replace(m, "")
        assert not MARKUP.search(rest), text
        assert TYPED.replace("\n", "  \n") in text.replace("\u200b", "")  # nothing lost
    assert "见 [链接](https://evil.invalid)" in listed["text"].replace("\u200b", "")
    assert render.plain("检察院 (2026) 第[3]号") == "检察院 (2026) 第[3]号"  # left alone


def _sign(ts: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def test_http_mode_sign_check() -> None:
    now = 1_790_000_000_000
    ts = str(now - 1000)
    good = _sign(ts, "sec")
    assert check_sign(ts, good, "sec", now)
    assert not check_sign(ts, good, "other", now)
    assert not check_sign(ts, good[:-2] + "AA", "sec", now)
    old = str(now - 3_600_001)
    assert not check_sign(old, _sign(old, "sec"), "sec", now)
    future = str(now + 3_600_001)
    assert not check_sign(future, _sign(future, "sec"), "sec", now)
    assert not check_sign(None, good, "sec", now) and not check_sign("abc", good, "sec", now)
    # headers of raw bytes (surrogate escapes) or digits int() does not take: refused, no 500
    assert not check_sign(ts, "\udcff" + good[1:], "sec", now)
    assert not check_sign("\u00b2" * 13, good, "sec", now)  # superscript two: isdigit(), not int


@pytest.mark.parametrize(("status", "body", "kind"), [
    (200, {"processQueryKey": "x"}, None),
    (200, {"errcode": 0, "errmsg": "ok"}, None),
    (200, {"errcode": 130101, "errmsg": "send too fast"}, "throttled"),
    # a rate limit of one API (HTTP 429, Alibaba Cloud's Throttling.*): that call, later
    (429, {"code": "Throttling.Api"}, "limited"), (429, {}, "limited"),
    (429, "<html>Too Many Requests</html>", "limited"),
    (401, {"code": "InvalidAuthentication"}, "auth"),
    (400, {"code": "x", "message": "不合法的access_token"}, "auth"),
    (200, {"errcode": 42001, "errmsg": "access_token expired"}, "auth"),
    (500, {}, "retry"), (503, "busy", "retry"), (200, {"errcode": 88}, "retry"),
    (400, {"code": "InvalidParameter"}, "fatal"),
    (403, {"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied"}, "fatal"),
    (200, {"errcode": 310000, "errmsg": "keywords not in content"}, "fatal"),
    # QPS limits (open.dingtalk.com "调用频次与限流"): sleep a second and go on, not give up
    (403, {"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"}, "limited"),
    (403, {"code": "Forbidden.AccessDenied.QpsLimitForApi"}, "limited"),
    (200, {"errcode": 90018, "errmsg": "qps limit"}, "limited"),
    (200, {"errcode": 90002, "errmsg": "qps limit"}, "limited"),
    # the per-IP ban (5 min) answers with this body instead of an error code
    (200, {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "x"}, "throttled"),
    (403, {"code": "Forbidden.AccessDenied.ApiCountLimitForOrg"}, "fatal"),  # monthly quota
    # the card APIs answer {"success": …, "result": …}: false is not a success
    (200, {"success": False, "result": False}, "fatal"),
    (200, {"success": True, "result": True}, None),
])
def test_openapi_error_classes(status: int, body: object, kind: str | None) -> None:
    err = classify(status, body)
    assert (err.kind if err else None) == kind


def test_retry_after_in_seconds_or_as_a_date_against_the_answers_date() -> None:
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:30 GMT",
                               "Wed, 21 Oct 2026 07:28:00 GMT") == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT",
                               "Wed, 21 Oct 2026 07:28:30 GMT") == 0.0  # in the past: now
    assert retry_after_seconds("86400") == 600.0  # capped
    for unreadable in (None, "", "soon", "-5", "Wed, 21 Oct 2026 07:28:30 GMT"):  # no Date
        assert retry_after_seconds(unreadable) is None
    err = classify(429, {}, 2.5)
    assert err is not None and err.retry_after == 2.5


def test_credentials_come_from_the_named_env_vars() -> None:
    cfg = DingTalkConfig(enabled=True, client_id_env="MY_ID", client_secret_env="MY_SECRET")
    with pytest.raises(ConfigError) as e:
        credentials(cfg, {"MY_ID": "id"})
    assert e.value.errors == [
        "transports.dingtalk.client_secret_env: environment variable MY_SECRET is not set "
        "(DingTalk is enabled)"]
    c = credentials(cfg, {"MY_ID": "id", "MY_SECRET": "s"})
    assert (c.client_id, c.client_secret, c.robot_code) == ("id", "s", "id")


@pytest.mark.parametrize(("action", "card", "hint"), [
    ("reminder.done", Card(title="红码逾期未评估", actions=(
        Button("reminder.done", "已处理", data={"id": "7"}),)), "发送「提醒」查看最新提醒"),
    ("review.resend", Card(title="复核申请答复逾期", actions=(
        Button("review.resend", "去答复", data={"review": "3"}),)), "发送「待办」获取最新卡片"),
    # 申请复核 is on the case's card: the case's code brings it (查看详情 has the form)
    ("review.file", Card(title="案件码", actions=(
        Button("review.file", "申请复核", data={"code": "HY-2026-0007", "version": "2"}),)),
     "发送「码 HY-2026-0007」获取最新卡片"),
    # a button gone since: the card's other buttons still name the case
    ("intake.defer", Card(title="受理 HY-2026-0008 · 延期受理", actions=(
        Button("case.ack", "已知悉", data={"code": "HY-2026-0008"}),)),
     "发送「码 HY-2026-0008」获取最新卡片"),
    ("test.press", Card(title="测试"), "请在聊天中的最新卡片上操作"),
    ("case.ack", None, "请在聊天中的最新卡片上操作"),
])
def test_an_expired_action_link_names_the_command_that_brings_a_fresh_card(
        action: str, card: Card | None, hint: str) -> None:
    text = expired_hint(action, card)
    assert text.startswith("链接已过期。") and hint in text, text


@pytest.mark.parametrize(("typed", "picked"), [
    ("7", [7]), ("第7项", [7]), ("7项", [7]), ("⑦", [7]), ("第1项、第3项", [1, 3]),
    ("第11项", None), ("²", None)])
def test_disputed_items_are_read_as_people_write_card_numbers(
        settings: Settings, typed: str, picked: list[int] | None) -> None:
    """申请复核's items: 第7项 / 7项 / ⑦ and lists of them are card numbers; a number the
    card does not show is refused with the numbers it does."""
    items = [i.id for i in settings.template.items][:10]
    ev = Evaluation("HY-2026-0001", 1, "p", NOW, tuple(Deduction(i, 1, "问题", "", "", "要求")
                                                        for i in items), (), "", 90, Color.RED)
    out = cast(Any, SimpleNamespace(services=SimpleNamespace(settings=settings)))
    if picked is None:
        with pytest.raises(ReviewError, match=r"不是当前评分中的扣分项。请填写卡片上的序号（1–10）"):
            parse_items(typed, ev, out)
    else:
        assert parse_items(typed, ev, out) == [items[n - 1] for n in picked]
