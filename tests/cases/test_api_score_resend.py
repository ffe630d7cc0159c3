"""POST /api/v1/cases/{code}/evaluations with `base_version`: a case-management system that
lost the answer resends the score and gets the version it made, instead of a second version
(and a second card to every investigator); a score made on an older version is refused."""

from __future__ import annotations

from typing import Any

from tests.cases.helpers import AUTH, GREEN, INVESTIGATORS, RED, YELLOW, cards, create_case
from tests.conftest import Console


async def _score(console: Console, code: str, deductions: list[dict[str, Any]],
                 **extra: Any) -> tuple[int, dict[str, Any]]:
    r = await console.client.post(f"/api/v1/cases/{code}/evaluations", headers=AUTH, json={
        "by": "p-prosecutor-1", "deductions": deductions, "comment": "", **extra})
    data: dict[str, Any] = await r.json()
    return r.status, data


async def _code_cards(console: Console, person: str) -> list[str]:
    return [m["card"]["title"] for m in cards(await console.messages(f"dm:{person}"))]


async def test_a_resent_score_answers_with_the_version_it_made(console: Console) -> None:
    code = await create_case(console)
    first = await _score(console, code, RED, base_version=0)
    assert first == (201, {"version": 1, "score": 66, "color": "red"})
    assert await _score(console, code, RED, base_version=0) == (
        200, {"version": 1, "score": 66, "color": "red"})
    # the investigators got one card, not one per request
    for person in INVESTIGATORS:
        titles = await _code_cards(console, person)
        assert len(titles) == 1 and "红码 66分" in titles[0], titles

    # another score made on version 0 is not recorded: it was made without seeing version 1
    status, data = await _score(console, code, GREEN, base_version=0)
    assert status == 409
    assert data["error"].startswith("该案件已有第 1 版评分（余斌梅 ") and "请按第 1 版重新评分" in (
        data["error"])
    # made on version 1, it is
    assert await _score(console, code, YELLOW, base_version=1) == (
        201, {"version": 2, "score": 85, "color": "yellow"})
    # without base_version, as before: a new version each time
    assert (await _score(console, code, YELLOW))[1]["version"] == 3
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert [h["version"] for h in detail["history"]] == [1, 2, 3]


async def test_a_bad_base_version_is_named(console: Console) -> None:
    code = await create_case(console)
    for bad in ("1", -1, True, 1.5):
        status, data = await _score(console, code, RED, base_version=bad)
        assert status == 422, (bad, data)
        assert data["errors"][0]["field"] == "base_version"
        assert data["error"] == "输入有误：评分版本须为该评分所依据的版本号（未评分为 0）", data
    assert (await _score(console, code, RED))[0] == 201  # nothing was recorded before
