"""统计 over a period (统计 上月, /stats?from=&to=): a case counts in the period it entered
casebot (the day it was created, in Shanghai time), with everything about it — its colour now,
its 转码 — whenever that happened. Without a period every case counts, and the card says so.

Four cases on the test clock (Shanghai time):

| case | created                | then                               |
|------|------------------------|------------------------------------|
| A    | Fri 2026-10-30 09:30   | red; turned green on 2026-11-03    |
| B    | Sat 2026-10-31 23:50   | never scored                       |
| C    | Sun 2026-11-01 00:10   | never scored (still 31 October in UTC) |
| D    | Tue 2026-11-03 00:10   | yellow                             |

The figures are asked on Thursday 2026-11-05 at 09:30.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from config.loader import Settings
from storage import cases as repo
from storage import db, migrate
from tests.cases.helpers import GREEN, RED, YELLOW, create_case, evaluate
from tests.conftest import Console, fresh_postgres, make_settings, open_console

LEADER = "p-leader-hc"
OCTOBER = "统计期间：2026-10-01 至 2026-10-31（按案件录入日期）"


@asynccontextmanager
async def database(kind: str, settings: Settings, tmp_path: Path, port: int
                   ) -> AsyncIterator[Settings]:
    if kind == "sqlite":
        yield settings
        return
    async with fresh_postgres("casebot_period") as url:
        yield make_settings(tmp_path, storage={"database_url": url},
                            web={"public_url": f"http://127.0.0.1:{port}"})


@pytest.fixture(params=["sqlite", "postgresql"])
async def four_cases(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path,
                     port: int) -> AsyncIterator[Console]:
    start = datetime(2026, 10, 30, 1, 30, tzinfo=UTC)
    async with database(request.param, settings, tmp_path, port) as on, \
            open_console(on, port, start=start) as c:
        a = await create_case(c)
        await evaluate(c, a, RED)
        await c.advance("38h")
        await c.advance("20m")  # Saturday 23:50
        await create_case(c)
        await c.advance("20m")  # Sunday 1 November 00:10
        await create_case(c)
        await c.advance("2d")  # Tuesday 3 November 00:10
        await evaluate(c, await create_case(c), YELLOW)
        await evaluate(c, a, GREEN)  # A's 转码 comes in November; A is October's
        await c.advance("57h")
        await c.advance("20m")  # Thursday 5 November 09:30
        yield c


async def ask(c: Console, text: str) -> dict[str, Any]:
    [reply] = (await c.send(LEADER, f"dm:{LEADER}", text))["messages"]
    return reply


def head(card: dict[str, Any]) -> list[str]:
    return str(card["card"]["body"]).split("\n")[:6]


async def test_last_month_counts_only_the_cases_created_last_month(four_cases: Console) -> None:
    c = four_cases
    card = await ask(c, "统计 上月")
    assert head(card) == ["统计范围：示范市海澄县人民检察院", OCTOBER, "数据截至：2026-11-05 09:30",
                          "案件总数：2", "红码 0 · 黄码 0 · 绿码 1 · 未评分 1", "转码次数：1"]
    urls = [b["url"] for b in card["card"]["actions"]]
    assert urls == [f"{c.app.settings.config.web.base_url}/stats?from=2026-10-01&to=2026-10-31",
                    f"{c.app.settings.config.web.base_url}/stats.csv?from=2026-10-01&to=2026-10-31"]

    assert head(await ask(c, "统计 本月"))[1:5] == [
        "统计期间：2026-11-01 至 2026-11-30（按案件录入日期）", "数据截至：2026-11-05 09:30",
        "案件总数：2", "红码 0 · 黄码 1 · 绿码 0 · 未评分 1"]
    # typed without a space, as on a phone
    assert head(await ask(c, "统计上月")) == head(card)
    assert head(await ask(c, "统计本季度"))[1] == "统计期间：2026-10-01 至 2026-12-31（按案件录入日期）"
    assert head(await ask(c, "统计２０２６－１０"))[1] == OCTOBER  # full-width, from an IME
    # without a period: every case, and the card says so
    assert head(await ask(c, "统计"))[1:4] == ["统计期间：全部", "数据截至：2026-11-05 09:30",
                                              "案件总数：4"]
    assert head(await ask(c, "统计全部")) == head(await ask(c, "统计"))


async def test_a_day_is_a_day_in_shanghai(four_cases: Console) -> None:
    """B (23:50 on 31 October) is October's, C (00:10 on 1 November, 16:10 UTC the day
    before) November's."""
    c = four_cases
    assert head(await ask(c, "统计 2026-10-31"))[1:4] == [
        "统计期间：2026-10-31 至 2026-10-31（按案件录入日期）", "数据截至：2026-11-05 09:30",
        "案件总数：1"]
    assert head(await ask(c, "统计 ２０２６－１１－０１～２０２６－１１－０２"))[3] == "案件总数：1"
    assert head(await ask(c, "统计 本季度"))[3] == "案件总数：4"


async def test_a_period_in_the_future_is_answered_and_one_that_cannot_be_read_is_not(
        four_cases: Console) -> None:
    c = four_cases
    assert head(await ask(c, "统计 2030"))[1:4] == [
        "统计期间：2030-01-01 至 2030-12-31（按案件录入日期）", "数据截至：2026-11-05 09:30",
        "案件总数：0"]
    # one example to copy, then the forms offices type (phone-sized: one sentence)
    examples = ("示例：统计 上月。期间还可写：今天、昨天、近30天、本月、本季度、第四季度、"
                "11.1-11.30、12.20-1.10、11月1日至今")
    unread = await ask(c, "统计 下周")
    assert unread["card"] is None
    assert unread["text"] == f"看不懂统计期间「下周」。{examples}"
    for typed in ("近0天", "近99999天"):  # any number of days out of range: the range
        assert (await ask(c, f"统计 {typed}"))["text"] == f"天数须在 1 至 3660 之间。{examples}"
    backwards = await ask(c, "统计 2026-11-30 至 2026-10-01")
    assert backwards["text"] == f"结束日期 2026-10-01 早于开始日期 2026-11-30。{examples}"


async def test_periods_as_leaders_type_them_after_a_comma_or_glued(four_cases: Console) -> None:
    """统计，上月 from a phone keyboard is 统计：上月; today, 近三十天, 第四季度, …至今 and
    11月1日-30日 are read; 1101-1130 is answered with how to write it."""
    c = four_cases
    for typed in ("统计，上月", "统计,上月", "统计， 上月", "统计：上月"):
        assert head(await ask(c, typed))[1] == OCTOBER, typed
    assert head(await ask(c, "统计 今天"))[1:4:2] == [
        "统计期间：2026-11-05 至 2026-11-05（按案件录入日期）", "案件总数：0"]
    assert head(await ask(c, "统计近三十天"))[1:4:2] == [
        "统计期间：2026-10-07 至 2026-11-05（按案件录入日期）", "案件总数：4"]
    assert head(await ask(c, "统计第四季度"))[3] == "案件总数：4"
    assert head(await ask(c, "统计，11月1日至今"))[1:4:2] == [
        "统计期间：2026-11-01 至 2026-11-05（按案件录入日期）", "案件总数：2"]
    assert head(await ask(c, "统计 10月30日-31日"))[3] == "案件总数：2"
    assert (await ask(c, "统计 1101-1130"))["text"] == (
        "「1101-1130」请写作 11.1-11.30 或 11月1日至11月30日。"
        "示例：统计 上月。期间还可写：今天、昨天、近30天、本月、本季度、第四季度、"
        "11.1-11.30、12.20-1.10、11月1日至今")


async def test_periods_as_offices_type_them(four_cases: Console) -> None:
    """The space a phone keyboard puts before 月, an end without its year, month.day, weeks
    and the last N days: A and B are October's, C and D November's (C on Sunday 1 November,
    the last day of 上周)."""
    c = four_cases
    assert head(await ask(c, "统计 11 月"))[1:4] == [
        "统计期间：2026-11-01 至 2026-11-30（按案件录入日期）", "数据截至：2026-11-05 09:30",
        "案件总数：2"]
    assert head(await ask(c, "统计 2026 年 10 月"))[1] == OCTOBER
    assert head(await ask(c, "统计 2026年10月30日至10月31日"))[1:4:2] == [
        "统计期间：2026-10-30 至 2026-10-31（按案件录入日期）", "案件总数：2"]
    assert head(await ask(c, "统计 10.31-11.2"))[1:4:2] == [
        "统计期间：2026-10-31 至 2026-11-02（按案件录入日期）", "案件总数：2"]
    assert head(await ask(c, "统计上周"))[1:4:2] == [
        "统计期间：2026-10-26 至 2026-11-01（按案件录入日期）", "案件总数：3"]
    assert head(await ask(c, "统计 本周"))[1:4:2] == [
        "统计期间：2026-11-02 至 2026-11-08（按案件录入日期）", "案件总数：1"]
    assert head(await ask(c, "统计近5天"))[1:4:2] == [
        "统计期间：2026-11-01 至 2026-11-05（按案件录入日期）", "案件总数：2"]
    assert head(await ask(c, "统计 最近7天"))[3] == "案件总数：4"
    # an end month before the start month: across New Year, B, C and D
    assert head(await ask(c, "统计 10月31日至1月10日"))[1:4:2] == [
        "统计期间：2026-10-31 至 2027-01-10（按案件录入日期）", "案件总数：3"]
    bad_day = await ask(c, "统计 11.31")
    assert bad_day["text"].startswith(
        "日期「11.31」无效：11 月没有 31 日。示例：统计 上月。期间还可写：今天、")
    bad_day = await ask(c, "统计 2026-02-30")  # said why, as 整改 does
    assert bad_day["text"].startswith("日期「2026-02-30」无效：2 月没有 30 日。示例：统计 上月。")


async def test_the_page_and_its_csv_take_a_period(four_cases: Console) -> None:
    c = four_cases
    await c.client.post("/console/api/login", json={"user": LEADER})
    r = await c.client.get("/stats", params={"from": "2026-10-01", "to": "2026-10-31"})
    assert r.status == 200
    html = await r.text()
    assert OCTOBER in html
    found = re.search(r'<p id="summary">.*?</p>', html)
    assert found is not None, html
    summary = re.sub(r"<[^>]+>", "", found[0])
    assert summary == "案件 2 件：红码 0 · 黄码 0 · 绿码 1 · 未评分 1"
    assert 'href="/stats.csv?from=2026-10-01&amp;to=2026-10-31"' in html  # the CSV keeps it
    # the form shows the period, and 上月 is the chosen preset
    assert 'name="from" value="2026-10-01"' in html and 'name="to" value="2026-10-31"' in html
    assert '<a href="/stats?from=2026-10-01&amp;to=2026-10-31" class="on">上月</a>' in html
    assert '<a href="/stats?from=2026-11-01&amp;to=2026-11-30">本月</a>' in html

    r = await c.client.get("/stats.csv", params={"from": "2026-10-01", "to": "2026-10-31"})
    assert r.status == 200
    assert 'filename="case-stats-20261001-to-20261031-20261105-0930.csv"' in \
        r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert ["统计期间", OCTOBER.removeprefix("统计期间：")] in rows
    assert rows[1][:8] == ["合计", "全部", "2", "0", "0", "1", "1", "1"]

    # without a period: every case, said so, and the file name as before
    html = await (await c.client.get("/stats")).text()
    assert "统计期间：全部" in html and "案件 4 件" in html
    assert 'href="/stats.csv"' in html and '<a href="/stats" class="on">全部</a>' in html
    r = await c.client.get("/stats.csv")
    assert 'filename="case-stats-20261105-0930.csv"' in r.headers["Content-Disposition"]
    assert ["统计期间", "全部"] in list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))


async def test_the_page_takes_a_period_as_typed_after_统计(four_cases: Console) -> None:
    """/stats?period= reads what the chat command reads; the box shows it, the presets, the
    from/to form and the CSV link follow the days it means."""
    c = four_cases
    await c.client.post("/console/api/login", json={"user": LEADER})
    r = await c.client.get("/stats", params={"period": "上月"})
    assert r.status == 200
    html = await r.text()
    assert OCTOBER in html and "案件 2 件" in html
    assert 'name="period" value="上月"' in html
    assert '<a href="/stats?from=2026-10-01&amp;to=2026-10-31" class="on">上月</a>' in html
    assert 'name="from" value="2026-10-01"' in html and 'name="to" value="2026-10-31"' in html
    assert 'href="/stats.csv?from=2026-10-01&amp;to=2026-10-31"' in html

    html = await (await c.client.get("/stats", params={"period": "10.31-1.10"})).text()
    assert "统计期间：2026-10-31 至 2027-01-10（按案件录入日期）" in html and "案件 3 件" in html
    html = await (await c.client.get("/stats", params={"period": "近5天"})).text()
    assert "统计期间：2026-11-01 至 2026-11-05（按案件录入日期）" in html and "案件 2 件" in html
    # given by from/to, the box shows the days, as 统计 reads them back
    html = await (await c.client.get("/stats", params={"from": "2026-10-01",
                                                       "to": "2026-10-31"})).text()
    assert 'name="period" value="2026-10-01 至 2026-10-31"' in html
    # an empty box or 全部: every case
    for typed in ("", "全部"):
        html = await (await c.client.get("/stats", params={"period": typed})).text()
        assert "统计期间：全部" in html and "案件 4 件" in html

    r = await c.client.get("/stats.csv", params={"period": "上月"})
    assert r.status == 200
    assert 'filename="case-stats-20261001-to-20261031-20261105-0930.csv"' in \
        r.headers["Content-Disposition"]


@pytest.mark.parametrize(("query", "reason"), [
    ({"period": "下周"}, "看不懂统计期间「下周」。可填写如：上月、本季度、11月、2026年、12.20-1.10、近30天"),
    ({"period": "x"}, "看不懂统计期间「x」。"),  # echoed as typed, not as 「X」
    ({"period": "q9"}, "看不懂统计期间「q9」。"),
    ({"from": "abc", "to": "2026-10-31"}, "开始日期「abc」应为 YYYY-MM-DD 格式"),
    ({"period": "11.31"}, "日期「11.31」无效：11 月没有 31 日。可填写如："),
    ({"period": "上月", "from": "2026-10-01", "to": "2026-10-31"},
     "请只给出一种统计期间：period，或 from 和 to"),
    ({"from": "2026-10-31", "to": "2026-10-01"}, "结束日期 2026-10-01 早于开始日期 2026-10-31"),
    ({"from": "2026-10-01"}, "缺少结束日期：请同时给出开始和结束日期"),
    ({"from": "上月", "to": "2026-10-31"}, "开始日期「上月」应为 YYYY-MM-DD 格式，如 2026-10-01"),
    ({"from": "2026-02-30", "to": "2026-03-31"}, "日期「2026-02-30」无效：2 月没有 30 日"),
])
async def test_a_bad_period_on_the_page_or_csv_is_a_400_with_the_reason(
        console: Console, query: dict[str, str], reason: str) -> None:
    await console.client.post("/console/api/login", json={"user": LEADER})
    for path in ("/stats", "/stats.csv"):
        r = await console.client.get(path, params=query)
        assert r.status == 400, path
        text = await r.text()
        assert "统计期间有误" in text and reason in text and 'href="/stats"' in text


async def test_the_period_is_a_where_on_the_indexed_creation_time(tmp_path: Path) -> None:
    """The provincial office's figures for a month read that month's cases through the index
    on created_at, not the whole table (SQLite's plan for each statement)."""
    path = tmp_path / "plan.db"
    migrated = db.create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(migrated)  # the schema as deployed, with the migrations' indexes
    await migrated.dispose()
    engine = create_engine(f"sqlite:///{path}")
    plans: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        rows = cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
        plans.append("\n".join(str(r[-1]) for r in rows))

    october = (datetime(2026, 9, 30, 16, tzinfo=UTC), datetime(2026, 10, 31, 16, tzinfo=UTC))
    with Session(engine) as session:
        repo.case_fact_rows(session, None, october)
        repo.case_fact_rows(session, {"c01-01"}, october)
    engine.dispose()
    assert len(plans) == 8
    for plan in plans[:4]:  # every case of the province: only the index can narrow it
        assert "SEARCH cases USING INDEX ix_cases_created_at" in plan, plan
    for plan in plans:
        assert "SCAN cases" not in plan, plan


async def test_help_names_the_period_forms(console: Console) -> None:
    r = await console.send(LEADER, f"dm:{LEADER}", "帮助 全部")
    [line] = [x for x in r["messages"][0]["text"].split("\n") if x.startswith("· 统计")]
    assert line.startswith("· 统计 [期间] —— 案件码统计")
    assert ("今天、昨天、近30天、本月、上月、本季度、第四季度、11.1-11.30、12.20-1.10、11月1日至今、"
            "今年、2026-10、2026-10-01 至 2026-11-30") in line
