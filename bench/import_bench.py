"""`casebot import cases` against a SQLite database that a bot is using: how long the import
takes and how long it keeps other writers waiting.

A probe thread stands in for the bot's chat events: every 5 ms it takes the write lock
(``BEGIN IMMEDIATE``), writes one row and commits, and records how long it waited. The
longest wait is (about) the longest time the import held the write lock in one piece.

    python bench/import_bench.py 3000 20000
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
HEADER = "title,stage,police_unit,prosecutor,investigators,investigation_deadline,custody_deadline\n"


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        for i in range(n):
            f.write(f"批量导入案件{i},审查逮捕,ps-hc-xd,p-prosecutor-{1 + i % 2},"
                    f"p-investigator-1|p-investigator-2,2026-12-20,2026-12-31\n")


class Probe(threading.Thread):
    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.waits: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.db, timeout=120, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_probe (at REAL)")
        while not self.stop.is_set():
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_probe VALUES (?)", (t0,))
            conn.execute("COMMIT")
            self.waits.append(time.perf_counter() - t0)
            time.sleep(0.005)
        conn.close()


def run(n: int, tmp: Path) -> dict[str, float]:
    db = tmp / f"bench-{n}.db"
    cfg = tmp / f"cfg-{n}.yaml"
    cfg.write_text(f"org: {CONFIG / 'org.yaml'}\nscore_template: {CONFIG / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{db}'}}\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot.cli", "migrate", "--config", str(cfg)],
                   check=True, capture_output=True, cwd=ROOT)
    csv = tmp / f"cases-{n}.csv"
    write_csv(csv, n)
    probe = Probe(db)
    probe.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "bot.cli", "import", "cases", str(csv),
                        "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT)
    total = time.perf_counter() - t0
    probe.stop.set()
    probe.join()
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    waits = sorted(probe.waits)
    return {"rows": n, "total_s": total, "max_wait_s": waits[-1],
            "p99_wait_s": waits[int(len(waits) * 0.99)], "probes": len(waits)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("rows", type=int, nargs="*", default=[3000, 20000])
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            r = run(n, Path(tmp))
            print(f"{n:>6} rows: import {r['total_s']:.2f} s (process start included); "
                  f"longest wait of a writer {r['max_wait_s']:.3f} s, p99 "
                  f"{r['p99_wait_s'] * 1000:.0f} ms over {r['probes']:.0f} probes", flush=True)


if __name__ == "__main__":
    main()
