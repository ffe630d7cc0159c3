"""Fixtures for the DingTalk transport: the fake DingTalk in its own thread, and a real app whose
DingTalk transport (the real dingtalk-stream SDK classes) talks to it over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.clock import SystemClock
from bot.context import Context
from bot.dispatcher import Router
from bot.events import CardActionEvent, MessageEvent
from cards.model import Button, Card
from config.loader import DEFAULT_DIR, Settings
from tests.conftest import make_settings
from tests.dingtalk.fake import CLIENT_ID, CLIENT_SECRET, FakeDingTalk

GROUP_CID = "cidCaseTeam=="  # g-case-team's DingTalk openConversationId in these tests
INSPECTION_CID = "cidInspection=="  # g-inspection's
CHAT_IDS = {"g-case-team": GROUP_CID, "g-inspection": INSPECTION_CID}
PROSECUTOR = ("p-prosecutor-1", "dt-0129")  # person id, DingTalk staffId
INSPECTOR = ("p-inspector-1", "dt-0123")

# -- a test-only router: echo (unique payloads to count deliveries) and a card with a button --
test_router = Router("dingtalk-test")


@test_router.command("回声", summary="测试：原样回复")
async def _echo(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(f"回声：{ctx.args}")


@test_router.command("卡片", summary="测试：发一张带按钮的卡片")
async def _card(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="测试卡片", body=f"内容 {ctx.args}", color="yellow", actions=(
        Button("test.press", "确认", data={"n": ctx.args or "0"}),
        Button("test.link", "查看详情", url="https://example.invalid/x"),
    )))


@test_router.action("test.press")
async def _press(event: CardActionEvent, ctx: Context) -> None:
    assert ctx.card_message is not None
    ctx.action_done()
    await ctx.update_card(ctx.card_message, Card(
        title="测试卡片", body=f"已确认 by {ctx.user.name}", color="green"))


async def eventually(cond: Callable[[], Any], within: float = 15.0, what: str = "") -> Any:
    """Poll a condition until it is truthy (never a bare sleep); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = cond()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.01)


def database_down(app: App) -> None:
    """Every database session of `app` fails as an unreachable PostgreSQL would."""
    class Down:
        async def __aenter__(self) -> None:
            raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.5', 5432)")

        async def __aexit__(self, *_: object) -> None:
            return None

    app.services.db = lambda: Down()  # type: ignore[assignment,return-value]


FAST: dict[str, Any] = {
    "stream": {"reconnect_min_seconds": 0.05, "reconnect_max_seconds": 0.5, "stable_seconds": 5,
               "ping_interval_seconds": 0.2, "open_timeout_seconds": 2,
               # generous: a loop stalled by a loaded CI machine must not look like a dead
               # socket (test_faults sets its own short watchdog to test it)
               "watchdog_seconds": 15.0,
               "card_callback_budget_seconds": 10.0},
    "delivery": {"robot_per_minute": 10000, "conversation_per_minute": 10000,
                 "throttled_pause_seconds": 0.2, "http_timeout_seconds": 2.0},
}


def dingtalk_settings(tmp_path: Path, fake: FakeDingTalk, storage: dict[str, Any] | None = None,
                      public_url: str | None = None, console: bool | None = True,
                      **dingtalk: Any) -> Settings:
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    for chat in org["chats"]:
        if chat["id"] in CHAT_IDS:
            chat["ids"] = {"dingtalk": CHAT_IDS[chat["id"]]}
    tmp_path.mkdir(parents=True, exist_ok=True)
    org_path = tmp_path / "org.yaml"
    org_path.write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    cfg: dict[str, Any] = {"enabled": True, "api_base": fake.base, "oapi_base": fake.base,
                           **{k: dict(v) for k, v in FAST.items()}}
    for k, v in dingtalk.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    web = {"public_url": public_url} if public_url else {}
    return make_settings(tmp_path, org=str(org_path), storage=storage or {}, web=web, transports={
        "console": {"enabled": console, "test_clock": False}, "dingtalk": cfg,
        "outbox": {"poll_seconds": 0.05, "retry_base_seconds": 0.05, "retry_max_seconds": 0.3}})


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    f = FakeDingTalk().start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def dt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINGTALK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("DINGTALK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.delenv("DINGTALK_ROBOT_CODE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


AppFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def make_app(tmp_path: Path, fake: FakeDingTalk, dt_env: None) -> AsyncIterator[AppFactory]:
    apps: list[App] = []

    async def factory(connect: bool = True, **dingtalk: Any) -> App:
        app = App(dingtalk_settings(tmp_path / f"app{len(apps)}", fake, **dingtalk), SystemClock())
        await app.start()
        app.dispatcher.include(test_router)
        apps.append(app)
        if connect:
            await eventually(lambda: fake.ws is not None, what="the bot connects")
        return app

    yield factory
    for app in apps:
        await app.stop()


@pytest.fixture
async def app(make_app: AppFactory) -> App:
    return await make_app()
