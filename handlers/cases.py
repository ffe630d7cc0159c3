"""案件码 in chat: 码 / 我的案件 / 新建案件 / 评分 / 受理 / 统计, pasted code links, and card
buttons."""

from __future__ import annotations

from dataclasses import replace

from bot import cases as ops
from bot.context import Context
from bot.dispatcher import ANY_TEXT, Router
from bot.domain.codes import ending_code
from bot.domain.helptext import is_placeholder
from bot.domain.period import ALL_WORDS, PERIOD_WORDS, STATS_EXAMPLES, TYPED_FORMS, PeriodError, parse_period
from bot.domain.scoring import Color, Evaluation
from bot.domain.text import one_line
from bot.events import CardActionEvent, MessageEvent
from bot.reminders import replan_case
from cards.cases import (
    OwnCode,
    choice_settled,
    delivery_card,
    intake_chosen_card,
    intake_done_card,
    intake_list_actions,
    intake_pending_card,
    intake_returned_card,
    intake_state,
    intake_waiting_card,
    local,
    new_case_card,
    score_link_card,
    view_card,
    withdraw_confirm_card,
)
from cards.model import Card
from cards.stats import stats_card
from config.model import Person
from storage import cases as repo
from storage import messages as msgs
from storage.cases import CaseRow, DeliveryRow, IntakeRow

router = Router("cases")


@router.hearing
def hear_case_code(text: str) -> str | None:
    """A voice message ending with a case code as a recognizer writes it (「码 HY 2026 0001」,
    「复核 hy 二零二六 零零零一」, 「HY，2026，0001」): the code as typed (码 HY-2026-0001), so
    码, 复核, 评分 and a code alone read it. Anything else is left as heard."""
    found = ending_code(text)
    return None if found is None else f"{found[0]} {found[1]}".strip()


async def show_case(ctx: Context, case: CaseRow) -> None:
    allowed, investigates = await ops.view_access(ctx, ctx.user, case)
    if not allowed:
        moved = await ops.reassigned_refusal(ctx, ctx.user, case)
        await ctx.reply(moved or f"您无权查看案件码 {case.code}：{ops.VIEW_RULE}。")
        return
    ev = await repo.current_evaluation(ctx.session, case)
    intake = await repo.latest_intake(ctx.session, case)  # read with the case: no query
    # who got and acknowledged the card: only where everyone reading may know (a card in a
    # group with an investigator leaves it out)
    readers = await ops.audience(ctx, ctx.event.chat, ctx.user, case)
    receipts = await ops.receipts_for(ctx, readers, case)
    page, qr = ops.code_links(ctx, case.code)
    view = ops.case_view(ctx, case, intake, receipts, await ops.taken_in_on(ctx, case))
    card = view_card(view, ev, ctx.services.settings.template, page, qr,
                     can_score=ctx.user.id == case.prosecutor and case.status == repo.OPEN,
                     score_url=ops.score_url(ctx, case.code),
                     can_intake=ops.offers_intake(ctx, ctx.user, case, ev, intake),
                     can_choose=ops.offers_choice(ctx.user, case, ev, intake),
                     own=await _own_code(ctx, case, ev, investigates, readers),
                     closed=ops.closed_footer(ctx, case))
    await ops.reply_in_confidence(ctx, card, case)
    await ctx.audit(ctx.user.id, "case.view", case.code, {"via": "chat"})


async def _own_code(ctx: Context, case: CaseRow, ev: Evaluation | None, investigates: bool,
                    readers: list[Person]) -> OwnCode | None:
    """The investigator's own buttons on their 码 card (申请复核, 已知悉), when it is theirs
    alone to read and the case is open and scored: one read of their delivered card, to know
    whether they acknowledged it."""
    if not investigates or ev is None or case.status != repo.OPEN \
            or [p.id for p in readers] != [ctx.user.id]:
        return None
    mine = await repo.own_delivery(ctx.session, case.code, ev.version, ctx.user.id)
    acked = mine.acknowledged_at if mine is not None else None
    return OwnCode((ctx.user.name, acked) if acked is not None else None, ctx.config.tz,
                   delivered=mine is not None)


@router.command("码", "code", summary="查看案件码（评分、扣分项、二维码）", usage="码 <案件码>",
                readonly=True)
async def code_cmd(event: MessageEvent, ctx: Context) -> None:
    case = await ops.case_from_args(ctx, "码 <案件码>", ops.EXPIRED_LINK)
    if case is not None:
        await show_case(ctx, case)


@router.pattern(rf"(?i)^\W*{ops.CODE_PATTERN}\W*$", readonly=True)
async def bare_code(event: MessageEvent, ctx: Context) -> None:
    """A case code on its own, as investigators type or paste it (「HY-2026-0001」 and
    HY-2026-0001？ too)."""
    case = await ops.case_from_args(ctx, "码 <案件码>")
    if case is not None:
        await show_case(ctx, case)


@router.pattern(ops.LINK_PATTERN, readonly=True)
async def pasted_link(event: MessageEvent, ctx: Context) -> None:
    """A code link pasted into the chat, as 码 <link>. An old (expired) link still names its
    case: the person gets the current card with a fresh link, as with 码 <案件码>."""
    case = await ops.case_from_args(ctx, "码 <案件码>", ops.EXPIRED_LINK)
    if case is not None:
        await show_case(ctx, case)


ICON = {"red": "🔴", "yellow": "🟡", "green": "🟢"}
# how the waiting list (待受理, 我的案件) ends a case's line: not scanned yet, or waiting for its
# prosecutor's choice
NOT_TAKEN_IN = "待受理"
WAITING_TEXT = "待定（等待承办检察官选择）"


@router.command("我的案件", summary="列出您名下在办案件及其颜色；案管部门另列本院及下级院等待受理的案件"
                "（可加页码或颜色）", usage="我的案件 [页码] [红码/黄码/绿码/待定]", readonly=True,
                glued_words=("第", *ops.WAITING_FILTERS))
async def my_cases(event: MessageEvent, ctx: Context) -> None:
    """The open cases the asker prosecutes or investigates; a case manager also gets the cases
    waiting for intake in the offices they oversee (a page of them, a colour: 我的案件 2,
    我的案件 黄码), and a leader or 检察长 with none of their own is told where their cases are
    followed instead."""
    manager = ctx.user.has("case_manager")
    if ctx.args:
        if not manager:
            await ctx.reply("「我的案件」后无需加内容：直接发送「我的案件」即列出您名下全部在办案件。")
            return
        query = ops.waiting_query(ctx.args)
        if query is None:
            await ctx.reply(f"用法：{ops.WAITING_USAGE}。")
            return
        await _waiting_for_intake(ctx, query, "我的案件")
        return
    rows = await repo.cases_of(ctx.session, ctx.user.id)
    if rows:
        lines = [f"{ICON.get(c.color or '', '⚪')} {c.code} {c.title} "
                 f"{Color(c.color).label + ' ' + str(c.score) + '分' if c.color else '尚未评分'}"
                 + (CHOICE_MARK if _asks_choice(ctx, c) else "") for c in rows]
        if any(_asks_choice(ctx, c) for c in rows):
            lines.append("受理待定的案件请发送「待办」选择，或发送「延期受理 案件码」/「先收后补 案件码」。")
        await ops.reply_in_confidence(
            ctx, Card(title=f"我的案件（{len(rows)}件）", body="\n".join(lines)), None)
    if manager:
        await _waiting_for_intake(ctx, ops.WaitingQuery(), "我的案件")
    elif not rows:
        await ctx.reply("您名下没有在办案件。" + _elsewhere(ctx))


@router.command("待受理", summary="案管部门：本院及下级院等待受理的案件（同「我的案件」，可加页码或颜色）",
                usage="待受理 [页码] [红码/黄码/绿码/待定]", readonly=True,
                glued_words=("第", *ops.WAITING_FILTERS))
async def waiting_cmd(event: MessageEvent, ctx: Context) -> None:
    """The case managers' word for their waiting list, the word the list itself uses."""
    if not ctx.user.has("case_manager"):
        await ctx.reply("「待受理」用于案管部门查看等待扫码受理的案件；您名下的在办案件请发送「我的案件」。")
        return
    query = ops.waiting_query(ctx.args)
    if query is None:
        await ctx.reply(f"用法：{ops.WAITING_USAGE.replace('我的案件', '待受理')}。")
        return
    await _waiting_for_intake(ctx, query, "待受理")


CHOICE_MARK = " · 受理待定，请选择延期受理或先收后补"


def _asks_choice(ctx: Context, case: CaseRow) -> bool:
    """A case of the asker's 我的案件 whose 黄码待定 waits for their choice (as the case row
    says: no query)."""
    return (case.prosecutor == ctx.user.id and case.color == Color.YELLOW.value
            and case.intake == ops.INTAKE_BY_COLOR[Color.YELLOW])


async def _waiting_for_intake(ctx: Context, query: ops.WaitingQuery, word: str) -> None:
    """A case manager's list of what waits for them (扫码分类受理) and for the prosecutors' choice
    (待定), in the offices they oversee: a page of it, of one colour when asked. `word`: the
    command typed, repeated in how to get the next page."""
    shown, total = await ops.waiting_for_intake(ctx.services, ctx.user, query)
    scope = ops.overseen_text(ctx.directory, ctx.user)
    only = query.only or ""
    again = f"{word} {only + ' ' if only else ''}"
    if not total and query.page > 1:
        await ctx.reply(f"第 {query.page} 页没有{only}案件（每页 {ops.WAITING_SHOWN} 件）。"
                        f"请发送「{again.strip()}」从第 1 页看起。")
        return
    if not total:
        await ctx.reply(f"{scope}目前没有等待受理的{only}案件（已评分、未结案，且当前评分尚未受理或待定）。")
        return
    first = (query.page - 1) * ops.WAITING_SHOWN
    lines = [f"范围：{scope}"]
    lines += [f"{ICON.get(c.color, '⚪')} {c.code} {c.title} {Color(c.color).label} {c.score}分 · "
              + (WAITING_TEXT if c.pending else NOT_TAKEN_IN) for c in shown]
    after = total - first - len(shown)
    if query.page > 1 or after:
        lines.append(f"按案件码顺序，本页为第 {first + 1}–{first + len(shown)} 件"
                     + (f"，另有 {after} 件未列出。" if after else "。"))
    lines.append("点下方「受理 案件码」、扫描案件二维码或发送「受理 案件码」受理；"
                 "待定的案件由承办检察官选择延期受理或先收后补。")
    if after:
        lines.append(f"下一页：{again}{query.page + 1}")
    await ops.reply_in_confidence(
        ctx, Card(title=f"等待受理的{only}案件（{total}件）", body="\n".join(lines),
                  actions=intake_list_actions([c.code for c in shown if not c.pending])), None)


def _elsewhere(ctx: Context) -> str:
    """Where a leader or 检察长, who prosecute and investigate no case, follow their cases."""
    if not ctx.user.has("leader", "chief"):
        return ""
    where = []
    if ctx.user.has(*ops.STATS_ROLES):
        where.append("本院及下级院的案件情况请发送「统计」")
    where.append("升级给您的提醒（红码责任倒查、复核答复超期）请发送「提醒」" if ctx.user.has("leader")
                 else "您的提醒（如督察整改事项）请发送「提醒」")
    where.append("查看某一案件请发送「码 案件码」")
    return "；".join(where) + "。"


@router.command("评分", summary="打开案件评分表（承办检察官）", usage="评分 <案件码>",
                roles=("prosecutor",), readonly=True)
async def score_cmd(event: MessageEvent, ctx: Context) -> None:
    case = await ops.case_from_args(ctx, "评分 <案件码>")
    if case is None:
        return
    if case.prosecutor != ctx.user.id:
        await ctx.reply(f"只有本案承办检察官可以为 {case.code} 评分。")
        return
    if case.status != repo.OPEN:  # withdrawn, or closed: the form would refuse it
        await ops.reply_in_confidence(
            ctx, None, case, text=f"{case.code} {ops.not_open_text(ctx, case)}，不能评分。")
        return
    ev = await repo.current_evaluation(ctx.session, case)
    await ops.reply_in_confidence(
        ctx, score_link_card(ops.case_view(ctx, case), ev, ops.score_url(ctx, case.code)), case)


@router.command("新建案件", "录入案件", "新案件", summary="新建案件：打开录入表，提交后生成案件码并进入评分"
                "（承办检察官）", usage="新建案件 [案件名称]", roles=("prosecutor",), readonly=True,
                glued_words=ANY_TEXT, free_text=0)
async def new_case_cmd(event: MessageEvent, ctx: Context) -> None:
    """The link to the 新建案件 form (the web session says who submits it), in the asker's
    1:1 chat: typed in a group, it comes privately."""
    typed = ops.prefill_title(ctx.args)
    if is_placeholder(typed):
        await ctx.reply(f"「{typed.strip()}」是格式说明，请换成案件名称，如：新建案件 张某盗窃案；"
                        "也可以只发送「新建案件」，在录入表中填写。")
        return
    title = typed[:ops.TITLE_MAX]  # what the form can hold: the card says when it was cut
    card = new_case_card(ops.new_case_url(ctx, title), title,
                         cut_at=ops.TITLE_MAX if len(typed) > ops.TITLE_MAX else None)
    if ctx.event.chat == f"dm:{ctx.user.id}":
        await ctx.reply(card=card)
        return
    await ctx.send_dm(ctx.user.id, card=card)
    await ctx.reply("新建案件的录入表已私信发给您，请在与 casebot 的单聊中打开。")


WITHDRAW_CONFIRM = "确认"


def _typed_confirm(rest: str) -> tuple[str, bool]:
    """(the reason, whether it ends with the word 确认 on its own): 「重复录入 确认」,
    「重复录入，确认」, 「确认」."""
    bare = rest.rstrip("。．｡. ")  # 「重复录入 确认。」: the full stop ends the command
    if bare == WITHDRAW_CONFIRM:
        return "", True
    head = bare.removesuffix(WITHDRAW_CONFIRM)
    if head != bare and head[-1:].isspace():  # 「重复录入。 确认」: the reason keeps its 。
        return head.rstrip(), True
    if head != bare and head[-1:] in ops.WITHDRAW_SEPARATORS:  # 「重复录入，确认」
        return head[:-1].rstrip(), True
    return rest, False


# what the group reads when 撤销案件, its confirmation or refusal, comes privately
WITHDRAW_NOTE = "撤销案件涉及办案信息，已私信回复您。"


@router.command("撤销案件", summary="撤销误录入的案件（仅限尚未评分的本人案件，需确认）",
                usage=ops.WITHDRAW_USAGE, roles=("prosecutor",), free_text=1)
async def withdraw_cmd(event: MessageEvent, ctx: Context) -> None:
    """撤销案件 <案件码> [原因]: a card to confirm (确认撤销); with 确认 after it, at once."""
    code_part, rest = ops.split_code_arg(ctx.args)
    if ops.starts_with_code(rest):
        await ctx.reply(f"一次请只发一个案件码。用法：{ops.WITHDRAW_USAGE}")
        return
    case = await ops.case_from_args(ctx, ops.WITHDRAW_USAGE, text=code_part)
    if case is None:
        return
    reason, confirmed = _typed_confirm(rest)
    reason = one_line(reason)  # as typed, but on one line: the card's 撤销原因 is one
    if (why := ops.withdraw_refusal(ctx, case, ctx.user)) is not None:
        await ops.reply_in_confidence(ctx, None, case, why, group_note=WITHDRAW_NOTE)
        return
    if (bad := ops.withdraw_reason_error(reason)) is not None:
        await ctx.reply(f"{bad}用法：{ops.WITHDRAW_USAGE}")
        return
    if confirmed:  # with no reason typed, the one on the card it confirms
        await _withdraw(ctx, case.code, reason or await ops.pending_withdraw_reason(ctx, case))
        return
    typed = f"撤销案件 {case.code} {reason + ' ' if reason else ''}{WITHDRAW_CONFIRM}"
    await ops.reply_in_confidence(
        ctx, withdraw_confirm_card(ops.case_view(ctx, case), reason, typed), case,
        group_note=WITHDRAW_NOTE)


@router.action("case.withdraw", roles=("prosecutor",))
async def withdraw_button(event: CardActionEvent, ctx: Context) -> None:
    """确认撤销 on the card 撤销案件 sent: once (a second tap finds the case withdrawn)."""
    assert ctx.button is not None and ctx.card_message is not None
    reason = ctx.button.data.get("reason", "")
    if await _withdraw(ctx, ctx.button.data.get("code", ""), reason):
        ctx.action_done()
    # the card says it is done (by this tap or an earlier one); a refused tap leaves it as it is
    case = await repo.get_case(ctx.session, ctx.button.data.get("code", ""))
    done = ops.withdrawn_text(ctx, case) if case is not None else None
    old = msgs.message_card(ctx.card_message)
    if case is not None and old is not None and old.actions and done is not None:
        await ops.redraw_case_card(ctx, case, ctx.card_message,
                                   replace(old, actions=(), footer=done))


async def _withdraw(ctx: Context, code: str, reason: str) -> bool:
    """Withdraw the case under its lock, re-checked there (of two confirmations, the second
    finds it withdrawn and is told so); its pending reminders are called off."""
    case = await repo.get_case(ctx.session, code, for_update=True)
    if case is None:
        await ctx.reply(f"未找到案件码 {code}。")
        return False
    if (why := ops.withdraw_refusal(ctx, case, ctx.user)) is not None:
        await ops.reply_in_confidence(ctx, None, case, why, group_note=WITHDRAW_NOTE)
        return False
    await ops.withdraw(ctx, case, ctx.user, reason)
    await replan_case(ctx, case, by=ctx.user.id)
    await ops.retire_withdrawn_cards(ctx, case)
    await ops.reply_in_confidence(
        ctx, None, case, f"已撤销案件 {case.code}。该案件不再列入我的案件和统计，也不再提醒。",
        group_note=WITHDRAW_NOTE)
    return True


@router.action("case.ack", roles=("investigator",))
async def ack(event: CardActionEvent, ctx: Context) -> None:
    """已知悉 on the delivered card, or on the investigator's 码 card (their card of the
    version it shows)."""
    assert ctx.card_message is not None and ctx.button is not None
    delivery = await repo.delivery_for_message(ctx.session, ctx.card_message.id)
    if delivery is not None and delivery.person_id != ctx.user.id:
        await ctx.reply("这张卡片不是发给您的，无法确认。")
        return
    code = delivery.case_code if delivery is not None else ctx.button.data.get("code", "")
    case = await repo.get_case(ctx.session, code)
    if case is None:
        await ctx.reply("未找到该案件。")
        return
    if delivery is None:  # the 码 card: of the version it shows, if still the current one
        version = ctx.button.data.get("version", "")
        if version != str(case.version):
            await ctx.reply(f"该卡片的评分已更新为第{case.version}版，请在最新的案件码卡片上确认知悉。")
            return
        delivery = await repo.own_delivery(ctx.session, case.code, case.version, ctx.user.id)
        if delivery is None:
            await ctx.reply(f"您没有收到 {case.code} 第{case.version}版的案件码卡片，无需确认知悉。")
            return
    await _acknowledge(ctx, case, delivery)


async def _acknowledge(ctx: Context, case: CaseRow, delivery: DeliveryRow) -> None:
    """已知悉 of the investigator's card `delivery`, once: the delivered card loses its 已知悉
    and says who acknowledged when; so does the 码 card it was tapped on."""
    if case.status != repo.OPEN:  # the card lost 已知悉 on closing; an old rendering may not have
        await ops.reply_in_confidence(
            ctx, None, case, f"案件 {case.code} {ops.not_open_text(ctx, case)}，无需确认知悉。")
        return
    if not await ops.acknowledge(ctx, delivery, ctx.user):
        await ops.reply_in_confidence(
            ctx, None, case, "您已确认过这张案件码卡片。" if ctx.card_message is not None
            else f"您已确认知悉 {case.code}（第{delivery.version}版），无需重复确认。")
        return
    ctx.action_done()
    ev = next(e for e in await repo.evaluations(ctx.session, case.code)
              if e.version == delivery.version)
    now, tz = ctx.now(), ctx.config.tz
    msg = await msgs.get_message(ctx.session, delivery.message_id)
    old = msgs.message_card(msg) if msg is not None else None
    if msg is not None and old is not None:
        page = next((b.url for b in old.actions if b.id == "case.open"), None)
        card = delivery_card(ops.case_view(ctx, case), ev, ctx.services.settings.template,
                             page or ops.code_links(ctx, case.code)[0],
                             old.image or ops.code_links(ctx, case.code)[1],
                             (ctx.user.name, now), tz)
        # what it said (转码, 已销号) stays as sent
        await ops.redraw_case_card(ctx, case, msg, replace(card, body=old.body))
    tapped = ctx.card_message  # the 码 card, when tapped there
    if tapped is not None and tapped.id != delivery.message_id \
            and (shown := msgs.message_card(tapped)) is not None:
        await ops.redraw_case_card(ctx, case, tapped, replace(
            shown, actions=tuple(a for a in shown.actions if a.id != "case.ack"),
            footer=f"已知悉：{ctx.user.name} {local(now, tz)}"))
    await ops.reply_in_confidence(ctx, None, case, f"已确认知悉 {case.code}（第{ev.version}版）。")


ACK_USAGE = "已知悉 <案件码>"


@router.command("已知悉", "收到", summary="确认知悉收到的案件码（侦查人员）", usage=ACK_USAGE)
async def ack_cmd(event: MessageEvent, ctx: Context) -> None:
    """已知悉 / 收到 <案件码> typed: the same as 已知悉 on the card of the current version. In a
    group without @casebot, 「收到」 without a code is people talking: no answer."""
    if not (event.is_direct or event.mentioned) and not ops.starts_with_code(ctx.args):
        return
    if not ctx.args:
        await ctx.reply("请发送「已知悉 案件码」确认知悉，如「已知悉 HY-2026-0001」，"
                        "或点案件码卡片上的「已知悉」。")
        return
    case = await ops.case_from_args(ctx, ACK_USAGE)
    if case is None:
        return
    if ctx.user.id not in await repo.investigators(ctx.session, case.code):
        await ctx.reply(f"只有本案侦查人员可以确认知悉 {case.code} 的案件码。")
        return
    if case.status == repo.OPEN and case.version == 0:
        await ops.reply_in_confidence(ctx, None, case, f"{case.code} 尚未评分，没有需要确认的案件码。")
        return
    delivery = await repo.own_delivery(ctx.session, case.code, case.version, ctx.user.id)
    if delivery is None and case.status == repo.OPEN:
        await ops.reply_in_confidence(
            ctx, None, case, f"您没有收到 {case.code} 第{case.version}版的案件码卡片，无需确认知悉。")
        return
    if delivery is None:
        await ops.reply_in_confidence(
            ctx, None, case, f"案件 {case.code} {ops.not_open_text(ctx, case)}，无需确认知悉。")
        return
    await _acknowledge(ctx, case, delivery)


@router.command("受理", "扫码受理", summary="扫码分类受理：绿码放行、黄码待定、红码退回（案管部门）",
                usage="受理 <案件码>", roles=("case_manager",))
async def intake(event: MessageEvent, ctx: Context) -> None:
    case = await ops.case_from_args(ctx, "受理 <案件码>")
    if case is not None:
        await take_in(ctx, case)


@router.action("case.intake", roles=("case_manager",))
async def intake_button(event: CardActionEvent, ctx: Context) -> None:
    """扫码受理 on the 码 card, or 受理 <案件码> on the waiting list (one per case listed): the
    same as typing 受理 <案件码>. The button leaves the card once it has decided (scanning
    again is 受理, which says what was decided); the list keeps the other cases' buttons."""
    assert ctx.button is not None and ctx.card_message is not None
    case = await repo.get_case(ctx.session, ctx.button.data.get("code", ""))
    if case is None:
        await ctx.reply("未找到该案件。")
        return
    if not await take_in(ctx, case):
        return
    ctx.action_done()
    old = msgs.message_card(ctx.card_message)
    if old is not None:
        body = old.body
        if ctx.button.id != "case.intake":  # a 受理 <案件码> of the list: its line says what now
            last = await repo.last_intake(ctx.session, case.code)
            body = _listed_as(body, case.code, last.decision if last is not None else None)
        await ops.redraw_case_card(ctx, case, ctx.card_message, replace(
            old, body=body, actions=tuple(a for a in old.actions if a.id != ctx.button.id)))


def _listed_as(body: str, code: str, decision: str | None) -> str:
    """The waiting list's `body` with the line of `code` ending with `decision` (已放行, 已退回,
    or 待定 as the list says it), no longer · 待受理."""
    if decision is None:
        return body
    now = WAITING_TEXT if decision == ops.INTAKE_BY_COLOR[Color.YELLOW] else f"已{decision}"
    was = f" · {NOT_TAKEN_IN}"
    return "\n".join(
        line.removesuffix(NOT_TAKEN_IN) + now if line.endswith(was) and f" {code} " in line
        else line for line in body.split("\n"))


async def take_in(ctx: Context, case: CaseRow) -> bool:
    """扫码分类受理 of `case` by the sender (受理 <案件码>, the 码 card's button, the code
    page): green 放行, yellow 待定 (the prosecutor chooses), red 退回. False when nothing was
    decided for lack of right or of a score, or the case is closed."""
    if not ops.in_scope(ctx, ctx.user, case.unit):
        await ctx.reply(f"{case.code} 不属于您所在院，无法受理。")
        return False
    case, last, raced = await ops.lock_for_intake(ctx, case.code)
    if case.status != "open":  # nothing to take in; a 待定 would ask the prosecutor for nothing
        await ops.reply_in_confidence(
            ctx, None, case, f"{case.code} {ops.not_open_text(ctx, case)}，无需受理。")
        return False
    ev = await repo.current_evaluation(ctx.session, case)
    if ev is None:
        await ops.reply_in_confidence(
            ctx, None, case, f"{case.code} 尚未评分，不能受理，请联系承办检察官先行评分。")
        return False
    if last is not None and last.version == ev.version:  # scanned again, not re-scored since
        await _intake_again(ctx, case, ev, last, remind=not raced)
        return True
    view = ops.case_view(ctx, case)
    decision = ops.INTAKE_BY_COLOR[ev.color]
    rescanned = (f"已重新评分为{ev.color.label} {ev.score}分，"
                 f"{local(ctx.now(), ctx.config.tz)} 已重新扫码受理")
    waited = await ops.retire_waiting(ctx, case, rescanned, rescanned)
    row = await ops.record_intake(ctx, case, ctx.user, ev, decision)
    # scanned in a group: the card comes privately unless everyone there may see the case
    if ev.color is Color.GREEN:
        await ops.reply_in_confidence(ctx, intake_done_card(
            view, ev, "放行", ctx.user.name, ctx.now(), ctx.config.tz), case)
    elif ev.color is Color.RED:
        await ops.reply_in_confidence(
            ctx, intake_returned_card(view, ev, ops.open_items_text(ev, ctx)), case)
    else:
        waiting = await ops.reply_in_confidence(ctx, intake_waiting_card(view, ev), case)
        await repo.set_intake_card(ctx.session, row, waiting.id)
        asked = await ctx.send_dm(case.prosecutor,
                                  card=intake_pending_card(view, ev, ctx.user.name))
        await repo.add_intake_prompt(ctx.session, row, asked.id, ctx.user.id)
    await _tell_rescanned(ctx, case, ev, row, [m for m in waited if m != ctx.user.id])
    return True


async def _tell_rescanned(ctx: Context, case: CaseRow, ev: Evaluation, row: IntakeRow,
                          managers: list[str]) -> None:
    """Case managers who waited for the prosecutor's choice on an earlier version, whose 待定
    this scan of a re-scored case replaced (one the re-score left waiting: recorded before
    re-scores moot a 待定, or by a scan racing the re-score): told once what became of it. A new 待定 asks the
    prosecutor on their behalf too, so they are told that choice as well."""
    scanned = (f"{case.code} 已重新评分为{ev.color.label} {ev.score}分，原待定受理不再等待"
               f"承办检察官选择；{ctx.user.name}已重新扫码受理：{row.decision}")
    for manager in managers:
        if row.decision == ops.INTAKE_BY_COLOR[Color.YELLOW]:
            await repo.join_intake_prompt(ctx.session, row, manager)
            await ops.notify(ctx, case, manager, f"{scanned}，承办检察官选择后将通知您。")
        else:
            await ops.notify(ctx, case, manager, f"{scanned}。")


async def _intake_again(ctx: Context, case: CaseRow, ev: Evaluation, last: IntakeRow,
                        remind: bool = True) -> None:
    """A case scanned again with no new evaluation since its last intake decision: the scanner
    learns that decision; the investigators are not told again. A case still 待定 reminds its
    prosecutor once more, unless `remind` is False (the scan raced the decision, whose request
    to the prosecutor has just gone out); either way the scanner is told the choice."""
    by = ctx.directory.person_name(last.by)
    when = local(last.at, ctx.config.tz)
    state = f"{ev.color.label} {ev.score}分"
    await ctx.audit(ctx.user.id, "case.intake.repeat", case.code,
                    {"decision": last.decision, "version": ev.version})
    if last.decision != ops.INTAKE_BY_COLOR[Color.YELLOW]:
        await ops.reply_in_confidence(ctx, None, case, text=(
            f"{case.code} 已于 {when} 作出受理决定：{last.decision}（{by}，{state}）。"
            "此后未重新评分，无需重复受理，不再重复通知侦查人员。"))
        return
    view = ops.case_view(ctx, case)
    scanned = f"{case.code} 已于 {when} 由{by}扫码受理（{state}，待定），"
    if not remind:
        await repo.join_intake_prompt(ctx.session, last, ctx.user.id)
        await ops.reply_in_confidence(ctx, None, case, text=(
            f"{scanned}已请承办检察官{view.prosecutor}选择延期受理或先收后补，无需重复受理。"))
        return
    asked = await ctx.send_dm(case.prosecutor,
                              card=intake_pending_card(view, ev, ctx.user.name, again=True))
    await repo.add_intake_prompt(ctx.session, last, asked.id, ctx.user.id)
    await ops.reply_in_confidence(ctx, None, case, text=(
        f"{scanned}承办检察官{view.prosecutor}尚未选择延期受理或先收后补，已再次提醒。"))


async def choose_intake(ctx: Context, code: str, decision: str) -> None:
    """The prosecutor's choice on a 黄码待定 (延期受理 / 先收后补), from the 受理待定 card, their
    码 card or typed: once, checked against the case as it stands."""
    # locked: of two clicks at the same moment (PostgreSQL), the second finds the decision
    case = await repo.get_case(ctx.session, code, for_update=True)
    if case is None or case.prosecutor != ctx.user.id:
        await ctx.reply("只有本案承办检察官可以作出该决定。")
        return
    ev = await repo.current_evaluation(ctx.session, case)
    if case.intake is None or ev is None:  # typed on a case never scanned: nothing to choose
        await ctx.reply(f"{case.code} 尚未扫码受理，没有待您选择的受理决定。")
        return
    view = ops.case_view(ctx, case)
    last = await repo.latest_intake(ctx.session, case)
    # moot since the scan: closed, or re-scored (yellow again too: the 待定 was on the old score)
    if case.status != "open" or ev.color is not Color.YELLOW or (
            case.intake == ops.INTAKE_BY_COLOR[Color.YELLOW]
            and not ops.offers_choice(ctx.user, case, ev, last)):
        await _moot_choice(ctx, case, ev)
        return
    if case.intake != ops.INTAKE_BY_COLOR[Color.YELLOW]:  # decided already (another card)
        await _redraw_choice_card(ctx, case, intake_done_card(
            view, ev, case.intake, ctx.user.name, ctx.now(), ctx.config.tz),
            f"已决定：{case.intake}", ops.case_view(ctx, case, last).intake)
        await ops.reply_in_confidence(
            ctx, None, case, text=f"{case.code} 已作出受理决定：{case.intake}，无需重复选择。")
        return
    ctx.action_done()
    pending = await ops.waiting_intakes(ctx, case.code)
    now, tz = ctx.now(), ctx.config.tz
    done = intake_done_card(view, ev, decision, ctx.user.name, now, tz)
    footer = f"已决定：{decision}（{ctx.user.name} {local(now, tz)}）"
    state = intake_state(decision, ctx.user.name, now, ev.version, case.version, True, tz)
    await _redraw_choice_card(ctx, case, done, footer, state)
    # the case manager's 待定 card, and the prosecutor's other cards asking the same
    await ops.retire_waiting(ctx, case, intake_chosen_card(
        view, ev, decision, ctx.user.name, now, tz), done)
    await ops.settle_choice_cards(ctx, case, done, footer, state)
    await ops.record_intake(ctx, case, ctx.user, ev, decision)
    await ops.reply_in_confidence(ctx, None, case, text=f"{case.code} 已决定：{decision}。")
    # every case manager who scanned it while it waited
    scanners = await repo.intake_scanners(ctx.session, pending[-1]) if pending else []
    for manager in scanners:
        if manager != ctx.user.id:
            await ops.notify(ctx, case, manager, f"{case.code} 承办检察官{ctx.user.name}已决定：{decision}。")


async def _redraw_choice_card(ctx: Context, case: CaseRow, whole: Card | None, footer: str,
                              intake: str | None = None) -> None:
    """The card the choice was tapped on (none when typed), as `choice_settled` redraws it."""
    old = msgs.message_card(ctx.card_message) if ctx.card_message is not None else None
    if ctx.card_message is None or old is None:
        return
    if (card := choice_settled(old, whole, footer, intake)) != old:
        await ops.redraw_case_card(ctx, case, ctx.card_message, card)


async def _moot_choice(ctx: Context, case: CaseRow, ev: Evaluation) -> None:
    """A choice made after the case was closed or re-scored (yellow again too): nothing is
    decided; the cards are redrawn (and the case managers told) unless they already were."""
    if case.status != "open":
        footer = await ops.intake_moot_by_closing(ctx, case)
        answer = f"{case.code} {ops.not_open_text(ctx, case)}，不再待定，无需选择。"
    else:
        footer = await ops.intake_moot_by_rescore(ctx, case, ev)
        # yellow again: scanned again, the case asks the prosecutor again
        answer = (f"{case.code} {ops.rescored_text(ev)}，原待定不再有效；请案管部门重新扫码受理后再选择。"
                  if ev.color is Color.YELLOW else
                  f"{case.code} 现为{ev.color.label} {ev.score}分，不再待定，无需选择；"
                  "请案管部门重新扫码受理。")
    await _redraw_choice_card(ctx, case, None, footer)
    await ops.reply_in_confidence(ctx, None, case, text=answer)


@router.action("intake.defer", roles=("prosecutor",))
async def intake_defer(event: CardActionEvent, ctx: Context) -> None:
    assert ctx.button is not None
    await choose_intake(ctx, ctx.button.data.get("code", ""), "延期受理")


@router.action("intake.receive", roles=("prosecutor",))
async def intake_receive(event: CardActionEvent, ctx: Context) -> None:
    assert ctx.button is not None
    await choose_intake(ctx, ctx.button.data.get("code", ""), "先收后补")


async def _typed_choice(ctx: Context, decision: str) -> None:
    """延期受理 / 先收后补 <案件码> typed: the same as the buttons, for the case's prosecutor."""
    case = await ops.case_from_args(ctx, f"{decision} <案件码>")
    if case is None:
        return
    if case.prosecutor != ctx.user.id:
        await ctx.reply(f"「{decision}」由本案承办检察官在黄码待定时选择，您不是 {case.code} 的承办检察官。")
        return
    await choose_intake(ctx, case.code, decision)


@router.command("延期受理", summary="黄码待定：选择延期受理（承办检察官）", usage="延期受理 <案件码>")
async def defer_cmd(event: MessageEvent, ctx: Context) -> None:
    await _typed_choice(ctx, "延期受理")


@router.command("先收后补", summary="黄码待定：选择先收后补（承办检察官）", usage="先收后补 <案件码>")
async def receive_cmd(event: MessageEvent, ctx: Context) -> None:
    await _typed_choice(ctx, "先收后补")


@router.command("统计", summary="案件码统计（颜色分布、转码、绿码用时、受理、羁押期限），"
                "可按案件录入日期限定期间：" + "、".join(TYPED_FORMS)
                + "、今年、2026-10、2026-10-01 至 2026-11-30",
                usage="统计 [期间]", roles=ops.STATS_ROLES, readonly=True,
                glued_words=(*PERIOD_WORDS, *ALL_WORDS))
async def stats_cmd(event: MessageEvent, ctx: Context) -> None:
    try:
        period = parse_period(ctx.args, ctx.clock.now().astimezone(ctx.config.tz).date())
    except PeriodError as e:
        await ctx.reply(f"{e}。{STATS_EXAMPLES}")
        return
    card = stats_card(await ops.case_stats(ctx.services, ctx.user, period),
                      ctx.config.web.base_url)
    chat = ctx.directory.chat(ctx.event.chat)
    if chat is not None and all((p := ctx.directory.person(pid)) is not None and p.has(*ops.STATS_ROLES)
                                and ops.in_scope(ctx, p, ctx.user.unit) for pid in chat.members):
        # a group where everyone may ask for these figures themselves: the asker's office is
        # theirs or one below it
        await ctx.reply(card=card)
    else:
        await ops.reply_in_confidence(ctx, card, None)
