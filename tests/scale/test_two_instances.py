"""Two real `casebot serve` processes, one PostgreSQL database, one Redis: 1,000 console events,
each fed to BOTH instances at once (as a platform redelivery would), are each handled exactly
once; then the same with one instance SIGKILLed in the middle of the feed: the survivor
finishes and nothing is lost."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from storage import audit, db
from storage.models import Message, ProcessedEvent
from tests.scale.conftest import AUTH, Cluster, Instance, RedisSpace, cli

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

N = 1000
CONCURRENCY = 32  # events in flight at once (each one is two requests, one per instance)
TIMEOUT = aiohttp.ClientTimeout(total=60)
PROSECUTOR = "p-prosecutor-1"
INVESTIGATORS = ["p-investigator-1", "p-investigator-2"]
USERS = [PROSECUTOR, *INVESTIGATORS]


async def create_cases(http: aiohttp.ClientSession, instances: list[Instance], n: int) -> list[str]:
    """Cases through the integration API, alternating instances."""
    far = datetime.now(UTC).date() + timedelta(days=3 * 365)  # no reminder falls due during the test
    codes = []
    for k in range(n):
        base = instances[k % len(instances)].url
        async with http.post(f"{base}/api/v1/cases", headers=AUTH, json={
                "title": f"压测案件{k}", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
                "prosecutor": PROSECUTOR, "investigators": INVESTIGATORS,
                "investigation_deadline": far.isoformat(),
                "custody_deadline": (far + timedelta(days=11)).isoformat()}) as r:
            assert r.status == 201, await r.text()
            codes.append((await r.json())["code"])
    return codes


def event_body(run: str, i: int, codes: list[str]) -> dict[str, Any]:
    user = USERS[i % len(USERS)]
    text = "我是谁" if i % 2 else f"码 {codes[i % len(codes)]}"
    return {"user": user, "chat": f"dm:{user}", "text": text, "event_id": f"{run}-{i}"}


@dataclass
class Feed:
    """Per event, what each instance answered: a status, or the error of a failed request."""

    answers: dict[int, dict[str, str]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def handled_by(self, i: int) -> list[str]:
        return [name for name, status in self.answers[i].items() if status == "handled"]


async def post_event(http: aiohttp.ClientSession, inst: Instance, body: dict[str, Any],
                     latencies: list[float]) -> str:
    started = time.perf_counter()
    try:
        async with http.post(f"{inst.url}/console/api/send", json=body) as r:
            if r.status != 200:
                return f"http {r.status}: {(await r.text())[:200]}"
            status = str((await r.json())["status"])
    except (aiohttp.ClientError, TimeoutError) as e:  # a dead instance: the platform redelivers
        return f"failed: {type(e).__name__}"
    latencies.append(time.perf_counter() - started)
    return status


async def feed(cluster: Cluster, run: str, codes: list[str],
               on_progress: Any = None) -> Feed:
    """Every event to every instance at once, CONCURRENCY events in flight."""
    out = Feed()
    sem = asyncio.Semaphore(CONCURRENCY)
    done = 0
    connector = aiohttp.TCPConnector(limit=4 * CONCURRENCY)
    async with aiohttp.ClientSession(timeout=TIMEOUT, connector=connector) as http:

        async def one(i: int) -> None:
            nonlocal done
            body = event_body(run, i, codes)
            async with sem:
                statuses = await asyncio.gather(*(post_event(http, inst, body, out.latencies)
                                                  for inst in cluster.instances))
            out.answers[i] = {inst.name: s for inst, s in zip(cluster.instances, statuses,
                                                              strict=True)}
            done += 1
            if on_progress is not None:
                on_progress(done)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(N)))
        out.seconds = time.perf_counter() - started
    return out


async def stored(db_url: str, run: str) -> dict[str, Any]:
    """What the database says about the run's events."""
    engine = db.create_engine(db_url)
    prefix = f"console:{run}-%"
    try:
        async with db.sessionmaker(engine)() as s:
            replies = Counter((await s.execute(
                select(Message.event_id).where(Message.sender == "bot",
                                               Message.event_id.like(prefix)))).scalars())
            inbound = Counter((await s.execute(
                select(Message.event_id).where(Message.sender != "bot",
                                               Message.event_id.like(prefix)))).scalars())
            processed = await s.scalar(select(func.count()).select_from(ProcessedEvent)
                                       .where(ProcessedEvent.event_id.like(prefix)))
            chain = await audit.verify(s)
    finally:
        await engine.dispose()
    return {"replies": replies, "inbound": inbound, "processed": processed, "audit": chain}


async def remembered(redis: RedisSpace, run: str) -> int:
    r = aioredis.from_url(redis.url)
    try:
        return len([k async for k in r.scan_iter(match=f"{redis.prefix}event:console:{run}-*",
                                                 count=1000)])
    finally:
        await r.aclose()


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000 if s else 0.0


def assert_each_once(facts: dict[str, Any], run: str) -> None:
    ids = {f"console:{run}-{i}" for i in range(N)}
    assert facts["processed"] == N
    assert set(facts["inbound"]) == ids and set(facts["inbound"].values()) == {1}
    assert set(facts["replies"]) == ids, sorted(ids - set(facts["replies"]))[:10]
    twice = {k: v for k, v in facts["replies"].items() if v != 1}
    assert not twice, f"events answered more than once: {list(twice.items())[:10]}"
    assert facts["audit"].ok, facts["audit"]


async def start(cluster: Cluster) -> tuple[list[str], list[float]]:
    migrated = cli("migrate", "--config", str(cluster.instances[0].config))
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    ready = await cluster.start()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        codes = await create_cases(http, cluster.instances, 6)
    return codes, ready


async def test_each_event_fed_to_both_instances_is_handled_once(
        pg_url: str, shared_redis: RedisSpace, cluster_factory: Any) -> None:
    cluster: Cluster = cluster_factory(pg_url, shared_redis)
    codes, ready = await start(cluster)
    result = await feed(cluster, "both", codes)

    bad = {i: a for i, a in result.answers.items()
           if sorted(a.values()) != ["duplicate", "handled"]}
    assert not bad, f"{len(bad)} events not answered handled + duplicate: {list(bad.items())[:5]}"
    facts = await stored(pg_url, "both")
    assert_each_once(facts, "both")
    assert await remembered(shared_redis, "both") == N
    for inst in cluster.instances:
        assert not inst.errors(), inst.tail()
    by = Counter(name for i in range(N) for name in result.handled_by(i))
    print(f"\n{N} events × 2 instances in {result.seconds:.1f} s "
          f"({2 * N / result.seconds:.0f} requests/s, {CONCURRENCY} events in flight); "
          f"request p50 {pct(result.latencies, .5):.0f} ms, p99 {pct(result.latencies, .99):.0f} ms;"
          f" handled by {dict(sorted(by.items()))}; ready after {[round(r, 1) for r in ready]} s")


async def test_one_instance_sigkilled_mid_feed_nothing_lost(
        pg_url: str, shared_redis: RedisSpace, cluster_factory: Any) -> None:
    cluster: Cluster = cluster_factory(pg_url, shared_redis)
    codes, _ = await start(cluster)
    victim, survivor = cluster.instances
    killed_at: list[int] = []

    def progress(done: int) -> None:
        if done >= N // 3 and not killed_at:
            victim.kill()
            killed_at.append(done)

    result = await feed(cluster, "kill", codes, progress)
    assert killed_at and victim.proc is not None and victim.proc.returncode == -9

    # the survivor answered every event: handled, or a duplicate of what the victim committed
    survivor_says = Counter(a[survivor.name] for a in result.answers.values())
    assert set(survivor_says) <= {"handled", "duplicate"}, survivor_says
    assert all(len(result.handled_by(i)) <= 1 for i in range(N))
    facts = await stored(pg_url, "kill")
    assert_each_once(facts, "kill")  # nothing lost, nothing twice
    assert await remembered(shared_redis, "kill") == N
    assert not survivor.errors(), survivor.tail()
    victim_says = Counter(a[victim.name].split(":")[0] for a in result.answers.values())
    unanswered = sum(1 for i in range(N) if not result.handled_by(i))
    print(f"\nvictim SIGKILLed after {killed_at[0]} of {N} events; victim answered "
          f"{dict(victim_says)}; survivor answered {dict(survivor_says)}; {unanswered} events "
          f"committed by the victim whose answer was lost with it (the survivor saw them as "
          f"duplicates); fed in {result.seconds:.1f} s")
