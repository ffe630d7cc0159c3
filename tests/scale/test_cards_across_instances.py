"""Card clicks decided once across instances: the same review request's buttons clicked on two
`casebot serve` processes at the same moment (two real clicks: different event ids) → exactly
one decision, one notice to the filer, one audit record; the other click is told why not."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from storage import audit, db
from storage.models import AuditRecord, Message
from storage.reviews import ReviewCard, ReviewRow
from tests.scale.conftest import AUTH, Cluster, Instance, RedisSpace, cli
from tests.scale.test_two_instances import INVESTIGATORS, PROSECUTOR, TIMEOUT, create_cases

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

INV = INVESTIGATORS[0]
RED = [{"item": item, "points": pts, "problem": "证据不足", "purpose": "查明事实",
        "matters": "调取监控", "requirement": "补充取证"}
       for item, pts in (("criminal_facts", 16), ("harmful_consequence", 10), ("causation", 8))]
# (user, button, form) clicked on instance a, and on instance b, at the same moment (the
# instances run on the real clock: a joint review's time must lie ahead)
CLICKS: list[tuple[tuple[str, str, dict[str, str]], tuple[str, str, dict[str, str]]]] = [
    ((PROSECUTOR, "review.accept", {}), (PROSECUTOR, "review.accept", {})),
    ((PROSECUTOR, "review.accept", {}), (PROSECUTOR, "review.reject", {"reason": "证据仍不足"})),
    ((PROSECUTOR, "review.reject", {"reason": "证据仍不足"}),
     (PROSECUTOR, "review.joint", {"time": "2099-11-05 14:30"})),
    ((PROSECUTOR, "review.joint", {"time": "2099-11-05 14:30"}),
     (PROSECUTOR, "review.joint", {"time": "2099-11-06 09:00"})),
    ((PROSECUTOR, "review.accept", {}), (INV, "review.withdraw", {})),
]
ROUNDS = 4  # each pair of clicks on this many review requests
DECISIONS = {"review.accept", "review.reject", "review.joint", "review.withdraw"}


async def get(http: aiohttp.ClientSession, inst: Instance, path: str, **params: Any) -> Any:
    async with http.get(f"{inst.url}{path}", params=params) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def post(http: aiohttp.ClientSession, inst: Instance, path: str, body: dict[str, Any],
               headers: dict[str, str] | None = None, status: int = 200) -> Any:
    async with http.post(f"{inst.url}{path}", json=body, headers=headers) as r:
        assert r.status == status, await r.text()
        return await r.json()


async def card_in(http: aiohttp.ClientSession, inst: Instance, chat: str, title_part: str
                  ) -> dict[str, Any]:
    msgs = (await get(http, inst, "/console/api/messages", chat=chat))["messages"]
    pattern = re.compile(re.escape(title_part) + r"(?!\d)")  # "#1" is not "#12"
    found = [m for m in msgs if m["card"] and pattern.search(m["card"]["title"])]
    assert found, [m["card"]["title"] for m in msgs if m["card"]]
    return dict(found[-1])


async def file_review(http: aiohttp.ClientSession, inst: Instance, code: str) -> int:
    """Score the case red, then the investigator disputes items 1 and 3 on the code card."""
    await post(http, inst, f"/api/v1/cases/{code}/evaluations", {
        "by": PROSECUTOR, "deductions": RED, "vetoes": [], "comment": ""}, AUTH, status=201)
    code_card = await card_in(http, inst, f"dm:{INV}", code)
    r = await post(http, inst, "/console/api/click", {
        "user": INV, "message_id": code_card["id"], "action": "review.file",
        "form": {"items": "1,3", "reason": "监控已调取，事实清楚"}})
    text = r["messages"][-1]["text"]
    assert "已提交" in text, text
    return int(text.split("#")[1].split()[0])


async def test_same_card_clicked_on_two_instances_decides_once(
        pg_url: str, shared_redis: RedisSpace, cluster_factory: Any) -> None:
    cluster: Cluster = cluster_factory(pg_url, shared_redis)
    assert cli("migrate", "--config", str(cluster.instances[0].config)).returncode == 0
    await cluster.start()
    a, b = cluster.instances
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        codes = await create_cases(http, cluster.instances, len(CLICKS) * ROUNDS)
        reviews = [await file_review(http, cluster.instances[k % 2], code)
                   for k, code in enumerate(codes)]

        async def race(k: int, rid: int) -> list[str]:
            pair = CLICKS[k % len(CLICKS)]
            targets = []
            for inst, (user, action, form) in zip((a, b), pair, strict=True):
                title = f"复核申请 #{rid}" if user == PROSECUTOR else f"您的复核申请 #{rid}"
                c = await card_in(http, inst, f"dm:{user}", title)
                targets.append((inst, {"user": user, "message_id": c["id"], "action": action,
                                       "form": form}))
            answers = await asyncio.gather(*(post(http, inst, "/console/api/click", body)
                                             for inst, body in targets))
            assert [x["status"] for x in answers] == ["handled", "handled"], answers
            return [x["messages"][-1]["text"] or "" for x in answers]

        replies = await asyncio.gather(*(race(k, rid) for k, rid in enumerate(reviews)))

    engine = db.create_engine(pg_url)
    try:
        async with db.sessionmaker(engine)() as s:
            rows = {r.id: r for r in (await s.execute(select(ReviewRow))).scalars()}
            decided = Counter(
                json.loads(r.data)["review"] for r in (await s.execute(
                    select(AuditRecord).where(AuditRecord.action.in_(
                        [f"review.{x}" for x in ("accept", "reject", "joint", "withdraw")]))
                )).scalars())
            notices = Counter((await s.execute(select(Message.text).where(
                Message.chat == f"dm:{INV}", Message.sender == "bot",
                Message.text.like("您的复核申请 #%")))).scalars())
            joint_cards = Counter((await s.execute(
                select(ReviewCard.review_id).where(ReviewCard.kind == "joint"))).scalars())
            chain = await audit.verify(s)
    finally:
        await engine.dispose()

    assert chain.ok, chain
    outcomes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    for k, (rid, (ra, rb)) in enumerate(zip(reviews, replies, strict=True)):
        pair = CLICKS[k % len(CLICKS)]
        row = rows[rid]
        assert row.status != "pending", (rid, ra, rb)
        assert decided[rid] == 1, (rid, decided[rid], ra, rb)  # one decision, audited once
        # the other click is refused: the card it read was already updated (its button is
        # gone), or the compare-and-set on the status found it decided, and says so
        stale = [t for t in (ra, rb) if t.startswith("该按钮已失效：卡片已更新为「")]
        lost = [t for t in (ra, rb) if "此操作已无效" in t]
        # the same person's same button twice (a double tap): 您已点过, however it lost
        again = [t for t in (ra, rb) if t.startswith("您已点过「") and t.endswith("」，无需重复操作。")]
        assert len(stale) + len(lost) + len(again) == 1, (rid, ra, rb)
        assert bool(again) == (pair[0][:2] == pair[1][:2]), (rid, ra, rb)
        for t in lost:  # the state the winner left, not the one the loser read first
            assert f"「{_label(row.status)}」" in t, (rid, row.status, t)
        refusals["double tap" if again else "stale card" if stale
                 else "lost the compare-and-set"] += 1
        filer_notices = [t for t in notices.elements() if t.startswith(f"您的复核申请 #{rid}（")]
        withdrew = row.status == "withdrawn"
        assert len(filer_notices) == (0 if withdrew else 1), (rid, filer_notices)
        # a joint review notifies the other investigator and the leader, once
        assert joint_cards[rid] == (2 if row.status == "joint" else 0), (rid, joint_cards[rid])
        outcomes[f"{pair[0][1]}|{pair[1][1]} → {row.status}"] += 1
    print(f"\n{len(reviews)} review requests, each clicked on both instances at once: "
          f"{dict(sorted(outcomes.items()))}; the other click: {dict(refusals)}")


def _label(status: str) -> str:
    from bot.domain.review import State

    return State(status).label
