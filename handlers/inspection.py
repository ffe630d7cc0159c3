"""检务督导面对面: sessions, the verifiable draw and the staged Q&A in the group chat.

The host (an inspector) drives: 督导 新建 → 开始 → 抽签 <随机数> → 下一题 … → 点评 → 公布答案 →
… → 专项问询 → 整改汇报 → 结束, then 整改 / 实地督察 for the follow-up. Every stage change is
audited and pushed to the big screen after the transaction commits. Question texts leave the
server only in the reveal card (下一题) and the answer card (公布答案); the bank itself is only
for inspectors, in a 1:1 chat or the bank page, and every read is audited."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timedelta, tzinfo
from functools import partial
from typing import Any

from bot.context import Context, Outbound
from bot.directory import Directory
from bot.dispatcher import Router
from bot.domain.draw import run_draw
from bot.domain.inspection import (
    CREATE_USAGE,
    RECTIFY_USAGE,
    REPORT_USAGE,
    SITE_USAGE,
    STAGE_LABELS,
    check_entropy,
    entropy_format_text,
    entropy_public_at,
    looks_like_due,
    normalize_session_id,
    parse_create,
    read_due,
)
from bot.domain.question_bank import CATEGORIES, category_of
from bot.domain.workcal import day_text
from bot.events import MessageEvent
from bot.inspection import (
    base_url,
    commitment_card,
    create_session,
    latest_reports,
    live_url,
    manifest_of,
    notify,
    params_of,
    resolve_unit,
    special_asked_before,
    unit_views,
)
from bot.rectification import show_report_outcome
from bot.reminders import replan_rectifications
from cards import inspection as cards
from cards.inspection import RevealedQuestion
from cards.model import Card
from cards.reminders import local
from config.model import Person, Unit
from storage import inspection as store
from storage.inspection import Ask, InspectionSession, Note

router = Router("inspection")
INSPECTOR = ("inspector",)
REPORT_STATUSES = ("已整改", "整改中", "未整改")
SITE_TASK_DEFAULT = "实地督察：听取汇报、座谈交流、查阅资料、翻阅案卷、个别谈话，核对“说的”和“做的”是否一致"


# -- helpers for the stage commands ---------------------------------------------------------------

async def _session(ctx: Context) -> InspectionSession | None:
    """The open session of this group; otherwise say why not (none yet, or already ended)."""
    if ctx.event.chat.startswith("dm:"):
        await ctx.reply("请在督导会议所在的群内使用该命令。")
        return None
    s = await store.latest_in_chat(ctx.session, ctx.event.chat, open_only=True)
    if s is not None:
        return s
    last = await store.latest_in_chat(ctx.session, ctx.event.chat)
    if last is None:
        await ctx.reply("本群没有进行中的督导会议。请先发送「督导 新建 标题」创建。")
    else:
        # the follow-up commands are the inspectors'; a chief's late 点评 or a leader's
        # 公布答案 is told only that the meeting ended
        follow = CLOSED_NEXT if ctx.user.has("inspector") else ""
        await ctx.reply(f"本群的督导会议 {last.id}「{last.title}」已结束。{follow}")
    return None


CLOSED_NEXT = (f"会后跟进请发送「{RECTIFY_USAGE}」或「{SITE_USAGE}」；"
               "新会议请发送「督导 新建 标题」。")


def where(d: Directory, s: InspectionSession, asks: list[Ask]) -> str:
    """Where the session stands and what the host sends next: every stage command's refusal ends
    with this, so the advice is the same whichever command was mistyped. Of a closed session,
    only the follow-up: whoever names it has already said it ended (督导 状态: 已结束。)."""
    state, advice = where_parts(d, s, asks)
    return state + advice


def where_parts(d: Directory, s: InspectionSession, asks: list[Ask]) -> tuple[str, str]:
    """``where`` in two: where the session stands, and what the host sends next (said only to
    whoever drives the meeting: a city chief's early 点评 is not told to send 下一题)."""
    if s.stage == "created":
        return "会议已创建，尚未开场、尚未抽签。", "请先发送「开始」发布议程，再「抽签 <公开随机数>」。"
    if s.stage == "agenda":
        return "已开场，尚未抽签。", "请发送「抽签 <公开随机数>」。"
    if s.stage == "rectification":
        return "问询已结束，正在整改汇报。", f"记录：「{REPORT_USAGE}」；汇报完毕请发送「结束」。"
    if s.stage == "closed":
        return "", CLOSED_NEXT
    groups = _by_position(asks)
    names = {v.pos: v.name for v in unit_views(d, asks)}
    if s.stage == "drawn":
        return "已抽签，尚未问询。", f"请发送「下一题」问询第 1 个单位（{names.get(0, '')}）。"
    group = groups.get(s.current, [])
    unit = names.get(s.current, "当前单位")
    if s.stage == "inquiry":
        asked = sum(1 for a in group if a.revealed_at is not None)
        if asked < len(group):
            return f"正在问询{unit}（已出 {asked}/{len(group)} 题）。", "请发送「下一题」出下一道题。"
        return f"{unit}的 {len(group)} 道题已全部问完。", "请发送「点评」（或直接「公布答案」）。"
    if s.stage == "comment":
        return f"正在点评{unit}。", "点评后请发送「公布答案」。"
    nxt = groups.get(s.current + 1)  # stage "answer": the current unit is done
    if nxt is None:
        return f"{unit}的答案已公布，问询全部完成。", "请发送「整改汇报」（或「结束」）。"
    if nxt[0].kind == "special":
        first = "抽中单位已全部问询完毕" if group and group[0].kind == "draw" else "本单位专项问询已完成"
        return f"{unit}的答案已公布，{first}。", f"请发送「专项问询」（{names[s.current + 1]}）。"
    return f"{unit}的答案已公布。", f"请发送「下一题」问询下一个单位（{names[s.current + 1]}）。"


async def _refuse(ctx: Context, s: InspectionSession, prefix: str,
                  asks: list[Ask] | None = None) -> None:
    """`prefix`, then where the session stands and what to send next."""
    if asks is None:
        asks = await store.asks_of(ctx.session, s.id)
    await ctx.reply(f"{prefix}{where(ctx.directory, s, asks)}")


async def _stage(ctx: Context, s: InspectionSession, stage: str, **data: Any) -> None:
    before = s.stage
    s.stage = stage
    s.updated_at = ctx.now()
    await ctx.audit(ctx.user.id, "inspection.stage", s.id, {"from": before, "to": stage, **data})
    notify(ctx, s.id)


def _by_position(asks: list[Ask]) -> dict[int, list[Ask]]:
    out: dict[int, list[Ask]] = {}
    for a in asks:
        out.setdefault(a.position, []).append(a)
    return out


async def _reveal(ctx: Context, s: InspectionSession, asks: list[Ask], pos: int) -> None:
    group = _by_position(asks)[pos]
    ask = next(a for a in group if a.revealed_at is None)
    q = (await store.questions_by_id(ctx.session, [ask.question_id]))[ask.question_id]
    now = ctx.now()
    ask.revealed_at = now
    ask.keep_as_asked(q)  # the session's record keeps it as asked, whatever the bank becomes
    s.current = pos
    s.timer_started_at = now
    p = params_of(s)
    views = unit_views(ctx.directory, asks)
    unit = next(v for v in views if v.pos == pos)
    ends = (now + timedelta(seconds=p.answer_seconds)).astimezone(ctx.config.tz)
    await ctx.reply(card=cards.question_card(
        unit=unit, units_total=sum(1 for v in views if v.kind == "draw"),
        q=RevealedQuestion(q.id, q.category, q.text, tuple(q.points)), seq=ask.seq + 1,
        per_unit=len(group), answer_seconds=p.answer_seconds, ends_at_local=ends))
    await _stage(ctx, s, "inquiry", unit=unit.id, question=q.id, seq=ask.seq + 1)


# 下一题确认, 结束，确认: as phones type the confirmation, with no space or after a comma
CONFIRM_GLUED = ("确认", "确定", "，确认", "，确定", ",确认", ",确定")


def _confirmed(args: str) -> bool:
    return args.strip().lstrip("，,").strip() in ("确认", "确定")


def _too_soon(ctx: Context, s: InspectionSession, groups: dict[int, list[Ask]]) -> str | None:
    """Why a 下一题 right after a reveal is not taken: a double send, or two hosts at once,
    would otherwise show two confidential questions back to back."""
    if s.timer_started_at is None:
        return None
    since = ctx.now() - s.timer_started_at
    if since >= timedelta(seconds=ctx.config.inspection.reveal_guard_seconds):
        return None
    seq = sum(1 for a in groups[s.current] if a.revealed_at is not None)
    seconds = int(since.total_seconds())
    ago = f" {seconds} 秒前" if seconds >= 1 else ""  # not 「0 秒前刚刚」
    return (f"第 {seq} 题{ago}刚刚公布，未出新题（以免重复发送连出两题）。"
            "单位已作答完毕、确需立即出下一题，请发送「下一题 确认」。")


def _all_revealed(group: list[Ask]) -> bool:
    return all(a.revealed_at is not None for a in group)

async def _unit_fully_revealed(ctx: Context, refusal: str
                               ) -> tuple[InspectionSession, list[Ask], list[Ask]] | None:
    """The session, its asks and the current unit's asks, when every question of that unit has
    been revealed (the condition for 点评 and 公布答案); otherwise reply `refusal` and where the
    session stands."""
    s = await _session(ctx)
    if s is None:
        return None
    asks = await store.asks_of(ctx.session, s.id)
    group = _by_position(asks).get(s.current, [])
    if s.stage not in ("inquiry", "comment") or not group or not _all_revealed(group):
        if ctx.user.has("inspector"):
            await _refuse(ctx, s, refusal, asks)
        else:  # a city chief's 点评, a leader's 公布答案: the host's next command is not theirs
            state, _ = where_parts(ctx.directory, s, asks)
            await ctx.reply(f"{refusal}{state}议程由主持人推进，请稍候。")
        return None
    return s, asks, group


# -- 督导 -------------------------------------------------------------------------------------------

@router.command("督导", summary="督导会议：新建（参数见用法）、状态、列表", roles=INSPECTOR,
                usage="督导 新建 <标题> [单位数=3] [题数=3] … | 督导 状态 [会议号] | 督导 列表",
                glued_words=("新建", "状态", "列表"))
async def supervise(event: MessageEvent, ctx: Context) -> None:
    sub, _, rest = ctx.args.partition(" ")
    if sub == "新建":
        raw, errors = parse_create(rest)
        if errors:
            await ctx.reply("参数有误：\n" + "\n".join(f"· {e}" for e in errors) + f"\n用法：{CREATE_USAGE}")
            return
        chat = None if ctx.event.chat.startswith("dm:") else ctx.event.chat
        target = raw.values.get("chat") or chat  # 群=… names another group, from a 1:1 chat too
        if target and (busy := await store.latest_in_chat(ctx.session, target, open_only=True)):
            where_ = "本群" if target == chat else f"群「{ctx.directory.chat_title(target)}」"
            await ctx.reply(f"{where_}已有进行中的督导会议 {busy.id}「{busy.title}」，"
                            "请先在该群发送「结束」。")
            return
        s, errors = await create_session(ctx, ctx.user, raw, chat)
        if s is None:
            await ctx.reply("无法创建督导会议：\n" + "\n".join(f"· {e}" for e in errors))
            return
        note = await special_asked_before(ctx, s)  # accepted: asking one again may be meant
        if s.chat != ctx.event.chat:
            await ctx.reply(f"已创建督导会议 {s.id}，抽签承诺已发到群「{ctx.directory.chat_title(s.chat)}」。"
                            f"{note}")
        elif note:
            await ctx.reply(note)
        return
    if sub in ("列表", "list"):
        rows = await store.list_sessions(ctx.session, 20)
        lines = [f"· {r.id} {r.title}（{STAGE_LABELS.get(r.stage, r.stage)}，群 {r.chat}）" for r in rows]
        await ctx.reply("督导会议：\n" + "\n".join(lines) if lines else "还没有督导会议。")
        return
    if sub in ("", "状态", "status"):
        chat, named = ctx.event.chat, normalize_session_id(rest)
        if named:  # an earlier session's (its big-screen link expired), from any chat
            s = await store.get_session(ctx.session, named)
            if s is None:
                await ctx.reply(f"找不到督导会议「{named[:30]}」。发送「督导 列表」查看全部会议及其编号。")
                return
        else:
            s = None if chat.startswith("dm:") else await store.latest_in_chat(ctx.session, chat)
        if s is None:
            await ctx.reply(f"本会话没有督导会议。新建：{CREATE_USAGE}")
            return
        state = where(ctx.directory, s, await store.asks_of(ctx.session, s.id))
        # where() already names an open session's stage (已抽签，尚未问询…); of a closed one it
        # gives only the follow-up, so that one says 已结束 first
        ended = f"{STAGE_LABELS['closed']}。" if s.stage == "closed" else ""
        await ctx.reply(f"督导会议 {s.id}「{s.title}」：{ended}{state}\n大屏：{live_url(ctx, s.id)}")
        return
    await ctx.reply(f"未知的子命令「{sub}」。用法：{CREATE_USAGE}；督导 状态 [会议号]；督导 列表")


# -- stages ---------------------------------------------------------------------------------------

@router.command("开始", summary="督导会议开场：发布议程", roles=INSPECTOR)
async def start(event: MessageEvent, ctx: Context) -> None:
    s = await _session(ctx)
    if s is None:
        return
    if s.stage != "created":
        await _refuse(ctx, s, "会议已开始。")
        return
    p = params_of(s)
    d = ctx.directory
    await ctx.reply(card=cards.agenda_card(
        sid=s.id, title=s.title, unit_count=p.unit_count, questions_per_unit=p.questions_per_unit,
        special=[d.units[x.unit].name for x in p.special],
        reports=[d.units[u].name for u in p.rectification_units or ()],
        answer_seconds=p.answer_seconds, manifest_hash=s.manifest_hash,
        live_url=live_url(ctx, s.id), one_per_city=p.one_per_city))
    await _stage(ctx, s, "agenda")


@router.command("抽签", summary="输入公开随机数并抽签（抽取基层院和题目）", roles=INSPECTOR,
                usage="抽签 <公开随机数>")
async def draw(event: MessageEvent, ctx: Context) -> None:
    s = await _session(ctx)
    if s is None:
        return
    if s.stage == "created":
        await _refuse(ctx, s, "现在不能抽签：")
        return
    if s.stage != "agenda":
        await _refuse(ctx, s, f"本次会议已抽签，抽签结果不可重抽（复核：{base_url(ctx)}/draw/verify"
                              f"?session={s.id}）。当前：")
        return
    p = params_of(s)
    manifest = manifest_of(s)
    if not ctx.args:
        await ctx.reply(card=await commitment_card(ctx, s))
        fmt = entropy_format_text(p.entropy_count, p.entropy_width)
        await ctx.reply(f"请主持人输入公开随机数：抽签 <{fmt}>")
        return
    public_at = entropy_public_at(p.entropy_name, ctx.config.tz)
    if public_at is not None and ctx.now() < public_at:  # a number typed now was made up
        await ctx.reply(f"公开随机数尚未公布：{p.entropy_name.strip()}约于 {public_at:%Y-%m-%d %H:%M} "
                        "开奖，开奖后再发送「抽签 <开奖号码>」。抽签只能用承诺之后才公布的号码，"
                        "才能事后复核、事先无人可知。")
        return
    # 「５ ２ ８」 from a phone keyboard is the published 「5 2 8」: drawn, recorded and shown so
    entropy, problem = check_entropy(ctx.args, p.entropy_count, p.entropy_width)
    if problem:
        # the format was just spelt out: name the source without repeating it
        await ctx.reply(f"{problem}来源：{p.entropy_name.strip()}。")
        return
    result = run_draw(manifest, entropy, bytes.fromhex(s.secret_hex))
    s.result = json.dumps(result.to_dict(), ensure_ascii=False)
    s.drawn_at = ctx.now()
    drawn = [(uid, qids, "draw") for uid, qids in zip(result.units, result.questions, strict=True)]
    await store.add_asks(ctx.session, s.id,
                         drawn + [(sp.unit, sp.question_ids, "special") for sp in p.special])
    asks = await store.asks_of(ctx.session, s.id)
    await ctx.reply(card=cards.result_card(
        sid=s.id, title=s.title, units=unit_views(ctx.directory, asks),
        manifest_hash=result.manifest_hash, entropy=result.entropy, secret_hex=result.secret_hex,
        key_hex=result.key_hex, base_url=base_url(ctx)))
    await ctx.reply("抽签完成。主持人发送「下一题」开始问询第 1 个单位。")
    await _stage(ctx, s, "drawn", entropy=result.entropy, units=list(result.units),
                 manifest_hash=result.manifest_hash)


@router.command("下一题", summary="公布当前单位的下一道题（含作答计时）", roles=INSPECTOR,
                usage="下一题 [确认]", glued_words=CONFIRM_GLUED)
async def next_question(event: MessageEvent, ctx: Context) -> None:
    s = await _session(ctx)
    if s is None:
        return
    asks = await store.asks_of(ctx.session, s.id)
    groups = _by_position(asks)
    if s.stage == "drawn":
        await _reveal(ctx, s, asks, 0)
        return
    if s.stage == "inquiry" and not _all_revealed(groups[s.current]):
        if not _confirmed(ctx.args) and (why := _too_soon(ctx, s, groups)):
            await ctx.reply(why)
            return
        await _reveal(ctx, s, asks, s.current)
        return
    nxt = groups.get(s.current + 1)
    if s.stage == "answer" and nxt is not None and nxt[0].kind == "draw":
        await _reveal(ctx, s, asks, s.current + 1)
        return
    # not yet drawn, all of this unit asked, 点评, the next unit is a special one, or all done
    await _refuse(ctx, s, "" if s.stage in ("inquiry", "comment", "answer") else "现在不能出题：",
                  asks)


# a leader is let in only to be told whose 点评 it is, as another city's chief is (help and
# suggestions still offer it to inspectors and chiefs: helptext.AUDIENCE)
@router.command("点评", summary="请所在市院检察长点评；带内容时记录点评要点",
                roles=("inspector", "chief", "leader"), usage="点评 [内容]", free_text=0)
async def comment(event: MessageEvent, ctx: Context) -> None:
    # where() says why: questions still to come, or the answers already published
    got = await _unit_fully_revealed(ctx, "现在不是点评环节：")
    if got is None:
        return
    s, asks, _ = got
    unit = next(v for v in unit_views(ctx.directory, asks) if v.pos == s.current)
    is_host = ctx.user.has("inspector")
    if not is_host:
        city = ctx.directory.city_of(unit.id)
        if not ctx.user.has("chief") or city is None or ctx.user.unit != city.id:
            await ctx.reply(f"「点评」仅限检务督察或{unit.city}检察长使用。")
            return
    if not ctx.args:
        if not is_host:
            await ctx.reply("请写明点评内容：点评 <内容>")
            return
        await ctx.reply(card=cards.comment_card(unit=unit))
        if s.stage != "comment":
            await _stage(ctx, s, "comment", unit=unit.id)
        return
    await store.add_note(ctx.session, session_id=s.id, unit_id=unit.id, kind="comment",
                         status=None, author=ctx.user.id, text=ctx.args, at=ctx.now())
    await ctx.reply(f"已记录对{unit.name}的点评。")
    if s.stage != "comment":
        await _stage(ctx, s, "comment", unit=unit.id)
    else:
        await ctx.audit(ctx.user.id, "inspection.comment", s.id, {"unit": unit.id})


@router.command("公布答案", summary="公布当前单位所问题目的参考答案要点", roles=("inspector", "leader"))
async def publish_answers(event: MessageEvent, ctx: Context) -> None:
    got = await _unit_fully_revealed(ctx, "现在不能公布答案：")
    if got is None:
        return
    s, asks, group = got
    qs = await store.asked_questions(ctx.session, group)  # as revealed, not as the bank is now
    now = ctx.now()
    for a in group:
        a.answer_published_at = now
    unit = next(v for v in unit_views(ctx.directory, asks) if v.pos == s.current)
    await ctx.reply(card=cards.answers_card(unit=unit, questions=[
        RevealedQuestion(q.id, q.category, q.text, q.points) for q in (qs[a.id] for a in group)]))
    s.timer_started_at = None
    await _stage(ctx, s, "answer", unit=unit.id)
    await ctx.reply(where(ctx.directory, s, asks))


@router.command("专项问询", summary="对重点工作落实不到位的单位进行专项问询", roles=INSPECTOR)
async def special_inquiry(event: MessageEvent, ctx: Context) -> None:
    s = await _session(ctx)
    if s is None:
        return
    asks = await store.asks_of(ctx.session, s.id)
    groups = _by_position(asks)
    if not any(g[0].kind == "special" for g in groups.values()):
        await _refuse(ctx, s, "本次会议未设置专项问询单位。当前：", asks)
        return
    nxt = groups.get(s.current + 1)
    if s.stage != "answer" or nxt is None or nxt[0].kind != "special":
        await _refuse(ctx, s, "现在不能进行专项问询：", asks)
        return
    s.current += 1
    unit = next(v for v in unit_views(ctx.directory, asks) if v.pos == s.current)
    await ctx.reply(card=cards.special_intro_card(unit=unit, questions=len(nxt)))
    await _stage(ctx, s, "inquiry", unit=unit.id, special=True)


@router.command("整改汇报", summary="上次被问询单位汇报整改；带参数时记录汇报情况", roles=INSPECTOR,
                usage=f"整改汇报 [{REPORT_USAGE.removeprefix('整改汇报 ')}]", free_text=2)
async def rectification_report(event: MessageEvent, ctx: Context) -> None:
    s = await _session(ctx)
    if s is None:
        return
    p = params_of(s)
    d = ctx.directory
    reports = list(p.rectification_units or ())
    if not ctx.args:
        asks = await store.asks_of(ctx.session, s.id)
        groups = _by_position(asks)
        if s.stage == "rectification":
            await _refuse(ctx, s, "已在整改汇报环节。", asks)
            return
        if s.stage != "answer" or groups.get(s.current + 1) is not None:
            await _refuse(ctx, s, "现在不能进入整改汇报（须先完成全部问询，含专项问询）：", asks)
            return
        rows = []
        for uid in reports:
            items = await store.open_rectifications_for_unit(ctx.session, uid)
            chief = d.chief_of(uid)
            reported = await store.reported_rectifications_for_unit(ctx.session, uid)
            rows.append((d.units[uid].name, chief.name if chief else "（未登记）",
                         [f"#{i.id} {i.text}（期限 {i.due_date:%Y-%m-%d}）" for i in items],
                         [_reported_line(d, i, ctx.config.tz) for i in reported]))
        await ctx.reply(card=cards.report_prompt_card(units=rows))
        await _stage(ctx, s, "rectification")
        return
    if s.stage != "rectification":
        await _refuse(ctx, s, "现在不能记录整改汇报：")
        return
    parts = ctx.args.split(maxsplit=2)
    unit = _unit_ref(d, parts[0], reports) if parts else None
    if len(parts) < 2 or parts[1] not in REPORT_STATUSES or unit is None:
        # name what is wrong: the host types this live, in front of the meeting
        problems = [] if unit is not None else [f"「{parts[0][:20]}」不是应汇报整改的单位"]
        if len(parts) < 2:
            problems.append("缺少整改情况（已整改、整改中或未整改）")
        elif parts[1] not in REPORT_STATUSES:
            problems.append(f"整改情况「{parts[1][:20]}」无效，应为已整改、整改中或未整改")
        await ctx.reply(f"{'；'.join(problems)}。用法：{REPORT_USAGE}。"
                        f"应汇报单位：{_units_text(d, reports)}")
        return
    text = parts[2] if len(parts) > 2 else ""
    earlier = next((n for n in latest_reports(await store.notes_of(ctx.session, s.id))
                    if n.unit_id == unit.id), None)  # this one replaces it (a correction)
    note = await store.add_note(ctx.session, session_id=s.id, unit_id=unit.id, kind="report",
                                status=parts[1], author=ctx.user.id, text=text, at=ctx.now())
    closed, reopened = await _settle_items(ctx, s, unit.id, note, earlier)
    await ctx.audit(ctx.user.id, "inspection.report", s.id,
                    {"unit": unit.id, "status": parts[1], "closed_items": len(closed),
                     "reopened_items": len(reopened), "replaces": earlier.id if earlier else None})
    if reopened and earlier is not None:
        await ctx.audit(ctx.user.id, "inspection.rectification.reopen", s.id,
                        {"unit": unit.id, "items": reopened, "closed_by": earlier.id,
                         "report": note.id})
    await replan_rectifications(ctx, closed, reopened, ctx.user.id)
    at = local(ctx.now(), ctx.config.tz)
    await show_report_outcome(ctx, closed, reopened, (
        f"已销号：{s.title}整改汇报为已整改（{ctx.user.name} {at}）" if closed else
        f"整改汇报已更正为{parts[1]}（{ctx.user.name} {at}），恢复整改，逾期仍会提醒"))
    extra = (f"，销号整改事项 {len(closed)} 项" if closed else "") + (
        f"，恢复整改事项 {len(reopened)} 项" if reopened else "")
    if earlier is not None:
        await ctx.reply(f"已更新{unit.name}的整改汇报：{parts[1]}（原为{earlier.status}）{extra}。")
    else:
        await ctx.reply(f"已记录{unit.name}的整改汇报：{parts[1]}{extra}。")
    notify(ctx, s.id)


def _reported_line(d: Directory, item: store.RectificationItem, tz: tzinfo) -> str:
    """An item its chief reported done (整改完成), as the 整改汇报 card lists it."""
    at = f"{item.closed_at.astimezone(tz):%Y-%m-%d}" if item.closed_at else ""
    return (f"#{item.id} {item.text}（{d.person_name(item.closed_by_person or '')} {at} 报告："
            f"{item.closed_note or ''}）")


async def _settle_items(ctx: Context, s: InspectionSession, unit_id: str, note: Note,
                        earlier: Note | None) -> tuple[list[int], list[int]]:
    """The unit's items from earlier sessions as its report `note` says; returns the ids closed
    and reopened. 已整改 closes the open ones; the items the corrected report closed stay
    closed, now by this one (reported 已整改 twice, they are not counted twice). A correction
    to 整改中 or 未整改 reopens exactly those, not items closed some other way."""
    kept = await store.closed_by_report(ctx.session, earlier.id) if earlier else []
    if note.status != "已整改":
        for item in kept:
            store.reopen_rectification(item)
        return [], [i.id for i in kept]
    for item in kept:
        store.credit_closure(item, note.id)
    closed = [i for i in await store.open_rectifications_for_unit(ctx.session, unit_id)
              if i.session_id != s.id]
    for item in closed:
        await store.close_rectification(item, ctx.now(), note.id)
    return [i.id for i in closed], []


@router.command("结束", summary="结束督导会议，发布总结", roles=INSPECTOR, usage="结束 [确认]",
                glued_words=CONFIRM_GLUED)
async def close(event: MessageEvent, ctx: Context) -> None:
    s = await _session(ctx)
    if s is None:
        return
    left = [a for a in await store.asks_of(ctx.session, s.id) if a.revealed_at is None]
    missing = await _not_reported(ctx, s)
    if (left or missing) and not _confirmed(ctx.args):  # a slip ends what cannot be redone
        names = "、".join(ctx.directory.unit_name(u) for u in missing)
        reports = f"还有 {len(missing)} 个单位未记录整改汇报：{names}；"
        if not left:
            await ctx.reply(f"{reports}确认结束请发「结束 确认」。")
            return
        units = len({a.position for a in left})
        also = f"另{reports.removeprefix('还')}" if missing else ""
        await ctx.reply(f"还有 {units} 个单位的 {len(left)} 道题未问询。会议结束后不能再问询，"
                        f"抽签结果也不能重抽。{also}确认现在结束，请发送「结束 确认」。")
        return
    s.closed_at = ctx.now()
    s.timer_started_at = None
    await _stage(ctx, s, "closed")
    await ctx.reply(card=await summary(ctx, s))


async def _not_reported(out: Outbound, s: InspectionSession) -> list[str]:
    """The units due to report (整改汇报) whose report was not recorded, once the session has
    been drawn (a session ended before its draw reported nothing, and was not meant to)."""
    if s.drawn_at is None:
        return []
    recorded = {n.unit_id for n in latest_reports(await store.notes_of(out.session, s.id))}
    return [u for u in params_of(s).rectification_units or () if u not in recorded]


async def summary(out: Outbound, s: InspectionSession) -> Card:
    """The 结束 card: what the session covered and the follow-up it recorded."""
    d = out.directory
    asks = await store.asks_of(out.session, s.id)
    notes = await store.notes_of(out.session, s.id)
    reports = latest_reports(notes)
    closed = await store.closed_counts(out.session, [n.id for n in reports])
    items = await store.rectifications_of(out.session, s.id)
    tasks = await store.site_tasks_of(out.session, s.id)

    def who(pid: str) -> str:
        p = d.person(pid)
        return p.name if p else pid

    return cards.summary_card(
        sid=s.id, title=s.title, units=unit_views(d, asks),
        revealed=sum(1 for a in asks if a.revealed_at), planned=len(asks),
        comments=sum(1 for n in notes if n.kind == "comment"),
        reports=len(reports), closed_items=sum(closed.values()),
        unreported=len(await _not_reported(out, s)),
        rectifications=[f"#{i.id} {d.units[i.unit_id].name}：{i.text}（{who(i.owner_person_id)}，"
                        f"期限 {i.due_date:%Y-%m-%d}）" for i in items],
        site_tasks=[f"{d.units[t.unit_id].name}：{t.text.removeprefix('实地督察：')}"
                    f"（{who(t.assignee_person_id)}，"
                    f"{f'期限 {t.due_date:%Y-%m-%d}' if t.due_date else '未定期限'}）"
                    for t in tasks],
        base_url=base_url(out), drawn=s.drawn_at is not None)


# -- follow-up ------------------------------------------------------------------------------------

async def _followup_session(ctx: Context) -> tuple[InspectionSession, list[str]] | None:
    if ctx.event.chat.startswith("dm:"):
        await ctx.reply("请在督导会议所在的群内使用该命令。")
        return None
    # the last drawn one: a session created since and not drawn (or ended undrawn) has no units
    s = await store.latest_in_chat(ctx.session, ctx.event.chat, drawn_only=True)
    if s is None:
        await ctx.reply("本群没有已抽签的督导会议。")
        return None
    asks = await store.asks_of(ctx.session, s.id)
    units = [v.id for v in unit_views(ctx.directory, asks)]
    units += [u for u in params_of(s).rectification_units or () if u not in units]
    return s, units


def _unit_ref(d: Directory, ref: str, units: list[str]) -> Unit | None:
    if ref.isdecimal() and 1 <= int(ref) <= len(units):  # not ² or ①, which int() refuses
        return d.units[units[int(ref) - 1]]
    return resolve_unit(d, ref, units)


def _units_text(d: Directory, units: list[str]) -> str:
    return "；".join(f"{i}. {d.units[u].name}" for i, u in enumerate(units, 1)) or "无"


def person_ref(d: Directory, ref: str) -> Person | None:
    """A person by id (any case, full-width tolerated) or by a unique name."""
    ref = unicodedata.normalize("NFKC", ref).strip()
    found = d.person(ref) or d.person(ref.lower())
    if found is not None:
        return found
    hits = [p for p in d.org.people if p.name == ref]
    return hits[0] if len(hits) == 1 else None


def rectification_owners(d: Directory, unit: Unit) -> list[Person]:
    """Who may own a unit's rectification item: someone of that county office or its city office
    (the reminders go to them, so never a police officer or another office's staff)."""
    city = d.city_of(unit.id)
    offices = {unit.id, city.id if city else unit.id}
    return sorted((p for p in d.org.people if p.unit in offices), key=lambda p: p.unit != unit.id)


def site_inspectors(d: Directory, unit: Unit) -> list[Person]:
    """Who may lead an on-site inspection (实地督察) of a unit: an inspector or leader of the
    provincial office or of the unit's city office — the level above, never the unit itself."""
    city = d.city_of(unit.id)
    return [p for p in d.org.people if p.has("inspector", "leader") and p.unit != unit.id
            and (p.unit == (city.id if city else None) or d.units[p.unit].kind == "province")]


def _people_text(people: list[Person], limit: int = 6) -> str:
    shown = "、".join(f"{p.name}（{p.id}）" for p in people[:limit])
    return (shown + (f" 等 {len(people)} 人" if len(people) > limit else "")) or "（名册中无合适人员）"


def _offices(d: Directory, unit: Unit) -> str:
    city = d.city_of(unit.id)
    return f"{unit.name}或{city.name}" if city else unit.name


# 责任人=<人员ID|姓名> among the words of 整改 (责任人＝ as a phone types it), with the blanks
# before it
_OWNER = re.compile(r"(?:^|\s+)责任人[=＝](\S*)")


@router.command("整改", summary="登记整改事项（责任人、期限），到期提醒", roles=INSPECTOR,
                usage=RECTIFY_USAGE, free_text=2)
async def rectify(event: MessageEvent, ctx: Context) -> None:
    found = await _followup_session(ctx)
    if found is None:
        return
    s, units = found
    d = ctx.directory
    owner_ref = next(iter(_OWNER.findall(ctx.args)), None)
    # the unit, the date, and the text as typed (its blanks kept), 责任人=… left out of it
    tokens = _OWNER.sub("", ctx.args).split(maxsplit=2)
    if len(tokens) < 3:
        await ctx.reply(f"用法：{RECTIFY_USAGE}\n本次会议单位：{_units_text(d, units)}")
        return
    today = ctx.now().astimezone(ctx.config.tz).date()
    unit = _unit_ref(d, tokens[0], units)
    due, refused = read_due(tokens[1], today)
    problems = []
    if unit is None:
        problems.append(f"「{tokens[0][:30]}」不是本次会议的单位。请写序号或名称：{_units_text(d, units)}")
    if refused:
        problems.append(refused)
    if problems or unit is None or due is None:
        await ctx.reply("\n".join(problems))
        return
    allowed = rectification_owners(d, unit)
    choose = f"责任人须为{_offices(d, unit)}的人员：{_people_text(allowed)}。"
    if owner_ref is None:
        owner = d.chief_of(unit.id)
        if owner is None:
            await ctx.reply(f"{unit.name}未登记检察长，请用「责任人=人员ID」指定。{choose}")
            return
    else:
        owner = person_ref(d, owner_ref)
        if owner is None:
            await ctx.reply(f"找不到人员「{owner_ref[:30]}」。{choose}")
            return
        if owner.id not in {p.id for p in allowed}:
            await ctx.reply(f"{owner.name}（{d.units[owner.unit].name}）不能作为{unit.name}的整改"
                            f"责任人。{choose}")
            return
    text = tokens[2]
    item = await store.add_rectification(ctx.session, session_id=s.id, unit_id=unit.id,
                                         owner_person_id=owner.id, text=text, due_date=due,
                                         at=ctx.now())
    await ctx.audit(ctx.user.id, "inspection.rectification", s.id,
                    {"item": item.id, "unit": unit.id, "owner": owner.id, "due": due.isoformat()})
    await ctx.reply(f"已登记整改事项 #{item.id}：{unit.name}，责任人{owner.name}，期限 {day_text(due)}。")
    card = partial(cards.rectification_dm_card, sid=s.id, title=s.title, item_id=item.id,
                   unit=unit.name, text=text, due=day_text(due))
    sent = await ctx.send_dm(owner.id, card=card())
    item.card_message_id = sent.id  # redrawn when it is reported done or sent back
    chief = d.chief_of(unit.id)
    if chief is not None and chief.id != owner.id:  # reminded too: their own card (found again
        await ctx.send_dm(chief.id, card=card(owner=owner.name))  # by its title when redrawn)
    notify(ctx, s.id)


@router.command("实地督察", summary="部署会后实地督察（负责人、期限）", roles=INSPECTOR, usage=SITE_USAGE,
                free_text=2)
async def site_task(event: MessageEvent, ctx: Context) -> None:
    found = await _followup_session(ctx)
    if found is None:
        return
    s, units = found
    d = ctx.directory
    tokens = ctx.args.split(maxsplit=2)  # the unit, the person, and the rest as typed
    if len(tokens) < 2:
        await ctx.reply(f"用法：{SITE_USAGE}\n本次会议单位：{_units_text(d, units)}")
        return
    unit = _unit_ref(d, tokens[0], units)
    if unit is None:
        await ctx.reply(f"「{tokens[0][:30]}」不是本次会议的单位。请写序号或名称：{_units_text(d, units)}")
        return
    today = ctx.now().astimezone(ctx.config.tz).date()
    rest = tokens[2] if len(tokens) > 2 else ""
    due = None
    first, *after = rest.split(maxsplit=1) or [""]
    if looks_like_due(first):
        due, refused = read_due(first, today, optional=True)
        if refused:
            await ctx.reply(refused)
            return
        rest = after[0] if after else ""
    allowed = site_inspectors(d, unit)
    choose = (f"实地督察负责人须为省院或{(c.name if (c := d.city_of(unit.id)) else '市院')}的"
              f"检务督察、院领导：{_people_text(allowed)}。")
    assignee = person_ref(d, tokens[1])
    if assignee is None:
        await ctx.reply(f"找不到人员「{tokens[1][:30]}」。{choose}")
        return
    if assignee.unit == unit.id:
        await ctx.reply(f"{assignee.name}是被督察单位{unit.name}的人员，"
                        f"不能负责对本单位的实地督察。{choose}")
        return
    if assignee.id not in {p.id for p in allowed}:
        await ctx.reply(f"{assignee.name}（{d.units[assignee.unit].name}）不能负责对{unit.name}的实地督察。"
                        f"{choose}")
        return
    text = rest or SITE_TASK_DEFAULT
    task = await store.add_site_task(ctx.session, session_id=s.id, unit_id=unit.id,
                                     assignee_person_id=assignee.id, text=text, due_date=due,
                                     created_at=ctx.now())
    await ctx.audit(ctx.user.id, "inspection.site_task", s.id,
                    {"task": task.id, "unit": unit.id, "assignee": assignee.id})
    when = f"，期限 {day_text(due)}" if due else ""
    await ctx.reply(f"已部署实地督察 #{task.id}：{unit.name}，负责人{assignee.name}{when}。")
    await ctx.send_dm(assignee.id, text=f"您负责对{unit.name}的实地督察（会议 {s.id}）{when}："
                                        f"{text.removeprefix('实地督察：')}")  # not said twice


# -- the bank (inspectors only, 1:1 chat only, every read audited) ---------------------------------

BANK_PAGE = 20  # questions per message: a phone screen or two
# as typed on a phone: 「党的建设 2」「党的建设 第2页」「党建 2页」「党的建设2」, 「Q001。」
_BANK_TRAILING = re.compile(r"[\s。．.，,、！!？?；;：:]+$")
_BANK_PAGE_ARG = re.compile(r"(?:第\s*)?(\d+)\s*页?")
_BANK_CATEGORY_PAGE = re.compile(r"(\D+?)\s*((?:第\s*)?\d+\s*页?)")


def _bank_category(arg: str) -> tuple[str, str] | None:
    """(category, page argument) when `arg` names a category, by its name or one of the
    aliases the import accepts (党建, 廉政, …); None when it does not."""
    head, _, rest = arg.partition(" ")
    category = category_of(head)
    if category is not None:
        return category, rest.strip()
    m = _BANK_CATEGORY_PAGE.fullmatch(arg)  # 「党的建设2」「党建第2页」: no space
    if m and (category := category_of(m.group(1))) is not None:
        return category, m.group(2)
    return None


@router.command("题库", summary="查看保密题库（仅单聊；每次查阅留痕）", roles=INSPECTOR,
                usage="题库 [题号|类别 [页]]")
async def bank(event: MessageEvent, ctx: Context) -> None:
    if not ctx.event.chat.startswith("dm:"):
        await ctx.reply("题库严格保密，请在与 casebot 的单聊中查看。")
        return
    questions = await store.all_questions(ctx.session)
    # Ｑ０１７ as typed on a phone; 「题库 Q001。」: the sentence's full stop is not the id's
    arg = _BANK_TRAILING.sub("", unicodedata.normalize("NFKC", ctx.args).strip())
    asked = set(await store.asked_question_ids(ctx.session))
    if not arg:
        counts = {c: sum(1 for q in questions if q.category == c) for c in CATEGORIES}
        demo = "（演示题库，虚构内容）" if any(q.demo for q in questions) else ""
        lines = [f"题库共 {len(questions)} 道{demo}，已问过 {len(asked)} 道："]
        lines += [f"· {c}：{n} 道" for c, n in counts.items()]
        lines.append(f"查看：题库 <题号> 或 题库 <类别>；网页：{base_url(ctx)}/inspection/bank")
        await ctx.audit(ctx.user.id, "inspection.bank.summary", "bank", {"count": len(questions)})
        await ctx.reply("\n".join(lines))
        return
    listing = _bank_category(arg)
    if listing is not None:
        category, page_arg = listing
        picked = [q for q in questions if q.category == category]
        pages = max(1, -(-len(picked) // BANK_PAGE))
        page_match = _BANK_PAGE_ARG.fullmatch(page_arg)
        if page_arg and page_match is None:
            await ctx.reply(f"没看懂页码「{page_arg[:20]}」。{category}共 {pages} 页，"
                            f"请发送如「题库 {category} 2」。")
            return
        page = int(page_match.group(1)) if page_match else 1
        if not 1 <= page <= pages:
            await ctx.reply(f"{category}共 {pages} 页，"
                            f"请发送「题库 {category} 1」到「题库 {category} {pages}」。")
            return
        shown = picked[(page - 1) * BANK_PAGE:page * BANK_PAGE]
        await ctx.audit(ctx.user.id, "inspection.bank.list", "bank",
                        {"category": category, "ids": [q.id for q in shown]})
        more = f"\n第 {page}/{pages} 页" + (f"，下一页：题库 {category} {page + 1}"
                                             if page < pages else "")
        await ctx.reply("\n".join([f"{category}（{len(picked)} 道）："] + [
            f"{q.id}{'（已问）' if q.id in asked else ''} {q.text}" for q in shown]) + more)
        return
    q = next((x for x in questions if x.id == arg), None) or next(
        (x for x in questions if x.id.casefold() == arg.casefold()), None)
    if q is None:
        await ctx.reply(f"题库中没有题号「{arg[:20]}」。可用类别：{'、'.join(CATEGORIES)}")
        return
    await ctx.audit(ctx.user.id, "inspection.bank.read", "bank", {"ids": [q.id]})
    points = "\n".join(f"· {p}" for p in q.points)
    await ctx.reply(f"{q.id}【{q.category}】{'（已问）' if q.id in asked else ''}\n{q.text}\n"
                    f"参考答案要点：\n{points}\n出题部门：{q.source_department or '—'}")
