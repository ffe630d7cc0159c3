"""Who may see a case (码, the code page): its investigators and prosecutor, and the case
managers and 院领导 of its office or of an office above it. The 检察长 (`chief`) of the case's
county or of its city is a 院领导 there and sees the case as a `leader` does; a case manager or
检察长 of another county is refused, and the refusal names the rule they fall outside of
instead of a group they belong to (案管部门, 院领导)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.roster import read_org_file, write_org_file
from config.loader import DEFAULT_DIR
from tests.cases.helpers import RED, cards, create_case, evaluate
from tests.conftest import Console, make_settings, open_console

OTHER_MANAGER = "p-case-manager-ls"  # 案管 of 乐顺 (c01-02), another county of the same city
REFUSAL = "仅本案侦查人员、承办检察官，以及本院或上级院的案管部门、院领导可以查看"


@pytest.fixture
async def console(tmp_path: Path, port: int) -> AsyncIterator[Console]:
    """The demo roster with a case manager of another county."""
    path = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", path)
    data = read_org_file(path)
    data["people"].append({"id": OTHER_MANAGER, "name": "林静", "unit": "c01-02",
                           "roles": ["case_manager"]})
    write_org_file(path, data)
    settings = make_settings(tmp_path, org=str(path),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as c:
        yield c


async def code_answer(console: Console, user: str, code: str) -> dict[str, Any]:
    [m] = (await console.send(user, f"dm:{user}", f"码 {code}"))["messages"]
    return dict(m)


async def page_status(console: Console, user: str, link: str) -> tuple[int, str]:
    await console.client.post("/console/api/login", json={"user": user})
    r = await console.client.get(urlsplit(link).path)
    return r.status, await r.text()


async def test_the_chief_of_the_case_office_or_of_its_city_sees_the_case_like_a_leader(
        console: Console) -> None:
    code = await create_case(console)  # 海澄 (c01-01), city 示范市 (c01)
    await evaluate(console, code, RED)
    link = cards(await console.messages("dm:p-investigator-1"))[0]["card"]["actions"][0]["url"]
    for chief in ("p-chief-c01-01", "p-chief-c01"):  # 任阳阳 (海澄), 彭娜丽 (示范市)
        m = await code_answer(console, chief, code)
        card = m["card"]
        assert card is not None, m["text"]
        assert card["title"] == f"案件码 {code} · 红码 66分"
        # like the leader: who got the code and who acknowledged it, no 去评分 nor 扫码受理
        assert "送达 2/2 · 已知悉 0/2" in card["body"]
        assert [a["label"] for a in card["actions"]] == ["查看详情"]
        status, html = await page_status(console, chief, link)
        assert status == 200 and code in html and "送达与知悉" in html
        assert 'id="review-form"' not in html and 'id="intake-panel"' not in html


async def test_others_are_refused_with_the_rule_they_fall_outside_of(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    link = cards(await console.messages("dm:p-investigator-1"))[0]["card"]["actions"][0]["url"]
    # another county's case manager, another county's 检察长, a police officer not on the case
    for outsider in (OTHER_MANAGER, "p-chief-c01-02", "p-chief-c02", "p-investigator-5"):
        m = await code_answer(console, outsider, code)
        assert m["card"] is None and m["text"] == f"您无权查看案件码 {code}：{REFUSAL}。", outsider
        status, html = await page_status(console, outsider, link)
        assert status == 403 and f"{REFUSAL}此案件码。" in html and "红码" not in html
