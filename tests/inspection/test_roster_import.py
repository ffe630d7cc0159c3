"""`casebot import roster`: the CSV merged into the roster in use, validated, added as a new
roster version to the config's database and written to org.yaml; bad rows refused."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from config.loader import DEFAULT_DIR
from config.model import Org
from tests.admin.test_roster_page import GOOD, hidden, login, preview
from tests.conftest import make_settings, open_console

HEADER = "unit_id,name,kind,parent,code_prefix,chief_id,chief_name,chief_dingtalk\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True)


def deployment(tmp_path: Path, org_name: str = "org.yaml", migrate: bool = True
               ) -> tuple[Path, Path]:
    """A config on a SQLite database in `tmp_path` naming its own copy of the demo org.yaml;
    the database created (`casebot migrate`) unless `migrate` is false."""
    org = tmp_path / org_name
    shutil.copy(DEFAULT_DIR / "org.yaml", org)
    cfg = tmp_path / f"{org.stem}.casebot.yaml"
    cfg.write_text(f"org: {org}\nscore_template: {DEFAULT_DIR / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{tmp_path / 'casebot.db'}'}}\n",
                   encoding="utf-8")
    if migrate:
        r = run("migrate", "--config", str(cfg))
        assert r.returncode == 0, r.stderr
    return cfg, org


def stored(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "casebot.db") as conn:
        return list(conn.execute(sql))


def test_roster_csv_merges_and_changes_the_version(tmp_path: Path) -> None:
    import yaml

    cfg, org_path = deployment(tmp_path)
    before = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + "c12,新设市人民检察院,city,prov,,p-chief-c12,周新,dt-9001\n"
                        "c12-01,新设市新城区人民检察院,county,c12,XQ,p-chief-c12-01,吴城,\n",
                        encoding="utf-8")
    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    after = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
    assert after.version_hash() in r.stdout and after.version_hash() != before.version_hash()
    assert f"imported as roster #1 (sha256 {after.version_hash()}) in the database" in r.stdout
    assert "every instance on this database uses it at its next tick" in r.stdout  # no restart
    assert len([u for u in after.units if u.kind == "county"]) == 112
    chief = next(p for p in after.people if p.id == "p-chief-c12-01")
    assert (chief.name, chief.unit, chief.roles) == ("吴城", "c12-01", ("chief",))
    assert org_path.read_text(encoding="utf-8").startswith("# SYNTHETIC DEMO DATA")
    # the version in the config's database is the file as written, and the audit names the CLI
    [(source, by, text)] = stored(tmp_path, "SELECT source, imported_by, text FROM roster_versions")
    operator = f"cli:{getpass.getuser()}@{socket.gethostname()}"  # who ran it, and where
    assert (source, by, text) == ("import", operator, org_path.read_text(encoding="utf-8"))
    [(actor, subject, data)] = stored(tmp_path, "SELECT actor, subject, data FROM audit_log "
                                                "WHERE action = 'roster.import'")
    assert (actor, subject) == ("cli", after.version_hash())
    assert json.loads(str(data))["person_add"] == ["p-chief-c12", "p-chief-c12-01"]
    assert {k: json.loads(str(data))[k] for k in ("by", "file", "path")} == {
        "by": operator, "file": "roster.csv", "path": str(csv_path.resolve())}

    r = run("import", "roster", str(csv_path), "--config", str(cfg))  # the same file again
    assert r.returncode == 0 and "the roster already holds them, nothing changed" in r.stdout
    assert len(stored(tmp_path, "SELECT id FROM roster_versions")) == 1


def test_bad_roster_rows_leave_org_unchanged(tmp_path: Path) -> None:
    cfg, org_path = deployment(tmp_path)
    original = org_path.read_bytes()
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + "c13,某市,town,prov,,,,\nc13-01,某县,county,c99,ZZ,,,\n",
                        encoding="utf-8")
    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 2 and f"{csv_path}:2: 类型（kind）须为 city（市院）或 county（县区院）" in r.stderr
    csv_path.write_text(HEADER + "c13-01,某县,county,c99,ZZ,,,\n", encoding="utf-8")
    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 2 and r.stderr == (f"{csv_path}：未导入，请修改：\n"
                                            f"  {csv_path}:2: 上级单位「c99」不存在\n")
    assert org_path.read_bytes() == original
    assert stored(tmp_path, "SELECT id FROM roster_versions") == []


def test_an_empty_roster_file_is_said_to_be_empty(tmp_path: Path) -> None:
    cfg, org_path = deployment(tmp_path)
    original = org_path.read_bytes()
    csv_path = tmp_path / "roster.csv"
    csv_path.write_bytes(b"")
    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 2  # as `import cases` and `import questions` say a bad file
    assert r.stderr == (f"{csv_path}：未导入，请修改：\n"
                        f"  {csv_path}: 文件为空：没有表头，也没有数据行\n")
    assert org_path.read_bytes() == original


def test_without_the_database_nothing_is_imported(tmp_path: Path) -> None:
    cfg, org_path = deployment(tmp_path, migrate=False)
    original = org_path.read_bytes()
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + "c01-99,示范市新区人民检察院,county,c01,,,,\n", encoding="utf-8")
    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 2 and r.stderr.startswith("error: database not found: ")
    assert f"`casebot migrate --config {cfg}` creates or upgrades it" in r.stderr
    assert org_path.read_bytes() == original


async def test_the_cli_imports_into_the_roster_the_running_bot_uses(
        tmp_path: Path, port: int) -> None:
    """The bot runs with its org.yaml; an admin imported a file through its page. The CLI runs
    on another machine whose org.yaml predates that import: its rows are merged into the
    roster in use (the page's import is kept), and the bot uses the result at its next tick."""
    _, bot_org = deployment(tmp_path, migrate=False)
    settings = make_settings(tmp_path, org=str(bot_org))
    async with open_console(settings, port) as console:
        await login(console, "p-admin-1")
        _, page = await preview(console, GOOD)
        r = await console.client.post("/admin/roster/apply", data=hidden(page))
        assert r.status == 200
        cfg, stale_org = deployment(tmp_path, "other-org.yaml", migrate=False)
        csv_path = tmp_path / "roster.csv"
        csv_path.write_text(HEADER + "c01-99,示范市新区人民检察院,county,c01,XN,p-chief-c01-99,"
                            "郑新,\n", encoding="utf-8")
        r = run("import", "roster", str(csv_path), "--config", str(cfg))
        assert r.returncode == 0, r.stderr
        assert console.app.services.directory.person("p-chief-c01-99") is None
        await console.advance("1m")
        for person, unit in (("p-chief-c01-99", "示范市新区人民检察院"),
                             ("p-chief-c12-01", "新设市新城区人民检察院")):
            got = await console.send(person, f"dm:{person}", "我是谁")
            assert unit in got["messages"][0]["text"]
        assert stale_org.read_bytes() == bot_org.read_bytes()


async def test_import_cases_checks_people_against_the_roster_in_use(
        tmp_path: Path, port: int) -> None:
    """A prosecutor added by a hand edit of the bot's org.yaml (published to the database at
    its next tick) may be named by `casebot import cases` run with an org.yaml from before."""
    _, bot_org = deployment(tmp_path, migrate=False)
    async with open_console(make_settings(tmp_path, org=str(bot_org)), port) as console:
        text = bot_org.read_text(encoding="utf-8")
        bot_org.write_text(text.replace("people:\n", "people:\n- id: p-prosecutor-new\n"
                                        "  name: 新检察官\n  unit: c01-01\n  roles:\n"
                                        "  - prosecutor\n", 1), encoding="utf-8")
        await console.advance("1m")
        assert console.app.services.directory.person("p-prosecutor-new") is not None
        cfg, _ = deployment(tmp_path, "other-org.yaml", migrate=False)
        cases = tmp_path / "cases.csv"
        cases.write_text("title,stage,police_unit,prosecutor,investigators,"
                         "investigation_deadline,custody_deadline\n"
                         "甲案,审查逮捕,ps-hc-xd,p-prosecutor-new,p-investigator-1,,\n",
                         encoding="utf-8")
        r = run("import", "cases", str(cases), "--config", str(cfg))
        assert r.returncode == 0 and "1 cases imported" in r.stdout, r.stderr


def test_a_roster_stored_by_a_newer_casebot_is_not_imported_into(tmp_path: Path) -> None:
    """A rolling upgrade: the roster in use was stored by a newer casebot, with a key this one
    does not know. The import says so in one line and changes nothing (it was a traceback)."""
    cfg, org_path = deployment(tmp_path)
    newer = org_path.read_text(encoding="utf-8") + "regions: []\n"
    with sqlite3.connect(tmp_path / "casebot.db") as conn:
        conn.execute("INSERT INTO roster_versions (parent_id, sha256, roster_version, source, "
                     "imported_by, created_at, text) VALUES (0, ?, ?, 'import', 'p-admin-1', "
                     "'2026-12-05 10:00:00', ?)", ("f" * 64, "0" * 64, newer))
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + "c01-99,示范市新区人民检察院,county,c01,,,,\n", encoding="utf-8")
    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert (r.returncode, r.stderr) == (2, (
        "error: the roster in use (roster #1) was stored by a newer casebot and does "
        "not pass this one's checks; import with the newer casebot\n"))
    assert len(stored(tmp_path, "SELECT id FROM roster_versions")) == 1
