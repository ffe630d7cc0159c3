"""整改完成 in chat: the item's 责任人 or the unit's chief reports a rectification item done
(`整改完成 <事项号> <说明>`, or 报告整改完成 on the item card and its overdue reminders); the
session's inspector may send it back (退回重新整改 on the report card, or `退回整改 <事项号> <理由>`
in chat, as the host does at the meeting's 整改汇报). See bot/rectification.py."""

from __future__ import annotations

import re

from bot.context import Context
from bot.dispatcher import Router
from bot.domain.inspection import DONE_USAGE, SEND_BACK_USAGE, parse_item_ref
from bot.events import CardActionEvent, MessageEvent
from bot.rectification import Answer, report_done, send_back

router = Router("rectification")


async def _answer(ctx: Context, answer: Answer) -> None:
    if answer.done:
        ctx.action_done()
    ctx.forbidden = answer.forbidden
    await ctx.reply(answer.text)


# the item number, then what separates it from the free text: blanks, or the comma or colon a
# phone keyboard puts there (整改完成 #12，已建立台账。), or nothing after a number as cards show
# it (整改完成 #12已建立台账, 整改事项 #12 …)
_REF = re.compile(r"\s*((?:整改事项)?\s*[#＃]?\s*[0-9０-９]+(?![0-9０-９])|[^\s，,：:；;]*)"
                  r"[\s，,：:；;]*")


def _ref_and_text(args: str) -> tuple[str, str]:
    """(the item number as typed, the free text after it exactly as typed, blanks trimmed)."""
    m = _REF.match(args)
    assert m is not None  # every part of it may be empty
    return m.group(1), args[m.end():].rstrip()


@router.command("整改完成", summary="整改事项责任人或单位检察长报告整改完成（需写明说明）",
                usage=DONE_USAGE, free_text=1)
async def report_command(event: MessageEvent, ctx: Context) -> None:
    ref, note = _ref_and_text(ctx.args)
    item = parse_item_ref(ref)
    if item is None:
        await ctx.reply(f"用法：{DONE_USAGE}（事项号见整改事项卡片，如 #12）")
        return
    await _answer(ctx, await report_done(ctx, ctx.user, item, note))


@router.command("退回整改", summary="检务督察将已报告整改完成的事项退回重新整改（需写明理由）",
                usage=SEND_BACK_USAGE, roles=("inspector",), free_text=1)
async def send_back_command(event: MessageEvent, ctx: Context) -> None:
    ref, reason = _ref_and_text(ctx.args)
    item = parse_item_ref(ref)
    if item is None:
        await ctx.reply(f"用法：{SEND_BACK_USAGE}（事项号见整改完成报告卡片，如 #12）")
        return
    await _answer(ctx, await send_back(ctx, ctx.user, item, None, reason))


def _item(ctx: Context) -> int | None:
    assert ctx.button is not None
    found = ctx.button.data.get("item", "")
    return int(found) if found.isdecimal() else None


@router.action("rectification.report")
async def report_button(event: CardActionEvent, ctx: Context) -> None:
    item = _item(ctx)
    if item is None:
        await ctx.reply("找不到该整改事项。")
        return
    await _answer(ctx, await report_done(ctx, ctx.user, item, event.form.get("note", "")))


@router.action("rectification.send_back", roles=("inspector",))
async def send_back_button(event: CardActionEvent, ctx: Context) -> None:
    item = _item(ctx)
    assert ctx.button is not None and ctx.card_message is not None
    if item is None:
        await ctx.reply("找不到该整改事项。")
        return
    await _answer(ctx, await send_back(ctx, ctx.user, item, ctx.button.data.get("at", ""),
                                       event.form.get("reason", ""), ctx.card_message.id))
