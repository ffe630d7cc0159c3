"""Voice messages over the fake DingTalk: DingTalk's own speech-to-text (`content.recognition`)
is read like typed text, but only read-only commands run from it; a voice message nobody could
make out gets the text-only answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.cases import NewCase, create_case, record_evaluation
from bot.context import Outbound
from bot.domain.scoring import Deduction
from bot.reviews import file_request
from bot.transports.dingtalk.mapping import TEXT_ONLY
from storage import cases as case_repo
from storage import reminders as reminder_repo
from storage import reviews as review_repo
from storage.models import AuditRecord, Message, OutboxItem
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


async def delivered(app: App, fake: FakeDingTalk) -> None:
    """Wait until everything the bot sent so far reached the fake, then forget it."""
    async def done() -> bool:
        async with app.services.db() as session:
            return not await session.scalar(select(func.count()).select_from(OutboxItem).where(
                OutboxItem.status.in_(("pending", "sending"))))
    await eventually(done, what="the outbox drained")
    fake.sent.clear()


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



# -- listings run from speech; what acts is still refused ---------------------------------------

async def scored(app: App, *deductions: Deduction) -> str:
    code = await new_case(app)
    async with app.services.db() as session, session.begin():
        case = await case_repo.get_case(session, code)
        assert case is not None
        await record_evaluation(Outbound(app.services, session), case,
                                app.services.directory.people[PROSECUTOR[0]], list(deductions),
                                [], "")
    return code


RED = (Deduction("criminal_facts", 16, "嫌疑人零口供", "", "", "补充取证"),
       Deduction("harmful_consequence", 10, "损失未鉴定", "", "", "补充鉴定"),
       Deduction("causation", 8, "因果关系未证明", "", "", "补充鉴定意见"))  # 66: red


async def test_spoken_reminders_are_listed_and_a_spoken_snooze_is_refused(
        app: App, fake: FakeDingTalk) -> None:
    code = await scored(app, *RED)
    await delivered(app, fake)
    send_voice(fake, "提醒。", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the 提醒 card")
    assert "语音识别为" not in reply.text
    assert "我的提醒" in reply.text and f"重新评估 {code} 将于" in reply.text
    fake.sent.clear()

    send_voice(fake, f"提醒 暂停 {code} 3", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the refusal")
    assert reply.text == f"语音识别为：「提醒 暂停 {code} 3」。该命令会修改数据，请以文字发送。"
    async with app.services.db() as session:
        assert await reminder_repo.snooze_count(session, code, PROSECUTOR[0]) == 0
        assert await reminder_repo.snooze_until(session, [code]) == {}


async def disputed(app: App) -> str:
    """A yellow case whose investigator asked for a review: it waits on the prosecutor."""
    code = await scored(app, Deduction("criminal_facts", 10, "证据不足", "", "", "补充取证"),
                        Deduction("causation", 5, "因果关系未证明", "", "", "补充鉴定意见"))
    async with app.services.db() as session, session.begin():
        case = await case_repo.get_case(session, code)
        assert case is not None
        await file_request(Outbound(app.services, session), case,
                           app.services.directory.people["p-investigator-1"], ["causation"],
                           "鉴定意见已补充")
    return code


async def test_spoken_todo_lists_the_requests_and_resends_the_decision_card(
        app: App, fake: FakeDingTalk) -> None:
    code = await disputed(app)
    await delivered(app, fake)
    send_voice(fake, "待办！", staff_id=PROSECUTOR[1])
    listing, decision = await eventually(lambda: len(fake.sent) >= 2 and fake.sent[:2],
                                         what="the list and the decision card")
    assert "语音识别为" not in listing.text
    assert "待办复核申请（1）" in listing.text and code in listing.text
    assert "复核申请 #1" in decision.text and "同意并调整" in str(decision.body)
    async with app.services.db() as session:  # kept in step with the request like the first
        [row] = await review_repo.open_for(session, code)
        assert len(await review_repo.cards(session, row.id)) == 3  # investigator's, 2 prosecutor's


@pytest.mark.parametrize("heard", ["复核 HY 2026 0001", "复核HY-2026-0001。",
                                   "复核 hy 二零二六 零零零一"])
async def test_spoken_review_listing_reads_a_spoken_code(
        app: App, fake: FakeDingTalk, heard: str) -> None:
    code = await disputed(app)
    assert code == "HY-2026-0001"
    await delivered(app, fake)
    send_voice(fake, heard, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the list")
    assert f"{code} 未办结的复核申请（1）" in reply.text and "鉴定意见已补充" in reply.text


# -- case codes as a recognizer writes them -----------------------------------------------------

@pytest.mark.parametrize("heard", [
    "码 HY 2026 0001", "码HY-2026-0001。", "码 hy 二零二六 零零零一", "码，HY，2026，0001。",
    "HY 2026 0001", "hy 杠 二〇二六 杠 〇〇〇一", "ＨＹ　２０２６　０００１"])
async def test_a_spoken_case_code_finds_the_case(app: App, fake: FakeDingTalk, heard: str) -> None:
    code = await new_case(app)
    assert code == "HY-2026-0001"
    send_voice(fake, heard, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the case card")
    assert code in reply.text and "何某强奸案" in reply.text, reply.text
    assert "语音识别为" not in reply.text and "格式不对" not in reply.text


@pytest.mark.parametrize(("heard", "answer"), [
    ("码 HY 2026 9999", "未找到案件码 HY-2026-9999。"),  # a code, of no case
    ("码 HY 二千零二十六 一", "案件码格式不对：「HY 二千零二十六 一」"),  # a number, not digits
    ("码 HY 2026", "案件码格式不对：「HY 2026」"),
])
async def test_what_is_not_clearly_a_code_gets_the_usual_answer(
        app: App, fake: FakeDingTalk, heard: str, answer: str) -> None:
    await new_case(app)
    send_voice(fake, heard, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.text.startswith(answer), reply.text


async def test_a_typed_code_with_spaces_is_read_as_before(app: App, fake: FakeDingTalk) -> None:
    """Only speech is read this way: typed text keeps its format answer."""
    await new_case(app)
    fake.send_message("码 HY 2026 0001", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.text.startswith("案件码格式不对：「HY 2026 0001」")
