"""Faults against the fake DingTalk: reconnect storms, silent sockets, a failing OpenAPI,
duplicate and malformed frames. Durations are scaled down by config; nothing asserts timings."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import SystemClock
from bot.outbox import backoff, pending_count
from bot.transports.dingtalk.openapi import Credentials, OpenApi
from storage.models import OutboxItem
from tests.dingtalk.conftest import (
    GROUP_CID,
    INSPECTOR,
    PROSECUTOR,
    AppFactory,
    dingtalk_settings,
    eventually,
    test_router,
)
from tests.dingtalk.fake import CLIENT_ID, CLIENT_SECRET, FakeDingTalk


def opens_within(window: float, delays: list[float]) -> int:
    """How many connection opens fit in `window` seconds if every one fails at once."""
    t, n = 0.0, 1
    for d in delays:
        t += d
        if t > window:
            break
        n += 1
    return n


def test_default_backoff_allows_a_handful_of_reconnects_per_10s() -> None:
    for _ in range(200):  # jitter is random: check many schedules
        delays = [backoff(n, 1.0, 60.0) for n in range(1, 30)]
        assert opens_within(10.0, delays) <= 5
        assert all(1.0 <= d <= 60.0 for d in delays)
        assert max(delays) == 60.0


async def test_clean_closes_back_off_instead_of_storming(make_app: AppFactory,
                                                         fake: FakeDingTalk) -> None:
    fake.clean_closes_left = 100
    app = await make_app(connect=False, stream={"reconnect_min_seconds": 0.02,
                                                "reconnect_max_seconds": 0.3})
    assert app.dingtalk is not None
    stream = app.dingtalk.stream
    await eventually(lambda: fake.clean_closes >= 6, what="six clean closes")
    # one open per close, each after a growing delay (0.24.3 reopened at once: 1000+ in 3 s)
    assert len(fake.opens) <= fake.clean_closes + 1
    first = stream.delays[:4]  # below the cap: each at least 2/1.5 times the one before
    assert all(b >= a * 1.3 for a, b in itertools.pairwise(first)), first
    fake.clean_closes_left = 0
    await eventually(lambda: fake.ws is not None, within=10, what="a lasting connection")
    fake.send_message("回声 稳了", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：稳了" in fake.texts(), what="the reply")


async def test_open_connection_failures_are_retried(make_app: AppFactory,
                                                    fake: FakeDingTalk) -> None:
    fake.open_failures = 3
    await make_app(connect=False)
    await eventually(lambda: fake.ws is not None, what="a connection after 3 failed opens")
    assert len(fake.opens) == 4


async def test_silent_server_trips_the_watchdog(make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app(stream={"watchdog_seconds": 1.0})
    assert app.dingtalk is not None
    stream = app.dingtalk.stream
    before = fake.connections
    fake.silent = True  # no pongs, no frames
    await eventually(lambda: stream.watchdog_fired >= 1, what="the watchdog")
    fake.silent = False
    await eventually(lambda: fake.connections > before and stream.connected.is_set(),
                     what="a fresh connection")
    fake.send_message("回声 醒了", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：醒了" in fake.texts(), what="the reply")


async def test_every_message_arrives_once_through_5xx_timeouts_throttling_and_token_expiry(
        app: App, fake: FakeDingTalk) -> None:
    fake.fault_delay = 4.0  # longer than the bot's 2 s HTTP timeout
    fake.faults.extend(["500", "timeout", "throttle", "expire", "500", "throttle", "expire"])
    for i in range(8):
        fake.send_message(f"回声 {i}", staff_id=PROSECUTOR[1], webhook=False)
    want = {f"回声：{i}" for i in range(8)}
    await eventually(lambda: want <= set(fake.texts()), within=30, what="all eight replies")
    assert Counter(fake.texts()) == Counter(want)  # exactly once each
    assert not fake.faults  # every fault was served
    assert fake.token_calls >= 3  # first token, then a refresh after each expiry
    # the last row is marked sent just after its reply reached the platform
    async def settled() -> bool:
        return await pending_count(app.services.db, "dingtalk") == 0
    await eventually(settled, within=10, what="every outbox row marked sent")
    assert Counter(fake.texts()) == Counter(want)  # and nothing was sent again meanwhile
    async with app.services.db() as session:
        rows = (await session.execute(select(OutboxItem))).scalars().all()
    assert {r.status for r in rows} == {"sent"}
    assert sum(r.attempts for r in rows) >= 8 + 5


async def test_a_429_delays_only_that_send_until_its_retry_after(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    """An HTTP 429 (a QPS limit of one API: DINGTALK.md §1.10) paused the whole robot like the
    webhook robot's 130101 does, for throttled_pause_seconds (10 min by default): every other
    answer waited too. Now the refused send alone waits, not before its Retry-After, and is
    delivered once; the others go out meanwhile."""
    app = await make_app(delivery={"throttled_pause_seconds": 600})
    fake.faults.append("429:2")
    fake.send_message("回声 慢", staff_id=PROSECUTOR[1], webhook=False)
    await eventually(lambda: fake.limited, what="the 429")
    fake.send_message("回声 快", staff_id=INSPECTOR[1], webhook=False)  # another chat
    fake.send_message("回声 群", staff_id=PROSECUTOR[1], group=GROUP_CID, webhook=False)

    def sent(text: str) -> list[float]:
        return [s.at for s in list(fake.sent) if s.text.endswith(text)]

    [fast] = await eventually(lambda: sent("回声：快"), what="the other 1:1 reply")
    [group] = await eventually(lambda: sent("回声：群"), what="the group reply")
    [slow] = await eventually(lambda: sent("回声：慢"), what="the limited reply")
    assert fake.limited[0][0] == "/v1.0/robot/oToMessages/batchSend"
    assert slow - fake.limited[0][1] >= 2.0  # not before its Retry-After
    assert fast < slow and group < slow  # nothing else waited for it

    async def settled() -> bool:
        return await pending_count(app.services.db, "dingtalk") == 0

    await eventually(settled, what="every row marked sent")
    assert Counter(s.text for s in fake.sent) == Counter(
        ["回声：慢", "回声：快", "@余斌梅 回声：群"])
    assert fake.requests.count("/v1.0/robot/oToMessages/batchSend") == 3  # 429, then each once


async def test_a_429_without_retry_after_is_retried_with_backoff(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    """groupMessages/send twice refused: the call is repeated after the (short) backoff."""
    app = await make_app(delivery={"throttled_pause_seconds": 600})
    fake.faults.extend(["429", "429"])
    fake.send_message("回声 群", staff_id=PROSECUTOR[1], group=GROUP_CID, webhook=False)
    await eventually(lambda: "@余斌梅 回声：群" in fake.texts(), what="the group reply")
    assert fake.requests.count("/v1.0/robot/groupMessages/send") == 3
    assert fake.texts() == ["@余斌梅 回声：群"]

    async def sent() -> list[int]:
        async with app.services.db() as session:
            return [r.attempts for r in (await session.execute(select(OutboxItem))).scalars()
                    if r.status == "sent"]

    assert await eventually(sent, what="the row marked sent") == [3]  # 2 refused, 1 sent


async def test_a_4xx_is_not_retried(app: App, fake: FakeDingTalk) -> None:
    fake.faults.append("400")
    fake.send_message("回声 坏", staff_id=PROSECUTOR[1], webhook=False)

    async def failed() -> bool:
        async with app.services.db() as session:
            rows = (await session.execute(select(OutboxItem))).scalars().all()
        return bool(rows) and rows[0].status == "failed"

    await eventually(failed, what="the row to fail for good")
    fake.send_message("回声 好", staff_id=PROSECUTOR[1], webhook=False)
    await eventually(lambda: "回声：好" in fake.texts(), what="the next reply")
    assert fake.requests.count("/v1.0/robot/oToMessages/batchSend") == 2
    assert "回声：坏" not in fake.texts()


async def test_a_refused_secret_keeps_the_replies_until_it_is_fixed(app: App,
                                                                     fake: FakeDingTalk) -> None:
    # the secret rotated in the DingTalk console but not yet in the bot's environment: the
    # token call is refused (400 InvalidAppKey). The replies are fine, the bot's credentials
    # are not: they wait, they do not fail for good
    assert app.dingtalk is not None
    api = app.dingtalk.api
    right = api.creds
    api.creds = dataclasses.replace(right, client_secret="rotated-elsewhere")
    fake.send_message("回声 等等", staff_id=PROSECUTOR[1], webhook=False)

    async def attempted_twice() -> bool:
        async with app.services.db() as session:
            rows = (await session.execute(select(OutboxItem))).scalars().all()
        return bool(rows) and rows[0].attempts >= 2

    await eventually(attempted_twice, what="two refused attempts")
    async with app.services.db() as session:
        [row] = (await session.execute(select(OutboxItem))).scalars().all()
    assert row.status == "pending"
    assert "DINGTALK_CLIENT_SECRET" in (row.last_error or "")
    api.creds = right  # the operator fixes the environment
    await eventually(lambda: "回声：等等" in fake.texts(), within=10, what="the reply")


async def test_nothing_is_lost_while_dingtalk_is_down(app: App, fake: FakeDingTalk) -> None:
    fake.faults.extend(["500"] * 12)
    for i in range(3):
        fake.send_message(f"回声 down{i}", staff_id=PROSECUTOR[1], webhook=False)
    await eventually(lambda: len(fake.faults) == 0, within=30, what="DingTalk to recover")
    want = [f"回声：down{i}" for i in range(3)]
    await eventually(lambda: set(want) <= set(fake.texts()), within=30, what="the replies")
    assert sorted(fake.texts()) == sorted(want)


async def test_same_msg_id_twice_is_handled_once(app: App, fake: FakeDingTalk) -> None:
    a = fake.send_message("回声 一次", staff_id=PROSECUTOR[1], msg_id="dup-1")
    b = fake.send_message("回声 一次", staff_id=PROSECUTOR[1], msg_id="dup-1")
    await eventually(lambda: a in fake.acks and b in fake.acks, what="both ACKs")
    assert fake.acks[a]["code"] == fake.acks[b]["code"] == 200
    await eventually(lambda: fake.texts(), what="the reply")
    fake.send_message("回声 之后", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：之后" in fake.texts(), what="a later reply")
    assert fake.texts().count("回声：一次") == 1
    assert app.dingtalk is not None and app.dingtalk.inbound.duplicates == 1


async def test_redelivery_after_restart_is_handled_once(make_app: AppFactory,
                                                        fake: FakeDingTalk) -> None:
    """The local memory is gone after a restart; the database still knows the msgId."""
    app = await make_app()
    fake.send_message("回声 重投", staff_id=PROSECUTOR[1], msg_id="dup-2")
    await eventually(lambda: fake.texts(), what="the reply")
    assert app.dingtalk is not None
    app.dingtalk.inbound.seen.forget("dup-2")
    fake.send_message("回声 重投", staff_id=PROSECUTOR[1], msg_id="dup-2")
    fake.send_message("回声 之后", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：之后" in fake.texts(), what="a later reply")
    assert fake.texts().count("回声：重投") == 1


async def test_malformed_frames_are_refused_and_the_bot_keeps_running(
        app: App, fake: FakeDingTalk) -> None:
    fake.push("this is not json")
    fake.push(json.dumps([1, 2, 3]))
    bad_data = fake.frame("/v1.0/im/bot/messages/get", {}, message_id="bad-data")
    bad_data["data"] = "{not json"
    fake.push(bad_data)
    no_id = fake.bot_message("帮助", staff_id=PROSECUTOR[1])
    del no_id["msgId"]
    fake.push(fake.frame("/v1.0/im/bot/messages/get", no_id, message_id="no-msgid"))
    fake.push(fake.frame("/v1.0/card/instances/callback", {"outTrackId": "x"},
                         message_id="bad-card"))
    fake.push(fake.frame("/v1.0/unknown/topic", {}, message_id="bad-topic"))
    fake.push({"type": "WHATEVER", "headers": {"messageId": "bad-type"}})
    fake.push('{"a":' + "[" * 50000 + "]" * 50000 + "}")  # RecursionError in json.loads
    deep = fake.frame("/v1.0/im/bot/messages/get", {}, message_id="deep-data")
    deep["data"] = "[" * 50000 + "]" * 50000
    fake.push(deep)
    lone = fake.frame("/v1.0/im/bot/messages/get", {}, message_id="lone-surrogate")
    lone["data"] = json.dumps(fake.bot_message("\ud800帮助", staff_id=PROSECUTOR[1]))
    fake.push(lone)
    rich = fake.bot_message("", staff_id=PROSECUTOR[1])
    rich.update(msgtype="richText", content={"richText": None})
    fake.push(fake.frame("/v1.0/im/bot/messages/get", rich, message_id="rich-null"))
    for frame_id, code in (("bad-data", 400), ("no-msgid", 400), ("bad-card", 400),
                           ("bad-topic", 404), ("bad-type", 400), ("deep-data", 400),
                           ("lone-surrogate", 400), ("rich-null", 400)):
        ack = await eventually(lambda f=frame_id: fake.acks.get(f), what=f"ACK of {frame_id}")
        assert ack["code"] == code, (frame_id, ack)
    opens = len(fake.opens)
    fake.send_message("回声 还在", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：还在" in fake.texts(), what="the reply")
    assert len(fake.opens) == opens  # same connection throughout


async def test_two_instances_with_one_redis_handle_a_msg_id_once(
        tmp_path: Path, fake: FakeDingTalk, dt_env: None, redis_url: str) -> None:
    """Several instances hold connections; DingTalk may push one message to more than one."""
    # one database, one Redis; a spool directory each, as two instances have
    apps = [App(dingtalk_settings(tmp_path, fake, storage={"redis_url": redis_url},
                                  stream={"spool_dir": str(tmp_path / f"spool{i}")}),
                SystemClock()) for i in range(2)]
    try:
        for a in apps:
            await a.start()
            a.dispatcher.include(test_router)
        await eventually(lambda: len(fake.live) == 2, what="two connections")
        msg_id = f"multi-{uuid.uuid4().hex}"
        frame = fake.frame("/v1.0/im/bot/messages/get",
                           fake.bot_message("回声 两份", staff_id=PROSECUTOR[1], msg_id=msg_id))
        fake.push(frame, everywhere=True)
        fake.send_message("回声 之后", staff_id=PROSECUTOR[1])
        await eventually(lambda: {"回声：两份", "回声：之后"} <= set(fake.texts()), what="replies")
        assert fake.texts().count("回声：两份") == 1
    finally:
        for a in apps:
            await a.stop()


def failing_feed(app: App, failures: int) -> list[int]:
    """Make the next `failures` dispatches fail as an unreachable database would; returns a
    list that counts the calls."""
    from sqlalchemy.exc import OperationalError

    real = app.dispatcher.feed
    calls = [0]

    async def feed(event: Any) -> Any:
        calls[0] += 1
        if calls[0] <= failures:
            raise OperationalError("INSERT …", None, ConnectionRefusedError("database down"))
        return await real(event)

    app.dispatcher.feed = feed  # type: ignore[method-assign]
    return calls


async def test_a_message_acked_while_the_database_fails_is_answered_once_it_is_back(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app(stream={"store_retry_min_seconds": 0.02})
    calls = failing_feed(app, failures=3)
    ref = fake.send_message("回声 坚持", staff_id=PROSECUTOR[1])
    await eventually(lambda: ref in fake.acks, what="the ACK")
    await eventually(lambda: "回声：坚持" in fake.texts(), within=10, what="the reply")
    assert calls[0] == 4 and fake.texts().count("回声：坚持") == 1
    assert app.dingtalk is not None and app.dingtalk.inbound.store_retries == 3


async def test_after_retrying_long_enough_the_sender_is_asked_to_send_again(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    from bot.transports.dingtalk.mapping import NOT_STORED

    app = await make_app(stream={"store_retry_min_seconds": 0.02, "store_retry_seconds": 0.2})
    failing_feed(app, failures=10**6)
    fake.send_message("回声 放弃", staff_id=PROSECUTOR[1])
    await eventually(lambda: NOT_STORED in fake.texts(), within=10, what="the apology")
    assert "回声：放弃" not in fake.texts()


async def rows(app: App) -> list[OutboxItem]:
    async with app.services.db() as session:
        return list((await session.execute(select(OutboxItem))).scalars().all())


async def test_a_flow_controlled_recipient_is_retried(app: App, fake: FakeDingTalk) -> None:
    """batchSend answers 200 with the user in flowControlledStaffIdList: not delivered yet."""
    fake.faults.append("flow_user")
    fake.send_message("回声 限流", staff_id=PROSECUTOR[1], webhook=False)
    await eventually(lambda: "回声：限流" in fake.texts(), what="the reply after a retry")
    assert fake.requests.count("/v1.0/robot/oToMessages/batchSend") >= 2
    assert fake.texts().count("回声：限流") == 1

    async def sent() -> bool:  # the worker marks the row after DingTalk's answer arrives
        return [r.status for r in await rows(app)] == ["sent"]

    await eventually(sent, what="the row marked sent")


async def test_an_invalid_recipient_fails_the_row(app: App, fake: FakeDingTalk) -> None:
    """batchSend answers 200 with the user in invalidStaffIdList (not in the org, left it):
    the row is failed for good, not reported as sent."""
    fake.faults.append("invalid_user")
    fake.send_message("回声 无效", staff_id=PROSECUTOR[1], webhook=False)

    async def failed() -> bool:
        return [r.status for r in await rows(app)] == ["failed"]

    await eventually(failed, what="the row to fail for good")
    assert "invalidStaffIdList" in ((await rows(app))[0].last_error or "")
    assert fake.requests.count("/v1.0/robot/oToMessages/batchSend") == 1


async def test_a_card_created_but_not_delivered_is_not_sent(make_app: AppFactory,
                                                            fake: FakeDingTalk) -> None:
    """createAndDeliver answers success with deliverResults[].success false (robot not in the
    group, say): the row must not be marked sent."""
    app = await make_app(card_template_id="tpl.schema")
    fake.faults.append("deliver_fail")
    fake.send_message("卡片 1", staff_id=PROSECUTOR[1], webhook=False)

    async def done() -> list[str]:
        return [r.status for r in await rows(app) if r.status in ("sent", "failed")]

    statuses = await eventually(done, what="the row to settle")
    assert statuses == ["failed"] and not fake.cards
    assert "robot not in conversation" in ((await rows(app))[0].last_error or "")


@pytest.mark.parametrize("refuses", [False, True], ids=["deliver-no-op", "deliver-refused"])
async def test_a_card_whose_creation_answered_too_late_is_sent_once(
        make_app: AppFactory, fake: FakeDingTalk, refuses: bool) -> None:
    """DingTalk creates the card but answers after the bot's timeout; the person clicks it
    meanwhile. The retry keeps the outTrackId and is told the card exists: that is the card
    delivered, not a failure. One card, showing the click's result; every row sent, whether
    DingTalk ignores the second deliver or refuses it as already delivered."""
    app = await make_app(card_template_id="tpl.schema", delivery={"http_timeout_seconds": 0.5})
    fake.deliver_refuses_shown = refuses
    fake.fault_delay = 2.0
    fake.faults.append("late_answer")
    fake.send_message("卡片 7", staff_id=PROSECUTOR[1], group=GROUP_CID)
    [card] = await eventually(lambda: fake.sent, what="the card")
    track = card.body["outTrackId"]
    fake.click(track, PROSECUTOR[1], "test.press")

    async def settled() -> list[str] | None:
        statuses = [r.status for r in await rows(app)]
        return statuses if len(statuses) == 2 and "pending" not in statuses \
            and "sending" not in statuses else None

    assert await eventually(settled, what="both rows to settle") == ["sent", "sent"]
    assert fake.requests.count("/v1.0/card/instances/createAndDeliver") == 2  # the retry
    assert fake.requests.count("/v1.0/card/instances/deliver") == 1  # posts nothing new
    assert [s.kind for s in fake.sent].count("card") == 1
    assert fake.cards[track]["body"] == "已确认 by 余斌梅" and fake.cards[track]["btn1_label"] == ""


@pytest.mark.parametrize("group", [GROUP_CID, None], ids=["group", "1:1"])
async def test_a_card_created_but_not_delivered_before_a_timeout_reaches_the_chat(
        make_app: AppFactory, fake: FakeDingTalk, group: str | None) -> None:
    """DingTalk creates the card, and the call fails before the card is delivered to the chat.
    The retry is told the card exists: the bot delivers it (same outTrackId, same chat) and
    only then counts it sent. The person sees the card once, mentioned in a group."""
    app = await make_app(card_template_id="tpl.schema", delivery={"http_timeout_seconds": 0.5})
    fake.fault_delay = 2.0
    fake.faults.append("created_undelivered")
    fake.send_message("卡片 8", staff_id=PROSECUTOR[1], group=group)

    async def sent() -> bool:
        return [r.status for r in await rows(app)] == ["sent"]

    await eventually(sent, what="the row marked sent")
    space = f"dtv1.card//IM_GROUP.{GROUP_CID}" if group else f"dtv1.card//IM_ROBOT.{PROSECUTOR[1]}"
    [card] = [s for s in fake.sent if s.kind == "card"]
    assert card.target == space and card.text.endswith("测试卡片\n内容 8")
    assert card.mentioned == ([PROSECUTOR[1]] if group else [])
    assert fake.card_spaces == {card.body["outTrackId"]: {space}}
    assert fake.requests.count("/v1.0/card/instances/createAndDeliver") == 2
    assert fake.requests.count("/v1.0/card/instances/deliver") == 1


async def test_concurrent_calls_with_a_revoked_token_refresh_it_once(fake: FakeDingTalk) -> None:
    """Ten sends in flight when DingTalk stops taking the token: one refresh, not ten."""
    api = OpenApi(Credentials(CLIENT_ID, CLIENT_SECRET, CLIENT_ID), api_base=fake.base,
                  oapi_base=fake.base, timeout_seconds=5)
    try:
        await api.token()
        fake.tokens.clear()  # revoked / expired early on DingTalk's side
        await asyncio.gather(*(api.send_group("cid", "sampleText", {"content": f"n{i}"})
                               for i in range(10)))
        assert len(fake.texts()) == 10
        assert fake.token_calls == 2, fake.token_calls
    finally:
        await api.close()


async def test_a_refused_session_webhook_falls_back_to_openapi(app: App, fake: FakeDingTalk) -> None:
    """The sessionWebhook's expiry is DingTalk's clock, its answers undocumented: one that
    refuses a reply (expired early, say) must not lose it; the OpenAPI still reaches the chat."""
    fake.faults.append("400")
    fake.send_message("回声 退回", staff_id=PROSECUTOR[1])
    await eventually(lambda: "回声：退回" in fake.texts("users"), what="the reply via batchSend")
    assert fake.texts() == ["回声：退回"]
    fake.send_message("回声 再来", staff_id=PROSECUTOR[1])  # a new message: its own webhook
    await eventually(lambda: "回声：再来" in fake.texts("webhook"), what="the next via webhook")
