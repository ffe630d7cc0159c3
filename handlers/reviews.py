"""复核申请: investigators dispute a code; the prosecutor agrees and re-scores, rejects with a
reason, or calls a joint review; every card about the request is kept up to date in place."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from bot import cases as ops
from bot.context import Context, Outbound
from bot.dispatcher import Router
from bot.domain.review import (
    Action,
    IllegalTransition,
    State,
    next_state,
    parse_meeting_time,
    refusal,
    sources,
)
from bot.domain.scoring import Evaluation
from bot.domain.text import char_problem
from bot.events import CardActionEvent, MessageEvent
from bot.reminders import settle_review_reminders
from cards.model import Card
from cards.reviews import RENDER, ReviewView
from config.model import Person
from storage import cases as case_repo
from storage import reviews as repo
from storage.cases import CaseRow
from storage.messages import get_message
from storage.reviews import ReviewRow

router = Router("reviews")


class ReviewError(ValueError):
    """A refusal to show the person as is (Chinese)."""


# -- use cases ----------------------------------------------------------------------------------

def candidates(ev: Evaluation) -> list[str]:
    """Items that may be disputed, in card order: the deductions, then the veto hits."""
    return [d.item for d in ev.deductions] + [v for v in ev.vetoes if v not in
                                              {d.item for d in ev.deductions}]


def parse_items(text: str, ev: Evaluation, out: Outbound) -> list[str]:
    """'1,3' (card numbers), item ids or labels → item ids of the current evaluation."""
    cands = candidates(ev)
    labels = {out.services.settings.template.item(i).label: i for i in cands}
    picked: list[str] = []
    for tok in (t for t in re.split(r"[,，、;；\s]+", text.strip()) if t):
        if tok.isdecimal() and 1 <= int(tok) <= len(cands):  # not ², which int() refuses
            item = cands[int(tok) - 1]
        elif tok in cands:
            item = tok
        elif tok in labels:
            item = labels[tok]
        else:
            raise ReviewError(f"「{tok[:20]}」不是当前评分中的扣分项。请填写卡片上的序号（1–{len(cands)}）。")
        if item not in picked:
            picked.append(item)
    return picked


async def file_request(out: Outbound, case: CaseRow, person: Person, items: list[str],
                       reason: str, notes: dict[str, str] | None = None) -> ReviewRow:
    if person.id not in await case_repo.investigators(out.session, case.code):
        raise ReviewError("只有本案侦查人员可以申请复核。")
    ev = await case_repo.current_evaluation(out.session, case)
    if ev is None:
        raise ReviewError("该案件尚未评分，无需复核。")
    existing = await repo.open_for(out.session, case.code, person.id)
    if existing:
        raise ReviewError(f"您对 {case.code} 已有一个未办结的复核申请（#{existing[0].id}，"
                          f"{State(existing[0].status).label}），请等待处理或先撤回。")
    if not items:
        raise ReviewError("请至少选择一个有异议的扣分项。")
    bad = [i for i in items if i not in candidates(ev)]
    if bad:
        raise ReviewError("只能对当前评分中的扣分项申请复核。")
    reason = reason.strip()
    limit = out.config.cases.review_reason_max
    if not reason:
        raise ReviewError("请填写复核理由。")
    if len(reason) > limit:
        raise ReviewError(f"复核理由不能超过 {limit} 字（现 {len(reason)} 字）。")
    for label, text in (("复核理由", reason), *(("补充说明", n) for n in (notes or {}).values())):
        if (problem := char_problem(label, text, multiline=True)) is not None:
            raise ReviewError(problem + "。")
    row = ReviewRow(case_code=case.code, version=ev.version, filed_by=person.id,
                    filed_at=out.now(), items=json.dumps(items), reason=reason,
                    notes=json.dumps(notes or {}, ensure_ascii=False), status=State.PENDING.value,
                    due_at=answer_due(out, out.now()))
    out.session.add(row)
    await out.session.flush()
    await out.audit(person.id, "review.file", case.code, {"review": row.id, "items": items})
    view = await review_view(out, row, case)
    for pid, kind in ((case.prosecutor, "prosecutor"), (person.id, "receipt")):
        msg = await out.send_dm(pid, card=RENDER[kind](view))
        repo.add_card(out.session, row.id, msg.id, kind)
    await out.session.flush()
    return row


def answer_due(out: Outbound, filed_at: datetime) -> datetime:
    tz = out.config.tz
    local = filed_at.astimezone(tz)
    day = out.services.calendar.add_working_days(local.date(),
                                                 out.config.cases.review_answer_working_days)
    return datetime.combine(day, local.time(), tz)


async def review_view(out: Outbound, row: ReviewRow, case: CaseRow) -> ReviewView:
    d, t = out.directory, out.services.settings.template
    ev = await case_repo.current_evaluation(out.session, case)
    disputed = next((e for e in await case_repo.evaluations(out.session, case.code)
                     if e.version == row.version), ev)
    points = {x.item: x.points for x in disputed.deductions} if disputed else {}
    notes = json.loads(row.notes or "{}")
    items = tuple(
        f"{t.item(i).label}（{'−' + str(points[i]) + '分' if points.get(i) else '一票否决'}）"
        + (f"：{notes[i]}" if notes.get(i) else "")
        for i in repo.items_of(row))
    rescored = None
    if row.new_version is not None:
        new = next(e for e in await case_repo.evaluations(out.session, case.code)
                   if e.version == row.new_version)
        rescored = f"{new.color.label} {new.score}分（第{new.version}版）"

    def name(pid: str | None) -> str | None:
        return d.people[pid].name if pid and pid in d.people else pid

    return ReviewView(
        id=row.id, code=case.code, title=case.title, color=case.color,
        color_label=ev.color.label if ev else "未评分", score=case.score,
        filer=name(row.filed_by) or row.filed_by, items=items, reason=row.reason,
        due=row.due_at.astimezone(out.config.tz).strftime("%Y-%m-%d %H:%M"),
        state=State(row.status), reject_reason=row.reject_reason, joint_time=row.joint_time,
        outcome=row.outcome, minutes=row.minutes, decided_by=name(row.decided_by),
        confirmed_by=name(row.confirmed_by), rescored=rescored,
        score_url=f"{ops.score_url(out, case.code)}?review={row.id}",
        joint_example=joint_example(out))


def joint_example(out: Outbound) -> str:
    """A joint-review time to show as an example: three days ahead, 14:30 (never one the bot
    would refuse as past)."""
    day = (out.now().astimezone(out.config.tz) + timedelta(days=3)).date()
    return f"{day:%Y-%m-%d} 14:30"


async def refresh_cards(out: Outbound, row: ReviewRow, case: CaseRow) -> None:
    view = await review_view(out, row, case)
    for c in await repo.cards(out.session, row.id):
        msg = await get_message(out.session, c.message_id)
        if msg is not None:
            await out.update_card(msg, RENDER[c.kind](view))


async def apply(out: Outbound, row: ReviewRow, action: Action, **values: object) -> bool:
    """Compare-and-set transition; False when the request is no longer in a source state."""
    try:
        new = next_state(State(row.status), action)
    except IllegalTransition:
        return False
    ok = await repo.transition(out.session, row.id, sources(action), new.value, **values)
    # Re-read either way: on a loss another click (maybe on another instance, PostgreSQL
    # READ COMMITTED) changed the status after we read it, and the refusal must name the new one.
    await out.session.refresh(row)
    return ok


def leader_of(out: Outbound, case: CaseRow) -> Person | None:
    leaders = out.directory.with_role("leader", case.unit)
    return leaders[0] if leaders else None


def awaits_rescore(row: ReviewRow | None, case_code: str) -> bool:
    """The request of this case was agreed (or the joint review changed the score) and no
    evaluation has answered it yet."""
    return row is not None and row.case_code == case_code and row.new_version is None and (
        row.status == State.ACCEPTED or (row.status in (State.JOINT_DONE, State.CONFIRMED)
                                         and row.outcome == "changed"))


async def on_evaluation(out: Outbound, case: CaseRow, ev: Evaluation) -> None:
    """A re-score answers the request it references (one referencing none: every request of
    the case waiting for a re-score): link it and tell the filer. Every card about the case's
    requests is re-rendered, so none still calls the old colour 当前."""
    rows = await repo.for_case(out.session, case.code)
    answered = [r for r in rows if awaits_rescore(r, case.code)
                and ev.review_request_id in (None, r.id)]
    for row in answered:
        row.new_version = ev.version
    await out.session.flush()
    for row in answered:
        await out.audit(ev.by, "review.rescored", case.code,
                        {"review": row.id, "version": ev.version})
        await out.send_dm(row.filed_by, text=f"您的复核申请 #{row.id}（{case.code}）已重新评分："
                                             f"{ev.color.label} {ev.score}分（第{ev.version}版）。")
    for row in rows:
        await refresh_cards(out, row, case)


# -- card buttons -------------------------------------------------------------------------------

async def _loaded(ctx: Context) -> tuple[ReviewRow, CaseRow] | None:
    assert ctx.button is not None
    rid = ctx.button.data.get("review", "")
    row = await repo.get(ctx.session, int(rid)) if rid.isdigit() else None
    case = await case_repo.get_case(ctx.session, row.case_code) if row else None
    if row is None or case is None:
        await ctx.reply("找不到该复核申请。")
        return None
    return row, case


async def _decide(ctx: Context, action: Action, done: str, **values: object) -> None:
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    if ctx.user.id != case.prosecutor:
        await ctx.reply("只有本案承办检察官可以处理该复核申请。")
        return
    if not await apply(ctx, row, action, decided_by=ctx.user.id, decided_at=ctx.now(), **values):
        await ctx.reply(refusal(State(row.status)))
        return
    await ctx.audit(ctx.user.id, f"review.{action.value}", case.code,
                    {"review": row.id, **{k: str(v) for k, v in values.items()}})
    await settle_review_reminders(ctx, row.id, ctx.user.id, "answered")
    await refresh_cards(ctx, row, case)
    await ctx.send_dm(row.filed_by, text=f"您的复核申请 #{row.id}（{case.code}）{done}")
    await ctx.reply(f"复核申请 #{row.id}（{case.code}）{done}")


@router.action("review.accept", roles=("prosecutor",))
async def accept(event: CardActionEvent, ctx: Context) -> None:
    await _decide(ctx, Action.ACCEPT, "已同意，承办检察官将重新评分。")


@router.action("review.reject", roles=("prosecutor",))
async def reject(event: CardActionEvent, ctx: Context) -> None:
    reason = event.form.get("reason", "").strip()
    if not reason:
        await ctx.reply("驳回须填写理由。")
        return
    await _decide(ctx, Action.REJECT, f"已驳回。理由：{reason[:500]}", reject_reason=reason[:500])


@router.action("review.joint", roles=("prosecutor",))
async def joint(event: CardActionEvent, ctx: Context) -> None:
    typed = event.form.get("time", "").strip()
    if not typed:
        await ctx.reply(f"请填写共同评议的时间，如 {joint_example(ctx)}。")
        return
    when = parse_meeting_time(typed, ctx.config.tz)
    if when is None:
        await ctx.reply(f"共同评议时间看不懂：「{typed[:30]}」。请写成 {joint_example(ctx)}。")
        return
    if when < ctx.now():
        await ctx.reply(f"共同评议时间 {when:%Y-%m-%d %H:%M} 已经过去，请填写之后的时间。")
        return
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    time = f"{when:%Y-%m-%d %H:%M}"
    await _decide(ctx, Action.JOINT, f"已提交检警共同评议，时间：{time}。", joint_time=time)
    await ctx.session.refresh(row)
    if row.status != State.JOINT or any(c.kind == "joint"
                                        for c in await repo.cards(ctx.session, row.id)):
        return
    view = await review_view(ctx, row, case)
    notify = [p for p in await case_repo.investigators(ctx.session, case.code)
              if p != row.filed_by]
    leader = leader_of(ctx, case)
    if leader is not None:
        notify.append(leader.id)
    for pid in notify:
        msg = await ctx.send_dm(pid, card=RENDER["joint"](view))
        repo.add_card(ctx.session, row.id, msg.id, "joint")
    await ctx.session.flush()


@router.action("review.outcome", roles=("prosecutor",))
async def outcome(event: CardActionEvent, ctx: Context) -> None:
    raw = event.form.get("outcome", "").strip()
    minutes = event.form.get("minutes", "").strip()
    if raw not in ("维持", "调整") or not minutes:
        await ctx.reply("请填写评议结果（维持 或 调整）和评议纪要。")
        return
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    participants = [p for p in re.split(r"[,，、\s]+", event.form.get("participants", "")) if p]
    if ctx.user.id != case.prosecutor:
        await ctx.reply("只有本案承办检察官可以记录评议结果。")
        return
    result = "changed" if raw == "调整" else "kept"
    if not await apply(ctx, row, Action.OUTCOME, outcome=result, minutes=minutes[:2000],
                       participants=json.dumps(participants, ensure_ascii=False)):
        await ctx.reply(refusal(State(row.status)))
        return
    await ctx.audit(ctx.user.id, "review.outcome", case.code,
                    {"review": row.id, "outcome": result, "participants": participants})
    await refresh_cards(ctx, row, case)
    await ctx.send_dm(row.filed_by, text=f"复核申请 #{row.id}（{case.code}）共同评议结果："
                                         f"{'调整评分' if result == 'changed' else '维持原评分'}，请确认。")
    await ctx.reply(f"已记录评议结果：{raw}。")


async def _filer_action(ctx: Context, action: Action, values: dict[str, object], done: str) -> None:
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    if ctx.user.id != row.filed_by:
        await ctx.reply("只有申请人本人可以进行此操作。")
        return
    if not await apply(ctx, row, action, **values):
        await ctx.reply(refusal(State(row.status)))
        return
    await ctx.audit(ctx.user.id, f"review.{action.value}", case.code, {"review": row.id})
    if action is Action.WITHDRAW:
        await settle_review_reminders(ctx, row.id, ctx.user.id, "withdrawn")
    await refresh_cards(ctx, row, case)
    await ctx.reply(done)


@router.action("review.withdraw", roles=("investigator",))
async def withdraw(event: CardActionEvent, ctx: Context) -> None:
    await _filer_action(ctx, Action.WITHDRAW, {}, "已撤回复核申请。")


@router.action("review.confirm", roles=("investigator",))
async def confirm(event: CardActionEvent, ctx: Context) -> None:
    await _filer_action(ctx, Action.CONFIRM, {"confirmed_by": ctx.user.id,
                                              "confirmed_at": ctx.now()}, "已确认共同评议结果。")


@router.action("review.file", roles=("investigator",))
async def file_from_card(event: CardActionEvent, ctx: Context) -> None:
    """申请复核 on the case-code card: items by card number (e.g. "1,3") and a reason."""
    assert ctx.button is not None
    case = await case_repo.get_case(ctx.session, ctx.button.data.get("code", ""))
    if case is None:
        await ctx.reply("找不到该案件。")
        return
    ev = await case_repo.current_evaluation(ctx.session, case)
    try:
        if ev is None:
            raise ReviewError("该案件尚未评分，无需复核。")
        if str(ev.version) != ctx.button.data.get("version"):
            raise ReviewError(f"该卡片的评分已更新为第{ev.version}版，请在最新的案件码卡片上申请复核。")
        items = parse_items(event.form.get("items", ""), ev, ctx)
        row = await file_request(ctx, case, ctx.user, items, event.form.get("reason", ""),
                                 {items[0]: event.form["note"].strip()}
                                 if items and event.form.get("note", "").strip() else None)
    except ReviewError as e:
        await ctx.reply(str(e))
        return
    await ctx.reply(f"复核申请 #{row.id} 已提交，承办检察官将在 "
                    f"{row.due_at.astimezone(ctx.config.tz):%Y-%m-%d %H:%M} 前答复。")


# -- chat ---------------------------------------------------------------------------------------

@router.command("复核", summary="查看案件未办结的复核申请", usage="复核 <案件码>",
                readonly=True)
async def list_for_case(event: MessageEvent, ctx: Context) -> None:
    code = ctx.args.strip().upper()
    if not code:
        await ctx.reply("用法：复核 <案件码>")
        return
    case = await case_repo.get_case(ctx.session, code)
    if case is None:
        await ctx.reply(f"未找到案件码 {code[:30]}。")
        return
    if not await ops.may_view(ctx, ctx.user, case):
        await ctx.reply(f"您无权查看 {case.code} 的复核申请。")
        return
    rows = await repo.open_for(ctx.session, case.code)
    rescore = await repo.awaiting_rescore(ctx.session, case.code)
    if not rows and not rescore:
        await ctx.reply(f"{case.code} 没有未办结的复核申请。")
        return
    await ops.reply_in_confidence(ctx, Card(
        title=f"{case.code} 未办结的复核申请（{len(rows) + len(rescore)}）",
        body="\n\n".join([_line(ctx, r) for r in rows] + [_rescore_line(ctx, r) for r in rescore])),
        case)


def _rescore_line(ctx: Context, r: ReviewRow) -> str:
    return (f"#{r.id} {r.case_code} · {State(r.status).label}，待重新评分\n"
            f"去评分：{ops.score_url(ctx, r.case_code)}")


def _line(ctx: Context, r: ReviewRow) -> str:
    filer = ctx.directory.people.get(r.filed_by)
    return (f"#{r.id} {r.case_code} · {State(r.status).label} · 申请人 {filer.name if filer else r.filed_by}"
            f" · 答复期限 {r.due_at.astimezone(ctx.config.tz):%Y-%m-%d %H:%M}\n理由：{r.reason[:60]}")


TODO_CARDS = 5  # decision cards re-sent by one 待办; more are listed only


async def send_decision_card(ctx: Context, row: ReviewRow, case: CaseRow) -> None:
    """A fresh copy of the prosecutor's card for `row`, kept in step like the original."""
    msg = await ctx.send_dm(case.prosecutor, card=RENDER["prosecutor"](
        await review_view(ctx, row, case)))
    repo.add_card(ctx.session, row.id, msg.id, "prosecutor")


@router.action("review.resend", roles=("prosecutor",))
async def resend(event: CardActionEvent, ctx: Context) -> None:
    """去答复 on an overdue-answer reminder: the request's decision card, at hand."""
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    if case.prosecutor != ctx.user.id:
        await ctx.reply(f"只有本案承办检察官可以答复复核申请 #{row.id}。")
    elif row.status not in (State.PENDING, State.JOINT):
        await ctx.reply(f"复核申请 #{row.id} 当前为「{State(row.status).label}」，无需再答复。")
    else:
        await send_decision_card(ctx, row, case)


@router.command("待办", summary="我的待处理复核申请（检察官）或未办结的申请（侦查人员）")
async def todo(event: MessageEvent, ctx: Context) -> None:
    """The list, then a fresh decision card for each request waiting on this prosecutor (no
    scrolling back to find the old one). The copies are kept in step like the originals."""
    rows: list[ReviewRow] = []
    rescore: list[ReviewRow] = []
    decide: list[tuple[ReviewRow, CaseRow]] = []  # waiting on this prosecutor
    if ctx.user.has("prosecutor"):
        for case in await case_repo.cases_of(ctx.session, ctx.user.id):
            if case.prosecutor == ctx.user.id:
                waiting = [r for r in await repo.open_for(ctx.session, case.code)
                           if r.status in (State.PENDING, State.JOINT)]
                rows += waiting
                decide += [(r, case) for r in waiting]
                rescore += await repo.awaiting_rescore(ctx.session, case.code)
    if ctx.user.has("investigator"):
        for case in await case_repo.cases_of(ctx.session, ctx.user.id):
            rows += await repo.open_for(ctx.session, case.code, ctx.user.id)
    if not rows and not rescore:
        await ctx.reply("您没有待办的复核申请。")
        return
    await ops.reply_in_confidence(ctx, Card(
        title=f"待办复核申请（{len(rows) + len(rescore)}）",
        body="\n\n".join([_line(ctx, r) for r in rows] + [_rescore_line(ctx, r) for r in rescore])),
        None)
    for r, case in decide[:TODO_CARDS]:
        await send_decision_card(ctx, r, case)
    if len(decide) > TODO_CARDS:
        await ctx.send_dm(ctx.user.id, text=f"另有 {len(decide) - TODO_CARDS} 件待处理，"
                                            "处理完以上申请后再发送「待办」。")
