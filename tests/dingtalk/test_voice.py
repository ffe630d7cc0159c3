"""Voice messages over the fake DingTalk: DingTalk's own speech-to-text (`content.recognition`)
is read like typed text, but only read-only commands run from it; a voice message nobody could
make out gets the text-only answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.cases import NewCase, create_case
from bot.context import Outbound
from bot.transports.dingtalk.mapping import TEXT_ONLY
from storage import cases as case_repo
from storage.models import AuditRecord, Message
from tests.dingtalk.conftest import PROSECUTOR, eventually
from tests.dingtalk.fake import FakeDingTalk

CASE_MANAGER = ("p-case-manager-1", "dt-0132")  # 李平, same unit as the prosecutor


def send_voice(fake: FakeDingTalk, recognition: str | None, *, staff_id: str) -> None:
    """A voice message as DingTalk pushes it (developerpedia docs/learn/bot/message.md, 语音)."""
    data = fake.bot_message("", staff_id=staff_id)
    del data["text"]
    content: dict[str, Any] = {"downloadCode": "mIof7g=="}
    if recognition is not None:
        content["recognition"] = recognition
    data.update(msgtype="audio", content=content)
    fake.push(fake.frame("/v1.0/im/bot/messages/get", data))


async def new_case(app: App) -> str:
    async with app.services.db() as session, session.begin():
        case = await create_case(Outbound(app.services, session), NewCase(
            "何某强奸案", "审查逮捕", "ps-hc-xd", PROSECUTOR[0], ("p-investigator-1",), None, None),
            PROSECUTOR[0])
        return case.code


async def stored_texts(app: App) -> list[str]:
    async with app.services.db() as session:
        rows = (await session.execute(select(Message.text).where(Message.sender != "bot"))).all()
    return [r.text for r in rows]


async def test_a_spoken_read_only_command_is_answered_like_typed_text(
        app: App, fake: FakeDingTalk) -> None:
    code = await new_case(app)
    send_voice(fake, "我的案件。", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the 我的案件 card")
    assert "我的案件（1件）" in reply.text and code in reply.text
    assert "语音识别为" not in reply.text
    # the person's message is kept as heard, marked as speech
    assert await stored_texts(app) == ["[语音] 我的案件"]


async def test_a_spoken_command_that_changes_data_is_refused_and_changes_nothing(
        app: App, fake: FakeDingTalk) -> None:
    code = await new_case(app)
    async with app.services.db() as session:
        audited = await session.scalar(select(func.count()).select_from(AuditRecord))
    send_voice(fake, f" 受理 {code}。", staff_id=CASE_MANAGER[1])
    [reply] = await eventually(lambda: fake.sent, what="the refusal")
    assert reply.text == f"语音识别为：「受理 {code}」。该命令会修改数据，请以文字发送。"
    async with app.services.db() as session:
        case = await case_repo.get_case(session, code)
        assert case is not None and case.intake is None
        assert await session.scalar(select(func.count()).select_from(AuditRecord)) == audited
    assert await stored_texts(app) == [f"[语音] 受理 {code}"]


async def test_an_unknown_spoken_command_shows_what_was_heard(
        app: App, fake: FakeDingTalk) -> None:
    send_voice(fake, "今天天气怎么样？", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.text.startswith("语音识别为：「今天天气怎么样」。未知命令「今天天气怎么样」。")
    assert reply.text.endswith("发送「帮助」查看可用命令。")


@pytest.mark.parametrize("recognition", [None, "", "。"])
async def test_a_voice_message_without_recognition_gets_the_text_only_answer(
        app: App, fake: FakeDingTalk, recognition: str | None) -> None:
    send_voice(fake, recognition, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.text == TEXT_ONLY
