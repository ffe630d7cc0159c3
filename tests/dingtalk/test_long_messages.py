"""Replies too long for one DingTalk message: text and lists go as several messages in order,
each within the limits (cards/dingtalk.py), nothing lost; a card with buttons is cut, with a
note, and keeps its buttons. The fake DingTalk refuses what DingTalk would (fake.py)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from bot.context import Context
from bot.dispatcher import Router
from bot.events import MessageEvent
from cards import dingtalk as render
from cards.model import Button, Card
from storage import messages as msgs
from storage.models import OutboxItem
from tests.dingtalk.conftest import GROUP_CID, PROSECUTOR, AppFactory, eventually
from tests.dingtalk.fake import BODY_MAX_BYTES, FakeDingTalk, Sent, opened

TEMPLATE = "tpl-casebot.schema"
LINK = "https://example.invalid/detail"
ZWJ = "👩\u200d⚖\ufe0f"  # one emoji of three code points: never cut apart


def long_text(lines: int = 600) -> str:
    """About 36000 characters: case lines with markdown links, and one line of 4000+ alone."""
    rows = [f"🔴 HY-2026-{i:04d} 张某某涉嫌盗窃案 红码 60分 [查看](https://example.invalid/c/{i})"
            for i in range(lines)]
    rows.insert(lines // 2, "长" * 4000 + f"[链接]({LINK}) " + ZWJ * 40 + "尾")
    return "\n".join(rows)


long_router = Router("dingtalk-long")


@long_router.command("长文", summary="测试：很长的文字")
async def _long_text(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(long_text())


@long_router.command("长单", summary="测试：很长的列表卡片（无按钮）")
async def _long_list(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="我的案件（600件）", body=long_text()))


@long_router.command("中单", summary="测试：卡片放不下、一条消息放得下的列表，随后更新")
async def _mid_list(event: MessageEvent, ctx: Context) -> None:
    body = "\n".join(f"第{i:03d}行 案件码 HY-2026-{i:04d} 黄码 80分" for i in range(80))
    await ctx.reply(card=Card(title="清单", body=body))


@long_router.command("改单", summary="测试：更新最近的清单")
async def _edit_list(event: MessageEvent, ctx: Context) -> None:
    rows = await msgs.list_messages(ctx.session, ctx.event.chat, latest=True, limit=20)
    listed = next(m for m in reversed(rows) if m.card and "清单" in m.card)
    await ctx.update_card(listed, Card(title="清单", body="已办结"))


@long_router.command("长卡", summary="测试：很长的带按钮卡片")
async def _long_card(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="长卡", body=long_text(), color="red", actions=(
        Button("test.press", "确认"), Button("test.link", "查看详情", url=LINK))))


def shown(s: Sent) -> str:
    """The text or markdown a person reads in one message."""
    if s.kind == "webhook":
        return str(s.body.get("text", {}).get("content") or s.body["markdown"]["text"])
    param = json.loads(s.body["msgParam"])
    return str(param.get("content") or param["text"])


def unmarked(parts: list[str]) -> list[str]:
    """The parts without their marks, checking the marks count 1/n … n/n in order."""
    n = len(parts)
    out = []
    for i, p in enumerate(parts, 1):
        mark = f"（1/{n}）" if i == 1 else f"（续{i}/{n}）"
        assert mark in p, (i, p[:40], p[-40:])
        out.append(p.replace(mark, "", 1))
    return out


def assert_whole(parts: list[str], original: str) -> None:
    """Nothing lost, nothing doubled, no link or emoji cut apart, each part within limits."""
    for p in parts:
        assert render.fits(p), (len(p), len(p.encode()))
        assert not p.startswith(("\u200d", "\ufe0f")) and not p.endswith("\u200d")
    text = unmarked(parts)
    squash = re.compile(r"\s")
    assert squash.sub("", "".join(text)) == squash.sub("", original)
    for link in re.findall(r"\[[^\]]*\]\([^)]*\)", original):
        assert any(link in p for p in text), link


# -- the splitting itself -------------------------------------------------------------------------

def test_split_keeps_lines_links_and_characters_whole() -> None:
    text = long_text()
    parts = render.split_text(text)
    assert len(parts) > 10
    assert_whole([m[1]["content"] for m in render.text_messages(text)], text)
    # cut at line ends: every part but the one holding the 4000-character line is whole lines
    lines = set(text.split("\n"))
    assert sum(1 for p in parts if not set(p.split("\n")) <= lines) <= 2


ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # a tag sequence


@pytest.mark.parametrize("emoji", ["🇨🇳", "👍🏽", "1️⃣", ENGLAND])
@pytest.mark.parametrize("lead", ["", "a", "ab"])
def test_an_emoji_of_several_code_points_is_not_cut_apart(lead: str, emoji: str) -> None:
    """A flag (two regional indicators), a skin tone, a keycap, a tag sequence: a line of them
    too long for one message is cut between emoji, wherever the cut falls."""
    text = lead + emoji * 2000
    parts = [m[1]["content"] for m in render.text_messages(text)]
    assert len(parts) > 1
    for p in unmarked(parts):
        body = p.strip().removeprefix(lead)
        assert body and body == emoji * (len(body) // len(emoji)), (body[:4], body[-4:])


def test_a_link_is_not_cut_and_bytes_count_too() -> None:
    line = "甲" * 95 + "[查看详情](https://example.invalid/x)" + "乙" * 50
    parts = render.split_text(line, max_chars=100, max_bytes=10_000)
    assert parts[0] == "甲" * 95 and parts[1].startswith("[查看详情](https://example.invalid/x)")
    emoji = "😀" * 100  # four bytes each
    parts = render.split_text(emoji, max_chars=1000, max_bytes=40)
    assert all(len(p.encode()) <= 40 for p in parts) and "".join(parts) == emoji


def test_short_messages_are_left_alone() -> None:
    assert render.text_messages("你好") == [("sampleText", {"content": "你好"})]
    card = Card(title="通知", body="内容", actions=(Button("a", "A"),))
    assert render.fit_card(card) is card


def test_a_long_card_is_cut_with_a_note_and_keeps_its_buttons() -> None:
    card = Card(title="长卡", body=long_text(), actions=(
        Button("test.press", "确认"), Button("test.link", "查看详情", url=LINK)))
    fitted = render.fit_card(card)
    assert fitted.actions == card.actions and render.card_fits(fitted)
    assert fitted.body.endswith("……（内容过长，未全部显示，请点「查看详情」查看）")
    assert card.body.startswith(fitted.body.rsplit("\n", 1)[0])
    params = render.card_param_map(card)
    assert params["body"] == fitted.body and len(params["markdown"]) < render.MESSAGE_MAX_CHARS
    no_link = render.fit_card(Card(title="t", body=long_text(), actions=(Button("a", "A"),)))
    assert no_link.body.endswith("……（内容过长，未全部显示）")


# -- over the fake DingTalk ------------------------------------------------------------------------

async def test_a_long_reply_arrives_in_order_in_parts_within_the_limits(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app()
    app.dispatcher.include(long_router)
    n = len(render.text_messages(long_text()))
    fake.send_message("长文", staff_id=PROSECUTOR[1], msg_id="m-long")
    await eventually(lambda: len(fake.sent) >= n, what=f"{n} parts")
    assert fake.refused == [] and len(fake.sent) == n
    assert all(s.kind == "webhook" and s.target == "m-long" for s in fake.sent)
    assert all(len(json.dumps(s.body, ensure_ascii=False).encode()) < BODY_MAX_BYTES
               for s in fake.sent)
    assert_whole([shown(s) for s in fake.sent], long_text())


async def test_a_failure_mid_way_resumes_with_the_next_part(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    """Through the OpenAPI into a group; the third part fails once: it is retried, the first
    two are not sent again."""
    app = await make_app()
    app.dispatcher.include(long_router)
    n = len(render.text_messages(long_text()))
    fake.faults.extend(["pass", "pass", "500"])
    fake.send_message("长文", staff_id=PROSECUTOR[1], group=GROUP_CID, webhook=False)
    await eventually(lambda: len(fake.sent) >= n, what=f"{n} parts")
    assert all(s.kind == "group" and s.target == GROUP_CID for s in fake.sent)
    texts = [shown(s) for s in fake.sent]
    # the sender is named once, in the first part (the part retried does not name them again)
    assert texts[0].startswith("@余斌梅 ") and not any("@余斌梅" in t for t in texts[1:])
    texts[0] = texts[0].removeprefix("@余斌梅 ")
    assert_whole(texts, long_text())

    async def row() -> OutboxItem | None:
        async with app.services.db() as session:
            [item] = (await session.execute(select(OutboxItem))).scalars().all()
        return item if item.status == "sent" else None

    item = await eventually(row, what="the row marked sent")
    assert item.attempts == 2 and len(fake.sent) == n


@pytest.mark.parametrize("template", [None, TEMPLATE])
async def test_a_long_list_card_is_split_into_markdown_messages(
        make_app: AppFactory, fake: FakeDingTalk, template: str | None) -> None:
    app = await make_app(card_template_id=template)
    app.dispatcher.include(long_router)
    _, md = render.markdown(Card(title="我的案件（600件）", body=long_text()))
    n = len(render.markdown_messages("我的案件（600件）", md))
    fake.send_message("长单", staff_id=PROSECUTOR[1], webhook=False)
    await eventually(lambda: len(fake.sent) >= n, what=f"{n} parts")
    assert fake.refused == [] and len(fake.sent) == n
    params = [json.loads(s.body["msgParam"]) for s in fake.sent]
    assert {s.body["msgKey"] for s in fake.sent} == {"sampleMarkdown"}
    assert [p["title"] for p in params[:2]] == ["我的案件（600件）", f"我的案件（600件）（续2/{n}）"]
    assert params[0]["text"].startswith("### 我的案件（600件）")
    assert_whole([p["text"] for p in params], md)


@pytest.mark.parametrize("template", [None, TEMPLATE])
async def test_a_long_card_with_buttons_is_cut_and_keeps_them(
        make_app: AppFactory, fake: FakeDingTalk, template: str | None) -> None:
    app = await make_app(card_template_id=template)
    app.dispatcher.include(long_router)
    fake.send_message("长卡", staff_id=PROSECUTOR[1])
    [sent] = await eventually(lambda: fake.sent, what="the card")
    assert fake.refused == []
    if template:
        params = fake.cards[sent.body["outTrackId"]]
        body = params["body"]
        assert [a["label"] for a in json.loads(params["actions"])] == ["确认", "查看详情"]
    else:
        param = json.loads(sent.body["msgParam"])
        body = param["text"]
        assert sent.body["msgKey"] == "sampleActionCard2"
        assert (param["actionTitle2"], opened(param["actionURL2"])) == ("查看详情", LINK)
    assert "……（内容过长，未全部显示，请点「查看详情」查看）" in body
    assert len(body) < render.MESSAGE_MAX_CHARS


async def test_a_list_sent_as_markdown_under_a_template_can_still_be_updated(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app(card_template_id=TEMPLATE)
    app.dispatcher.include(long_router)
    fake.send_message("中单", staff_id=PROSECUTOR[1], webhook=False)
    await eventually(lambda: fake.sent, what="the list")
    fake.send_message("改单", staff_id=PROSECUTOR[1], webhook=False)
    sent = await eventually(lambda: len(fake.sent) >= 2 and fake.sent, what="the update")
    assert [s.body["msgKey"] for s in sent] == ["sampleMarkdown", "sampleMarkdown"]
    assert json.loads(sent[1].body["msgParam"])["title"] == "清单（已更新）"
    assert "已办结" in shown(sent[1]) and fake.refused == []
