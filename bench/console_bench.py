"""casebot against a bare baseline, on this machine, in one run (issue 8):

1. console API `码 <code>` lookups: throughput and p50/p99 at 16 concurrent clients, next to a
   bare aiohttp handler doing the same indexed SQLite read, and their ratio;
2. evaluations written per second, next to a bare aiosqlite insert loop (same WAL/NORMAL
   durability, one transaction per row), and their ratio;
3. idle RSS, and RSS after 1,000,000 cases are in the database;
4. time from process start to /healthz 200.

Numbers only; nothing is asserted. Run: bench/run (or python bench/console_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_healthy(url: str, timeout: float = 60) -> float:
    start = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        while time.perf_counter() - start < timeout:
            try:
                async with s.get(url + "/healthz") as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.01)
    raise RuntimeError(f"{url} never became healthy")


def write_config(tmp: Path, db: Path, port: int) -> Path:
    cfg = tmp / "bench.yaml"
    cfg.write_text(
        f"org: {ROOT / 'config' / 'org.yaml'}\nscore_template: {ROOT / 'config' / 'score_template.yaml'}\n"
        f"inspection: {{question_bank: null}}\n"
        f"storage: {{database_url: 'sqlite+aiosqlite:///{db}'}}\n"
        f"web: {{host: 127.0.0.1, port: {port}, public_url: 'http://127.0.0.1:{port}'}}\n",
        encoding="utf-8")
    return cfg


def start_casebot(cfg: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CASEBOT_API_TOKEN": "bench", "CASEBOT_LINK_KEYS": "bench-link-key-0123456789"}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--config", str(cfg)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def seed_cases(url: str, n: int) -> list[str]:
    headers = {"Authorization": "Bearer bench"}
    codes = []
    async with aiohttp.ClientSession(headers=headers) as s:
        for i in range(n):
            async with s.post(url + "/api/v1/cases", json={
                    "title": f"基准案件{i}", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
                    "prosecutor": "p-prosecutor-1", "investigators": ["p-investigator-1"]}) as r:
                code = (await r.json())["code"]
            async with s.post(f"{url}/api/v1/cases/{code}/evaluations", json={
                    "by": "p-prosecutor-1", "deductions": [{
                        "item": "causation", "points": 5, "problem": "p", "requirement": "r"}]}):
                pass
            codes.append(code)
    return codes


async def load(url: str, codes: list[str], clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    errors = 0

    async def client(k: int) -> None:
        nonlocal errors
        async with aiohttp.ClientSession() as s:
            i = k
            while time.perf_counter() < stop:
                code = codes[i % len(codes)]
                i += clients
                t0 = time.perf_counter()
                async with s.post(url + "/console/api/send", json={
                        "user": "p-prosecutor-1", "chat": "dm:p-prosecutor-1",
                        "text": f"码 {code}"}) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)], "n": len(latencies),
            "errors": errors}


def copy_cases_for_baseline(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        b.execute("CREATE TABLE cases (code TEXT PRIMARY KEY, title TEXT, score INT, color TEXT)")
        b.executemany("INSERT INTO cases VALUES (?,?,?,?)",
                      a.execute("SELECT code, title, score, color FROM cases"))


async def load_bare_server(script: str, db: Path, codes: list[str], clients: int,
                           seconds: float) -> dict[str, float]:
    """Start bench/<script> on `db`, warm it up, load it like casebot, stop it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / script), str(db), str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url)
        await load(url, codes, clients, 1.0)
        return await load(url, codes, clients, seconds)
    finally:
        proc.terminate()
        proc.wait()


async def bench_lookups(tmp: Path, clients: int, seconds: float) -> dict[str, Any]:
    port = free_port()
    db = tmp / "casebot.db"
    proc = start_casebot(write_config(tmp, db, port))
    url = f"http://127.0.0.1:{port}"
    try:
        startup = await wait_healthy(url)
        idle = rss_mb(proc.pid)
        codes = await seed_cases(url, 200)
        print(f"  seeded {len(codes)} scored cases; warming up", flush=True)
        await load(url, codes, clients, 1.0)
        bot = await load(url, codes, clients, seconds)
    finally:
        proc.terminate()
        proc.wait()
    base_db = tmp / "baseline.db"
    copy_cases_for_baseline(db, base_db)
    baseline = await load_bare_server("baseline_server.py", base_db, codes, clients, seconds)
    # the floor runs on casebot's own database (its process has stopped)
    floor = await load_bare_server("floor_server.py", db, codes, clients, seconds)
    return {"casebot": bot, "baseline": baseline, "floor": floor, "startup_s": startup,
            "idle_rss_mb": idle}


async def bench_evaluations(tmp: Path, n: int) -> dict[str, float]:
    from bot import cases as ops
    from bot.clock import SystemClock
    from bot.context import Services, unit_of_work
    from bot.directory import Directory
    from bot.domain.scoring import Deduction
    from bot.signing import Signer
    from config.loader import load_config
    from storage import db, migrate

    dbf = tmp / "evals.db"
    settings = load_config(write_config(tmp, dbf, 1), env={"CASEBOT_LINK_KEYS": "bench-link-key-0123456789"})
    engine = db.create_engine(f"sqlite+aiosqlite:///{dbf}")
    await migrate.upgrade(engine)
    services = Services(settings=settings, clock=SystemClock(), db=db.sessionmaker(engine),
                        directory=Directory(settings.org),
                        signer=Signer(settings.secrets.link_keys))
    prosecutor = services.directory.people["p-prosecutor-1"]
    async with unit_of_work(services) as out:
        case = await ops.create_case(out, ops.NewCase(
            "基准", "审查逮捕", "ps-hc-xd", prosecutor.id, ("p-investigator-1",), None, None), "b")
        code = case.code
    deds = [[Deduction("causation", 1 + i % 8, "p", "", "", "r")] for i in range(n)]
    t0, cpu0 = time.perf_counter(), time.process_time()
    for d in deds:
        async with unit_of_work(services) as out:
            c = await ops.__dict__["repo"].get_case(out.session, code)
            await ops.record_evaluation(out, c, prosecutor, d, [], "")
    bot_rate = n / (time.perf_counter() - t0)
    cpu_ms = 1000 * (time.process_time() - cpu0) / n
    await engine.dispose()

    bare = tmp / "bare.db"
    async with aiosqlite.connect(bare, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("CREATE TABLE evaluations (id INTEGER PRIMARY KEY, case_code TEXT, "
                           "version INT, by TEXT, at TEXT, score INT, color TEXT, deductions TEXT, "
                           "vetoes TEXT, comment TEXT, UNIQUE(case_code, version))")
        t0 = time.perf_counter()
        for i in range(n):
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO evaluations (case_code, version, by, at, score, color,"
                               " deductions, vetoes, comment) VALUES (?,?,?,?,?,?,?,?,?)",
                               ("HY-2026-0001", i + 1, "p", datetime.now(UTC).isoformat(), 95,
                                "green", json.dumps([{"item": "causation"}]), "[]", ""))
            await conn.execute("COMMIT")
        bare_rate = n / (time.perf_counter() - t0)
    return {"casebot": bot_rate, "baseline": bare_rate, "cpu_ms": cpu_ms}


async def bench_rss_1m(tmp: Path, n: int) -> dict[str, float]:
    port = free_port()
    db = tmp / "big.db"
    proc = start_casebot(write_config(tmp, db, port))
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url)
        codes = await seed_cases(url, 5)
        await load(url, codes, 4, 1.0)
        before = rss_mb(proc.pid)
        print(f"  loading {n:,} cases into the running bot's database …", flush=True)
        with sqlite3.connect(db, timeout=60) as conn:
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
            batch = 100_000
            for start in range(0, n, batch):
                conn.executemany(
                    "INSERT INTO cases (code, unit, title, stage, police_unit, prosecutor, status,"
                    " created_at, created_by, version, score, color) VALUES "
                    "(?, 'c01-01', ?, '审查逮捕', 'ps-hc-xd', 'p-prosecutor-1', 'open', ?, 'bench',"
                    " 0, NULL, NULL)",
                    ((f"BX-2026-{i:07d}", f"案件{i}", now)
                     for i in range(start, min(n, start + batch))))
                conn.commit()
                print(f"    {min(n, start + batch):,}/{n:,}", flush=True)
        big_codes = [f"BX-2026-{i:07d}" for i in range(0, n, max(1, n // 500))]
        r = await load(url, big_codes, 16, 3.0)
        after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    return {"before": before, "after": after, "rps_1m": r["rps"], "p99_1m": r["p99_ms"]}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--evaluations", type=int, default=2000)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--only", choices=("lookups", "evaluations", "rss"), action="append",
                    help="run only these parts (repeatable); all three by default")
    args = ap.parse_args()
    only = set(args.only or ("lookups", "evaluations", "rss"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "lookups" in only:
            await run_lookups(tmp, args)
        if "evaluations" in only:
            await run_evaluations(tmp, args)
        if "rss" in only:
            await run_rss(tmp, args)


async def run_lookups(tmp: Path, args: argparse.Namespace) -> None:
    print(f"[1/3] 码 lookups through the console API, {args.clients} clients, "
          f"{args.seconds:g}s each", flush=True)
    look = await bench_lookups(tmp, args.clients, args.seconds)
    c, b = look["casebot"], look["baseline"]
    print(f"  casebot : {c['rps']:8.0f} req/s  p50 {c['p50_ms']:6.1f} ms  "
          f"p99 {c['p99_ms']:6.1f} ms  ({c['n']} requests, {c['errors']} errors)")
    print(f"  baseline: {b['rps']:8.0f} req/s  p50 {b['p50_ms']:6.1f} ms  "
          f"p99 {b['p99_ms']:6.1f} ms  ({b['n']} requests)")
    f = look["floor"]
    print(f"  floor   : {f['rps']:8.0f} req/s  p50 {f['p50_ms']:6.1f} ms  "
          f"p99 {f['p99_ms']:6.1f} ms  (the same durable work by hand: raw sqlite3, "
          "group commit)")
    print(f"  ratio   : {c['rps'] / b['rps']:.2f} of the baseline's throughput "
          f"(target ≥ 0.5; p99 target ≤ 50 ms); the floor reaches "
          f"{f['rps'] / b['rps']:.2f}, casebot {c['rps'] / f['rps']:.2f} of the floor")
    print(f"  start → /healthz 200: {look['startup_s']:.2f} s;  idle RSS "
          f"{look['idle_rss_mb']:.0f} MB (target ≤ 150 MB)")


async def run_evaluations(tmp: Path, args: argparse.Namespace) -> None:
    print(f"[2/3] evaluations written, {args.evaluations} sequential transactions", flush=True)
    ev = await bench_evaluations(tmp, args.evaluations)
    print(f"  casebot : {ev['casebot']:8.0f} evaluations/s (with audit record, 转码 check,"
          f" card deliveries); {ev['cpu_ms']:.2f} ms of CPU each")
    print(f"  baseline: {ev['baseline']:8.0f} inserts/s (bare aiosqlite, WAL, "
          "synchronous=NORMAL)")
    print(f"  ratio   : {ev['casebot'] / ev['baseline']:.2f}")


async def run_rss(tmp: Path, args: argparse.Namespace) -> None:
    print(f"[3/3] RSS with {args.cases:,} cases in the database", flush=True)
    rss = await bench_rss_1m(tmp, args.cases)
    print(f"  RSS before {rss['before']:.0f} MB, after {rss['after']:.0f} MB; lookups over the "
          f"big table {rss['rps_1m']:.0f} req/s, p99 {rss['p99_1m']:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
