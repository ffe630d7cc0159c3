"""Pictures sent to the bot over the fake DingTalk: a case code's QR (a printout photographed,
a screenshot) is answered as 「码 <code>」 would be for that person; a picture without one, a
picture that cannot be fetched, files and videos get a short answer saying what works."""

from __future__ import annotations

import io
import re

import pytest
import segno
from PIL import Image

from bot.app import App
from bot.cases import code_links
from bot.context import Outbound
from bot.transports.dingtalk import inbound
from bot.transports.dingtalk.mapping import NO_CODE_IN_PICTURE, NOT_FILES, PICTURE_FAILED
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, eventually
from tests.dingtalk.fake import FakeDingTalk
from tests.dingtalk.test_voice import new_case

OUTSIDER = "dt-0001"  # 彭娜丽, chief of another city's procuratorate
MANAGER = "dt-0132"  # 李平, a case manager (案管)
INVESTIGATOR = "dt-0135"  # 胡宇, the investigator of new_case's case


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


def qr_png(text: str) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=6)
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


async def test_a_command_word_with_a_picture_acts_on_the_code_in_it(
        app: App, fake: FakeDingTalk) -> None:
    """「扫码受理」 and the QR photographed: what 「扫码受理 <code>」 typed gives that person,
    permissions and all, for each command whose one argument is the code; the picture is
    fetched and decoded once."""
    code = await new_case(app)
    qr = photo_of(await code_qr(app, code))
    for staff, word in ((MANAGER, "扫码受理"), (MANAGER, "受理"), (PROSECUTOR[1], "受理"),
                        (PROSECUTOR[1], "延期受理"), (PROSECUTOR[1], "先收后补"),
                        (INVESTIGATOR, "已知悉"), (INVESTIGATOR, "收到"), (OUTSIDER, "码")):
        fake.send_message(f"{word} {code}", staff_id=staff)
        [typed] = await eventually(lambda: fake.sent, what=f"the typed {word} answer")
        fake.sent.clear()
        fake.downloads.clear()
        fake.send_picture(qr, staff_id=staff, text=word)
        [shown] = await eventually(lambda: fake.sent, what=f"the answer to {word} + picture")
        assert without_links(shown.text) == without_links(typed.text), word
        assert len(fake.downloads) == 1 and "用法" not in shown.text
        assert code in shown.text or staff != MANAGER, shown.text
        fake.sent.clear()


async def test_a_command_word_with_a_picture_in_a_group(app: App, fake: FakeDingTalk) -> None:
    code = await new_case(app)
    fake.send_message(f"@casebot 扫码受理 {code}", staff_id=MANAGER, group=GROUP_CID)
    typed = await eventually(lambda: fake.sent, what="the typed answer")
    fake.sent.clear()
    fake.send_picture(await code_qr(app, code), staff_id=MANAGER, group=GROUP_CID,
                      text="扫码受理。")
    shown = await eventually(lambda: len(fake.sent) >= len(typed) and fake.sent,
                             what="the answer to the picture")
    assert [without_links(s.text) for s in shown] == [without_links(s.text) for s in typed]


async def test_a_command_word_with_a_picture_without_a_code_is_read_as_typed(
        app: App, fake: FakeDingTalk) -> None:
    """No case code in the picture, or a command whose arguments are more than the code
    (申请复核): the words alone, as today."""
    code = await new_case(app)
    for word, picture in (("扫码受理", plain_png()), ("申请复核", await code_qr(app, code))):
        fake.send_message(word, staff_id=MANAGER)
        [typed] = await eventually(lambda: fake.sent, what=f"the typed {word}")
        fake.sent.clear()
        fake.send_picture(picture, staff_id=MANAGER, text=word)
        [shown] = await eventually(lambda: fake.sent, what=f"{word} with a picture")
        assert shown.text == typed.text
        fake.sent.clear()
    fake.send_picture(plain_png(), staff_id=MANAGER, text="码")
    [reply] = await eventually(lambda: fake.sent, what="码 with a picture")
    assert reply.text == NO_CODE_IN_PICTURE


def big_photo(code_png: bytes, size: tuple[int, int]) -> bytes:
    """A phone camera's full-size JPEG (a 108 MP sensor: 12000x9000) of a printed QR."""
    qr = Image.open(io.BytesIO(code_png)).convert("L")
    qr = qr.resize((qr.width * 8, qr.height * 8), Image.Resampling.NEAREST)
    page = Image.new("L", size, 225)
    page.paste(qr, (size[0] // 3, size[1] // 3))
    buf = io.BytesIO()
    page.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


async def test_a_108_megapixel_photo_is_read_and_a_huge_png_refused(
        app: App, fake: FakeDingTalk) -> None:
    code = await new_case(app)
    photo = big_photo(await code_qr(app, code), (12000, 9000))
    assert 12000 * 9000 > (Image.MAX_IMAGE_PIXELS or 0) and len(photo) < 4 * 1024 * 1024
    fake.send_picture(photo, staff_id=PROSECUTOR[1])
    [shown] = await eventually(lambda: fake.sent, what="the answer to the photo")
    assert f"案件码 {code}" in shown.text
    fake.sent.clear()
    buf = io.BytesIO()
    Image.new("1", (12000, 9000), 1).save(buf, format="PNG")  # decoded at full size: refused
    with pytest.warns(Image.DecompressionBombWarning):
        fake.send_picture(buf.getvalue(), staff_id=PROSECUTOR[1])
        [reply] = await eventually(lambda: fake.sent, what="the answer to the huge PNG")
    assert reply.text == PICTURE_FAILED


async def test_a_download_that_fails_for_a_moment_is_retried(
        app: App, fake: FakeDingTalk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5xx or a timeout of messageFiles/download or of the file itself: asked again (twice)
    before the sender is told the picture could not be read; a refusal is not retried."""
    monkeypatch.setattr(inbound, "PICTURE_RETRY_DELAYS", (0.05, 0.1))
    fake.fault_delay = 0.1
    code = await new_case(app)
    qr = await code_qr(app, code)
    # messageFiles/download fails, then the file's URL
    for faults in (["500", "timeout"], ["pass", "500", "pass", "timeout"]):
        fake.faults.extend(faults)
        fake.send_picture(qr, staff_id=PROSECUTOR[1])
        [shown] = await eventually(lambda: fake.sent, what=f"the answer after {faults}")
        assert f"案件码 {code}" in shown.text and not fake.faults
        fake.sent.clear()
    fake.downloads.clear()
    fake.faults.extend(["500"] * 3)
    fake.send_picture(qr, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer after three failures")
    assert reply.text == PICTURE_FAILED and len(fake.downloads) == 0
    fake.sent.clear()
    fake.faults.append("400")
    fake.send_picture(qr, staff_id=PROSECUTOR[1])
    [reply] = await eventually(lambda: fake.sent, what="the answer to a refused download")
    assert reply.text == PICTURE_FAILED and fake.requests.count(
        "/v1.0/robot/messageFiles/download") == 3 + 3 + 3 + 1


async def test_a_qr_of_another_sites_link_with_a_code_in_it_is_no_case_code(
        app: App, fake: FakeDingTalk) -> None:
    code = await new_case(app)
    for text in (f"https://evil.example/x?c={code}", f"见 {code} 详情",
                 "https://example.invalid/c/abcdefghijk.xyz"):
        fake.send_picture(qr_png(text), staff_id=PROSECUTOR[1])
        [reply] = await eventually(lambda: fake.sent, what=f"the answer to {text}")
        assert reply.text == NO_CODE_IN_PICTURE, text
        fake.sent.clear()
    fake.send_message(f"码 {code}", staff_id=PROSECUTOR[1])
    [typed] = await eventually(lambda: fake.sent, what="the typed 码 answer")
    fake.sent.clear()
    for text in (f" {code.lower()}\n", code.replace("-", "－")):  # the code alone, as typed
        fake.send_picture(qr_png(text), staff_id=PROSECUTOR[1])
        [shown] = await eventually(lambda: fake.sent, what=f"the answer to {text!r}")
        assert without_links(shown.text) == without_links(typed.text)
        fake.sent.clear()
