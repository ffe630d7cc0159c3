"""Reopening a case gives its still-owed reminder cards back what its closing took.

Closing a case closes its reminders (案件已结案, no buttons); reopening it (the case-management
system undoing the close) must undo that for the ones still owed, as the request's own cards
get their buttons back. The clock starts on Monday 2026-11-02 09:30 Asia/Shanghai."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from storage.reviews import ReviewRow
from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, YELLOW, create_case, evaluate
from tests.conftest import START, Console
from tests.reminders.test_reminders_e2e import LEADER, _close, _reopen, reminder_cards


async def _overdue_request(console: Console) -> tuple[str, int]:
    """A yellow case whose review request fell overdue at START: the prosecutor's reminder,
    then (2 working days later) the escalation to the prosecutor and the leader."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    async with console.app.services.db() as s, s.begin():
        review = ReviewRow(case_code=code, version=1, filed_by=INVESTIGATORS[0],
                           filed_at=START - timedelta(days=3), items="[]", reason="有异议",
                           status="pending", due_at=START)
        s.add(review)
    await console.advance("1m")
    await console.advance("2d")  # Wednesday 11-04 09:31: the escalation
    return code, review.id


async def test_reopening_a_case_restores_its_overdue_answer_reminders(console: Console) -> None:
    code, review = await _overdue_request(console)
    await _close(console, code)
    _, p2 = await reminder_cards(console, PROSECUTOR)
    [lead] = await reminder_cards(console, LEADER)
    for m in (p2, lead):
        assert m["card"]["footer"].startswith("案件已结案（2026-"), m["card"]
    await console.advance("1h")
    await _reopen(console, code)

    p1, p2 = await reminder_cards(console, PROSECUTOR)
    [lead] = await reminder_cards(console, LEADER)
    # the open ones are as they were sent: each person's buttons, no 案件已结案 footer
    assert [a["label"] for a in p2["card"]["actions"]] == ["去答复", "已处理"]
    assert [a["label"] for a in lead["card"]["actions"]] == ["查看案件", "已处理"]
    for m in (p2, lead):
        assert m["card"]["footer"] is None, m["card"]
        assert f"复核申请 #{review}（{code}）" in m["card"]["body"]
    # the one the escalation had already replaced stays replaced
    assert p1["card"]["actions"] == [] and p1["card"]["footer"] == "已由 2026-11-04 的新提醒取代"

    r = await console.click(PROSECUTOR, p2["id"], "review.resend")  # and the buttons work
    assert any(m["card"] and m["card"]["title"] == f"复核申请 #{review} · 待处理"
               for m in r["messages"])
    # still unanswered: the series goes on, the next card replacing the restored ones
    await console.advance("2d")
    *_, old, new = await reminder_cards(console, PROSECUTOR)
    assert old["card"]["actions"] == [] and old["card"]["footer"].startswith("已由 2026-11-06")
    assert [a["label"] for a in new["card"]["actions"]] == ["去答复", "已处理"]


async def test_reopening_leaves_closed_the_reminders_no_longer_owed(console: Console) -> None:
    """The request was withdrawn while the case was closed: its reminders are not owed again."""
    code, review = await _overdue_request(console)
    await _close(console, code)
    async with console.app.services.db() as s, s.begin():
        await s.execute(text("UPDATE review_requests SET status='withdrawn' WHERE id=:i"),
                        {"i": review})
    await _reopen(console, code)
    [lead] = await reminder_cards(console, LEADER)
    _, p2 = await reminder_cards(console, PROSECUTOR)
    for m in (p2, lead):
        assert m["card"]["footer"].startswith("案件已结案（2026-"), m["card"]
        assert "已处理" not in [a["label"] for a in m["card"]["actions"]]
    await console.advance("5d")
    assert len(await reminder_cards(console, PROSECUTOR)) == 2
