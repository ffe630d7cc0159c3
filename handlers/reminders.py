"""逾期提醒 in chat: 提醒 (my reminders), 提醒 暂停 <code> <days> (snooze), and the card buttons
已处理 / 发起会商 (去评估 is a link to the score form)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import cases as ops
from bot.context import Context
from bot.dispatcher import Router, listing_only, role_names
from bot.domain.reminders import CUSTODY, ReminderRule, rectification_subject
from bot.domain.workcal import day_text, office_deadline_text
from bot.events import CardActionEvent, MessageEvent
from bot.reminders import service_of, subject_deadlines
from cards.inspection import REPORT_DONE
from cards.model import Card
from cards.reminders import DEADLINE_LABELS, TITLES, deadline_text, escalated, local, local_due
from storage import cases as case_repo
from storage import reminders as repo
from storage.messages import message_card
from storage.reminders import SENT, Reminder

router = Router("reminders")
_SNOOZE = re.compile(rf"^(?:暂停\s*|snooze\s+)({ops.CODE_PATTERN})\s+(\d{{1,3}})\s*(?:天)?$",
                     re.IGNORECASE)
USAGE = "提醒 ｜ 提醒 暂停 <案件码> <天数>"
SHOWN = 10  # lines per part of 提醒: the card stays within a DingTalk card's size
ITEM_TEXT = 20  # characters of a rectification item's text in 提醒


@router.command("提醒", "reminders", summary="查看待办提醒；承办检察官可暂停某案提醒若干天",
                usage=USAGE, readonly=listing_only,  # the list only reads; 暂停 acts
                glued_words=("暂停",))
async def reminders_cmd(event: MessageEvent, ctx: Context) -> None:
    args = ctx.args.strip()
    if not args:
        await list_reminders(ctx)
        return
    m = _SNOOZE.match(args)
    if m is None:
        await ctx.reply(f"用法：{USAGE}（例如暂停 3 天：提醒 暂停 <案件码> 3）")
        return
    await snooze(ctx, m.group(1).upper(), int(m.group(2)))


async def list_reminders(ctx: Context) -> None:
    svc = service_of(ctx.services)
    tz = ctx.config.tz
    open_rows = await repo.open_for_person(ctx.session, ctx.user.id, limit=SHOWN)
    open_total = await repo.count_open_for_person(ctx.session, ctx.user.id)
    # a leader's too: the escalations of the unit's cases heading to them (责任倒查, …)
    upcoming = await svc.upcoming_for(ctx.session, ctx.user)
    # rectification items not yet due: reminded only once overdue, but theirs to act on now
    items = await svc.rectifications_not_due_for(ctx.session, ctx.user,
                                                 ctx.now().astimezone(tz).date())
    # one sent back (退回整改) before its due date has its first reminder planned already:
    # listed once, as the item not yet due it still is
    not_due = {rectification_subject(i.id) for i in items}
    upcoming = [r for r in upcoming if r.subject not in not_due]
    if not open_rows and not upcoming and not items:
        await ctx.reply("您目前没有待办提醒。")
        return
    lines: list[str] = []
    if open_rows:
        lines.append(f"待处理提醒（{open_total}条）：")
        deadlines = await subject_deadlines(ctx.session, open_rows, _custody_rules(svc.by_id))
        # per recipient: a leader was sent the escalations of a series, not its first reminders
        times = await repo.sent_counts(ctx.session, open_rows, await svc.escalated_only(
            ctx.session, ctx.user.id, open_rows))
        for r in open_rows:  # one open card per series: a repeat supersedes the one before
            sent = times.get(r.id, 1)
            lines.append(f"· {_listed(svc.by_id, r)} {subject_label(r)} "
                         f"{_due(r, tz, deadlines, svc.by_id)}{' （补发）' if r.late else ''}"
                         f"{f'（已提醒 {sent} 次）' if sent > 1 else ''}")
        lines += _more(open_total - len(open_rows), "见此前收到的提醒卡片")
    if upcoming:
        lines.append(f"即将提醒（{len(upcoming)}条）：")
        for r in upcoming[:SHOWN]:
            when = (f"将于 {office_deadline_text(r.deliver_at, tz)} 提醒" if r.deliver_at > ctx.now()
                    else f"已于 {office_deadline_text(r.deliver_at, tz)} 到期，将在办公时间发出")
            lines.append(f"· {_listed(svc.by_id, r)} {subject_label(r)} {when}")
        lines += _more(len(upcoming) - SHOWN, "时间更晚，届时提醒")
    if items:
        lines.append(f"未到期的整改事项（{len(items)}项）：")
        lines += [f"· 整改事项 #{i.id}，整改期限 {day_text(i.due)}：{_clip(i.text, ITEM_TEXT)}"
                  for i in items[:SHOWN]]
        lines += _more(len(items) - SHOWN, "期限更晚，逾期后提醒")
    # the cases and 整改事项 listed are the asker's to know: asked in a group, it comes privately
    await ops.reply_in_confidence(ctx, Card(title="我的提醒", body="\n".join(lines)), None)


def _due(r: Reminder, tz: ZoneInfo, deadlines: Mapping[str, tuple[str, date | datetime]],
         rules: Mapping[str, ReminderRule]) -> str:
    """When a reminder fell due; of a rectification item, a review request or a 责任倒查, its
    own deadline (整改期限, 答复期限, 羁押期限), the one its cards name."""
    found = deadlines.get(r.subject)
    rule = rules.get(r.rule_id)
    if found is None or rule is None or found[0] != rule.kind:
        return f"到期 {local_due(r.due_at, tz)}"
    kind, deadline = found
    return f"{DEADLINE_LABELS[kind]} {deadline_text(deadline, tz)}"


def _custody_rules(rules: Mapping[str, ReminderRule]) -> set[str]:
    return {rid for rid, rule in rules.items() if rule.kind == CUSTODY}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _more(hidden: int, where: str) -> list[str]:
    return [f"· 另有 {hidden} 项，{where}"] if hidden > 0 else []


def _label(rules: Mapping[str, ReminderRule], r: Reminder) -> str:
    rule = rules.get(r.rule_id)
    kind = rule.kind if rule else ""
    return TITLES.get(kind, "提醒").split(" · ")[-1]


def _listed(rules: Mapping[str, ReminderRule], r: Reminder) -> str:
    """The kind as 提醒 lists it: with （升级） on an escalation, as its card's title says."""
    rule = rules.get(r.rule_id)
    return _label(rules, r) + escalated(rule.kind if rule else "", r.escalation)


async def snooze(ctx: Context, code: str, days: int) -> None:
    svc = service_of(ctx.services)
    limits = ctx.config.reminders.snooze
    if not ctx.user.has("prosecutor"):
        await ctx.reply("「提醒 暂停」仅限承办检察官使用。")
        return
    case = await case_repo.get_case(ctx.session, code)
    if case is None:
        await ctx.reply(f"未找到案件码 {code}。")
        return
    if case.prosecutor != ctx.user.id:
        await ctx.reply(f"只有本案承办检察官可以暂停 {code} 的提醒。")
        return
    if (frozen := ops.withdrawn_refusal(ctx, case, "暂停提醒")) is not None:
        await ops.reply_in_confidence(ctx, None, case, f"{frozen}。")
        return
    if not 1 <= days <= limits.max_days:
        await ctx.reply(f"暂停天数须在 1 到 {limits.max_days} 天之间。")
        return
    used = await repo.snooze_count(ctx.session, code, ctx.user.id)
    if used >= limits.max_times:
        await ops.reply_in_confidence(ctx, None, case, f"{code} 的提醒已暂停 {used} 次，达到上限"
                                      f"（{limits.max_times} 次），不能再暂停。")
        return
    if not await repo.pending_reminders(ctx.session, code):
        await ops.reply_in_confidence(ctx, None, case,
                                      f"{code} 当前没有待发送的提醒，无需暂停（未计入暂停次数）。")
        return
    current = (await repo.snooze_until(ctx.session, [code])).get(code)
    if current is not None and current >= ctx.now() + timedelta(days=days):
        # the moment the reminders resume, as the first 暂停 said it (最早于 …): not a Sunday
        resume = svc.next_office_time(current)
        await ops.reply_in_confidence(ctx, None, case, f"{code} 的提醒已暂停至 "
                                      f"{office_deadline_text(resume, ctx.config.tz)}，本次没有延长，"
                                      "无需重复暂停（未计入暂停次数）。")
        return
    until = await svc.snooze(ctx, code, ctx.user.id, days)
    await ops.reply_in_confidence(
        ctx, None, case, f"已暂停 {code} 的提醒 {days} 天，最早于 "
        f"{office_deadline_text(until, ctx.config.tz)} 再次提醒"
        f"（第 {used + 1}/{limits.max_times} 次；责任倒查等升级提醒不受影响）。")


def subject_label(r: Reminder) -> str:
    """What a reminder is about, as its card names it: the case code, 复核申请 #n (with its
    case), 整改事项 #n."""
    if r.subject.startswith("review-"):
        number = r.subject.removeprefix("review-")
        return f"复核申请 #{number}（{r.case_code}）" if r.case_code else f"复核申请 #{number}"
    if r.subject.startswith("rectification-"):
        return "整改事项 #" + r.subject.removeprefix("rectification-")
    return r.subject


async def _clicked(ctx: Context) -> Reminder | None:
    assert ctx.card_message is not None
    r = await repo.by_message(ctx.session, ctx.card_message.id)
    if r is None or r.status != SENT:
        await ctx.reply("找不到这条提醒。")
        return None
    if r.closed_at is not None:
        await ctx.reply("这条提醒已处理。")
        return None
    # a button kept on a card sent before its reader lost access to the case (moved to
    # another office, reassigned away) acts on nothing and tells nothing of the case
    case = await case_repo.get_case(ctx.session, r.case_code) if r.case_code else None
    if case is not None and not await ops.may_view(ctx, ctx.user, case):
        await ctx.reply(f"您已无权查看案件 {case.code}，不能处理这条提醒。")
        return None
    return r


def _item_still_open(ctx: Context, r: Reminder) -> str:
    """What 已处理 on an overdue rectification item's reminder leaves undone, said to whoever
    may report it done (the card with 报告整改完成): the item stays open, and reminded, until
    they do; 已处理 only answers this one reminder."""
    assert ctx.card_message is not None
    card = message_card(ctx.card_message)
    if not r.subject.startswith("rectification-") or card is None \
            or card.button(REPORT_DONE) is None:
        return ""
    item = r.subject.removeprefix("rectification-")
    return (f"\n注意：整改事项 #{item} 仍未销号，逾期仍会提醒。"
            f"整改完成后请点整改事项卡片上的「报告整改完成」，或发送「整改完成 #{item} <说明>」。")


@router.action("reminder.done")
async def done(event: CardActionEvent, ctx: Context) -> None:
    r = await _clicked(ctx)
    if r is None:
        return
    still_open = _item_still_open(ctx, r)  # read from the card before it loses its buttons
    svc = service_of(ctx.services)
    rule = svc.by_id.get(r.rule_id)
    if r.escalation and rule is not None and rule.escalate_to \
            and not ctx.user.has(*rule.escalate_to):
        # an escalation is the leader's (inspector's) to settle: the person it is about closes
        # only their own copy (a prosecutor cannot dismiss the 责任倒查 sent to the leader)
        up = role_names(rule.escalate_to)  # whom the escalation goes up to
        if await svc.close_own_copy(ctx, r, ctx.user.id, f"仍待{up}处理"):
            ctx.action_done()
            await ctx.reply(f"已关闭您的这份{_label(svc.by_id, r)}提醒（{subject_label(r)}）；"
                            f"该提醒已报{up}，仍由{up}处理。{still_open}")
        else:
            await ctx.reply("这条提醒已处理。")
        return
    if await svc.close(ctx, r, ctx.user.id, "done"):
        ctx.action_done()
        due = _due(r, ctx.config.tz, await subject_deadlines(
            ctx.session, [r], _custody_rules(svc.by_id)), svc.by_id)
        await ctx.reply(f"已标记为已处理：{subject_label(r)} 的{_label(svc.by_id, r)}提醒，{due}。"
                        f"{still_open}")
    else:
        await ctx.reply("这条提醒已处理。")


@router.action("reminder.consult")
async def consult(event: CardActionEvent, ctx: Context) -> None:
    r = await _clicked(ctx)
    if r is None:
        return
    if r.case_code is None or not await service_of(ctx.services).start_consultation(
            ctx, r, ctx.user.id):
        await ctx.reply("这条提醒不能发起会商。")
        return
    ctx.action_done()
    when = local(ctx.now(), ctx.config.tz)
    case = await case_repo.get_case(ctx.session, r.case_code)
    if case is not None and case.prosecutor != ctx.user.id:  # their copy only lost its buttons
        await ctx.send_dm(case.prosecutor, text=f"{ctx.user.name}已发起 {case.code}《{case.title}》"
                                                f"的诉前会商（{when}），请与其联系开展会商。")
    await ctx.reply(f"已发起 {r.case_code} 的诉前会商（记录人 {ctx.user.name}，{when}）。")
