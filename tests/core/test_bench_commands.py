"""The benchmark commands still run and print their figures (their numbers are never asserted:
benchmarks are not tests). A change elsewhere once stopped `bench/run` without any test noticing
(a minimum link-key length the benchmarks' key did not meet), so each script runs here once at a
tiny size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_console_bench_prints_every_figure() -> None:
    out = run("bench/console_bench.py", "--seconds", "0.5", "--clients", "2",
              "--evaluations", "5", "--cases", "50")
    for figure in ("casebot :", "baseline:", "floor   :", "ratio   :", "start → /healthz 200",
                   "evaluations/s", "inserts/s", "RSS before"):
        assert figure in out, out
    assert " 0 errors)" in out, out  # every lookup was answered


def test_profile_lookup_prints_the_cost_of_an_event() -> None:
    out = run("bench/profile_lookup.py", "--events", "40", "--concurrency", "4")
    assert "events/s" in out and "ms CPU/event" in out, out


def test_reminder_sweep_dingtalk_and_import_benches_run_small() -> None:
    out = run("bench/reminder_sweep.py", "--due", "20", "--sizes", "200")
    assert "among       200 open cases:" in out and "ratio 200 / 200:" in out, out
    out = run("bench/dingtalk_bench.py", "--messages", "10")
    assert "one at a time: 10 msgs, p50" in out and "msgs/s" in out, out
    out = run("bench/import_bench.py", "100")
    assert "100 rows: import" in out and "longest wait of a writer" in out, out
