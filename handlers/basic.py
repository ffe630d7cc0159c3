"""帮助 / 我是谁: what the sender may do and who the bot thinks they are."""

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
