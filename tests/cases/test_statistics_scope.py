"""统计 counts the cases of the asker's own office and the offices below it (SPEC: every command
checks the relation to the object): a county leader sees their county's cases, prosecutors and
police units, the provincial office sees them all. Two counties of the demo roster: 海澄 (HY,
the demo's people) and 乐顺 (YK, added here with its own prosecutor, leader and police)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cases.helpers import (
    GREEN,
    LS_PROSECUTOR,
    RED,
    create_case,
    evaluate,
    org_with_second_county,
)
from tests.conftest import Console, make_settings, open_console

LS_LEADER = "p-leader-ls"


@pytest.fixture
async def two_counties(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    path = org_with_second_county(
        tmp_path, [{"id": LS_LEADER, "name": "韩梅", "unit": "c01-02", "roles": ["leader"]}],
        [{"id": "g-leaders", "title": "院领导群", "members": ["p-leader-1", "p-leader-hc"]}])
    settings = make_settings(tmp_path, org=str(path),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as c:
        await evaluate(c, await create_case(c), RED)  # 海澄: 余斌梅, 刑事侦查大队
        ls = await create_case(c, prosecutor=LS_PROSECUTOR, police_unit="ps-ls",
                               investigators=["p-investigator-ls"])
        assert ls.startswith("YK-")
        await evaluate(c, ls, GREEN, by=LS_PROSECUTOR)
        yield c


async def card_body(c: Console, user: str) -> str:
    r = await c.send(user, f"dm:{user}", "统计")
    return str(r["messages"][0]["card"]["body"])


async def test_a_county_leader_sees_their_county_and_the_province_sees_all(
        two_counties: Console) -> None:
    c = two_counties
    hc = await card_body(c, "p-leader-hc")
    assert hc.startswith("统计范围：示范市海澄县人民检察院\n")
    assert "案件总数：1\n红码 1 · 黄码 0 · 绿码 0 · 未评分 0" in hc
    assert "林涛" not in hc and "乐顺" not in hc
    assert "按承办检察官（共 3 人）" in hc and "按侦查单位（共 2 个单位）" in hc

    ls = await card_body(c, LS_LEADER)
    assert ls.startswith("统计范围：示范市乐顺市人民检察院\n")
    assert "案件总数：1\n红码 0 · 黄码 0 · 绿码 1 · 未评分 0" in ls
    assert "· 林涛：1 件（红 0 · 黄 0 · 绿 1）" in ls and "余斌梅" not in ls
    assert "按侦查单位（共 1 个单位）：\n· 示范市乐顺市公安局：1 件" in ls

    prov = await card_body(c, "p-leader-1")
    assert prov.startswith("统计范围：示范省人民检察院\n")
    assert "案件总数：2\n红码 1 · 黄码 0 · 绿码 1 · 未评分 0" in prov
    assert "按承办检察官（共 4 人）" in prov and "按侦查单位（共 3 个单位）" in prov

    # the page and the CSV show the same scope
    await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
    html = await (await c.client.get("/stats")).text()
    assert "统计范围：示范市海澄县人民检察院" in html and "案件 1 件" in html
    assert "林涛" not in html and "乐顺" not in html
    raw = await (await c.client.get("/stats.csv")).read()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert ["统计范围", "示范市海澄县人民检察院"] in rows
    names = [r[1] for r in rows if len(r) == 12][1:]
    assert names == ["全部", "余斌梅", "朱凯秀", "蒋阳琳", "示范市海澄县公安局",
                     "示范市海澄县公安局刑事侦查大队"]


async def test_province_figures_asked_in_a_group_with_a_county_leader_go_privately(
        two_counties: Console) -> None:
    """The provincial leader's figures cover other counties than the county leader's: asked
    in a group they both read, they go to the asker alone; the county's figures, which the
    provincial leader may see, are shown in the group."""
    c = two_counties
    r = await c.send("p-leader-1", "g-leaders", "统计")
    card, note = r["messages"]
    assert card["chat"] == "dm:p-leader-1" and "案件总数：2" in card["card"]["body"]
    assert note["chat"] == "g-leaders" and "已私信发给您" in note["text"]
    r = await c.send("p-leader-hc", "g-leaders", "统计")
    assert [m["chat"] for m in r["messages"]] == ["g-leaders"]
    assert "案件总数：1" in r["messages"][0]["card"]["body"]


async def test_a_period_keeps_the_scope(two_counties: Console) -> None:
    """Both cases entered casebot this month: 本月 counts each office's own, 上月 none."""
    c = two_counties

    async def total(user: str, period: str) -> str:
        r = await c.send(user, f"dm:{user}", f"统计 {period}")
        return str(r["messages"][0]["card"]["body"]).split("\n")[3]

    assert await total("p-leader-hc", "本月") == "案件总数：1"
    assert await total(LS_LEADER, "本月") == "案件总数：1"
    assert await total("p-leader-1", "本月") == "案件总数：2"
    assert await total("p-leader-1", "上月") == "案件总数：0"
    await c.client.post("/console/api/login", json={"user": "p-leader-hc"})
    html = await (await c.client.get("/stats?from=2026-11-01&to=2026-11-30")).text()
    assert "统计范围：示范市海澄县人民检察院" in html and "案件 1 件" in html and "林涛" not in html
