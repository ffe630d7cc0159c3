"""Helpers for case-code tests: the integration API as the case-management system uses it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster import read_org_file, write_org_file
from config.loader import DEFAULT_DIR
from storage import db, migrate
from tests.conftest import Console, make_settings, open_console

AUTH = {"Authorization": "Bearer test-token"}
PROSECUTOR = "p-prosecutor-1"
INVESTIGATORS = ["p-investigator-1", "p-investigator-2"]
MANAGER = "p-case-manager-1"  # a case manager (案管) in config/org.yaml
# a group of the case's prosecutor, investigators and a case manager (fixture case_group_console)
CASE_GROUP = "g-this-case"


async def create_case(console: Console, **over: Any) -> str:
    body = {"title": "何某强奸案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
            "prosecutor": PROSECUTOR, "investigators": INVESTIGATORS,
            "investigation_deadline": "2026-12-20", "custody_deadline": "2026-12-31", **over}
    r = await console.client.post("/api/v1/cases", json=body, headers=AUTH)
    assert r.status == 201, await r.text()
    code: str = (await r.json())["code"]
    return code


def ded(item: str, points: int, problem: str = "证据不足", requirement: str = "补充取证"
        ) -> dict[str, Any]:
    return {"item": item, "points": points, "problem": problem, "purpose": "查明事实",
            "matters": "调取监控", "requirement": requirement}


async def evaluate(console: Console, code: str, deductions: list[dict[str, Any]],
                   vetoes: list[str] | None = None, by: str = PROSECUTOR,
                   status: int = 201) -> dict[str, Any]:
    r = await console.client.post(f"/api/v1/cases/{code}/evaluations", headers=AUTH, json={
        "by": by, "deductions": deductions, "vetoes": vetoes or [], "comment": ""})
    assert r.status == status, await r.text()
    data: dict[str, Any] = await r.json()
    return data


RED = [ded("criminal_facts", 16, "嫌疑人零口供，痕迹物证灭失"), ded("harmful_consequence", 10),
       ded("causation", 8)]  # 66 → red
YELLOW = [ded("criminal_facts", 10), ded("causation", 5)]  # 85 → yellow
GREEN = [ded("causation", 5)]  # 95 → green


def cards(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["card"]]


async def intakes(console: Console, code: str) -> list[str]:
    """The case's intake decisions (受理), as the case API reports them."""
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    return [i["decision"] for i in detail["intake"]]


# a second county office of the demo's city: 乐顺 (c01-02, code prefix YK), its police unit and
# its prosecutor and investigator, for tests about who sees which office's cases
LS_PROSECUTOR = "p-prosecutor-ls"


def org_with_second_county(tmp_path: Path, people: Sequence[dict[str, Any]] = (),
                           chats: Sequence[dict[str, Any]] = ()) -> Path:
    """The demo roster, written to tmp_path, with 乐顺's police unit, prosecutor and
    investigator, and `people` and `chats` added."""
    path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", path)
    data = read_org_file(path)
    data["units"].append({"id": "ps-ls", "name": "示范市乐顺市公安局", "kind": "police",
                          "parent": "c01-02", "code_prefix": None})
    data["people"] += [
        {"id": LS_PROSECUTOR, "name": "林涛", "unit": "c01-02", "roles": ["prosecutor"]},
        {"id": "p-investigator-ls", "name": "高远", "unit": "ps-ls", "roles": ["investigator"]},
        *people]
    data["chats"] += list(chats)
    write_org_file(path, data)
    return path


@asynccontextmanager
async def editable_console(tmp_path: Path, port: int) -> AsyncIterator[tuple[Console, Path]]:
    """A console on `org_with_second_county`'s roster file, which the test edits as an
    operator would (`hand_edit`): to move people to 乐顺 or off the roster."""
    org = org_with_second_county(tmp_path)
    settings = make_settings(tmp_path, org=str(org),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as console:
        yield console, org


async def sqlite_plan(tmp_path: Path, read: Callable[[AsyncSession], Awaitable[Any]]) -> str:
    """SQLite's query plan of the one SELECT `read` runs, on a database migrated as deployed
    (with the migrations' indexes): how the statement finds its rows."""
    path = tmp_path / "plan.db"
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(engine)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    async with AsyncSession(engine) as session:
        await read(session)
    await engine.dispose()
    [(statement, params)] = [(s, p) for s, p in statements if s.lstrip().startswith("SELECT")]
    with sqlite3.connect(path) as conn:
        return "\n".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
