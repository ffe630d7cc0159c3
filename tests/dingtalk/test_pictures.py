"""Pictures sent to the bot over the fake DingTalk: a case code's QR (a printout photographed,
a screenshot) is answered as 「码 <code>」 would be for that person; a picture without one, a
picture that cannot be fetched, files and videos get a short answer saying what works."""

from __future__ import annotations

import io
import re

import segno
from PIL import Image

from bot.app import App
from bot.cases import code_links
from bot.context import Outbound
from bot.transports.dingtalk.mapping import NO_CODE_IN_PICTURE, NOT_FILES, PICTURE_FAILED
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, eventually
from tests.dingtalk.fake import FakeDingTalk
from tests.dingtalk.test_voice import new_case

OUTSIDER = "dt-0001"  # 彭娜丽, chief of another city's procuratorate


async def code_qr(app: App, code: str) -> bytes:
    """The case code's QR as the bot draws it (bot/web/case_pages.py: the code page's link)."""
    async with app.services.db() as session:
        page, _ = code_links(Outbound(app.services, session), code)
    buf = io.BytesIO()
    segno.make(page, error="m").save(buf, kind="png", scale=6, border=4, dark="#d9363e")
    return buf.getvalue()


def photo_of(png: bytes) -> bytes:
    """The QR as a phone photo of a printout: a JPEG, the code small on a larger grey page."""
    qr = Image.open(io.BytesIO(png)).convert("RGB")
    page = Image.new("RGB", (qr.width * 3, qr.height * 3), (225, 225, 218))
    page.paste(qr, (qr.width, qr.height))
    buf = io.BytesIO()
    page.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def plain_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def without_links(text: str) -> str:
    """A card's text without its signed links (each answer gets fresh ones)."""
    return re.sub(r"https?://\S+", "<link>", text)


async def test_a_picture_of_a_case_code_qr_gets_the_code_card(
        app: App, fake: FakeDingTalk) -> None:
    code = await new_case(app)
    fake.send_message(f"码 {code}", staff_id=PROSECUTOR[1])
    [typed] = await eventually(lambda: fake.sent, what="the typed 码 answer")
    assert f"案件码 {code}" in typed.text and "何某强奸案" in typed.text
    fake.sent.clear()

    fake.send_picture(await code_qr(app, code), staff_id=PROSECUTOR[1])
    [shown] = await eventually(lambda: fake.sent, what="the answer to the picture")
    assert (shown.kind, without_links(shown.text)) == (typed.kind, without_links(typed.text))
    fake.sent.clear()

    fake.send_picture(photo_of(await code_qr(app, code)), staff_id=PROSECUTOR[1])
    [photo] = await eventually(lambda: fake.sent, what="the answer to the photo")
    assert without_links(photo.text) == without_links(typed.text)


async def test_a_picture_gets_what_the_typed_code_gets_for_that_person(
        app: App, fake: FakeDingTalk) -> None:
    """The same permission checks: whatever 码 <code> answers this person, the QR does."""
    code = await new_case(app)
    fake.send_message(f"码 {code}", staff_id=OUTSIDER)
    [typed] = await eventually(lambda: fake.sent, what="the typed 码 answer")
    fake.sent.clear()
    fake.send_picture(await code_qr(app, code), staff_id=OUTSIDER)
    [shown] = await eventually(lambda: fake.sent, what="the answer to the picture")
    assert without_links(shown.text) == without_links(typed.text)


async def test_a_picture_with_an_at_in_a_group_is_answered_as_the_typed_code(
        app: App, fake: FakeDingTalk) -> None:
    """In a group a picture comes as rich text (the @ and the picture); the card goes where
    the typed 码 sends it (here, in confidence, to the sender alone)."""
    code = await new_case(app)
    fake.send_message(f"码 {code}", staff_id=PROSECUTOR[1], group=GROUP_CID)
    typed = await eventually(lambda: fake.sent, what="the typed 码 answer")
    fake.sent.clear()
    fake.send_picture(await code_qr(app, code), staff_id=PROSECUTOR[1], group=GROUP_CID,
                      rich=True)
    shown = await eventually(lambda: len(fake.sent) >= len(typed) and fake.sent,
                             what="the answer to the picture")
    assert [(s.kind, s.target.startswith("msg-") or s.target, without_links(s.text), s.mentioned)
            for s in shown] == [(s.kind, s.target.startswith("msg-") or s.target,
                                 without_links(s.text), s.mentioned) for s in typed]
    assert any(f"案件码 {code}" in s.text for s in shown)


async def test_a_picture_without_a_case_code(app: App, fake: FakeDingTalk) -> None:
    fake.send_picture(plain_png(), staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.text == NO_CODE_IN_PICTURE
    fake.sent.clear()
    # a QR of something else (another site's link) is no case code either
    buf = io.BytesIO()
    segno.make("https://example.invalid/c/abcdefghijk.xyz", error="m").save(buf, kind="png",
                                                                          scale=6)
    fake.send_picture(buf.getvalue(), staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer")
    assert reply.text == NO_CODE_IN_PICTURE


async def test_a_picture_too_large_or_not_fetched_gets_a_short_answer(
        app: App, fake: FakeDingTalk) -> None:
    assert app.dingtalk is not None
    app.dingtalk.inbound.config = app.dingtalk.inbound.config.model_copy(
        update={"picture_max_bytes": 2048})
    fake.send_picture(b"\x89PNG" + b"\0" * 5000, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the too-large answer")
    assert reply.text == PICTURE_FAILED
    fake.sent.clear()
    fake.faults.append("400")  # messageFiles/download refuses the code
    fake.send_picture(plain_png(), staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the failed-download answer")
    assert reply.text == PICTURE_FAILED
    fake.sent.clear()
    fake.send_picture(b"not an image at all", staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer to a broken picture")
    assert reply.text == PICTURE_FAILED


async def test_files_and_videos_get_what_the_bot_accepts(app: App, fake: FakeDingTalk) -> None:
    for kind, content in (("file", {"downloadCode": "f1", "fileName": "案件.pdf"}),
                          ("video", {"downloadCode": "v1", "duration": "5"})):
        data = fake.bot_message("", staff_id=PROSECUTOR[1])
        del data["text"]
        data.update(msgtype=kind, content=content)
        fake.push(fake.frame("/v1.0/im/bot/messages/get", data))
        [reply] = await eventually(lambda: fake.sent, what=f"the answer to a {kind}")
        assert reply.text == NOT_FILES
        fake.sent.clear()
    assert fake.downloads == []
