"""The roster in chat, for admins (管理员): 人员 / 单位 / 群 look people, units and chats up;
名册 links to the admin page (/admin/roster), where the roster is imported. The answers name
people's platform ids and units: in a group they go to the admin privately."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.context import Context
from bot.directory import Directory, parent_line
from bot.dispatcher import ANY_TEXT, Router, role_names
from bot.events import MessageEvent
from bot.roster import KIND_LABELS
from cards.model import Button, Card
from config.model import Chat, Person, Unit

router = Router("admin")
ADMIN = ("admin",)
LIMIT = 10  # people, units or chats listed at most per answer
PLATFORMS = {"dingtalk": "钉钉", "wecom": "企业微信"}


async def _answer(ctx: Context, text: str | None = None, card: Card | None = None) -> None:
    """In the admin's 1:1 chat as is; from a group, privately with a note in the group."""
    if ctx.event.chat == f"dm:{ctx.user.id}":
        await ctx.reply(text, card=card)
        return
    await ctx.send_dm(ctx.user.id, text=text, card=card)
    await ctx.reply("名册信息只发给管理员本人，已私信发给您。")


def _ids(ids: Mapping[Any, str]) -> str:
    return "；".join(f"{PLATFORMS.get(k, k)} {v}" for k, v in sorted(ids.items())) or "未绑定"


def person_lines(d: Directory, p: Person) -> list[str]:
    chats = "、".join(c.title for c in d.chats_of(p.id)) or "无"
    return [f"{p.name}（{p.id}）", f"  单位：{d.unit_path(p.unit)}",
            f"  角色：{role_names(p.roles)}", f"  平台账号：{_ids(p.ids)}", f"  所在群：{chats}"]


def _short(d: Directory, p: Person) -> str:
    unit = d.unit(p.unit)
    return f"{p.name}（{p.id}）{unit.name if unit else p.unit} · {role_names(p.roles)}"


def _more(total: int, what: str) -> list[str]:
    return [f"……共 {total} {what}，仅显示前 {LIMIT} 个，请输入更完整的名称或编号。"] \
        if total > LIMIT else []


def unit_lines(d: Directory, u: Unit) -> list[str]:
    chief = d.chief_of(u.id)
    kind = KIND_LABELS.get(u.kind, u.kind)
    lines = [f"{u.name}（{u.id}）", f"  {parent_line(d, u)}",
             f"  类型：{kind}" + (f" · 案件码前缀 {u.code_prefix}" if u.code_prefix else "")]
    if u.kind != "police":
        lines.append(f"  检察长：{f'{chief.name}（{chief.id}）' if chief else '未设置'}")
    children = d.children(u.id)
    if children:
        names = "、".join(f"{c.name}（{c.id}）" for c in children[:LIMIT])
        extra = f" 等 {len(children)} 个" if len(children) > LIMIT else ""
        lines.append(f"  下级及对口单位：{names}{extra}")
    people = d.people_of(u.id)
    lines.append(f"  人员（{len(people)}）：" + ("" if people else "无"))
    lines += [f"  · {p.name}（{p.id}）{role_names(p.roles)}" for p in people[:LIMIT * 3]]
    if len(people) > LIMIT * 3:
        lines.append(f"  · ……另有 {len(people) - LIMIT * 3} 人，请在名册管理页查看")
    return lines


def chat_lines(d: Directory, c: Chat) -> list[str]:
    lines = [f"{c.title}（{c.id}）", f"  平台群：{_ids(c.ids)}", f"  成员（{len(c.members)}）："]
    for pid in c.members:
        p = d.person(pid)
        lines.append(f"  · {_short(d, p) if p else pid}")
    return lines


@router.command("人员", summary="查找人员：单位、角色、平台账号、所在群", usage="人员 姓名或编号",
                roles=ADMIN, readonly=True, glued_words=ANY_TEXT)  # 人员余斌梅
async def person_cmd(event: MessageEvent, ctx: Context) -> None:
    if not ctx.args:
        await ctx.reply("用法：人员 姓名或编号，例如「人员 p-prosecutor-1」或「人员 邓建」。")
        return
    d = ctx.directory
    found = d.find_people(ctx.args)
    if not found:
        await _answer(ctx, f"未找到姓名或编号包含「{ctx.args[:30]}」的人员。")
        return
    lines = [f"找到 {len(found)} 人：" if len(found) > 1 else "人员信息："]
    for p in found[:LIMIT]:
        lines += person_lines(d, p)
    await _answer(ctx, "\n".join(lines + _more(len(found), "人")))


@router.command("单位", summary="查看单位：上级、检察长和人员", usage="单位 名称或编号",
                roles=ADMIN, readonly=True, glued_words=ANY_TEXT)  # 单位海澄县
async def unit_cmd(event: MessageEvent, ctx: Context) -> None:
    if not ctx.args:
        await ctx.reply("用法：单位 名称或编号，例如「单位 c01-01」或「单位 海澄」。")
        return
    d = ctx.directory
    found = d.find_units(ctx.args)
    if not found:
        await _answer(ctx, f"未找到名称或编号包含「{ctx.args[:30]}」的单位。")
    elif len(found) == 1:
        await _answer(ctx, "\n".join(unit_lines(d, found[0])))
    else:
        lines = [f"找到 {len(found)} 个单位，请输入完整名称或编号："]
        lines += [f"· {u.name}（{u.id}）" for u in found[:LIMIT]]
        await _answer(ctx, "\n".join(lines + _more(len(found), "个单位")))


@router.command("群", summary="查看群聊成员", usage="群 群名或编号", roles=ADMIN, readonly=True)
async def chat_cmd(event: MessageEvent, ctx: Context) -> None:
    d = ctx.directory
    if not ctx.args:
        known = "、".join(f"{c.title}（{c.id}）" for c in d.org.chats) or "无"
        await ctx.reply(f"用法：群 群名或编号。名册中的群：{known}")
        return
    found = d.find_chats(ctx.args)
    if not found:
        await _answer(ctx, f"未找到名称或编号包含「{ctx.args[:30]}」的群。")
        return
    lines: list[str] = []
    for c in found[:LIMIT]:
        lines += chat_lines(d, c)
    await _answer(ctx, "\n".join(lines + _more(len(found), "个群")))


@router.command("名册", summary="名册概况和名册管理页（查看、导入）", roles=ADMIN, readonly=True)
async def roster_cmd(event: MessageEvent, ctx: Context) -> None:
    d = ctx.directory
    by_kind: dict[str, int] = {}
    for u in d.org.units:
        by_kind[u.kind] = by_kind.get(u.kind, 0) + 1
    kinds = "、".join(f"{KIND_LABELS[k]} {n}" for k, n in by_kind.items())
    base = ctx.config.web.base_url
    body = (f"单位 {len(d.org.units)} 个（{kinds}）\n人员 {len(d.org.people)} 人 · 群 "
            f"{len(d.org.chats)} 个\n名册版本：{d.org.version_hash()[:12]}")
    await _answer(ctx, card=Card(title="名册", body=body, actions=(
        Button(id="admin.roster", label="打开名册管理", url=f"{base}/admin/roster"),)))
