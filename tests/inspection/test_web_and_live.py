"""The create form, the verify page, the published draw data and the live fan-out."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from bot.live import MemoryHub, Publisher, RedisHub
from storage import audit
from tests.conftest import Console, require
from tests.inspection.helpers import GROUP, HOST, card, quick_session, run_unit, say, session_row


async def test_create_form(console: Console) -> None:
    assert (await console.client.get("/inspection")).status == 401
    await console.client.post("/console/api/login", json={"user": HOST})
    page = await console.client.get("/inspection")
    assert page.status == 200 and "新建督导会议" in await page.text()
    bad = await console.client.post("/inspection/sessions", data={"title": "", "chat": GROUP})
    assert bad.status == 400 and "请填写会议标题" in await bad.text()
    r = await console.client.post("/inspection/sessions", data={
        "title": "网页创建", "chat": GROUP, "unit_count": "4", "questions_per_unit": "4",
        "method": "equal-office", "one_per_city": "1", "exclude_recent": "0",
        "entropy_name": "福彩3D 第2026318期开奖号码", "entropy_format": "3x1",
        "answer_seconds": "240", "special": "c03-02: Q001, Q002\n", "reports": "无"})
    assert r.status == 200 and "网页创建" in await r.text()
    s = await session_row(console)
    m = json.loads(s.manifest)
    assert (m["unit_count"], m["questions_per_unit"], m["method"]) == (4, 4, "equal-office")
    # the source as typed, its words one space apart (not 福彩3D第2026318期开奖号码)
    assert m["entropy_source"].startswith("福彩3D 第2026318期开奖号码（格式：")
    assert s.params_dict["answer_seconds"] == 240
    assert s.params_dict["special"] == [{"unit": "c03-02", "question_ids": ["Q001", "Q002"],
                                         "reason": ""}]
    assert card(await console.messages(GROUP), "抽签承诺")
    again = await console.client.post("/inspection/sessions", data={"title": "再建", "chat": GROUP})
    assert again.status == 400 and "进行中的督导会议" in await again.text()


async def test_verify_page_and_published_data(console: Console) -> None:
    created = await console.send(HOST, GROUP, "督导 新建 复核 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    s = await session_row(console)
    manifest = await (await console.client.get(f"/draw/{s.id}/manifest.json")).json()
    assert manifest["manifest_hash"] == s.manifest_hash and created
    assert (await console.client.get(f"/draw/{s.id}/publication.json")).status == 404
    await console.send(HOST, GROUP, "结束 确认")
    s = await quick_session(console, title="第二期")
    pub = await (await console.client.get(f"/draw/{s.id}/publication.json")).json()
    r = await console.client.post("/draw/verify", json=pub)
    assert (await r.json())["result"] == "MATCH"
    pub["result"]["units"][1], pub["result"]["units"][2] = (pub["result"]["units"][2],
                                                            pub["result"]["units"][1])
    r = await console.client.post("/draw/verify", json=pub)
    body = await r.json()
    # the machine-readable fields stay as they were; the message is for people
    assert not body["match"] and body["first_difference"].startswith("unit #2: published")
    assert body["result"] == f"MISMATCH: {body['first_difference']}"
    d = console.app.services.directory
    swapped = (f"第 2 个抽中单位不一致：公布的是 {d.units[pub['result']['units'][1]].name}，"
               f"重新计算为 {d.units[pub['result']['units'][2]].name}")
    assert body["message"] == f"复核不一致：{swapped}"
    r = await console.client.post("/draw/verify",
                                  data={"publication": json.dumps(pub, ensure_ascii=False)})
    page = await r.text()
    assert "复核不一致" in page and swapped in page
    # the outcome is said in Chinese (the outsider's steps below it name verify.py's MATCH line)
    outcome = result_section(page)
    assert "MISMATCH" not in outcome and "published" not in outcome and "recomputed" not in outcome
    r = await console.client.post("/draw/verify", data={"publication": "{broken"})
    assert r.status == 400 and "不是合法的 JSON（第 1 行" in await r.text()
    assert "Expecting" not in await r.text()
    r = await console.client.post("/draw/verify", data={"session": s.id})
    assert "复核一致：" in await r.text() and "MATCH" not in result_section(await r.text())
    assert (await console.client.get("/draw/verify")).status == 200
    assert (await console.client.get("/draw/verify", params={"session": "nope"})).status == 404
    async with console.app.services.db() as db:
        assert (await audit.verify(db)).ok


def result_section(page: str) -> str:
    return page.split('<section id="result">')[1].split("</section>")[0]


async def test_verify_refuses_json_nested_too_deeply(console: Console) -> None:
    """The public verify page: input nested beyond the parser's recursion limit is bad input
    (400, in Chinese), not a 500."""
    deep = "[" * 100_000 + "]" * 100_000
    r = await console.client.post("/draw/verify", data=deep,
                                  headers={"Content-Type": "application/json"})
    assert r.status == 400 and "JSON" in (await r.json())["error"]
    r = await console.client.post("/draw/verify", data={"publication": deep})
    assert r.status == 400 and "不是合法的 JSON" in await r.text()


async def test_memory_hub_publishes_after_commit_only(console: Console) -> None:
    hub = MemoryHub()
    pub = Publisher(hub)
    async with hub.subscription("x") as sub:
        async with console.app.services.db() as db:
            async with db.begin():
                pub.after_commit(db, "x", {"n": 1})
                await db.rollback()
            async with db.begin():
                pub.after_commit(db, "x", {"n": 2})
        await pub.drain()
        assert await sub.get(5) == {"n": 2}
        assert await sub.get(0.01) is None
    assert hub.subscribers("x") == 0


@pytest.mark.redis
async def test_redis_hub_fans_out_between_instances(redis_url: str) -> None:
    a, b = aioredis.from_url(redis_url), aioredis.from_url(redis_url)
    try:
        try:
            await a.ping()
        except OSError:
            require("Redis", False)
        publisher_side, page_side = RedisHub(a), RedisHub(b)
        async with page_side.subscription("inspection:T") as sub:
            await publisher_side.publish("inspection:T", {"session": "T"})
            assert await sub.get(5) == {"session": "T"}
            await publisher_side.publish("inspection:other", {"session": "O"})
            await publisher_side.publish("inspection:T", {"session": "T", "n": 2})
            assert await sub.get(5) == {"session": "T", "n": 2}
    finally:
        await a.aclose()
        await b.aclose()


async def test_the_create_form_notes_a_special_question_asked_before(console: Console) -> None:
    """As `督导 新建 … 专项=` does in chat: a 专项 question an earlier session already asked in
    public is accepted, and the page shown after creating says which session asked it and
    whether its answer was published there."""
    first = await quick_session(console)
    drawn = json.loads(first.result or "")
    await run_unit(console, 3, drawn["units"][0], "好")
    await say(console, "结束 确认")
    published = drawn["questions"][0][0]
    await console.client.post("/console/api/login", json={"user": HOST})
    r = await console.client.post("/inspection/sessions", data={
        "title": "第二次督导", "chat": GROUP, "entropy_name": "福彩3D 第2026318期开奖号码",
        "entropy_format": "3x1", "special": f"c05-02: {published}"})
    page = await r.text()
    second = await session_row(console)
    assert r.status == 200 and second.id != first.id
    assert f"已创建督导会议 {second.id}" in page
    assert f"注意：{published} 已在 {first.id} 问询并公布答案。" in page
    # the list alone, later, says nothing of it
    assert "注意：" not in await (await console.client.get("/inspection")).text()
