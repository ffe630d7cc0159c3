"""Bulk test data for the reminder sweep: open red cases, each with one pending re-evaluation
reminder; ``due`` of them are due at ``now``, the rest next week. Used by the exactly-once
tests (any database, through SQLAlchemy Core) and by ``bench/reminder_sweep.py`` (SQLite,
through the sqlite3 module for speed)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.reminders import CaseState, default_rules, plan_case
from bot.domain.scoring import Color
from bot.domain.workcal import SHANGHAI, WorkCalendar
from storage.cases import CaseRow, EvaluationRow
from storage.reminders import Reminder

PROSECUTOR = "p-prosecutor-1"


def _first_reevaluation(evaluated_at: datetime, now: datetime) -> tuple[str, datetime, datetime]:
    """(slot, due_at, deliver_at) of the first red re-evaluation reminder, as the service plans."""
    cal = WorkCalendar()
    state = CaseState(code="X", color=Color.RED, last_evaluated_at=evaluated_at)
    occ = next(o for o in plan_case(state, default_rules(), cal, SHANGHAI, now)
               if o.rule_id == "reevaluate_red" and o.index == 0)
    return occ.slot, occ.due_at, cal.next_office_time(occ.due_at, SHANGHAI)


def rows(n_cases: int, n_due: int, now: datetime, prefix: str = "BX"
         ) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(case, evaluation, reminder) rows; every ``n_cases // n_due``-th case is the due one,
    so due cases are spread over the whole table."""
    due_eval = now - timedelta(days=8)
    open_eval = now - timedelta(days=1)
    due_slot = _first_reevaluation(due_eval, now)
    open_slot = _first_reevaluation(open_eval, now)
    step = max(n_cases // max(n_due, 1), 1)
    due_left = n_due
    for i in range(n_cases):
        code = f"{prefix}-2026-{i:07d}"
        is_due = due_left > 0 and i % step == 0
        due_left -= is_due
        ev_at = due_eval if is_due else open_eval
        slot, due_at, deliver_at = due_slot if is_due else open_slot
        yield (
            {"code": code, "unit": "c01-01", "title": f"批量案件{i}", "stage": "审查逮捕",
             "police_unit": "ps-hc-xd", "prosecutor": PROSECUTOR, "investigation_deadline": None,
             "custody_deadline": None, "status": "open", "created_at": ev_at,
             "created_by": PROSECUTOR, "version": 1, "score": 66, "color": "red",
             "first_nongreen_at": ev_at, "green_at": None, "intake": None},
            {"case_code": code, "version": 1, "by": PROSECUTOR, "at": ev_at, "score": 66,
             "color": "red", "deductions": "[]", "vetoes": "[]", "comment": "",
             "review_request_id": None, "template_version": None},
            {"key": f"reevaluate_red:{code}:{slot}", "rule_id": "reevaluate_red",
             "subject": code, "case_code": code, "slot": slot, "seq": 0, "escalation": False,
             "late": False, "due_at": due_at, "deliver_at": deliver_at, "status": "pending",
             "planned_at": ev_at, "claimed_by": None, "sent_at": None, "closed_at": None,
             "closed_by": None, "closed_how": None},
        )


async def seed(engine: AsyncEngine, n_cases: int, n_due: int, now: datetime,
               chunk: int = 2000) -> None:
    """Any database: Core executemany inserts (migrations must have run)."""
    batch: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []

    async def flush() -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(CaseRow.__table__), [b[0] for b in batch])
            await conn.execute(insert(EvaluationRow.__table__), [b[1] for b in batch])
            await conn.execute(insert(Reminder.__table__), [b[2] for b in batch])
        batch.clear()

    for r in rows(n_cases, n_due, now):
        batch.append(r)
        if len(batch) >= chunk:
            await flush()
    if batch:
        await flush()


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):  # what storage.types.UTCDateTime writes on SQLite
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, bool):
        return int(v)
    return v


def seed_sqlite(path: str, n_cases: int, n_due: int, now: datetime,
                progress: Callable[[int], None] | None = None, chunk: int = 50_000) -> None:
    """SQLite only, fast: plain sqlite3 executemany in large transactions."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    stmts: list[str] = []
    cols: list[list[str]] = []
    done = 0
    batches: tuple[list[tuple[Any, ...]], ...] = ([], [], [])

    def flush() -> None:
        con.execute("BEGIN")
        for stmt, b in zip(stmts, batches, strict=True):
            con.executemany(stmt, b)
            b.clear()
        con.execute("COMMIT")

    for triple in rows(n_cases, n_due, now):
        if not stmts:
            for table, row in zip(("cases", "evaluations", "reminders"), triple, strict=True):
                names = list(row)
                cols.append(names)
                stmts.append(f"INSERT INTO {table} ({', '.join(names)}) "
                             f"VALUES ({', '.join('?' * len(names))})")
        for b, names, row in zip(batches, cols, triple, strict=True):
            b.append(tuple(_sqlite_value(row[n]) for n in names))
        done += 1
        if done % chunk == 0:
            flush()
            if progress:
                progress(done)
    flush()
    if progress:
        progress(done)
    con.execute("ANALYZE")
    con.close()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t
