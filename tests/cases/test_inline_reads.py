"""The reads of a 码 lookup on a read-only (inline) session skip SQLAlchemy's execution path
(storage/inline_sqlite.py `Prepared`): they must give what the ORM gives on a writing session,
value for value and type for type (dates, aware UTC datetimes, NULLs), and see the latest
commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from storage import cases as repo
from tests.cases.helpers import GREEN, INVESTIGATORS, MANAGER, PROSECUTOR, create_case, evaluate
from tests.conftest import Console

TAKEN_IN = ("放行", "先收后补")


def columns(row: Any) -> dict[str, tuple[Any, type]]:
    if row is None:
        return {}
    return {p.key: (getattr(row, p.key), type(getattr(row, p.key)))
            for p in inspect(type(row)).column_attrs}


async def same_reads(console: Console, code: str) -> repo.CaseRow:
    s = console.app.services
    assert s.read_db is not None  # SQLite: the inline read-only sessions
    async with s.reads() as inline, s.db() as orm:
        a, b = await repo.get_case(inline, code), await repo.get_case(orm, code)
        assert a is not None and b is not None and a is not b
        assert columns(a) == columns(b)
        assert columns(repo._loaded_current.get(a)) == columns(repo._loaded_current.get(b))
        assert columns(repo._loaded_intake[a]) == columns(repo._loaded_intake[b])
        assert await repo.current_evaluation(inline, a) == await repo.current_evaluation(orm, b)
        assert await repo.receipts(inline, code, b.version) == \
            await repo.receipts(orm, code, b.version)
        assert await repo.investigators(inline, code) == await repo.investigators(orm, code)
        for person in INVESTIGATORS:
            assert columns(await repo.own_delivery(inline, code, b.version, person)) == \
                columns(await repo.own_delivery(orm, code, b.version, person))
        assert await repo.first_intake_at(inline, code, TAKEN_IN) == \
            await repo.first_intake_at(orm, code, TAKEN_IN)
        assert await repo.get_case(inline, "HY-2026-9999") is None
    return a


async def test_inline_reads_give_what_the_orm_gives(console: Console) -> None:
    code = await create_case(console, custody_deadline=None)
    case = await same_reads(console, code)  # not scored: no evaluation, no intake, no cards
    assert case.version == 0 and case.custody_deadline is None
    await evaluate(console, code, GREEN)
    case = await same_reads(console, code)
    assert case.created_at.tzinfo is not None and case.investigation_deadline is not None
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    case = await same_reads(console, code)
    assert case.intake == "放行" and repo._loaded_intake[case] is not None
    r = await console.click(INVESTIGATORS[0], [
        m for m in await console.messages(f"dm:{INVESTIGATORS[0]}") if m["card"]][-1]["id"],
        "case.ack")
    assert r["messages"]
    await same_reads(console, code)


async def test_an_inline_session_sees_each_commit(console: Console) -> None:
    code = await create_case(console)
    s = console.app.services
    async with s.reads() as inline:
        case = await repo.get_case(inline, code)
        assert case is not None and case.version == 0
        await evaluate(console, code, GREEN, by=PROSECUTOR)  # committed meanwhile
        case = await repo.get_case(inline, code)
        assert case is not None and case.version == 1
        assert [r.delivered_at is not None for r in await repo.receipts(inline, code, 1)] == \
            [True, True]
