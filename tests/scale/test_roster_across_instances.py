"""Two real `casebot serve` processes on one PostgreSQL database, each with its own org.yaml: a
roster CSV imported through instance A's /admin/roster page reaches instance B at its next
tick, with no file copied between them and no restart. B then knows the new chief over its
console API and holds the import in its own org.yaml."""

from __future__ import annotations

import asyncio
import html
import re
import time
from typing import Any

import aiohttp
import pytest

from tests.admin.conftest import ADMIN
from tests.admin.test_roster_page import GOOD
from tests.scale.conftest import Cluster, Instance, RedisSpace, cli

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TIMEOUT = aiohttp.ClientTimeout(total=30)
TICK = 0.5  # the instances' periodic work interval (seconds): B looks twice a second
NEW_CHIEF = "p-chief-c12-01"  # GOOD adds this chief of 新设市新城区人民检察院


async def import_through_page(inst: Instance, csv: str) -> str:
    """Log in on `inst` as an admin, preview `csv` on /admin/roster and confirm it."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     timeout=TIMEOUT) as http:
        async with http.post(f"{inst.url}/console/api/login", json={"user": ADMIN}) as r:
            assert r.status == 200, await r.text()
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("file", csv.encode(), filename="roster.csv", content_type="text/csv")
        async with http.post(f"{inst.url}/admin/roster/preview", data=form) as r:
            page = await r.text()
            assert r.status == 200, page
        fields = {m[0]: html.unescape(m[1]) for m in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)}
        async with http.post(f"{inst.url}/admin/roster/apply", data=fields) as r:
            page = await r.text()
            assert r.status == 200 and "导入成功" in page, page
        return page


async def whoami(http: aiohttp.ClientSession, inst: Instance, person: str, n: int
                 ) -> tuple[int, Any]:
    async with http.post(f"{inst.url}/console/api/send", json={
            "user": person, "chat": f"dm:{person}", "text": "我是谁",
            "event_id": f"roster-whoami-{n}"}) as r:
        return r.status, await r.json()


async def test_an_import_on_a_page_of_one_process_reaches_the_other(
        pg_url: str, shared_redis: RedisSpace, cluster_factory: Any) -> None:
    cluster: Cluster = cluster_factory(pg_url, shared_redis, tick_seconds=TICK)
    migrated = cli("migrate", "--config", str(cluster.instances[0].config))
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    await cluster.start()
    a, b = cluster.instances
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        status, got = await whoami(http, b, NEW_CHIEF, 0)
        assert status == 403 and got["error"] == f"未知用户 {NEW_CHIEF}"  # not in the roster yet

        await import_through_page(a, GOOD)
        imported = time.monotonic()
        answer = ""
        for n in range(1, 10_000):  # until B answers: a bound, not a budget
            status, got = await whoami(http, b, NEW_CHIEF, n)
            if status == 200:
                answer = got["messages"][0]["text"]
                break
            assert status == 403, got
            assert time.monotonic() - imported < 20, f"B never took the import:\n{b.tail()}"
            assert b.proc is not None and b.proc.poll() is None, b.tail()
            await asyncio.sleep(0.05)  # the next look, as wait_ready polls
    assert "新设市人民检察院 / 新设市新城区人民检察院" in answer, answer
    assert "roster: roster #2 (imported by p-admin-1) now in use" in b.log.read_text()
    # B wrote the import to its own org.yaml just before it took it: a restart starts from it
    assert b.org.read_bytes() == a.org.read_bytes()
    assert "新设市新城区人民检察院" in b.org.read_text(encoding="utf-8")
    for inst in cluster.instances:
        assert not inst.errors(), inst.tail()
