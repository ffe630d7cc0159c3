"""统计 against numbers worked out by hand (SPEC §1 Statistics), on SQLite and PostgreSQL.

Eight cases over fourteen days on the test clock (day 0 = Monday 2026-11-02, 09:30 Shanghai),
three prosecutors and two police units:

| case | prosecutor | unit | history (day: colour)              | 转码 | to green | 1st intake | custody  |
|------|------------|------|------------------------------------|------|----------|------------|----------|
| A    | 1          | xd   | 0 red, 7 yellow, 10 green          | 2    | 10 days  | 11 green   | —        |
| B    | 1          | xd   | 0 yellow, 0 yellow again, 5 green  | 1    | 5 days   | 1 yellow   | —        |
| C    | 2          | hc   | 0 green                            | 0    | —        | 1 green    | —        |
| D    | 2          | hc   | 0 red (veto, 100 points), 12 green | 1    | 12 days  | —          | 3: red   |
| E    | 3          | xd   | 0 green, 2 red, 4 green, 6 red     | 3    | 2 days   | 7 red      | —        |
| F    | 3          | hc   | never scored                       | 0    | —        | —          | 1: none  |
| G    | 1          | hc   | 0 yellow                           | 0    | —        | 1 yellow   | 2: yellow |
| H    | 2          | xd   | 0 red                              | 0    | —        | —          | 10: red  |

Totals on day 14: 8 cases, red 2 (E, H), yellow 1 (G), green 4 (A–D), unscored 1 (F);
转码 7; days to green of A, B, D, E: 10, 5, 12, 2 → median 7.5; first intakes of A, B, C, E,
G: 2 green of 5 → 40%; red on the day the custody deadline came: D and H → 2 (D is green
now, which does not undo that it was red at its deadline).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.roster import read_org_file, write_org_file
from cards.dingtalk import CARD_BODY_MAX_BYTES, CARD_BODY_MAX_CHARS, fits
from config.loader import DEFAULT_DIR
from tests.cases.helpers import GREEN, RED, YELLOW, create_case, ded, evaluate
from tests.conftest import Console, fresh_postgres, make_settings, open_console

XD = {"police_unit": "ps-hc-xd", "investigators": ["p-investigator-1"]}
HC = {"police_unit": "ps-hc", "investigators": ["p-investigator-4"]}
P1, P2, P3 = "p-prosecutor-1", "p-prosecutor-2", "p-prosecutor-3"
VETO = [ded("criminal_capacity", 0, "刑事责任能力未查清", "补充精神病鉴定")]


def roster_with_idle_entries(tmp_path: Path) -> str:
    """The demo roster plus a prosecutor (钱静, listed second) and a police unit (禁毒大队,
    listed first) that have no case: the breakdowns list them, with zeros, in roster order."""
    path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", path)
    data = read_org_file(path)
    units, people = data["units"], data["people"]
    units.insert(next(i for i, u in enumerate(units) if u["id"] == "ps-hc"),
                 {"id": "ps-hc-jd", "name": "示范市海澄县公安局禁毒大队", "kind": "police",
                  "parent": "c01-01", "code_prefix": None})
    people.insert(next(i for i, p in enumerate(people) if p["id"] == P1) + 1,
                  {"id": "p-prosecutor-4", "name": "钱静", "unit": "c01-01",
                   "roles": ["prosecutor"]})
    write_org_file(path, data)
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_console(request: pytest.FixtureRequest, tmp_path: Path, port: int
                      ) -> AsyncIterator[Console]:
    web = {"public_url": f"http://127.0.0.1:{port}"}
    org = roster_with_idle_entries(tmp_path)
    if request.param == "sqlite":
        async with open_console(make_settings(tmp_path, web=web, org=org), port) as console:
            yield console
        return
    async with fresh_postgres("casebot_statnum") as url:
        settings = make_settings(tmp_path, storage={"database_url": url}, web=web, org=org)
        async with open_console(settings, port) as console:
            yield console


def day(n: int) -> str:
    return f"2026-11-{2 + n:02d}"


async def scenario(c: Console) -> dict[str, str]:
    async def new(prosecutor: str, unit: dict[str, Any], **over: Any) -> str:
        return await create_case(c, prosecutor=prosecutor, **unit, **over)

    async def ev(code: str, deds: list[dict[str, Any]], by: str, vetoes: list[str] | None = None
                 ) -> str:
        return str((await evaluate(c, code, deds, vetoes=vetoes, by=by))["color"])

    async def intake(code: str) -> None:
        await c.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")

    a, b = await new(P1, XD), await new(P1, XD)
    cc, d = await new(P2, HC), await new(P2, HC, custody_deadline=day(3))
    e, f = await new(P3, XD), await new(P3, HC, custody_deadline=day(1))
    g, h = await new(P1, HC, custody_deadline=day(2)), await new(P2, XD, custody_deadline=day(10))
    for code in (a, b, cc, d, e, f, g, h):  # the fixture's default custody deadline is far off
        if code not in (d, f, g, h):
            r = await c.client.patch(f"/api/v1/cases/{code}", json={"custody_deadline": None},
                                     headers={"Authorization": "Bearer test-token"})
            assert r.status == 200, await r.text()
    # day 0
    assert await ev(a, RED, P1) == "red"
    assert await ev(b, YELLOW, P1) == "yellow"
    assert await ev(b, [ded("criminal_facts", 12)], P1) == "yellow"  # same colour: no 转码
    assert await ev(cc, GREEN, P2) == "green"
    assert await ev(d, VETO, P2, vetoes=["criminal_capacity"]) == "red"
    assert await ev(e, GREEN, P3) == "green"
    assert await ev(g, YELLOW, P1) == "yellow"
    assert await ev(h, RED, P2) == "red"
    await c.advance("1d")  # day 1
    for code in (b, cc, g):
        await intake(code)
    await c.advance("1d")  # day 2
    assert await ev(e, RED, P3) == "red"
    await c.advance("2d")  # day 4
    assert await ev(e, GREEN, P3) == "green"
    await c.advance("1d")  # day 5
    assert await ev(b, GREEN, P1) == "green"
    await c.advance("1d")  # day 6
    assert await ev(e, RED, P3) == "red"
    await c.advance("1d")  # day 7
    assert await ev(a, YELLOW, P1) == "yellow"
    await intake(e)
    await c.advance("3d")  # day 10
    assert await ev(a, GREEN, P1) == "green"
    await c.advance("1d")  # day 11
    await intake(a)
    await c.advance("1d")  # day 12
    assert await ev(d, GREEN, P2) == "green"
    await c.advance("2d")  # day 14
    return {"a": a, "b": b, "c": cc, "d": d, "e": e, "f": f, "g": g, "h": h}


async def test_statistics_match_the_hand_computation(any_console: Console) -> None:
    c = any_console
    await scenario(c)
    r = await c.send("p-leader-hc", "dm:p-leader-hc", "统计")
    body = r["messages"][0]["card"]["body"]
    assert body == ("统计范围：示范市海澄县人民检察院\n统计期间：全部\n数据截至：2026-11-16 09:30\n"
                    "案件总数：8\n红码 2 · 黄码 1 · 绿码 4 · 未评分 1\n转码次数：7\n"
                    "首次红/黄码到转绿（中位数）：7.5 天\n"
                    "受理时绿码占比：40%（扫码受理 5 件：绿码放行 2 · 黄码待定 2 · 红码退回 1）\n"
                    "羁押期限届满仍为红码：2 件\n\n"
                    "按承办检察官（共 4 人）：\n"
                    "· 余斌梅：3 件（红 0 · 黄 1 · 绿 2）\n"
                    "· 朱凯秀：3 件（红 1 · 黄 0 · 绿 2）\n"
                    "· 蒋阳琳：2 件（红 1 · 黄 0 · 绿 0 · 未评分 1）\n"
                    "· 无案件（0 件）：钱静\n\n"
                    "按侦查单位（共 3 个单位）：\n"
                    "· 示范市海澄县公安局：4 件（红 0 · 黄 1 · 绿 2 · 未评分 1）\n"
                    "· 示范市海澄县公安局刑事侦查大队：4 件（红 2 · 黄 0 · 绿 2）\n"
                    "· 无案件（0 件）：示范市海澄县公安局禁毒大队")

    await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
    html = await (await c.client.get("/stats")).text()
    summary = re.sub(r"<[^>]+>", "", re.search(r'<p id="summary">.*?</p>', html)[0])
    assert summary == "案件 8 件：红码 2 · 黄码 1 · 绿码 4 · 未评分 1"
    kv = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))
    assert kv == {"转码次数": "7", "首次红/黄码到转绿": "7.5 天（中位数）",
                  "受理时绿码占比": "40%（扫码受理 5 件：绿码放行 2 · 黄码待定 2 · 红码退回 1）",
                  "羁押期限届满仍为红码": "2 件"}

    raw = await (await c.client.get("/stats.csv")).read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    groups = [r for r in rows[1:] if len(r) == 12]
    # per group as well: days to green (median), intakes, green at intake, red at custody
    assert groups == [
        ["合计", "全部", "8", "2", "1", "4", "1", "7", "7.5", "5", "40%", "2"],
        ["承办检察官", "余斌梅", "3", "0", "1", "2", "0", "3", "7.5", "3", "33%", "0"],
        ["承办检察官", "钱静", "0", "0", "0", "0", "0", "0", "", "0", "", "0"],
        ["承办检察官", "朱凯秀", "3", "1", "0", "2", "0", "1", "12.0", "1", "100%", "2"],
        ["承办检察官", "蒋阳琳", "2", "1", "0", "0", "1", "3", "2.0", "1", "0%", "0"],
        ["侦查单位", "示范市海澄县公安局禁毒大队", "0", "0", "0", "0", "0", "0", "", "0", "",
         "0"],
        ["侦查单位", "示范市海澄县公安局", "4", "0", "1", "2", "1", "1", "12.0", "2", "50%", "1"],
        ["侦查单位", "示范市海澄县公安局刑事侦查大队", "4", "2", "0", "2", "0", "6", "5.0", "3",
         "33%", "1"],
    ]
    # each cell's label, shown on a phone where the rows are stacked, left out
    cells = re.sub(r'<span class="k">[^<]*</span>', "", html)
    table = re.findall(r"<tr(?: class=\"zero\")?><td>(.*?)</td></tr>", cells)
    idle = "</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>—</td>" \
           "<td>—</td><td>0"
    assert table == [
        "余斌梅</td><td>3</td><td>0</td><td>1</td><td>2</td><td>0</td><td>3</td><td>7.5</td>"
        "<td>1/3（33%）</td><td>0",
        "钱静" + idle,
        "朱凯秀</td><td>3</td><td>1</td><td>0</td><td>2</td><td>0</td><td>1</td><td>12.0</td>"
        "<td>1/1（100%）</td><td>2",
        "蒋阳琳</td><td>2</td><td>1</td><td>0</td><td>0</td><td>1</td><td>3</td><td>2.0</td>"
        "<td>0/1（0%）</td><td>0",
        "示范市海澄县公安局禁毒大队" + idle,
        "示范市海澄县公安局</td><td>4</td><td>0</td><td>1</td><td>2</td><td>1</td><td>1</td>"
        "<td>12.0</td><td>1/2（50%）</td><td>1",
        "示范市海澄县公安局刑事侦查大队</td><td>4</td><td>2</td><td>0</td><td>2</td><td>0</td>"
        "<td>6</td><td>5.0</td><td>1/3（33%）</td><td>1",
    ]
    assert "共 4 人，其中 1 人无案件（显示为 0）" in html
    assert "共 3 个单位，其中 1 个单位无案件（显示为 0）" in html
    metrics = {r[0]: r[1] for r in rows if len(r) == 2}
    assert metrics["首次红/黄码到转绿（中位数，天）"] == "7.5"
    assert metrics["受理时绿码占比"] == "40%" and metrics["扫码受理件数"] == "5"
    assert metrics["羁押期限届满仍为红码（件）"] == "2"


@pytest.fixture
def odd_names_console_settings(tmp_path: Path, port: int) -> Any:
    path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", path)
    data = read_org_file(path)
    names = {"ps-hc-xd": '=HYPERLINK("http://evil.example/","点我")', "ps-hc": "@SUM(1+1)"}
    for u in data["units"]:
        u["name"] = names.get(u["id"], u["name"])
    people = {P1: '+1,"张"\n三', P2: "-2+3"}
    for p in data["people"]:
        p["name"] = people.get(p["id"], p["name"])
    write_org_file(path, data)
    return make_settings(tmp_path, org=str(path), web={"public_url": f"http://127.0.0.1:{port}"})


async def test_csv_names_cannot_become_excel_formulas(odd_names_console_settings: Any,
                                                      port: int) -> None:
    """A name starting with =, +, -, @ is text in Excel (a leading '), and commas, quotes and
    line breaks stay inside their cell."""
    async with open_console(odd_names_console_settings, port) as c:
        await evaluate(c, await create_case(c, prosecutor=P1, **XD), RED, by=P1)
        await evaluate(c, await create_case(c, prosecutor=P2, **HC), GREEN, by=P2)
        await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
        raw = await (await c.client.get("/stats.csv")).read()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    names = [r[1] for r in rows if len(r) == 12][2:]
    assert names == ["'+1,\"张\"\n三", "'-2+3", "蒋阳琳", "'@SUM(1+1)",
                     "'=HYPERLINK(\"http://evil.example/\",\"点我\")"]


@pytest.fixture
def large_roster_settings(tmp_path: Path, port: int) -> Any:
    """The demo roster plus 297 prosecutors and 148 police units with long names."""
    path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", path)
    data = read_org_file(path)
    data["people"] += [{"id": f"p-gen-{i:03d}", "name": f"检察官{i:03d}", "unit": "c01-01",
                        "roles": ["prosecutor"]} for i in range(1, 298)]
    data["units"] += [{"id": f"ps-gen-{i:03d}", "name": f"示范市海澄县公安局第{i:03d}刑事侦查中队",
                       "kind": "police", "parent": "c01-01", "code_prefix": None}
                      for i in range(1, 149)]
    write_org_file(path, data)
    return make_settings(tmp_path, org=str(path), web={"public_url": f"http://127.0.0.1:{port}"})


async def test_a_large_roster_fits_the_chat_card_and_is_listed_whole_on_the_page_and_csv(
        large_roster_settings: Any, port: int) -> None:
    """300 prosecutors, 150 police units, 12 prosecutors with cases: the chat card (within a
    DingTalk card's size) shows the 10 with the most cases, counts the rest and names some of
    those without a case; /stats and the CSV list all 450, those without a case with 0."""
    counts = {f"p-gen-{i:03d}": 1 for i in range(1, 11)} | {"p-gen-150": 2, "p-gen-297": 3}
    async with open_console(large_roster_settings, port) as c:
        for prosecutor, n in counts.items():
            for _ in range(n):
                await evaluate(c, await create_case(c, prosecutor=prosecutor, **XD), RED,
                               by=prosecutor)
        r = await c.send("p-leader-hc", "dm:p-leader-hc", "统计")
        body = r["messages"][0]["card"]["body"]
        await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
        html = await (await c.client.get("/stats")).text()
        raw = await (await c.client.get("/stats.csv")).read()
    assert fits(body, CARD_BODY_MAX_CHARS, CARD_BODY_MAX_BYTES), (len(body), body)
    lines = body.split("\n")
    at = lines.index("按承办检察官（共 300 人）：")
    assert lines[at + 1:at + 5] == ["案件最多的 10 人：", "· 检察官297：3 件（红 3 · 黄 0 · 绿 0）",
                                    "· 检察官150：2 件（红 2 · 黄 0 · 绿 0）",
                                    "· 检察官001：1 件（红 1 · 黄 0 · 绿 0）"]
    assert lines[at + 12] == "· 另有 2 人有案件，详见统计页"
    assert lines[at + 13].startswith("· 无案件（0 件）：余斌梅、朱凯秀、蒋阳琳、检察官011、")
    assert lines[at + 13].endswith(" 等 288 人")
    assert "按侦查单位（共 150 个单位）：" in lines
    assert "· 示范市海澄县公安局刑事侦查大队：15 件（红 15 · 黄 0 · 绿 0）" in lines
    assert lines[-1].startswith("· 无案件（0 件）：示范市海澄县公安局、示范市海澄县公安局第001")
    assert lines[-1].endswith(" 等 149 个单位")

    assert len(re.findall(r"<tr class=\"zero\">", html)) == 288 + 149
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    groups = [r for r in rows[1:] if len(r) == 12]
    prosecutors = [r[1] for r in groups if r[0] == "承办检察官"]
    assert len(prosecutors) == 300 and prosecutors[:4] == ["余斌梅", "朱凯秀", "蒋阳琳", "检察官001"]
    assert prosecutors[-1] == "检察官297"
    assert len([r for r in groups if r[0] == "侦查单位"]) == 150


async def test_a_case_closed_before_its_custody_deadline_is_not_red_at_the_deadline(
        console: Console) -> None:
    """羁押期限届满仍为红码 counts the cases that owe a 责任倒查: closed (结案) before the
    deadline came, a red case owes none, and the leader gets none; closed after it, or
    reopened before it, it does."""
    c = console
    auth = {"Authorization": "Bearer test-token"}

    async def status(code: str, value: str) -> None:
        r = await c.client.patch(f"/api/v1/cases/{code}", json={"status": value}, headers=auth)
        assert r.status == 200, await r.text()

    early, late, back = [await create_case(c, **XD, custody_deadline=day(2)) for _ in range(3)]
    for code in (early, late, back):
        await evaluate(c, code, RED)
    await c.advance("1d")  # day 1
    await status(early, "closed")
    await status(back, "closed")
    await status(back, "open")
    await c.advance("2d")  # day 3: the deadline came (day 2, 00:00) with all three red
    await status(late, "closed")
    await c.advance("1d")
    body = (await c.send("p-leader-hc", "dm:p-leader-hc", "统计"))["messages"][0]["card"]["body"]
    assert "羁押期限届满仍为红码：2 件" in body
    escalated = [m for m in await c.messages("dm:p-leader-hc")
                 if m["card"] and "责任倒查" in m["card"]["title"]]
    assert sorted(code for m in escalated for code in (early, late, back)
                  if code in m["card"]["body"]) == sorted([late, back])


async def test_the_figures_say_when_they_were_taken_and_the_csv_file_is_dated(
        console: Console) -> None:
    """A leader forwards the card, a screenshot of the page or the CSV: each says when its
    figures were taken (Shanghai time), and a second download does not overwrite the first
    under the same name."""
    c = console
    await evaluate(c, await create_case(c, **XD), RED)
    await c.advance("15h")  # Monday 09:30 → 00:30 on Tuesday 2026-11-03 in Shanghai
    body = (await c.send("p-leader-hc", "dm:p-leader-hc", "统计"))["messages"][0]["card"]["body"]
    assert body.startswith("统计范围：示范市海澄县人民检察院\n统计期间：全部\n"
                           "数据截至：2026-11-03 00:30\n案件总数：1\n")
    await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
    assert "数据截至：2026-11-03 00:30" in await (await c.client.get("/stats")).text()
    r = await c.client.get("/stats.csv")
    assert 'filename="case-stats-20261103-0030.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert ["数据截至", "2026-11-03 00:30"] in rows


async def test_closed_cases_are_counted_and_said_to_be_closed(console: Console) -> None:
    """A case closed (结案) keeps its colour in the figures; the card, the page and the CSV
    say how many of the cases are closed, so a leader does not look for a red case that no
    longer waits for anything. Reopened, it is open again."""
    c = console
    auth = {"Authorization": "Bearer test-token"}
    done, again, still = [await create_case(c, **XD) for _ in range(3)]
    for code in (done, again, still):
        await evaluate(c, code, RED)
    for code, value in ((done, "closed"), (again, "closed"), (again, "open")):
        r = await c.client.patch(f"/api/v1/cases/{code}", json={"status": value}, headers=auth)
        assert r.status == 200, await r.text()
    body = (await c.send("p-leader-hc", "dm:p-leader-hc", "统计"))["messages"][0]["card"]["body"]
    assert "案件总数：3（其中已结案 1 件）\n红码 3 · 黄码 0 · 绿码 0 · 未评分 0" in body
    await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
    html = await (await c.client.get("/stats")).text()
    assert "案件 3 件（其中已结案 1 件）：红码 3" in re.sub(r"<[^>]+>", "", html)
    rows = list(csv.reader(io.StringIO((await (await c.client.get("/stats.csv")).read())
                                       .decode("utf-8-sig"))))
    assert ["已结案（件）", "1"] in rows


async def test_days_to_green_round_half_up_as_a_reader_works_it_out(console: Console) -> None:
    """首次红/黄码到转绿 is to one decimal, halves up: red, then green 1 day 10 h 48 min
    later, is 1.45 days and shows 1.5 on the card, the page and the CSV (the float 1.45 is
    1.4499…, which once showed 1.4)."""
    c = console
    code = await create_case(c, **XD)
    await evaluate(c, code, RED)
    await c.advance("2088m")  # 34 h 48 min = 1.45 days
    await evaluate(c, code, GREEN)
    body = (await c.send("p-leader-hc", "dm:p-leader-hc", "统计"))["messages"][0]["card"]["body"]
    assert "首次红/黄码到转绿（中位数）：1.5 天" in body
    await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
    html = await (await c.client.get("/stats")).text()
    assert "<dt>首次红/黄码到转绿</dt><dd>1.5 天（中位数）</dd>" in html
    rows = list(csv.reader(io.StringIO((await (await c.client.get("/stats.csv")).read())
                                       .decode("utf-8-sig"))))
    assert ["首次红/黄码到转绿（中位数，天）", "1.5"] in rows
    assert rows[1][:2] == ["合计", "全部"] and rows[1][8] == "1.5"
