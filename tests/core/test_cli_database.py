"""Commands other than serve, demo and migrate never create or migrate a database: the verify
commands open it read-only, the imports need it to exist at head; otherwise one line, exit 2."""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.cli import build_parser
from config.loader import DEFAULT_CONFIG
from storage.migrate import head

ROOT = Path(__file__).resolve().parents[2]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # the shipped config: its database is data/casebot.db under the working directory
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_database_no_side_effect(tmp_path: Path) -> None:
    db = tmp_path / "data" / "casebot.db"
    bank = tmp_path / "bank.yaml"
    bank.write_bytes((ROOT / "config" / "questions.demo.yaml").read_bytes())
    cases = tmp_path / "cases.csv"
    cases.write_text("title,stage,police_unit,prosecutor,investigators\n", encoding="utf-8")
    hint = (f" (storage.database_url in {DEFAULT_CONFIG}; `casebot migrate --config"
            f" {DEFAULT_CONFIG}` creates or upgrades it)")
    for args in (["audit", "verify"], ["audit", "head"], ["draw", "verify", "DD20270104-01"],
                 ["import", "cases", str(cases)], ["import", "questions", str(bank)]):
        r = cli(tmp_path, *args)
        assert r.returncode == 2, args
        assert r.stderr == f"error: database not found: {db}{hint}\n", args
        assert r.stdout == ""
    r = cli(tmp_path, "draw", "verify", "nonexist.json")
    assert (r.returncode, r.stderr) == (2, "error: nonexist.json: file not found\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.yaml", "cases.csv"]


def test_an_unmigrated_or_old_database_is_named_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "data" / "casebot.db"
    db.parent.mkdir()
    db.touch()
    r = cli(tmp_path, "audit", "verify")
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: database not migrated (no schema): {db} ")
    assert db.stat().st_size == 0
    assert cli(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001_core'")
    conn.close()
    before = digest(db)
    for args in (["audit", "verify"], ["draw", "verify", "DD20270104-01"]):
        r = cli(tmp_path, *args)
        assert r.returncode == 2 and r.stderr.startswith(
            f"error: database at revision 0001_core, this casebot needs {head()}: {db} "), args
        assert "Traceback" not in r.stderr and "migration" not in r.stderr
    assert digest(db) == before


def test_verify_commands_read_a_migrated_database_without_writing(tmp_path: Path) -> None:
    db = tmp_path / "data" / "casebot.db"
    assert cli(tmp_path, "migrate").returncode == 0
    before = digest(db)
    r = cli(tmp_path, "audit", "verify")
    assert r.returncode == 0 and r.stdout.startswith("audit chain intact: 0 records\n"), r.stderr
    r = cli(tmp_path, "audit", "head")
    assert (r.returncode, r.stdout) == (0, "audit trail empty: no record yet\n"), r.stderr
    r = cli(tmp_path, "draw", "verify", "DD20270104-01")
    assert r.returncode == 2
    assert r.stderr == "error: DD20270104-01 is neither a file nor a session with a draw\n"
    assert "migration" not in r.stderr
    assert digest(db) == before


def test_every_option_has_a_help_text() -> None:
    missing: list[str] = []

    def walk(p: argparse.ArgumentParser) -> None:
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub in a.choices.values():
                    walk(sub)
            elif not isinstance(a, argparse._HelpAction) and not a.help:
                missing.append(f"{p.prog} {'/'.join(a.option_strings) or a.dest}")

    walk(build_parser())
    assert missing == []
