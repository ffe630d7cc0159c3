"""Reminder cards (逾期提醒): what is due and since when, with a button that leads to the act."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.workcal import day_text, office_deadline_text
from cards.inspection import report_done_button
from cards.model import Button, Card

VIEW = "reminder.view"  # 查看案件: a link to the code page, kept when the card is settled
TITLES = {
    "reevaluate": "逾期提醒 · 重新评估",
    "consultation": "预警提醒 · 诉前会商",  # before the deadline: nothing is overdue yet
    "custody": "升级督办 · 责任倒查",
    "review_answer": "逾期提醒 · 复核答复",
    "rectification": "逾期提醒 · 督察整改",
}


@dataclass(frozen=True)
class ReminderView:
    reminder_id: int
    kind: str
    rule_id: str
    text: str
    code: str
    due_at: datetime
    late: bool
    escalation: bool
    score_url: str | None
    consult: bool
    tz: ZoneInfo
    missed: tuple[datetime, ...] = ()  # earlier slots of the series folded into this one
    review_id: int | None = None  # an overdue answer: 去答复 brings up the request's card
    page_url: str | None = None  # the code page, for recipients who do not score the case
    red: bool = False  # about a red case (红码一周一评估): a red card, like the code
    status: str | None = None  # 现状: what became of the case since the reminder fell due
    # a rectification item's due date, a review request's answer time, a case's custody
    # deadline (责任倒查, due when that day ends): the one deadline its
    # card names (repeat reminders fall due later, which the card does not show as a second)
    deadline: date | datetime | None = None
    # an overdue rectification item, on the cards of its 责任人 and the unit's chief: they may
    # report it done (报告整改完成) from the reminder
    report_item: int | None = None
    score_label: str = "去评估"  # 去评分 for an agreed review request's missing re-score


def local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def local_due(at: datetime, tz: ZoneInfo) -> str:
    """A due time, with its weekday (2026-12-01（周二）09:00); a deadline that is a date
    (midnight) shows as the date alone."""
    t = at.astimezone(tz)
    return day_text(t, tz) if (t.hour, t.minute) == (0, 0) else office_deadline_text(t, tz)


# what a card of these kinds calls its one deadline (ReminderView.deadline)
DEADLINE_LABELS = {"rectification": "整改期限", "review_answer": "答复期限", "custody": "羁押期限",
                   "reevaluate": "评估期限"}


def deadline_text(d: date | datetime, tz: ZoneInfo) -> str:
    """A rectification item's due date, or a review request's answer time, a moment in office
    terms: 2026-12-02（周三）18:00 前; a date as 2026-12-02（周三）."""
    return f"{office_deadline_text(d, tz)} 前" if isinstance(d, datetime) else day_text(d, tz)


def escalated(kind: str, escalation: bool) -> str:
    """（升级） after the name of an escalation, but 责任倒查's (always one, titled 升级督办)."""
    return "（升级）" if escalation and kind != "custody" else ""


def due_line(v: ReminderView) -> str:
    """The line of a reminder's card saying by when: 应启动会商日期：…, its one deadline
    (评估期限：… 前, 羁押期限：…), else 到期时间：…（自该时起逾期）."""
    if v.kind == "consultation":  # 侦查期限届满前十五日启动侦诉会商: a start date, not a lapse
        return f"应启动会商日期：{day_text(v.due_at, v.tz)}"
    if v.kind in DEADLINE_LABELS and v.deadline is not None:
        return f"{DEADLINE_LABELS[v.kind]}：{deadline_text(v.deadline, v.tz)}"
    return f"到期时间：{local_due(v.due_at, v.tz)}（自该时起逾期）"


def reminder_card(v: ReminderView) -> Card:
    title = TITLES.get(v.kind, "逾期提醒") + escalated(v.kind, v.escalation)
    if v.late:
        title = "【补发】" + title
    body = f"{v.text}\n{due_line(v)}"
    if v.late:
        body += "\n本提醒未能按时送达（系统停机或非办公时间），现予补发。"
    if v.status:
        body += f"\n{STATUS_PREFIX}{v.status}"
    if v.missed:
        dates = "、".join(day_text(d, v.tz) for d in sorted(
            {d.astimezone(v.tz).date() for d in v.missed}))
        body += f"\n此前 {len(v.missed)} 次到期提醒（{dates}）未单独发送，已合并为本条。"
    data = {"id": str(v.reminder_id)}
    actions: list[Button] = []
    if v.score_url:
        actions.append(Button(id="reminder.evaluate", label=v.score_label, url=v.score_url))
    elif v.page_url:
        actions.append(Button(id=VIEW, label="查看案件", url=v.page_url))
    if v.consult:
        actions.append(Button(id="reminder.consult", label="发起会商", data=data))
    if v.review_id is not None:
        actions.append(Button(id="review.resend", label="去答复",
                              data={"review": str(v.review_id)}))
    if v.report_item is not None:
        actions.append(report_done_button(v.report_item))
    actions.append(Button(id="reminder.done", label="已处理", data=data))
    color = "red" if v.escalation or v.kind == "custody" or v.red else "yellow"
    return Card(title=title, body=body, color=color, actions=tuple(actions))


STATUS_PREFIX = "现状："


def restated(card: Card, status: str, keep_evaluate: bool,
             evaluate_url: str | None = None) -> Card:
    """A sent card with its 现状 line (what became of the case since) replaced, and without
    去评估 once there is nothing left to evaluate. With ``evaluate_url`` (the prosecutor's
    copy, the case red again: reopened, or re-scored back to red) a copy still open that lost
    去评估 gets it back."""
    body = "\n".join(line for line in card.body.split("\n") if not line.startswith(STATUS_PREFIX))
    actions = tuple(a for a in card.actions if keep_evaluate or a.id != "reminder.evaluate")
    if keep_evaluate and evaluate_url and actions and card.button("reminder.evaluate") is None:
        actions = (Button(id="reminder.evaluate", label="去评估", url=evaluate_url), *actions)
    return replace(card, body=f"{body}\n{STATUS_PREFIX}{status}", actions=actions)


def closed_card(card: Card, label: str, who: str, at: datetime, tz: ZoneInfo,
                note: str | None = None, footer: str | None = None) -> Card:
    """The same card after someone acted: who did what and when (and a note), or `footer`
    where the case's cards say it one way (案件已结案（2026-12-03）); no buttons but 查看案件, a
    link that still leads a leader to the case."""
    return replace(card, actions=tuple(b for b in card.actions if b.id == VIEW),
                   footer=footer or f"{label}：{who} {local(at, tz)}" + (f"（{note}）" if note else ""))


def superseded_card(card: Card, at: datetime, tz: ZoneInfo) -> Card:
    """An open card of a series after its next reminder went out to the same person (at
    ``at``): no buttons, the new card is the one to act on."""
    return replace(card, actions=(), footer=f"已由 {at.astimezone(tz):%Y-%m-%d} 的新提醒取代")


def reopened_card(card: Card, reminder_id: int, label: str, who: str, at: datetime,
                  tz: ZoneInfo, extra: tuple[Button, ...] = ()) -> Card:
    """A card closed for its subject that is owed again (an item 销号 by a 整改汇报 that was
    corrected, or reported done and sent back): 已处理 is back (after `extra`, the buttons this
    recipient had besides: 报告整改完成), and the footer says why and since when."""
    actions = card.actions if card.button("reminder.done") else (
        *card.actions, *(b for b in extra if card.button(b.id) is None),
        Button(id="reminder.done", label="已处理", data={"id": str(reminder_id)}))
    return replace(card, actions=actions, footer=f"{label}：{who} {local(at, tz)}")


def restored_card(card: Card, fresh: Card) -> Card:
    """A card its case's closing took the buttons off (案件已结案), the case reopened and the
    reminder still owed: the buttons of ``fresh`` (the card as the sweep would draw it now for
    this recipient), no closing footer; the text as it was sent (missed dates, 补发)."""
    return replace(card, actions=fresh.actions, footer=None)
