"""The benchmark script keeps working (tiny sizes; the real run is `make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_reminder_sweep_runs() -> None:
    r = subprocess.run([sys.executable, "bench/reminder_sweep.py", "--due", "100", "--sizes",
                        "500,2000"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "among       500 open cases" in r.stdout and "ratio 2,000 / 500" in r.stdout
