"""统计 against an independent oracle: random scenarios (seeded, so a failure replays) of cases
created, scored over time, re-scored (转码), scanned at intake, closed, reopened and withdrawn
in two counties, each counted in plain Python from the events as README defines the figures,
and compared with the card, the /stats page and the CSV, for a county's leader, a city's
检察长 and the province, over 全部, 本月, 上月 and a date range."""

from __future__ import annotations

import csv
import io
import random
import re
import statistics
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.roster import read_org_file
from tests.cases.helpers import (
    AUTH,
    GREEN,
    LS_PROSECUTOR,
    RED,
    YELLOW,
    create_case,
    evaluate,
    org_with_second_county,
)
from tests.conftest import Console, fresh_postgres, make_settings, open_console

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 9, 30, tzinfo=SH)  # the test clock's start
LS_MANAGER = "p-case-manager-ls"
COUNTIES = {  # county: (its prosecutors, its police units with an investigator, case manager)
    "c01-01": (["p-prosecutor-1", "p-prosecutor-2", "p-prosecutor-3"],
               [("ps-hc-xd", "p-investigator-1"), ("ps-hc", "p-investigator-4")],
               "p-case-manager-1"),
    "c01-02": ([LS_PROSECUTOR], [("ps-ls", "p-investigator-ls")], LS_MANAGER),
}
VIEWERS = {"p-leader-hc": "c01-01", "p-chief-c01": "c01", "p-leader-1": "prov"}
SHEETS = {"red": RED, "yellow": YELLOW, "green": GREEN}


@dataclass
class Case:
    code: str
    county: str
    prosecutor: str
    police_unit: str
    created: date
    custody: date | None
    history: list[tuple[datetime, str]] = field(default_factory=list)
    intakes: list[str] = field(default_factory=list)  # colour at each recorded scan
    intake_version: int = 0  # the evaluation the last scan decided on
    closed_at: datetime | None = None  # closed now, since then
    withdrawn: bool = False


def days_text(value: float) -> str:
    return str(Decimal(repr(value)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def pct(part: int, whole: int) -> str:
    return str(Decimal(100 * part / whole).quantize(Decimal("1"), ROUND_HALF_UP)) + "%"


def figures(cases: list[Case], today: date) -> list[str]:
    """One CSV row's figures (案件数 … 羁押期限届满仍为红码), from the events alone."""
    colours = [c.history[-1][1] if c.history else "unscored" for c in cases]
    transcodes = sum(a[1] != b[1] for c in cases
                     for a, b in zip(c.history, c.history[1:], strict=False))
    to_green = []
    for c in cases:
        bad = next((i for i, (_, col) in enumerate(c.history) if col != "green"), None)
        green = next((at for at, col in c.history[bad or 0:] if col == "green"), None)
        if bad is not None and green is not None:
            to_green.append((green - c.history[bad][0]).total_seconds() / 86400)
    scanned = [c.intakes[0] for c in cases if c.intakes]
    custody = 0
    for c in cases:
        if c.custody is None or c.custody >= today or not c.history:
            continue
        end = datetime.combine(c.custody + timedelta(days=1), datetime.min.time(), SH)
        if c.closed_at is not None and c.closed_at < end:
            continue
        before = [col for at, col in c.history if at < end]
        custody += (before[-1] if before else c.history[0][1]) == "red"
    return [str(len(cases)), *(str(colours.count(k)) for k in ("red", "yellow", "green",
                                                                "unscored")),
            str(transcodes), days_text(statistics.median(to_green)) if to_green else "",
            str(len(scanned)), pct(scanned.count("green"), len(scanned)) if scanned else "",
            str(custody)]


@pytest.fixture
async def console(request: pytest.FixtureRequest, tmp_path: Path, port: int
                  ) -> AsyncIterator[Console]:
    """The console on SQLite, or on PostgreSQL when the test's `backend` says so."""
    path = org_with_second_county(tmp_path, [
        {"id": "p-leader-ls", "name": "韩梅", "unit": "c01-02", "roles": ["leader"]},
        {"id": LS_MANAGER, "name": "周敏", "unit": "c01-02", "roles": ["case_manager"]}])
    web = {"public_url": f"http://127.0.0.1:{port}"}
    async with AsyncExitStack() as stack:
        storage = {}
        if request.node.callspec.params["backend"] == "postgresql":
            storage["database_url"] = await stack.enter_async_context(
                fresh_postgres("casebot_statoracle"))
        c = await stack.enter_async_context(open_console(make_settings(
            tmp_path, org=str(path), web=web, **({"storage": storage} if storage else {})),
            port))
        c.org = read_org_file(path)  # type: ignore[attr-defined]
        yield c


async def play(c: Console, rng: random.Random, steps: int) -> tuple[list[Case], datetime]:
    """Random events on the test clock, from Monday 2026-11-02 into December; the cases as the
    oracle sees them and the time at the end."""
    now = START
    cases: list[Case] = []
    for _ in range(steps):
        action = rng.choice(["create"] * 3 + ["score"] * 4 + ["intake"] * 3 + ["close", "withdraw"]
                            + ["wait"] * 3)
        live = [x for x in cases if not x.withdrawn]
        if action == "create" or not live:
            county = rng.choice(sorted(COUNTIES))
            people, units, _ = COUNTIES[county]
            unit, investigator = rng.choice(units)
            custody = rng.choice([None, (now + timedelta(days=rng.randint(-3, 12))).date()])
            prosecutor = rng.choice(people)
            code = await create_case(c, prosecutor=prosecutor, police_unit=unit,
                                     investigators=[investigator], custody_deadline=(
                                         custody.isoformat() if custody else None))
            cases.append(Case(code, county, prosecutor, unit, now.date(), custody))
        elif action == "score":
            case = rng.choice([x for x in live if x.closed_at is None] or live)
            if case.closed_at is not None:
                continue
            colour = rng.choice(sorted(SHEETS))
            got = await evaluate(c, case.code, SHEETS[colour], by=case.prosecutor)
            assert got["color"] == colour
            case.history.append((now, colour))
        elif action == "intake":
            case = rng.choice(live)
            manager = COUNTIES[case.county][2]
            await c.send(manager, f"dm:{manager}", f"受理 {case.code}")
            if case.closed_at is None and case.history and case.intake_version != len(
                    case.history):
                case.intakes.append(case.history[-1][1])
                case.intake_version = len(case.history)
        elif action == "close":
            case = rng.choice(live)
            value = "open" if case.closed_at is not None else "closed"
            r = await c.client.patch(f"/api/v1/cases/{case.code}", json={"status": value},
                                     headers=AUTH)
            assert r.status == 200, await r.text()
            case.closed_at = now if value == "closed" else None
        elif action == "withdraw":
            mine = [x for x in live if not x.history and x.closed_at is None]
            if mine:
                case = rng.choice(mine)
                said = await c.send(case.prosecutor, f"dm:{case.prosecutor}",
                                    f"撤销案件 {case.code} 重复录入 确认")
                assert "已撤销" in str(said), said
                case.withdrawn = True
        else:
            # minutes: from 09:30, never 00:00 (the custody deadline's end) itself
            minutes = rng.choice([36, 60, 300, 900, 1440, 2880, 4320, 8640])
            await c.advance(f"{minutes}m")
            now += timedelta(minutes=minutes)
    return cases, now


def within(org: dict[str, Any], top: str) -> set[str]:
    parent = {u["id"]: u["parent"] for u in org["units"]}

    def up(u: str | None) -> bool:
        return u is not None and (u == top or up(parent.get(u)))
    return {u for u in parent if up(u)}


def expected_rows(org: dict[str, Any], cases: list[Case], top: str, today: date,
                  period: tuple[date, date] | None) -> list[list[str]]:
    """The CSV's group rows: 合计, then each prosecutor and police unit of the scope's roster
    in roster order, zeros too (no case here falls outside its own county's roster)."""
    units = within(org, top)
    counted = [x for x in cases if not x.withdrawn and x.county in units
               and (period is None or period[0] <= x.created <= period[1])]
    rows = [["合计", "全部", *figures(counted, today)]]
    rows += [["承办检察官", p["name"], *figures([x for x in counted if x.prosecutor == p["id"]],
                                                 today)]
             for p in org["people"] if "prosecutor" in p["roles"] and p["unit"] in units]
    rows += [["侦查单位", u["name"], *figures([x for x in counted if x.police_unit == u["id"]],
                                              today)]
             for u in org["units"] if u["kind"] == "police" and u["id"] in units]
    return rows


def card_head(row: list[str], closed: int, scope: str, period: str, taken: str) -> str:
    n, red, yellow, green, unscored, tc, median, scanned, share, _ = row[2:]
    return (f"统计范围：{scope}\n统计期间：{period}\n数据截至：{taken}\n"
            f"案件总数：{n}{f'（其中已结案 {closed} 件）' if closed else ''}\n"
            f"红码 {red} · 黄码 {yellow} · 绿码 {green} · 未评分 {unscored}\n转码次数：{tc}\n"
            f"首次红/黄码到转绿（中位数）：{f'{median} 天' if median else '—'}\n"
            f"受理时绿码占比：{f'{share}（扫码受理 {scanned} 件' if share else '—（尚无扫码受理）'}")


@pytest.mark.parametrize(("backend", "seed"), [("sqlite", 1), ("sqlite", 2), ("sqlite", 3),
                                               ("postgresql", 4)])
async def test_card_page_and_csv_match_the_oracle(console: Console, backend: str, seed: int
                                                  ) -> None:
    c = console
    org: dict[str, Any] = c.org  # type: ignore[attr-defined]
    cases, now = await play(c, random.Random(seed), 80)
    today = now.date()
    month = today.replace(day=1)
    last = month - timedelta(days=1)
    periods: list[tuple[str, tuple[date, date] | None]] = [
        ("", None),
        ("本月", (month, (month + timedelta(days=32)).replace(day=1) - timedelta(days=1))),
        ("上月", (last.replace(day=1), last)),
        ("2026-11-05 至 2026-11-20", (date(2026, 11, 5), date(2026, 11, 20)))]
    taken = now.strftime("%Y-%m-%d %H:%M")
    for viewer, top in VIEWERS.items():
        await c.client.post("/console/api/login", json={"user": viewer})
        scope = next(u["name"] for u in org["units"] if u["id"] == top)
        for typed, period in periods:
            label = "全部" if period is None else f"{period[0]} 至 {period[1]}（按案件录入日期）"
            want = expected_rows(org, cases, top, today, period)
            units = within(org, top)
            closed = sum(1 for x in cases if not x.withdrawn and x.county in units
                         and x.closed_at is not None
                         and (period is None or period[0] <= x.created <= period[1]))
            # the CSV: every group row, then the metrics
            query = "" if period is None else f"?from={period[0]}&to={period[1]}"
            raw = await (await c.client.get(f"/stats.csv{query}")).read()
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
            assert [r for r in rows[1:] if len(r) == 12] == want, (seed, viewer, typed)
            metrics = {r[0]: r[1] for r in rows if len(r) == 2}
            assert metrics["已结案（件）"] == str(closed) and metrics["统计期间"] == label
            # the card: the head says the same, the breakdown the same counts
            r = await c.send(viewer, f"dm:{viewer}", f"统计 {typed}".strip())
            body = r["messages"][0]["card"]["body"]
            head = card_head(want[0], closed, scope, label, taken)
            assert body.startswith(head), (seed, viewer, typed, body)
            if want[0][10]:  # the first scans' decisions add up to the cases scanned
                parts = re.search(r"扫码受理 (\d+) 件：(.*?)）", body)
                assert parts is not None
                got = dict(re.findall(r"(绿码放行|黄码待定|红码退回) (\d+)", parts[2]))
                assert sum(map(int, got.values())) == int(parts[1])
                assert pct(int(got.get("绿码放行", 0)), int(parts[1])) == want[0][10]
            assert f"羁押期限届满仍为红码：{want[0][11]} 件" in body
            for _, name, n, red, yellow, green, unscored, *_ in want[1:]:
                tail = f" · 未评分 {unscored}" if unscored != "0" else ""
                line = f"· {name}：{n} 件（红 {red} · 黄 {yellow} · 绿 {green}{tail}）"
                assert (line in body) == (n != "0"), (seed, viewer, typed, line, body)
            # the page: the summary, the figures and the bar's segments
            html = await (await c.client.get("/stats", params={"period": typed} if typed
                                             else {})).text()
            assert f"统计期间：{label}" in html
            count = dict(zip(("cases", "red", "yellow", "green", "unscored"),
                             map(int, want[0][2:7]), strict=True))
            summary = re.search(r'<p id="summary">.*?</p>', html)
            assert summary is not None
            text = re.sub(r"<[^>]+>", "", summary[0])
            assert text.startswith(f"案件 {count['cases']} 件") and text.endswith(
                f"：红码 {count['red']} · 黄码 {count['yellow']} · 绿码 {count['green']} · "
                f"未评分 {count['unscored']}")
            kv = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))
            assert kv["转码次数"] == want[0][7]
            assert kv["首次红/黄码到转绿"] == (f"{want[0][8]} 天（中位数）" if want[0][8] else "—")
            assert kv["受理时绿码占比"].startswith(want[0][10] or "—（尚无扫码受理）")
            assert kv["羁押期限届满仍为红码"] == f"{want[0][11]} 件"
            segs = re.findall(r'class="seg (\w+)" style="width:([0-9.]+)%"><span class="lbl" '
                              r'data-full="\S+ (\d+)"', html)
            assert [(k, int(v)) for k, _, v in segs] == [
                (k, count[k]) for k in ("red", "yellow", "green", "unscored") if count[k]]
            assert all(abs(float(w) - 100 * int(v) / count["cases"]) < 1e-6 for _, w, v in segs)
            assert ("本院（统计范围内）暂无案件" in html) == (count["cases"] == 0)
