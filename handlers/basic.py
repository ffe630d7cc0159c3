"""帮助 / 我是谁: what the sender may do and who the bot thinks they are; a greeting or a thank
you is answered in kind (with where to start), not as an unknown command."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import Router, dispatcher_of, may_use, role_names
from bot.domain.helptext import Entry, full_help, short_help, wants_all
from bot.events import MessageEvent

router = Router("basic")


@router.command("帮助", "help", "菜单", "怎么用", "使用说明", summary="列出您可以使用的命令",
                usage="帮助 [全部]", readonly=True)
async def help_(event: MessageEvent, ctx: Context) -> None:
    """The few commands of the person's own work, each as an example to copy (a phone shows
    it on one screen); 「帮助 全部」 every command they may use."""
    await ctx.reply(help_text(ctx, full=wants_all(ctx.args)))


def help_text(ctx: Context, full: bool = False, greet: bool = False) -> str:
    u = ctx.user
    entries = [Entry(c.names, c.usage, c.summary, c.roles)
               for c in dispatcher_of(ctx.services).commands() if may_use(u, c)]
    if full:
        return "\n".join([f"{u.name}（{role_names(u.roles)}）可以使用的全部命令：",
                          *full_help(entries, u.roles)])
    head = (f"您好，{u.name}（{role_names(u.roles)}）。您可以使用：" if greet
            else f"{u.name}（{role_names(u.roles)}）可以使用：")
    return "\n".join([head, *short_help(entries, u.roles),
                      "更多命令请发送「帮助 全部」。"])


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
    """A first message is often a greeting: the answer is the person's help, so they can
    start at once."""
    if event.is_direct or event.mentioned:  # not colleagues greeting each other in a group
        await ctx.reply(help_text(ctx, greet=True))


@router.pattern(r"^[?？]+$", readonly=True)
async def question_mark(event: MessageEvent, ctx: Context) -> None:
    """「?」 alone: someone asking how this works."""
    if event.is_direct or event.mentioned:
        await ctx.reply(help_text(ctx))


@router.pattern(rf"(?i)^(?:谢谢(?:你|您)?|感谢|多谢|谢啦|thanks|thank you){_END}", readonly=True)
async def thanks(event: MessageEvent, ctx: Context) -> None:
    if event.is_direct or event.mentioned:
        await ctx.reply("不客气。需要时发送「帮助」查看可用命令。")
