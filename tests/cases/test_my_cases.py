"""我的案件 beyond the cases one prosecutes or investigates: a case manager (案管) gets the cases
waiting for intake (扫码分类受理) in their office and the offices below it — open, scored, and
either not yet decided on their current score (待受理) or 待定 for the prosecutor's choice —
with colour and score, at most 20 and how many more; a leader or 检察长, who hold no case,
is told where their cases are followed (统计, 提醒, 码) instead of a bare 您名下没有在办案件.
Two counties of one city: 海澄 (HY, the demo's people) and 乐顺 (YK, added here), and a case
manager of their city."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from storage import cases as repo
from storage.cases import CaseRow
from tests.cases.helpers import (
    AUTH,
    GREEN,
    LS_PROSECUTOR,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
    org_with_second_county,
)
from tests.conftest import Console, make_settings, open_console

CITY_MANAGER = "p-case-manager-c01"


@pytest.fixture
async def console(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    path = org_with_second_county(tmp_path, [
        {"id": CITY_MANAGER, "name": "周敏", "unit": "c01", "roles": ["case_manager"]}])
    settings = make_settings(tmp_path, org=str(path),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as c:
        yield c


async def my_cases(console: Console, user: str, text: str = "我的案件") -> dict[str, Any]:
    """The one answer 我的案件 (or `text`) gets in the user's 1:1 chat."""
    r = await console.send(user, f"dm:{user}", text)
    [m] = r["messages"]
    return dict(m)


async def scan(console: Console, code: str, manager: str = MANAGER) -> None:
    await console.send(manager, f"dm:{manager}", f"受理 {code}")


async def test_a_case_manager_lists_the_cases_waiting_for_intake(console: Console) -> None:
    waiting = await create_case(console, title="甲案")  # HY-2026-0001: scored, never scanned
    await evaluate(console, waiting, RED)
    pending = await create_case(console, title="乙案")  # 0002: 待定, the prosecutor to choose
    await evaluate(console, pending, YELLOW)
    await scan(console, pending)
    passed = await create_case(console, title="丙案")  # 0003: 放行, decided
    await evaluate(console, passed, GREEN)
    await scan(console, passed)
    await create_case(console, title="丁案")  # 0004: not scored, nothing to scan
    returned = await create_case(console, title="戊案")  # 0005: 退回, then re-scored: scan again
    await evaluate(console, returned, RED)
    await scan(console, returned)
    closed = await create_case(console, title="己案")  # 0006: scored, then closed
    await evaluate(console, closed, RED)
    r = await console.client.patch(f"/api/v1/cases/{closed}", json={"status": "closed"},
                                   headers=AUTH)
    assert r.status == 200, await r.text()
    ls = await create_case(console, title="庚案", prosecutor=LS_PROSECUTOR, police_unit="ps-ls",
                           investigators=["p-investigator-ls"])  # 乐顺, YK-2026-0001
    await evaluate(console, ls, GREEN, by=LS_PROSECUTOR)

    m = await my_cases(console, MANAGER)
    assert m["card"]["title"] == "等待受理的案件（2件）"
    assert m["card"]["body"].split("\n") == [
        "范围：示范市海澄县人民检察院",
        f"🔴 {waiting} 甲案 红码 66分 · 待受理",
        f"🟡 {pending} 乙案 黄码 85分 · 待定（等待承办检察官选择）",
        "点下方「受理 案件码」、扫描案件二维码或发送「受理 案件码」受理；"
        "待定的案件由承办检察官选择延期受理或先收后补。"]
    assert [a["label"] for a in m["card"]["actions"]] == [f"受理 {waiting}"]  # 待定: its prosecutor's
    await evaluate(console, returned, GREEN)  # 退回 on version 1; version 2 waits again
    assert f"🟢 {returned} 戊案 绿码 95分 · 待受理" in (await my_cases(console, MANAGER))["card"]["body"]

    # the city's case manager: both counties
    city = await my_cases(console, CITY_MANAGER)
    assert city["card"]["title"] == "等待受理的案件（4件）"
    assert city["card"]["body"].split("\n")[0] == "范围：示范市人民检察院及下级院"
    assert f"🟢 {ls} 庚案 绿码 95分 · 待受理" in city["card"]["body"]

    # the prosecutor chooses 先收后补: 乙案 no longer waits
    [ask] = [c for c in cards(await console.messages(f"dm:{PROSECUTOR}"))
             if c["card"]["title"].startswith("受理待定")]
    await console.click(PROSECUTOR, ask["id"], "intake.receive")
    body = (await my_cases(console, MANAGER))["card"]["body"]
    assert waiting in body and returned in body and pending not in body
    # taken in, nothing waits any more
    await scan(console, waiting)
    await scan(console, returned)
    assert (await my_cases(console, MANAGER))["text"] == (
        "示范市海澄县人民检察院目前没有等待受理的案件（已评分、未结案，且当前评分尚未受理或待定）。")


async def test_the_list_stops_at_twenty_and_says_how_many_more(console: Console) -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    async with console.app.services.db() as s, s.begin():
        await s.execute(insert(CaseRow), [
            {"code": f"HY-2025-{i:04d}", "unit": "c01-01", "title": f"案件{i}", "stage": "审查逮捕",
             "police_unit": "ps-hc-xd", "prosecutor": PROSECUTOR, "status": "open",
             "created_at": at, "created_by": "test", "version": 1, "score": 60, "color": "red"}
            for i in range(1, 24)])
    m = await my_cases(console, MANAGER)
    lines = m["card"]["body"].split("\n")
    assert m["card"]["title"] == "等待受理的案件（23件）"
    assert lines[1] == "🔴 HY-2025-0001 案件1 红码 60分 · 待受理"
    assert lines[20] == "🔴 HY-2025-0020 案件20 红码 60分 · 待受理"
    assert lines[21] == "按案件码顺序，本页为第 1–20 件，另有 3 件未列出。"
    assert lines[-1] == "下一页：我的案件 2"


async def insert_waiting(console: Console, colors: list[str]) -> None:
    """Scored open cases HY-2025-0001… of 海澄, one per colour given, none scanned."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    score = {"red": 60, "yellow": 85, "green": 95}
    async with console.app.services.db() as s, s.begin():
        await s.execute(insert(CaseRow), [
            {"code": f"HY-2025-{i:04d}", "unit": "c01-01", "title": f"案件{i}", "stage": "审查逮捕",
             "police_unit": "ps-hc-xd", "prosecutor": PROSECUTOR, "status": "open",
             "created_at": at, "created_by": "test", "version": 1, "score": score[color],
             "color": color}
            for i, color in enumerate(colors, start=1)])


async def test_27_waiting_come_in_pages_and_by_colour(console: Console) -> None:
    await insert_waiting(console, ["red"] * 20 + ["yellow"] * 5 + ["green"] * 2)
    first = (await my_cases(console, MANAGER))["card"]["body"].split("\n")
    assert first[21] == "按案件码顺序，本页为第 1–20 件，另有 7 件未列出。"
    assert first[-1] == "下一页：我的案件 2"
    for asked in ("我的案件 2", "我的案件 第2页", "我的案件第 2 页", "我的案件2", "待受理 2"):
        m = await my_cases(console, MANAGER, asked)
        assert m["card"]["title"] == "等待受理的案件（27件）", asked
        lines = m["card"]["body"].split("\n")
        assert lines[1] == "🟡 HY-2025-0021 案件21 黄码 85分 · 待受理", asked
        assert lines[7] == "🟢 HY-2025-0027 案件27 绿码 95分 · 待受理", asked
        assert lines[8] == "按案件码顺序，本页为第 21–27 件。", asked
        assert "下一页" not in m["card"]["body"], asked
    assert (await my_cases(console, MANAGER, "我的案件 3"))["text"] == (
        "第 3 页没有案件（每页 20 件）。请发送「我的案件」从第 1 页看起。")

    yellow = await my_cases(console, MANAGER, "我的案件 黄码")
    assert yellow["card"]["title"] == "等待受理的黄码案件（5件）"
    assert [ln.split()[1] for ln in yellow["card"]["body"].split("\n")[1:6]] == [
        f"HY-2025-{i:04d}" for i in range(21, 26)]
    red = await my_cases(console, MANAGER, "待受理 红码")
    assert red["card"]["title"] == "等待受理的红码案件（20件）"
    assert "下一页" not in red["card"]["body"]
    assert (await my_cases(console, MANAGER, "我的案件 待定"))["text"] == (
        "示范市海澄县人民检察院目前没有等待受理的待定案件（已评分、未结案，且当前评分尚未受理或待定）。")
    scanned = await create_case(console, title="乙案")
    await evaluate(console, scanned, YELLOW)
    await scan(console, scanned)  # 待定 now
    pending = await my_cases(console, MANAGER, "我的案件 待定")
    assert pending["card"]["title"] == "等待受理的待定案件（1件）"
    assert pending["card"]["body"].split("\n")[1] == (
        f"🟡 {scanned} 乙案 黄码 85分 · 待定（等待承办检察官选择）")


async def test_more_than_20_red_say_how_to_get_the_next_page_of_red(console: Console) -> None:
    await insert_waiting(console, ["red"] * 21 + ["green"])
    body = (await my_cases(console, MANAGER, "我的案件 红码"))["card"]["body"]
    assert body.split("\n")[-1] == "下一页：我的案件 红码 2"
    body = (await my_cases(console, MANAGER, "待受理"))["card"]["body"]
    assert body.split("\n")[-1] == "下一页：待受理 2"


async def test_what_is_not_a_page_or_colour_gets_the_usage(console: Console) -> None:
    await insert_waiting(console, ["red"] * 3)
    usage = ("用法：我的案件 [页码] [红码/黄码/绿码/待定]，"
             "如：我的案件 2；我的案件 黄码；我的案件 红码 第2页。")
    for asked in ("我的案件 更多", "我的案件 0", "我的案件 红码 黄码", "我的案件 HY-2025-0001"):
        assert (await my_cases(console, MANAGER, asked))["text"] == usage, asked
    assert (await my_cases(console, MANAGER, "待受理 全部"))["text"] == usage.replace("我的案件", "待受理")


async def test_waiting_for_intake_is_for_case_managers(console: Console) -> None:
    assert (await my_cases(console, PROSECUTOR, "待受理"))["text"] == (
        "「待受理」用于案管部门查看等待扫码受理的案件；您名下的在办案件请发送「我的案件」。")
    assert (await my_cases(console, PROSECUTOR, "我的案件 2"))["text"] == (
        "「我的案件」后无需加内容：直接发送「我的案件」即列出您名下全部在办案件。")


async def test_the_read_goes_through_the_unit_index(console: Console) -> None:
    """The offices' cases are found through cases.unit (as 统计 scopes them), not by reading
    the whole table; each one's last decision through intake_decisions.case_code."""
    stmt = repo.waiting_for_intake_query({"c01-01"}, "待定", 20)
    sql = str(stmt.compile(console.app.services.db.kw["bind"].sync_engine,
                           compile_kwargs={"literal_binds": True}))
    async with console.app.services.db() as s:
        plan = " | ".join(str(row[-1]) for row in await s.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "USING INDEX ix_cases_unit" in plan, plan
    assert "SCAN cases" not in plan and "SCAN intake_decisions" not in plan, plan


async def test_a_leader_or_chief_without_cases_is_told_where_to_look(console: Console) -> None:
    leader = await my_cases(console, "p-leader-hc")
    assert leader["text"] == (
        "您名下没有在办案件。本院及下级院的案件情况请发送「统计」；"
        "升级给您的提醒（红码责任倒查、复核答复超期）请发送「提醒」；查看某一案件请发送「码 案件码」。")
    chief = await my_cases(console, "p-chief-c01-01")  # a 检察长 reads the office's 统计 too
    assert chief["text"] == (
        "您名下没有在办案件。本院及下级院的案件情况请发送「统计」；您的提醒（如督察整改事项）请发送「提醒」；"
        "查看某一案件请发送「码 案件码」。")
    stats = (await console.send("p-chief-c01-01", "dm:p-chief-c01-01", "统计"))["messages"][0]
    assert stats["card"]["title"] == "案件码统计"
    assert "统计范围：示范市海澄县人民检察院" in stats["card"]["body"], stats["card"]["body"]
    # an investigator without cases: as before
    assert (await my_cases(console, "p-investigator-5"))["text"] == "您名下没有在办案件。"


async def test_help_says_what_my_cases_lists(console: Console) -> None:
    r = await console.send(MANAGER, f"dm:{MANAGER}", "帮助 全部")
    help_text = r["messages"][0]["text"]
    assert ("· 我的案件 [页码] [红码/黄码/绿码/待定] —— 列出您名下在办案件及其颜色；"
            "案管部门另列本院及下级院等待受理的案件（可加页码或颜色）") in help_text, help_text
    assert "· 待受理 [页码] [红码/黄码/绿码/待定] —— 案管部门：本院及下级院等待受理的案件" in help_text


async def test_on_postgresql_too(pg_console: Console) -> None:
    """The same statement on PostgreSQL (the window count, IS DISTINCT FROM)."""
    c = pg_console
    waiting, pending, passed = [await create_case(c, title=t) for t in ("甲案", "乙案", "丙案")]
    for code, sheet in ((waiting, RED), (pending, YELLOW), (passed, GREEN)):
        await evaluate(c, code, sheet)
    for code in (pending, passed):
        await scan(c, code)
    m = await my_cases(c, MANAGER)
    assert m["card"]["title"] == "等待受理的案件（2件）"
    assert m["card"]["body"].split("\n")[1:3] == [
        f"🔴 {waiting} 甲案 红码 66分 · 待受理", f"🟡 {pending} 乙案 黄码 85分 · 待定（等待承办检察官选择）"]
