"""复核申请: investigators dispute a code; the prosecutor agrees and re-scores, rejects with a
reason, or calls a joint review; every card about the request is kept up to date in place."""

from __future__ import annotations

import json
import re

from bot import cases as ops
from bot.context import Context
from bot.dispatcher import Router, already_done
from bot.domain.helptext import is_placeholder
from bot.domain.review import (
    CHANGED,
    TRANSITIONS,
    Action,
    State,
    parse_meeting_time,
    parse_outcome,
    refusal,
)
from bot.domain.scoring import Evaluation
from bot.events import CardActionEvent, MessageEvent
from bot.reminders import settle_review_reminders
from bot.reviews import (
    AlreadyFiled,
    ReviewError,
    apply,
    check_may_file,
    due_text,
    file_request,
    joint_example,
    joint_invitees,
    parse_items,
    refresh_cards,
    request_note,
    review_view,
    send_decision_card,
    split_typed_items,
)
from cards.cases import intake_pending_card, local
from cards.model import Card
from cards.reviews import RENDER, confirm_first_card
from storage import cases as case_repo
from storage import reviews as repo
from storage.cases import CaseRow, IntakeRow
from storage.reviews import ReviewRow

router = Router("reviews")
MINUTES_MAX = 2000  # 评议纪要: the minutes of a joint review


# -- card buttons -------------------------------------------------------------------------------

async def _loaded(ctx: Context) -> tuple[ReviewRow, CaseRow] | None:
    assert ctx.button is not None
    rid = ctx.button.data.get("review", "")
    row = await repo.get(ctx.session, int(rid)) if rid.isdigit() else None
    case = await case_repo.get_case(ctx.session, row.case_code) if row else None
    if row is None or case is None:
        await ctx.reply("找不到该复核申请。")
        return None
    if case.status != case_repo.OPEN:  # its cards have no buttons then; an old rendering may
        await ctx.reply(f"案件 {case.code} {ops.not_open_text(ctx, case)}，复核申请不再处理。")
        return None
    return row, case


async def _decide(ctx: Context, row: ReviewRow, case: CaseRow, action: Action, to_filer: str,
                  **values: object) -> bool | None:
    """Decide a pending request and tell the filer (in the second person) what became of it;
    None when nothing was decided (the refusal is already answered), else whether the filer
    was told (False: they may no longer see the case, `ops.notify`). The caller then tells
    the prosecutor who clicked what they have to do next, naming the filer only if told."""
    if ctx.user.id != case.prosecutor:
        await ctx.reply("只有本案承办检察官可以处理该复核申请。")
        return None
    if not await apply(ctx, row, action, decided_by=ctx.user.id, decided_at=ctx.now(), **values):
        await ctx.reply(_refused(ctx, row, action))
        return None
    ctx.action_done()
    await ctx.audit(ctx.user.id, f"review.{action.value}", case.code,
                    {"review": row.id, **{k: str(v) for k, v in values.items()}})
    await settle_review_reminders(ctx, row.id, ctx.user.id, "answered")
    await refresh_cards(ctx, row, case)
    return await ops.notify(ctx, case, row.filed_by,
                            f"您的复核申请 #{row.id}（{case.code}）{to_filer}") is not None


def _refused(ctx: Context, row: ReviewRow, action: Action) -> str:
    """Why a decision was not made. The prosecutor's own tap a moment earlier (a double tap
    both of whose events read the card before either changed it) made this very decision:
    that is said calmly, not as a refusal."""
    decided = TRANSITIONS.get((State.PENDING, action))
    if ctx.button is not None and row.decided_by == ctx.user.id and State(row.status) is decided:
        return already_done(ctx.button.label)
    return refusal(State(row.status))


def _rescore_how(ctx: Context, row: ReviewRow) -> str:
    """How the prosecutor re-scores for a request: the card's button, or the link itself."""
    return (f"请您重新评分：点卡片上的「去调整评分」，或打开 "
            f"{ops.score_url(ctx, row.case_code)}?review={row.id}；提交后申请人会收到新评分。")


@router.action("review.accept", roles=("prosecutor",))
async def accept(event: CardActionEvent, ctx: Context) -> None:
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    if await _decide(ctx, row, case, Action.ACCEPT, "已同意，承办检察官将重新评分。") is not None:
        await ctx.reply(f"复核申请 #{row.id}（{case.code}）已同意。{_rescore_how(ctx, row)}")


@router.action("review.reject", roles=("prosecutor",))
async def reject(event: CardActionEvent, ctx: Context) -> None:
    reason = event.form.get("reason", "").strip()
    limit = ctx.config.cases.review_reason_max
    if not reason:
        await ctx.reply("驳回须填写理由。")
        return
    if len(reason) > limit:  # refused, not cut: the investigator must read all of it
        await ctx.reply(f"驳回理由不能超过 {limit} 字（现 {len(reason)} 字），未驳回。请精简后重新提交。")
        return
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    told = await _decide(ctx, row, case, Action.REJECT, f"已驳回。理由：{reason}",
                         reject_reason=reason)
    if told is not None:
        await ctx.reply(f"复核申请 #{row.id}（{case.code}）已驳回" + (
            f"，驳回理由已告知申请人{ctx.directory.person_name(row.filed_by)}。" if told else "。"))


@router.action("review.joint", roles=("prosecutor",))
async def joint(event: CardActionEvent, ctx: Context) -> None:
    typed = event.form.get("time", "").strip()
    if not typed:
        await ctx.reply(f"请填写共同评议的时间，如 {joint_example(ctx)}。")
        return
    when = parse_meeting_time(typed, ctx.config.tz, ctx.now())
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
    filer_told = await _decide(ctx, row, case, Action.JOINT,
                               f"已提交检警共同评议，时间：{time}，请届时参加。", joint_time=time)
    if filer_told is None:
        return
    await ctx.session.refresh(row)
    # only those told: not a filer who may no longer see the case (off the roster)
    told = [f"申请人{ctx.directory.person_name(row.filed_by)}"] if filer_told else []
    if row.status == State.JOINT and not any(c.kind == "joint"
                                             for c in await repo.cards(ctx.session, row.id)):
        view = await review_view(ctx, row, case)
        others, leader = await joint_invitees(ctx, row, case)
        reached = set()  # not those who may no longer see the case (off the roster)
        for pid in others + ([leader.id] if leader is not None else []):
            msg = await ops.notify(ctx, case, pid, card=RENDER["joint"](view))
            if msg is not None:
                repo.add_card(ctx.session, row.id, msg.id, "joint")
                reached.add(pid)
        if others := [p for p in others if p in reached]:
            told.append("侦查人员" + "、".join(ctx.directory.person_name(p) for p in others))
        if leader is not None and leader.id in reached:
            told.append(f"{'院领导' if 'leader' in leader.roles else '检察长'}{leader.name}")
        await ctx.session.flush()
    await ctx.reply(f"复核申请 #{row.id}（{case.code}）已提交检警共同评议，时间：{time}"
                    + (f"，已通知{'、'.join(told)}" if told else "")
                    + "。评议后请在卡片上点「记录评议结果」。")


@router.action("review.outcome", roles=("prosecutor",))
async def outcome(event: CardActionEvent, ctx: Context) -> None:
    got = await _loaded(ctx)
    if got is None:
        return
    row, case = got
    if ctx.user.id != case.prosecutor:
        await ctx.reply("只有本案承办检察官可以记录评议结果。")
        return
    if row.status != State.JOINT:
        await ctx.reply(refusal(State(row.status)))
        return
    # the invited investigators and leader were given this time: a 检警共同评议 decides
    # together, so no outcome is recorded before the meeting could have been held
    when = parse_meeting_time(row.joint_time or "", ctx.config.tz)
    if when is not None and ctx.now() < when:
        await ctx.reply(f"检警共同评议定于 {row.joint_time} 举行，尚未到时间；"
                        "请在评议结束后再记录评议结果。")
        return
    raw = event.form.get("outcome", "").strip()
    result = parse_outcome(raw)
    minutes = event.form.get("minutes", "").strip()
    problems = []
    if not raw:
        problems.append("请填写评议结果：维持 或 调整")
    elif result is None:
        problems.append(f"评议结果「{raw[:20]}」无效，请填写「维持」（维持原评分）或「调整」（调整评分）")
    if not minutes:
        problems.append("请填写评议纪要")
    elif len(minutes) > MINUTES_MAX:
        problems.append(f"评议纪要不能超过 {MINUTES_MAX} 字（现 {len(minutes)} 字），请精简")
    if problems:
        await ctx.reply("；".join(problems) + "。")
        return
    assert result is not None
    participants = [p for p in re.split(r"[,，、\s]+", event.form.get("participants", "")) if p]
    if not await apply(ctx, row, Action.OUTCOME, outcome=result, minutes=minutes,
                       participants=json.dumps(participants, ensure_ascii=False)):
        await ctx.reply(refusal(State(row.status)))
        return
    ctx.action_done()
    await ctx.audit(ctx.user.id, "review.outcome", case.code,
                    {"review": row.id, "outcome": result, "participants": participants})
    await refresh_cards(ctx, row, case)
    changed = result == CHANGED
    label = "调整评分" if changed else "维持原评分"
    told = await ops.notify(ctx, case, row.filed_by, (
        f"您的复核申请 #{row.id}（{case.code}）共同评议结果：{label}"
        f"{'，承办检察官将重新评分' if changed else ''}。请在回执卡片上点「确认评议结果」。"))
    asked = f"，已请申请人{ctx.directory.person_name(row.filed_by)}确认" if told else ""
    await ctx.reply(f"已记录评议结果：{label}{asked}。" + (_rescore_how(ctx, row) if changed else ""))


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
    ctx.action_done()
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
    """申请复核 on the case-code card (delivered, or the 码 card): items by card number (e.g.
    "1,3") and a reason."""
    assert ctx.button is not None
    case = await case_repo.get_case(ctx.session, ctx.button.data.get("code", ""))
    if case is None:
        await ctx.reply("找不到该案件。")
        return
    await _file(ctx, case, event.form.get("items", ""), event.form.get("reason", ""),
                event.form.get("note"), ctx.button.data.get("version"))


async def _file(ctx: Context, case: CaseRow, items_text: str, reason: str, note: str | None,
                version: str | None = None) -> None:
    """File a review request from a card (`version`: the evaluation it shows) or typed."""
    try:
        # first what the items and reason typed cannot change (an open request of theirs …):
        # said at once, not after the items are put right
        ev = await check_may_file(ctx, case, ctx.user)
        if version is not None and str(ev.version) != version:
            raise ReviewError(f"该卡片的评分已更新为第{ev.version}版，请在最新的案件码卡片上申请复核。")
        items = parse_items(items_text, ev, ctx)
        row = await file_request(ctx, case, ctx.user, items, reason, request_note(note))
    except AlreadyFiled as e:
        if e.row.status != State.JOINT_DONE:
            await ops.reply_in_confidence(ctx, None, case, str(e))
            return
        # only their 确认评议结果 unblocks them: offered right here, kept in step like the
        # receipt card it copies (the button goes once confirmed anywhere)
        view = await review_view(ctx, e.row, case)
        msg = await ops.reply_in_confidence(ctx, confirm_first_card(view, str(e)), case)
        repo.add_card(ctx.session, e.row.id, msg.id, "receipt")
        return
    except ReviewError as e:
        await ops.reply_in_confidence(ctx, None, case, str(e))
        return
    ctx.action_done()
    await ops.reply_in_confidence(
        ctx, None, case, f"复核申请 #{row.id} 已提交，承办检察官将在 {due_text(ctx, row)}答复。")


def _first_word(text: str) -> tuple[str, str, str]:
    """`str.partition` at the first blank of any kind (a full-width space, a new line)."""
    m = re.search(r"\s", text)
    return (text, "", "") if m is None else (text[:m.start()], m.group(), text[m.end():])


FILE_USAGE = "申请复核 <案件码> <扣分项序号> <理由>（序号如「第1项」）"


@router.command("申请复核", summary="对案件码的扣分项申请复核（侦查人员）", usage=FILE_USAGE,
                free_text=2)
async def file_typed(event: MessageEvent, ctx: Context) -> None:
    """申请复核 <案件码> <序号> <理由> typed: the same as the card's 申请复核 (the items as
    the card's form takes them, written without spaces: 1,3 / 第1项、第3项 / ①③)."""
    code_part, rest = ops.split_code_arg(ctx.args)
    case = await ops.case_from_args(ctx, FILE_USAGE, text=code_part)
    if case is None:
        return
    # the reason as typed: whatever blanks (full-width, a new line) follow the items
    items_text, blank, reason = _first_word(rest)
    items_text, joined = split_typed_items(items_text)  # 「第1项，理由」 typed without a blank
    if joined:
        reason = joined + blank + reason
    # 「申请复核 … 第1项 理由」 copied as it stands: the reason is the example's, nothing is filed
    example = is_placeholder(reason)
    if not items_text or not reason.strip() or example:
        try:  # what cannot be put right by typing more is said first, as on the card
            await check_may_file(ctx, case, ctx.user)
        except ReviewError:
            await _file(ctx, case, items_text, reason, None)
            return
        if example:
            await ctx.reply(f"「{reason.strip()}」是示例中的格式说明，请写明您的复核理由。")
            return
        await ctx.reply(f"请写明有异议的扣分项序号和复核理由，如「申请复核 {case.code} 第1项 理由」。")
        return
    await _file(ctx, case, items_text, reason, None)


# -- chat ---------------------------------------------------------------------------------------

@router.command("复核", summary="查看案件未办结的复核申请", usage="复核 <案件码>",
                readonly=True)
async def list_for_case(event: MessageEvent, ctx: Context) -> None:
    case = await ops.case_from_args(ctx, "复核 <案件码>")  # as 码 reads it
    if case is None:
        return
    allowed, investigates = await ops.view_access(ctx, ctx.user, case)
    if not allowed:
        moved = await ops.reassigned_refusal(ctx, ctx.user, case)
        await ctx.reply(moved or f"您无权查看 {case.code} 的复核申请。")
        return
    rows = await repo.open_for(ctx.session, case.code)
    rescore = await repo.awaiting_rescore(ctx.session, case.code)
    if not rows and not rescore:
        how = (f"如需申请复核，请发送「申请复核 {case.code} 第1项 理由」或点卡片上的「申请复核」。"
               if investigates and case.status == case_repo.OPEN else "")
        await ctx.reply(f"{case.code} 没有未办结的复核申请。{how}")
        return
    await ops.reply_in_confidence(ctx, Card(
        title=f"{case.code} 未办结的复核申请（{len(rows) + len(rescore)}）",
        body="\n\n".join([_line(ctx, r) for r in rows] + [
            _rescore_line(ctx, r, ctx.user.id == case.prosecutor) for r in rescore])),
        case)


def _rescore_line(ctx: Context, r: ReviewRow, scorer: bool) -> str:
    """A request waiting for the re-score: the case's prosecutor (`scorer`) gets the score
    form, which names the request; anyone else, who could not open it, who is waited on."""
    if scorer:
        return (f"#{r.id} {r.case_code} · {State(r.status).label}，待重新评分\n"
                f"去评分：{ops.score_url(ctx, r.case_code)}?review={r.id}")
    filer = ctx.directory.person_name(r.filed_by)
    return f"#{r.id} {r.case_code} · {State(r.status).label} · 申请人 {filer}\n等待承办检察官重新评分"


def _line(ctx: Context, r: ReviewRow) -> str:
    filer = ctx.directory.people.get(r.filed_by)
    return (f"#{r.id} {r.case_code} · {State(r.status).label} · 申请人 {filer.name if filer else r.filed_by}"
            f" · 答复期限 {due_text(ctx, r)}\n理由：{r.reason[:60]}")


TODO_CARDS = 5  # decision cards re-sent by one 待办; more are listed only


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


# voice: re-sending the decision cards records them (to keep them in step), which a read-only
# command cannot; nothing is decided until a button is tapped, so a spoken 待办 runs too
@router.command("待办", summary="我的待处理复核申请和待选择的黄码受理（检察官）或未办结的申请（侦查人员）",
                voice=True)
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
            rescore += [r for r in await repo.awaiting_rescore(ctx.session, case.code)
                        if r.filed_by == ctx.user.id]  # agreed: the re-score is what is left
    choices = await ops.waiting_choices(ctx, ctx.user) if ctx.user.has("prosecutor") else []
    if not rows and not rescore and not choices:
        await ctx.reply("您没有待办的复核申请。")
        return
    if rows or rescore:
        await ops.reply_in_confidence(ctx, Card(
            title=f"待办复核申请（{len(rows) + len(rescore)}）",
            body="\n\n".join([_line(ctx, r) for r in rows] + [
                _rescore_line(ctx, r, r.filed_by != ctx.user.id) for r in rescore])),
            None)
        for r, case in decide[:TODO_CARDS]:
            await send_decision_card(ctx, r, case)
        if len(decide) > TODO_CARDS:
            await ctx.send_dm(ctx.user.id, text=f"另有 {len(decide) - TODO_CARDS} 件待处理，"
                                                "处理完以上申请后再发送「待办」。")
    if choices:
        await _todo_choices(ctx, choices)


async def _todo_choices(ctx: Context, choices: list[tuple[CaseRow, Evaluation, IntakeRow]]
                        ) -> None:
    """The 黄码待定 waiting for this prosecutor's 延期受理 / 先收后补: listed, then a fresh
    受理待定 card for each (kept in step like the one the scan sent)."""
    lines = [f"🟡 {case.code} {case.title} 黄码 {ev.score}分 · 案管"
             f"{ctx.directory.person_name(row.by)} {local(row.at, ctx.config.tz)} 扫码受理，待定"
             for case, ev, row in choices]
    lines.append("请在下方「受理待定」卡片上选择，或发送「延期受理 案件码」/「先收后补 案件码」。")
    await ops.reply_in_confidence(ctx, Card(
        title=f"待选择的黄码受理（{len(choices)}）", body="\n".join(lines)), None)
    for case, ev, row in choices[:TODO_CARDS]:
        asked = await ctx.send_dm(ctx.user.id, card=intake_pending_card(
            ops.case_view(ctx, case), ev, ctx.directory.person_name(row.by)))
        await case_repo.add_intake_prompt(ctx.session, row, asked.id, row.by)
    if len(choices) > TODO_CARDS:
        await ctx.send_dm(ctx.user.id, text=f"另有 {len(choices) - TODO_CARDS} 件待定受理，"
                                            "选择完以上案件后再发送「待办」。")
