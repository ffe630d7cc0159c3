"""改派: the case-management system hands a case to another prosecutor (PATCH /api/v1/cases).

Everything that acts for the case's prosecutor reads `case.prosecutor` when it acts (scoring,
answering a review request, 延期受理 / 先收后补, 撤销案件, the reminders at send time, 我的案件,
待办, 统计), so changing it hands the case over; what is left is what people see: the new
prosecutor is told what waits for them, the old one's cards lose the buttons only the case's
prosecutor may use. The old one no longer sees the case (unless they oversee its office): their
1:1 cards of it lose every button and stop following it (`ops.redraw_case_card`), and its
pages and 码 tell them why (case_former_prosecutors, `ops.reassigned_refusal`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot import cases as ops
from bot.context import Outbound
from bot.domain.review import State
from bot.domain.scoring import FieldError
from bot.domain.workcal import office_deadline_text
from bot.reminders import (
    HandedOver,
    hand_over_case,
    hand_over_reviews,
    link_handed_over,
    send_handed_over,
)
from bot.reviews import due_text, refresh_cards, send_decision_card
from cards.cases import CHOICES, reassigned_card, view_actions
from cards.model import KEY_SEP, Button
from config.model import Person
from storage import cases as repo
from storage import messages as msgs
from storage import reviews as review_repo
from storage.cases import OPEN, CaseRow
from storage.reviews import ReviewRow

# the buttons of case cards that only the case's prosecutor may use: 去评分 / 打开评分表,
# 延期受理 / 先收后补, 确认撤销 (the review cards' are theirs by the card's kind)
PROSECUTORS_OWN = ("case.score", *CHOICES, "case.withdraw")


async def reassign(out: Outbound, case: CaseRow, to: Person, by: str) -> bool:
    """Make `to` (checked by `ops.prosecutor_error`) the prosecutor of `case` (locked by the
    caller), with a `case.reassign` audit record; False when they already are. CaseInputError
    for a prosecutor of another office."""
    before = case.prosecutor
    if to.id == before:
        return False
    if to.unit != case.unit:  # the case stays with its office (its code, who oversees it)
        raise ops.CaseInputError([FieldError(
            "prosecutor", f"承办检察官须为本案所属院（{out.directory.unit_name(case.unit)}）的检察官")])
    case.prosecutor = to.id
    await out.session.flush()
    await repo.add_former_prosecutor(out.session, case.code, before, out.now())
    await out.audit(by, "case.reassign", case.code, {"from": before, "to": to.id})
    footer = ops.reassigned_text(out, case)
    rows = await review_repo.for_case(out.session, case.code)
    # the reminder series go on, at send time, to the new prosecutor; the case's reminders
    # sent and not settled follow it, and the old prosecutor's 提醒 暂停 ends
    handed = await hand_over_case(out, case, before, footer)
    overdue = await hand_over_reviews(out, case, [r.id for r in rows], before, footer)
    svc = out.services.reminders
    paused = await svc.end_snooze(out, case.code, by) if svc is not None else None
    await _retire_own_cards(out, case, before, footer)
    for row in rows:
        await _hand_over_review_cards(out, row, case, before)
    await _tell_new(out, case, to, before, rows, handed, overdue, paused)
    if out.directory.person(before) is not None:
        await out.send_dm(before, f"{case.code} 已改派给 {to.name}，此后由其承办。")
    return True


def _own(button: Button, code: str, score_url: str) -> bool:
    """Whether `button` is one only the prosecutor of case `code` may use."""
    return button.id.split(KEY_SEP)[0] in PROSECUTORS_OWN and (
        button.data.get("code") == code or (button.url or "").split("?")[0] == score_url)


async def _retire_own_cards(out: Outbound, case: CaseRow, before: str, footer: str) -> None:
    """The old prosecutor's cards of the case (in their 1:1 chat, or asked for in a group they
    are in) lose 去评分 / 打开评分表, 延期受理 / 先收后补 and 确认撤销, footed `footer`."""
    chats = [f"dm:{before}"] + [c.id for c in out.directory.chats_of(before)]
    url = ops.score_url(out, case.code)
    for msg in await msgs.bot_cards_mentioning(out.session, chats, case.created_at, case.code):
        card = msgs.message_card(msg)
        if card is None:
            continue
        kept = tuple(b for b in card.actions if not _own(b, case.code, url))
        if kept != card.actions:
            await ops.redraw_case_card(out, case, msg, replace(card, actions=kept, footer=footer))


async def _hand_over_review_cards(out: Outbound, row: ReviewRow, case: CaseRow,
                                  before: str) -> None:
    """The prosecutor's cards of a review request in the old prosecutor's chat become theirs
    no more (kind `former`: no buttons, 已改派给 …); any the new prosecutor had of it from an
    earlier turn on the case are theirs again. All are redrawn, kept in step from now on."""
    changed = False
    for c in await review_repo.cards(out.session, row.id):
        msg = await msgs.get_message(out.session, c.message_id)
        if msg is None:
            continue
        if c.kind == "prosecutor" and msg.chat == f"dm:{before}":
            c.kind, changed = "former", True
        elif c.kind == "former" and msg.chat == f"dm:{case.prosecutor}":
            c.kind, changed = "prosecutor", True
    if changed:
        await out.session.flush()
        await refresh_cards(out, row, case)


async def _tell_new(out: Outbound, case: CaseRow, to: Person, before: str,
                    rows: list[ReviewRow], handed: list[HandedOver],
                    overdue: dict[int, list[HandedOver]], paused: datetime | None) -> None:
    """The new prosecutor's card: the case, where it stands, what waits for them, with the
    buttons their 码 card has; then the decision card of each request waiting for an answer
    and their copy of each reminder `handed` over. A request's overdue-answer reminder
    (`overdue`, by request) gets no card of its own beside the decision card, which carries
    the answer and says 已逾期: that card stands for it (in 提醒, settled by the answer).
    `paused`: when the old prosecutor's 提醒 暂停, ended, would have let the reminders
    resume."""
    ev = await repo.current_evaluation(out.session, case)
    last = await repo.last_intake(out.session, case.code)
    waiting: list[str] = []
    answer = [r for r in rows if r.status in (State.PENDING, State.JOINT)]
    for r in answer:
        filer = out.directory.person_name(r.filed_by)
        if r.status == State.PENDING:
            late = "（已逾期）" if out.now() >= r.due_at else ""
            waiting.append(f"待您答复：复核申请 #{r.id}（申请人 {filer}），"
                           f"答复期限 {due_text(out, r)}{late}")
        else:
            waiting.append(f"待您记录评议结果：复核申请 #{r.id}（申请人 {filer}），"
                           f"检警共同评议 {r.joint_time}")
    for r in await review_repo.awaiting_rescore(out.session, case.code):
        waiting.append(f"待您重新评分：复核申请 #{r.id} 已同意调整，去评分："
                       f"{ops.score_url(out, case.code)}?review={r.id}")
    is_open = case.status == OPEN
    decided = {r.id for r in answer} if is_open else set()
    # the re-score's reminder (agreed, not yet re-scored) has no decision card: its own copy
    handed = handed + [h for rid, hs in overdue.items() if rid not in decided for h in hs]
    waiting += [h.line for h in handed]
    if paused is not None and is_open:
        resume = office_deadline_text(paused, out.services.config.tz)
        waiting.append(f"原承办检察官的提醒暂停（至 {resume}）已随改派结束，提醒照常发给您；"
                       f"如需暂停，请发送「提醒 暂停 {case.code} <天数>」（次数重新计算）。")
    page, _ = ops.code_links(out, case.code)
    actions = view_actions(case.code, page, can_score=is_open,
                           score_url=ops.score_url(out, case.code), can_intake=False,
                           can_choose=ops.offers_choice(to, case, ev, last))
    view = ops.case_view(out, case, last, taken_in=await ops.taken_in_on(out, case))
    await out.send_dm(to.id, card=reassigned_card(
        view, ev, out.directory.person_name(before), waiting, actions,
        closed=ops.closed_footer(out, case)))
    if is_open:
        for r in answer:
            msg_id = await send_decision_card(out, r, case)
            link_handed_over(out, overdue.get(r.id, []), to.id, msg_id)
    await send_handed_over(out, handed, to.id, before)
