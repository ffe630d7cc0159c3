"""帮助 / 我是谁: what the sender may do and who the bot thinks they are; a greeting or a thank
you is answered in kind (with where to start), not as an unknown command."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import Router, dispatcher_of, may_use, role_names
from bot.events import MessageEvent

router = Router("basic")


@router.command("帮助", "help", summary="列出您可以使用的命令", readonly=True)
async def help_(event: MessageEvent, ctx: Context) -> None:
    lines = [f"{ctx.user.name}（{role_names(ctx.user.roles)}）可以使用："]
    for cmd in dispatcher_of(ctx.services).commands():
        if may_use(ctx.user, cmd):
            alias = f"（或 {' / '.join(cmd.names[1:])}）" if len(cmd.names) > 1 else ""
            lines.append(f"· {cmd.usage}{alias} —— {cmd.summary}")
    await ctx.reply("\n".join(lines))


@router.command("我是谁", "whoami", summary="查看您的单位和角色", readonly=True)
async def whoami(event: MessageEvent, ctx: Context) -> None:
    u = ctx.user
    await ctx.reply(
        f"您是 {u.name}（{u.id}）\n单位：{ctx.directory.unit_path(u.unit)}\n"
        f"角色：{role_names(u.roles)}"
    )


_END = r"[\s!！。.~～?？]*$"  # 你好！ 谢谢~


@router.pattern(rf"(?i)^(?:你好|您好|hi|hello|哈喽|在吗|在不在){_END}", readonly=True)
async def greeting(event: MessageEvent, ctx: Context) -> None:
    if event.is_direct or event.mentioned:  # not colleagues greeting each other in a group
        await ctx.reply(f"您好，{ctx.user.name}。查看案件码请发送「码 案件码」（如：码 HY-2026-0001），"
                        "发送「帮助」查看您可以使用的全部命令。")


@router.pattern(rf"(?i)^(?:谢谢(?:你|您)?|感谢|多谢|谢啦|thanks|thank you){_END}", readonly=True)
async def thanks(event: MessageEvent, ctx: Context) -> None:
    if event.is_direct or event.mentioned:
        await ctx.reply("不客气。需要时发送「帮助」查看可用命令。")
