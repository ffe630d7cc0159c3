"""The review-request service (复核申请): file a request, move it through its states
(compare-and-set), keep every card about it up to date, and answer it when a re-score comes
(`on_evaluation`, a hook every evaluation runs). Shared by the chat and card handlers
(handlers/reviews.py) and the case pages (bot/web/case_pages.py)."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from bot import cases as ops
from bot.context import Outbound
from bot.domain.reminders import answer_deadline
from bot.domain.review import (
    Action,
    IllegalTransition,
    State,
    changes_disputed,
    next_state,
    settled_by,
    sources,
)
from bot.domain.review import awaits_rescore as domain_awaits_rescore
from bot.domain.scoring import Evaluation
from bot.domain.text import char_problem
from bot.domain.workcal import office_deadline_text
from bot.reminders import plan_review_reminders, settle_review_reminders
from cards.reviews import CONFIRM, RENDER, ReviewView
from config.model import Person
from storage import cases as case_repo
from storage import reviews as repo
from storage.cases import CaseRow
from storage.messages import get_message
from storage.reviews import ReviewRow

log = logging.getLogger(__name__)


class ReviewError(ValueError):
    """A refusal to show the person as is (Chinese)."""


def candidates(ev: Evaluation) -> list[str]:
    """Items that may be disputed, in card order: the deductions, then the veto hits."""
    return [d.item for d in ev.deductions] + [v for v in ev.vetoes if v not in
                                              {d.item for d in ev.deductions}]


async def dispute_choices(out: Outbound, code: str) -> list[tuple[int, str, str]]:
    """The current evaluation's disputable items as (card number, label, 「−3分」/「一票否决」),
    for a form that lists them; [] for an unknown or unscored case."""
    case = await case_repo.get_case(out.session, code)
    ev = await case_repo.current_evaluation(out.session, case) if case is not None else None
    if ev is None:
        return []
    points = {d.item: d.points for d in ev.deductions}
    template = out.services.settings.template
    return [(n, template.item(i).label, f"−{points[i]}分" if points.get(i) else "一票否决")
            for n, i in enumerate(candidates(ev), 1)]


def nothing_to_dispute(code: str, ev: Evaluation) -> ReviewError | None:
    """The refusal when the evaluation deducts nothing and hits no veto (e.g. 100分)."""
    if candidates(ev):
        return None
    return ReviewError(f"{code} 当前评分（第{ev.version}版）没有扣分项，无需申请复核。")


# how people write a card number: 7, 第7项, 7项, 第7条, ⑦ (circled 1–20)
_NUMBERED = re.compile(r"^第?(\d+)[项条]?$")
_CIRCLED = {chr(0x2460 + i): str(i + 1) for i in range(20)}


def _number(tok: str) -> str:
    """'第7项' / '7项' / '⑦' → '7'; anything else as it is."""
    tok = _CIRCLED.get(tok, tok)
    m = _NUMBERED.match(tok)
    return m.group(1) if m else tok


_JOINED = re.compile(r"以及|[和及与跟]")  # 1和3, 1 及 3


def _split_joined(tok: str) -> list[str]:
    """'1和3' / '①③' / '第1项与第3项' → its numbers; a token of no such shape as it is."""
    spaced = "".join(f"和{c}和" if c in _CIRCLED else c for c in tok)  # ①③ → 和①和和③和
    parts = [p for p in _JOINED.split(spaced) if p]
    return parts if parts and all(_number(p).isdecimal() for p in parts) else [tok]


_ITEM = r"(?:第?\d+[项条]?|[\u2460-\u2473])"
_ITEM_LIST = re.compile(rf"{_ITEM}(?:[,，、;；和及与跟]*{_ITEM})*")
_LIST_THEN_TEXT = re.compile(rf"({_ITEM_LIST.pattern})[,，。：:;；!！]+(\S.*)", re.DOTALL)


def split_typed_items(word: str) -> tuple[str, str]:
    """The items and the start of the reason of 申请复核 typed with no blank between them
    (「第1项，金额已核实」 → 「第1项」, 「金额已核实」); a word that is only items, or that
    starts with none, is (word, "")."""
    if _ITEM_LIST.fullmatch(word) or not (m := _LIST_THEN_TEXT.fullmatch(word)):
        return word, ""
    return m.group(1), m.group(2)


def parse_items(text: str, ev: Evaluation, out: Outbound) -> list[str]:
    """'1,3' / '1和3' / '第1项、第3项' / '①③' (card numbers), item ids or labels → item ids
    of the current evaluation."""
    cands = candidates(ev)
    labels = {out.services.settings.template.item(i).label: i for i in cands}
    numbers = "1" if len(cands) == 1 else f"1–{len(cands)}"
    # 「第1项、第3项。」: a sentence's full stop ends the list, as a comma separates it
    tokens = [t for t in re.split(r"[,，、;；。\s]+", text.strip().rstrip(".．")) if t]
    tokens = [p for t in tokens if not _JOINED.fullmatch(t)  # 1 及 3; a label keeps its 与
              for p in ([t] if t in cands or t in labels else _split_joined(t))]
    if not tokens:  # typed in the card's text field: there is nothing to 选择 there
        example = "1" if len(cands) == 1 else "1,2"
        raise ReviewError(f"请填写有异议的扣分项序号（卡片上的 {numbers}，如「{example}」）。")
    picked: list[str] = []
    for tok in tokens:
        num = _number(tok)
        if num.isdecimal() and 1 <= int(num) <= len(cands):  # not ², which int() refuses
            item = cands[int(num) - 1]
        elif tok in cands:
            item = tok
        elif tok in labels:
            item = labels[tok]
        else:
            raise ReviewError(f"「{tok[:20]}」不是当前评分中的扣分项。请填写卡片上的序号（{numbers}）。")
        if item not in picked:
            picked.append(item)
    return picked


class AlreadyFiled(ReviewError):
    """The person's own request on the case is not settled (待处理, 共同评议, 评议完成待确认, or
    agreed and waiting for the re-score): they file no other until it is. `row` is that
    request."""

    def __init__(self, code: str, row: ReviewRow) -> None:
        state = State(row.status)
        # a joint review's 调整 waits for the filer's confirmation first: that is what they
        # must do (the card carries the button), not wait for the re-score
        if state != State.JOINT_DONE and domain_awaits_rescore(row.status, row.outcome,
                                                               row.new_version):
            super().__init__(f"您对 {code} 的复核申请 #{row.id} 已同意调整，正等待承办检察官重新评分；"
                             "重新评分后新的案件码将发给您，届时仍有异议可再申请复核。")
        else:
            wait = {State.PENDING: "请等待处理或先撤回",  # only 待处理 may be withdrawn
                    State.JOINT_DONE: f"请先在评议结果卡片上点「{CONFIRM}」"}.get(state, "请等待办结")
            super().__init__(f"您对 {code} 已有一个未办结的复核申请（#{row.id}，{state.label}），{wait}。")
        self.row = row


async def check_may_file(out: Outbound, case: CaseRow, person: Person) -> Evaluation:
    """Whether `person` may file a review request on `case` now, asked before they pick the
    items and write a reason (the code page's form, the card's 申请复核) and again when they
    submit: the evaluation they would dispute, else the ReviewError to show (AlreadyFiled:
    their open request)."""
    if person.id not in await case_repo.investigators(out.session, case.code):
        raise ReviewError("只有本案侦查人员可以申请复核。")
    if case.status != "open":
        done = ops.withdrawn_text(out, case) or "已结案"
        raise ReviewError(f"案件 {case.code} {done}，不能再申请复核。")
    ev = await case_repo.current_evaluation(out.session, case)
    if ev is None:
        raise ReviewError("该案件尚未评分，无需复核。")
    if (refusal := nothing_to_dispute(case.code, ev)) is not None:
        raise refusal
    existing = await repo.unsettled_for(out.session, case.code, person.id)
    if existing:
        raise AlreadyFiled(case.code, existing[0])
    return ev


async def file_request(out: Outbound, case: CaseRow, person: Person, items: list[str],
                       reason: str, notes: dict[str, str] | None = None) -> ReviewRow:
    """File the request. Checked and inserted under the case's row lock (SQLite: the write
    transaction's BEGIN IMMEDIATE), so of simultaneous submissions — a double tap, two
    instances — the first files and the others are told of its request (AlreadyFiled); the
    unique index uq_review_one_unsettled holds should anything insert past the lock."""
    if await case_repo.get_case(out.session, case.code, for_update=True) is None:
        raise ReviewError(f"案件 {case.code} 不存在。")
    ev = await check_may_file(out, case, person)
    items = list(dict.fromkeys(items))  # an item ticked twice is disputed once
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
    for note in (notes or {}).values():  # the same limit as the reason it adds to
        if len(note) > limit:
            raise ReviewError(f"补充说明不能超过 {limit} 字（现 {len(note)} 字）。")
    for label, text in (("复核理由", reason), *(("补充说明", n) for n in (notes or {}).values())):
        if (problem := char_problem(label, text, multiline=True)) is not None:
            raise ReviewError(problem + "。")
    try:
        async with out.session.begin_nested():
            row = await repo.add_request(
                out.session, case_code=case.code, version=ev.version, filed_by=person.id,
                filed_at=out.now(), items=json.dumps(items), reason=reason,
                notes=json.dumps(notes or {}, ensure_ascii=False), status=State.PENDING.value,
                due_at=answer_due(out, out.now()))
    except IntegrityError:
        existing = await repo.unsettled_for(out.session, case.code, person.id)
        if not existing:
            raise
        raise AlreadyFiled(case.code, existing[0]) from None
    await out.audit(person.id, "review.file", case.code, {"review": row.id, "items": items})
    view = await review_view(out, row, case)
    for pid, kind in ((case.prosecutor, "prosecutor"), (person.id, "receipt")):
        msg = await out.send_dm(pid, card=RENDER[kind](view))
        repo.add_card(out.session, row.id, msg.id, kind)
    await out.session.flush()
    await plan_review_reminders(out, row.id)
    return row


REQUEST_NOTE = ""  # the key of a 补充说明 about the whole request, not one item


def request_note(note: str | None) -> dict[str, str] | None:
    """The notes of a request whose form has one 补充说明 field (the card, the code page)."""
    note = (note or "").strip()
    return {REQUEST_NOTE: note} if note else None


def answer_due(out: Outbound, filed_at: datetime) -> datetime:
    """The answer time (答复期限): the end of office hours of the last working day."""
    return answer_deadline(filed_at, out.config.cases.review_answer_working_days,
                           out.services.calendar, out.config.tz, out.config.office_hours.end)


def due_text(out: Outbound, row: ReviewRow) -> str:
    """答复期限 as the cards, the code page and the replies show it: 2026-12-02（周三）18:00 前."""
    return f"{office_deadline_text(row.due_at, out.config.tz)} 前"


async def review_view(out: Outbound, row: ReviewRow, case: CaseRow) -> ReviewView:
    d, t = out.directory, out.services.settings.template
    ev = await case_repo.current_evaluation(out.session, case)
    versions = {e.version: e for e in await case_repo.evaluations(out.session, case.code)}
    disputed = versions.get(row.version, ev)
    points = {x.item: x.points for x in disputed.deductions} if disputed else {}
    notes = json.loads(row.notes or "{}")  # by item; REQUEST_NOTE: the whole request's
    # an item the current evaluation no longer holds was cleared (销号) since it was disputed
    still = set(candidates(ev)) if ev is not None and ev.version != row.version else None
    items = tuple(
        f"{t.item(i).label}（{'−' + str(points[i]) + '分' if points.get(i) else '一票否决'}）"
        + (f"：{notes[i]}" if notes.get(i) else "")
        + (f"（第{case.version}版已销号）" if still is not None and i not in still else "")
        for i in repo.items_of(row))
    rescored = None
    if row.new_version is not None:
        new = versions[row.new_version]
        rescored = f"{new.color.label} {new.score}分（第{new.version}版）"

    def name(pid: str | None) -> str | None:
        return d.person_name(pid) if pid else pid

    return ReviewView(
        id=row.id, code=case.code, title=case.title, color=case.color,
        color_label=ev.color.label if ev else "未评分", score=case.score,
        filer=name(row.filed_by) or row.filed_by, items=items, reason=row.reason,
        due=due_text(out, row),
        state=State(row.status), reject_reason=row.reject_reason, joint_time=row.joint_time,
        outcome=row.outcome, minutes=row.minutes, decided_by=name(row.decided_by),
        confirmed_by=name(row.confirmed_by), rescored=rescored, note=notes.get(REQUEST_NOTE),
        score_url=f"{ops.score_url(out, case.code)}?review={row.id}",
        joint_example=joint_example(out), case_closed=ops.closed_footer(out, case),
        overdue=row.status == State.PENDING and out.now() >= row.due_at,
        prosecutor=d.person_name(case.prosecutor))


async def send_decision_card(out: Outbound, row: ReviewRow, case: CaseRow) -> int:
    """A fresh copy of the prosecutor's card for `row` in their 1:1 chat, kept in step like
    the original; its message id."""
    msg = await out.send_dm(case.prosecutor, card=RENDER["prosecutor"](
        await review_view(out, row, case)))
    repo.add_card(out.session, row.id, msg.id, "prosecutor")
    return msg.id


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
            await ops.redraw_case_card(out, case, msg, RENDER[c.kind](view))


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
    """Whom the case's office escalates to (``Directory.leaders_of``: its 院领导, else its
    检察长, else the office above's)."""
    leaders = out.directory.leaders_of(case.unit)
    if not leaders:
        log.warning("no leader or chief for unit %s (case %s) nor above it", case.unit, case.code)
    return leaders[0] if leaders else None


async def joint_invitees(out: Outbound, row: ReviewRow, case: CaseRow
                         ) -> tuple[list[str], Person | None]:
    """Whom a 检警共同评议 invites besides the filer: the case's other investigators (ids) and
    the leader of the case's unit (None when it has none)."""
    others = [p for p in await case_repo.investigators(out.session, case.code)
              if p != row.filed_by]
    return others, leader_of(out, case)


def awaits_rescore(row: ReviewRow | None, case_code: str) -> bool:
    """The request of this case was agreed (or the joint review changed the score) and no
    evaluation has answered it yet."""
    return row is not None and row.case_code == case_code and domain_awaits_rescore(
        row.status, row.outcome, row.new_version)


async def on_case_status(out: Outbound, case: CaseRow, *, ended: bool = False) -> None:
    """A case closed (or reopened) by the case-management system: the cards about its
    requests are redrawn, without buttons while it is closed. `ended` (it was open until
    now): everyone invited to a joint review still to be held is told it is called off, or
    they would turn up to it."""
    for row in await repo.for_case(out.session, case.code):
        await refresh_cards(out, row, case)
        if ended and row.status == State.JOINT:
            others, leader = await joint_invitees(out, row, case)
            why = "案件已撤销" if ops.withdrawn_text(out, case) else "案件已结案"
            for pid in dict.fromkeys([row.filed_by, *others, *([leader.id] if leader else [])]):
                await ops.notify(out, case, pid, f"复核申请 #{row.id}（{case.code}）的共同评议"
                                                 f"（{row.joint_time}）已取消：{why}。")


async def on_evaluation(out: Outbound, case: CaseRow, ev: Evaluation) -> None:
    """A re-score answers the request it references, and any other waiting for a re-score
    (agreed, or 调整 by its joint review) whose disputed items it scores differently: link it
    and tell the filer. One that leaves every disputed item as it was (an unrelated re-score
    through the API) answers nothing: the request stays waiting, and chased. A request still undecided
    (pending, or waiting for its joint review) whose every disputed item the re-score cleared
    is settled (已由重新评分解决): nothing is left to answer. Every card about the case's
    requests is re-rendered, so none still calls the old colour 当前 or offers stale buttons."""
    rows = await repo.for_case(out.session, case.code)
    versions = {e.version: e for e in await case_repo.evaluations(out.session, case.code)}
    answered = [r for r in rows if awaits_rescore(r, case.code) and (
        ev.review_request_id == r.id
        or changes_disputed(repo.items_of(r), versions.get(r.version), ev))]
    for row in answered:
        row.new_version = ev.version
    await out.session.flush()
    for row in answered:
        await out.audit(ev.by, "review.rescored", case.code,
                        {"review": row.id, "version": ev.version})
        await settle_review_reminders(out, row.id, ev.by, "rescored")
        await ops.notify(out, case, row.filed_by, f"您的复核申请 #{row.id}（{case.code}）已重新评分："
                                                  f"{ev.color.label} {ev.score}分（第{ev.version}版）。")
    for row in rows:
        if row.status in (State.PENDING, State.JOINT) and settled_by(repo.items_of(row), ev):
            await _settle(out, row, case, ev)
    for row in rows:
        await refresh_cards(out, row, case)


async def _settle(out: Outbound, row: ReviewRow, case: CaseRow, ev: Evaluation) -> None:
    """已由重新评分解决: the request is closed, its overdue-answer reminders with it; the filer
    (and, for a joint review that was arranged, everyone invited to it) is told why."""
    joint = row.status == State.JOINT
    if not await apply(out, row, Action.SETTLE, decided_by=ev.by, decided_at=out.now(),
                       new_version=ev.version):
        return
    await out.audit(ev.by, "review.settle", case.code, {"review": row.id, "version": ev.version})
    await settle_review_reminders(out, row.id, ev.by, "settled")
    text = (f"复核申请 #{row.id}（{case.code}）有异议的扣分项已在第{ev.version}版评分中全部销号"
            f"（现为{ev.color.label} {ev.score}分），申请已办结，无需再处理。")
    notify = [row.filed_by]
    if joint:  # everyone the joint review invited
        others, leader = await joint_invitees(out, row, case)
        notify += others + ([leader.id] if leader is not None else [])
        text += f"原定 {row.joint_time} 的检警共同评议不再举行。"
    for pid in dict.fromkeys(notify):
        await ops.notify(out, case, pid, text)
