"""The spool: a bot message acked while the database is unreachable is kept on local disk until
it is handled or given up on, and the next start of the instance replays it. (Replayed messages
are handled in tasks that first run after App.start returns, so `make_app` has included the
test router by then.)"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.app import App
from bot.clock import SystemClock
from bot.transports.dingtalk.mapping import NOT_STORED
from bot.transports.dingtalk.spool import Spool, Spooled, spool_dir
from config.loader import ConfigError
from tests.conftest import make_settings
from tests.dingtalk.conftest import PROSECUTOR, AppFactory, dingtalk_settings, eventually
from tests.dingtalk.fake import FakeDingTalk

TOPIC = "/v1.0/im/bot/messages/get"
STAFF = PROSECUTOR[1]


class Outage:
    """The dispatcher fails as with an unreachable database while `down`; counts the calls."""

    def __init__(self, app: App) -> None:
        self.down = True
        self.calls = 0
        real = app.dispatcher.feed

        async def feed(event: Any) -> Any:
            self.calls += 1
            if self.down:
                raise OperationalError("INSERT …", None, ConnectionRefusedError("database down"))
            return await real(event)

        app.dispatcher.feed = feed  # type: ignore[method-assign]


def spooled(app: App) -> list[Path]:
    assert app.dingtalk is not None
    return sorted(app.dingtalk.inbound.spool.directory.glob("*.json"))


async def stop_like_a_crash(app: App, fake: FakeDingTalk) -> None:
    """Its handling tasks are cancelled without waiting (nothing is given up on), then it stops."""
    assert app.dingtalk is not None
    await app.dingtalk.inbound.drain(grace=0)
    await app.stop()
    await eventually(lambda: fake.ws is None, what="the old connection gone")


def test_the_spool_directory_is_configured_or_next_to_the_sqlite_file(tmp_path: Path) -> None:
    assert spool_dir(make_settings(tmp_path).config) == tmp_path / "dingtalk-spool"
    pg = make_settings(tmp_path, storage={"database_url": "postgresql+asyncpg://casebot@db/casebot"})
    assert spool_dir(pg.config) == Path("data/dingtalk-spool")
    set_ = make_settings(tmp_path, transports={"dingtalk": {"stream": {"spool_dir": "/var/spool/x"}}})
    assert spool_dir(set_.config) == Path("/var/spool/x")


async def test_a_message_that_cannot_be_stored_is_on_disk_until_it_is_answered(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app(stream={"store_retry_min_seconds": 0.02})
    assert app.dingtalk is not None
    inbound = app.dingtalk.inbound
    fake.send_message("回声 平时", staff_id=STAFF)
    await eventually(lambda: "回声：平时" in fake.texts(), what="a normal reply")
    assert inbound.spooled == 0 and not spooled(app)  # the common path writes nothing
    outage = Outage(app)
    fake.send_message("回声 落盘", staff_id=STAFF, msg_id="spool-1")
    files = await eventually(lambda: spooled(app), what="the spool file")
    saved = json.loads(files[0].read_text(encoding="utf-8"))
    assert saved["data"]["msgId"] == "spool-1" and saved["received_at"]
    assert "回声：落盘" not in fake.texts()
    outage.down = False
    await eventually(lambda: "回声：落盘" in fake.texts(), what="the reply once the database is back")
    await eventually(lambda: not spooled(app), what="the spool file removed")
    assert fake.texts().count("回声：落盘") == 1 and inbound.spooled == 1


async def test_a_message_given_up_on_leaves_the_spool(make_app: AppFactory,
                                                      fake: FakeDingTalk) -> None:
    app = await make_app(stream={"store_retry_min_seconds": 0.02, "store_retry_seconds": 0.3})
    assert app.dingtalk is not None
    Outage(app)
    fake.send_message("回声 放弃", staff_id=STAFF)
    await eventually(lambda: NOT_STORED in fake.texts(), what="the apology")
    await eventually(lambda: not spooled(app), what="the spool file removed")
    assert app.dingtalk.inbound.spooled == 1


async def test_a_message_spooled_by_an_instance_that_died_is_answered_once_by_the_next(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    stream = {"spool_dir": str(tmp_path / "spool"), "store_retry_min_seconds": 0.02}
    a = await make_app(stream=stream)
    outage = Outage(a)
    fake.send_message("回声 复活", staff_id=STAFF)
    await eventually(lambda: spooled(a) and outage.calls >= 3, what="the message spooled")
    await stop_like_a_crash(a, fake)
    assert len(spooled(a)) == 1  # stopping neither forgets the message ...
    assert fake.texts() == []  # ... nor apologises for it
    b = await make_app(stream=stream)  # same spool directory, another database, no outage
    await eventually(lambda: "回声：复活" in fake.texts(), what="the reply from the next start")
    await eventually(lambda: not spooled(b), what="the spool emptied")
    fake.send_message("回声 之后", staff_id=STAFF)
    await eventually(lambda: "回声：之后" in fake.texts(), what="a later reply")
    assert fake.texts().count("回声：复活") == 1 and NOT_STORED not in fake.texts()
    assert b.dingtalk is not None and b.dingtalk.inbound.replayed == 1


async def test_two_running_instances_cannot_share_a_spool_directory(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    # two instances on one host started from the same YAML: each would replay the messages
    # the other is still retrying
    stream = {"spool_dir": str(tmp_path / "spool")}
    a = await make_app(stream=stream)
    b = App(dingtalk_settings(tmp_path / "b", fake, stream=stream), SystemClock())
    with pytest.raises(ConfigError) as e:
        await b.start()
    await b.stop()
    assert e.value.errors == [
        f"{b.settings.source}: transports.dingtalk.stream.spool_dir: {tmp_path / 'spool'} is in "
        "use by another running instance (each instance needs its own: docs/deploy.md)"]
    assert a.dingtalk is not None and a.dingtalk.stream.connected.is_set()  # a runs on
    # (released when an instance stops: the restart tests above start on the same directory)


async def test_a_message_whose_first_attempt_hangs_at_shutdown_is_spooled(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    """Not failed yet, so not spooled yet; cancelled at shutdown, so spooled then."""
    stream = {"spool_dir": str(tmp_path / "spool")}
    a = await make_app(stream=stream)
    entered = asyncio.Event()

    async def hang(event: Any) -> Any:
        entered.set()
        await asyncio.Event().wait()

    a.dispatcher.feed = hang  # type: ignore[method-assign]
    fake.send_message("回声 悬而未决", staff_id=STAFF)
    await eventually(entered.is_set, what="the first attempt")
    assert not spooled(a)
    await stop_like_a_crash(a, fake)
    assert len(spooled(a)) == 1
    await make_app(stream=stream)
    await eventually(lambda: "回声：悬而未决" in fake.texts(), what="the reply from the next start")
    fake.send_message("回声 之后", staff_id=STAFF)
    await eventually(lambda: "回声：之后" in fake.texts(), what="a later reply")
    assert fake.texts().count("回声：悬而未决") == 1


@pytest.mark.parametrize("spooled_ago", [timedelta(0), timedelta(hours=1)],
                         ids=["recently", "longer-ago-than-the-retry-budget"])
async def test_replaying_a_message_that_was_in_fact_stored_answers_it_no_second_time(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path,
        spooled_ago: timedelta) -> None:
    spool_dir = tmp_path / "spool"
    a = await make_app(stream={"spool_dir": str(spool_dir)})
    data = fake.bot_message("回声 已存", staff_id=STAFF, msg_id="stored-1")
    fake.push(fake.frame(TOPIC, data))
    await eventually(lambda: "回声：已存" in fake.texts(), what="the reply")
    # the instance died after the message was stored, before its spool file was removed
    Spool(spool_dir).put("stored-1", Spooled(data, a.services.clock.now() - spooled_ago))
    await stop_like_a_crash(a, fake)
    b = await make_app(storage={"database_url": a.settings.config.storage.database_url},
                       stream={"spool_dir": str(spool_dir)})
    await eventually(lambda: not spooled(b), what="the replayed message settled")
    fake.send_message("回声 之后", staff_id=STAFF)
    await eventually(lambda: "回声：之后" in fake.texts(), what="a later reply")
    assert fake.texts().count("回声：已存") == 1
    assert NOT_STORED not in fake.texts()  # and no needless "please send it again"
    assert b.dingtalk is not None and b.dingtalk.inbound.replayed == 1


async def test_a_message_spooled_too_long_ago_gets_the_apology_instead(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    long_ago = SystemClock().now() - timedelta(hours=1)  # store_retry_seconds is 300
    late = fake.bot_message("回声 太迟", staff_id=STAFF, msg_id="late-1")
    expired = fake.bot_message("回声 过期", staff_id=STAFF, msg_id="late-2", webhook_ttl_ms=-1000)
    spool.put("late-1", Spooled(late, long_ago))
    spool.put("late-2", Spooled(expired, long_ago))
    await make_app(stream={"spool_dir": str(spool.directory)})
    await eventually(lambda: NOT_STORED in fake.texts(), what="the apology")
    await eventually(lambda: not list(spool.directory.iterdir()), what="the spool emptied")
    fake.send_message("回声 之后", staff_id=STAFF)
    await eventually(lambda: "回声：之后" in fake.texts(), what="a later reply")
    apologies = [s for s in fake.sent if s.text == NOT_STORED]
    assert [s.target for s in apologies] == ["late-1"]  # late-2's sessionWebhook has expired
    assert "回声：太迟" not in fake.texts() and "回声：过期" not in fake.texts()


async def test_a_corrupt_spool_file_is_set_aside_and_the_bot_starts(
        make_app: AppFactory, fake: FakeDingTalk, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "torn.json").write_text('{"received_at": "2024-', encoding="utf-8")
    (spool_dir / "shape.json").write_text(json.dumps({"received_at": "x", "data": []}),
                                          encoding="utf-8")
    (spool_dir / "frame.json").write_text(json.dumps({  # not a bot message
        "received_at": SystemClock().now().isoformat(), "data": {"msgtype": "text"}}),
        encoding="utf-8")
    await make_app(stream={"spool_dir": str(spool_dir)})
    fake.send_message("回声 照常", staff_id=STAFF)
    await eventually(lambda: "回声：照常" in fake.texts(), what="the reply")
    assert sorted(p.name for p in spool_dir.iterdir()) == [
        "frame.json.bad", "shape.json.bad", "torn.json.bad"]
