"""整改完成: a unit's chief (or the item's 责任人) reports a rectification item done; the
session's inspector may send it back (退回重新整改). What the chat command, the item card's
and the reminder cards' 报告整改完成 and the inspector's 退回重新整改 share.

Each runs in the event's one transaction, the item read locked (a double tap, or a report
racing a 退回, waits for the first and then sees what it did): the item, an audit record, its
reminders (replan_rectifications: cancelled and their cards retired, or owed again), the item
card, and the people told. A function returns the answer for the person who acted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Outbound
from bot.domain.inspection import DONE_NOTE_MAX, DONE_USAGE, SEND_BACK_USAGE
from bot.domain.workcal import day_text
from bot.inspection import notify, params_of
from bot.reminders import (
    REPORTED,
    SENT_BACK_LABEL,
    hand_over_rectifications,
    replan_rectifications,
    send_handed_over,
)
from bot.roster import Handover
from cards import inspection as cards
from cards.model import Card
from cards.reminders import local
from config.model import Person
from storage import inspection as store
from storage.inspection import InspectionSession, Note, RectificationItem
from storage.messages import bot_cards_since, get_message, message_card

ITEM_TEXT = 30  # characters of an item's text in the notices
HANDED_OVER_SHOWN = 20  # items listed in the incoming chief's handover notice


@dataclass(frozen=True)
class Answer:
    text: str
    done: bool = False  # the report or the 退回 took effect
    forbidden: bool = False  # not theirs to do (HTTP 403 on the web form)


def stamp(at: datetime) -> str:
    """Names one report on the inspector's card: when it was made, to the second."""
    return str(int(at.timestamp()))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ITEM_TEXT else text[:ITEM_TEXT - 1] + "…"


def _note_problem(note: str, what: str) -> str | None:
    if not note:
        return f"请写明{what}。"
    if len(note) > DONE_NOTE_MAX:  # refused, not cut: the other side must read all of it
        return f"{what}不能超过 {DONE_NOTE_MAX} 字（现 {len(note)} 字），请精简后重新提交。"
    return None


def reporters(out: Outbound, item: RectificationItem) -> list[str]:
    """Who may report an item done: its 责任人 and the unit's chief (the reminders' people)."""
    chief = out.directory.chief_of(item.unit_id)
    return list(dict.fromkeys(p for p in (item.owner_person_id, chief.id if chief else None)
                              if p))


def inspectors(out: Outbound, s: InspectionSession) -> list[str]:
    """Who is told of a report: the inspector who ran the session (as its escalations go to),
    any inspector when they are no longer on the roster."""
    return out.directory.inspectors_of(s.created_by)


async def _redraw(out: Outbound, message_id: int | None, change: Callable[[Card], Card]) -> None:
    msg = await get_message(out.session, message_id) if message_id is not None else None
    card = message_card(msg) if msg is not None else None
    if msg is not None and card is not None:
        await out.update_card(msg, change(card))


async def _closed_how(out: Outbound, item: RectificationItem) -> str:
    """How a closed item was closed, for a calm answer to a report of it."""
    when = local(item.closed_at, out.config.tz) if item.closed_at else "此前"
    if item.closed_by_person:
        return f"已于 {when} 由{out.directory.person_name(item.closed_by_person)}报告整改完成并销号"
    note = await out.session.get(Note, item.closed_by_note) if item.closed_by_note else None
    if note is not None:
        return f"已于 {when} 由整改汇报销号（{out.directory.person_name(note.author)}）"
    return f"已于 {when} 销号"


async def report_done(out: Outbound, actor: Person, item_id: int, note: str) -> Answer:
    """`actor` reports item `item_id` done with `note` (整改说明)."""
    note = note.strip()
    item = await store.rectification_for_update(out.session, item_id)
    if item is None:
        return Answer(f"找不到整改事项 #{item_id}。")
    d = out.directory
    unit = d.units[item.unit_id].name if item.unit_id in d.units else item.unit_id
    if actor.id not in reporters(out, item):
        return Answer(f"只有整改事项 #{item.id} 的责任人（{d.person_name(item.owner_person_id)}）"
                      f"或{unit}检察长可以报告整改完成。", forbidden=True)
    if item.status != "open":
        return Answer(f"整改事项 #{item.id} {await _closed_how(out, item)}，无需重复报告。")
    if problem := _note_problem(note, "整改说明"):
        return Answer(f"{problem}未报告。用法：{DONE_USAGE}")
    s = await store.get_session(out.session, item.session_id)
    assert s is not None
    now = out.now()
    at = local(now, out.config.tz)
    store.report_rectification_done(item, now, actor.id, note)
    await out.audit(actor.id, "inspection.rectification.report", s.id,
                    {"item": item.id, "unit": item.unit_id})
    await replan_rectifications(out, [item.id], [], actor.id, how=REPORTED)
    for message_id in await _item_cards(out, item):
        await _redraw(out, message_id, lambda c: cards.item_reported(
            c, f"已处理：{actor.name} 已报告整改完成 {at}"))
    told = inspectors(out, s)
    card = cards.reported_card(item_id=item.id, unit=unit, text=item.text,
                               due=day_text(item.due_date), who=actor.name, at=at, note=note,
                               stamp=stamp(now))
    for pid in told:
        await out.send_dm(pid, card=card)
    for pid in reporters(out, item):
        if pid != actor.id:
            await out.send_dm(pid, text=f"整改事项 #{item.id}（{_clip(item.text)}）已由{actor.name}"
                                        f"报告整改完成并销号，不再提醒。整改说明：{note}")
    await _tell_screens(out, item.unit_id)
    names = "、".join(d.person_name(p) for p in told) or "检务督察"
    return Answer(f"已报告整改事项 #{item.id} 整改完成并销号，不再提醒；已告知检务督察{names}。"
                  "如经核查被退回，将通知您。", done=True)


async def send_back(out: Outbound, actor: Person, item_id: int, reported: str | None,
                    reason: str, card_message: int | None = None) -> Answer:
    """`actor` (an inspector) sends back the report `reported` (its `stamp`; None: the item's
    current report, as `退回整改 #n <理由>` in chat) of item `item_id` with `reason`;
    `card_message` is the 整改完成报告 card they acted on, if any."""
    reason = reason.strip()
    if problem := _note_problem(reason, "退回理由"):
        usage = "" if card_message is not None else f"用法：{SEND_BACK_USAGE}"
        return Answer(f"{problem}未退回。{usage}")
    item = await store.rectification_for_update(out.session, item_id)
    if item is None:
        return Answer(f"找不到整改事项 #{item_id}。")
    if item.status == "open":
        if reported is not None:  # the button: its report was sent back
            return Answer(f"整改事项 #{item.id} 已退回重新整改，无需重复操作。")
        return Answer(f"整改事项 #{item.id} 正在整改中（未报告整改完成，或已退回），无需退回。")
    if item.closed_by_person is None or item.closed_at is None \
            or (reported is not None and stamp(item.closed_at) != reported):
        how = await _closed_how(out, item)
        if reported is None:  # closed by a 整改汇报: its correction reopens it
            return Answer(f"整改事项 #{item.id} 未报告整改完成（{how}），无需退回。")
        return Answer(f"这份报告已不是整改事项 #{item.id} 的现状：{how}，未退回。")
    d = out.directory
    told = list(dict.fromkeys([*reporters(out, item), item.closed_by_person]))
    now = out.now()
    at = local(now, out.config.tz)
    report_cards = await _report_cards(out, item, card_message)
    await out.audit(actor.id, "inspection.rectification.send_back", item.session_id,
                    {"item": item.id, "reported_by": item.closed_by_person})
    store.reopen_rectification(item)
    await replan_rectifications(out, [], [item.id], actor.id, how=REPORTED,
                                label=SENT_BACK_LABEL)
    footer = f"{SENT_BACK_LABEL}：{actor.name} {at}（理由：{reason}）"
    for message_id in await _item_cards(out, item):
        await _redraw(out, message_id, lambda c: cards.item_reopened(c, item.id, footer))
    for message_id in report_cards:
        await _redraw(out, message_id, partial(cards.report_sent_back, reason=reason,
                                               footer=footer))
    again = f"点卡片上的「报告整改完成」，或发送「整改完成 #{item.id} <说明>」"
    for pid in told:
        await out.send_dm(pid, text=f"整改事项 #{item.id}（{_clip(item.text)}）被检务督察{actor.name}"
                                    f"退回重新整改。理由：{reason}\n请继续整改，逾期仍会提醒；"
                                    f"完成后再次报告：{again}。")
    await _tell_screens(out, item.unit_id)
    names = "、".join(d.person_name(p) for p in told)
    return Answer(f"已退回整改事项 #{item.id} 重新整改，已告知{names}；该事项恢复逾期提醒。",
                  done=True)


async def _item_cards(out: Outbound, item: RectificationItem) -> list[int]:
    """The item cards (整改事项) sent when the item was registered: the 责任人's, and the
    copy sent to the unit's chief when someone else is the 责任人 (found by its title among the
    first cards of their 1:1 chat since)."""
    found = [item.card_message_id] if item.card_message_id is not None else []
    title = cards.rectification_title(item.id)
    others = [f"dm:{p}" for p in reporters(out, item) if p != item.owner_person_id]
    if others:
        for msg in await bot_cards_since(out.session, others, item.created_at):
            card = message_card(msg)
            if card is not None and card.title == title and msg.id not in found:
                found.append(msg.id)
    return found


async def _report_cards(out: Outbound, item: RectificationItem,
                        acted_on: int | None) -> list[int]:
    """The 整改完成报告 cards of the item's current report (sent in its transaction to the
    inspectors' 1:1 chats), and the card acted on: all lose 退回重新整改 once it is sent back."""
    assert item.closed_at is not None
    s = await store.get_session(out.session, item.session_id)
    people = [*inspectors(out, s), s.created_by] if s is not None else []
    found = [acted_on] if acted_on is not None else []
    button = {"item": str(item.id), "at": stamp(item.closed_at)}
    chats = [f"dm:{p}" for p in dict.fromkeys(people)]
    for msg in await bot_cards_since(out.session, chats, item.closed_at):
        card = message_card(msg)
        if card is not None and msg.id not in found and any(
                b.id == cards.SEND_BACK and b.data == button for b in card.actions):
            found.append(msg.id)
    return found


async def _tell_screens(out: Outbound, unit_id: str) -> None:
    """Big screens at 整改汇报 show per unit how many items were reported done: re-read."""
    for s in await store.sessions_in_stage(out.session, "rectification"):
        if unit_id in (params_of(s).rectification_units or ()):
            notify(out, s.id)


async def show_report_outcome(out: Outbound, closed: list[int], reopened: list[int],
                              footer: str) -> None:
    """A 整改汇报 (or its correction) closed or reopened these items: their item cards say so
    (`footer`) and lose, or get back, 报告整改完成."""
    for item_id in [*closed, *reopened]:
        item = await out.session.get(RectificationItem, item_id)
        if item is None:
            continue
        change = partial(cards.item_reported, footer=footer) if item_id in closed else \
            partial(cards.item_reopened, item_id=item_id, footer=footer)
        for message_id in await _item_cards(out, item):
            await _redraw(out, message_id, change)


# -- a chief's handover (换任) ------------------------------------------------------------------

async def items_to_hand_over(session: AsyncSession, handovers: Sequence[Handover]
                             ) -> dict[tuple[str, str], int]:
    """How many open items each handover (unit, outgoing chief) would move, whether or not it
    is checked: the roster import's preview says 「移交 N 项未完成整改」."""
    return {(h.unit, h.old_id): len(await store.open_rectifications_owned(
        session, h.unit, h.old_id)) for h in handovers}


async def hand_over(out: Outbound, handovers: Sequence[Handover], by: str
                    ) -> dict[tuple[str, str], int]:
    """A roster import applied these handovers (in its transaction, before the new roster is
    in use, so people are named from the handover): each replaced chief's open items of the
    unit get the incoming chief as their 责任人 (one audit record each); the outgoing chief's
    item cards and open reminder cards lose 报告整改完成 and say where the item went; the
    incoming chief gets one notice listing what they inherited, then their copy of each
    reminder sent to the outgoing chief and not settled (hand_over_rectifications). Later
    reminders go to them, as their recipients are read at send time. Closed items keep their
    history. Returns the number moved per handover (unit, outgoing chief), as
    `items_to_hand_over`."""
    moved: dict[tuple[str, str], int] = {}
    tz = out.config.tz
    for h in handovers:
        if not h.replaced or h.old_id == h.new_id:
            continue
        items = await store.open_rectifications_owned(out.session, h.unit, h.old_id,
                                                      for_update=True)
        if not items:
            continue
        now = out.now()
        footer = f"已移交：{h.unit_name}检察长换任，本事项已移交{h.new_name}负责 {local(now, tz)}"
        for item in items:
            item.owner_person_id = h.new_id
            await out.audit(by, "inspection.rectification.handover", item.session_id,
                            {"item": item.id, "unit": h.unit, "from": h.old_id, "to": h.new_id})
            # the outgoing chief's item card: its 报告整改完成 would now be refused
            await _redraw(out, item.card_message_id, partial(cards.item_reported, footer=footer))
            item.card_message_id = None  # the notice below is the incoming chief's
        # the reminders sent to the outgoing chief and not settled follow the items
        handed = await hand_over_rectifications(out, [i.id for i in items], h.old_id, h.new_id,
                                                h.new_name, footer)
        today = now.astimezone(tz).date()
        lines = [f"· 整改事项 #{i.id}，整改期限 {day_text(i.due_date)}"
                 f"{'，已逾期' if i.due_date < today else ''}：{_clip(i.text)}"
                 for i in items[:HANDED_OVER_SHOWN]]
        if len(items) > HANDED_OVER_SHOWN:
            lines.append(f"· 另有 {len(items) - HANDED_OVER_SHOWN} 项，发送「提醒」查看")
        await out.send_dm(h.new_id, text=(
            f"您已接任{h.unit_name}检察长。原检察长{h.old_name}负责的 {len(items)} 项未完成整改"
            "事项已移交给您：\n" + "\n".join(lines) + "\n请按期整改，逾期将提醒您；整改完成后发送"
            f"「整改完成 #{items[0].id} <说明>」报告（换成相应的事项号）。"))
        await send_handed_over(out, handed, h.new_id, h.old_id, was="原检察长",
                               how="随换任移交", before_name=h.old_name)
        moved[(h.unit, h.old_id)] = len(items)
    return moved
