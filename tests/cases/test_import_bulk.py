"""`casebot import cases` writes in bulk (a short write transaction) exactly what creating the
cases one by one wrote, and skips rows whose external_id (统一受案号) is already imported."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot import cases as ops
from bot.clock import ManualClock
from bot.context import Services, unit_of_work
from bot.directory import Directory
from bot.importer import CaseImportError, import_cases, read_cases
from bot.signing import Signer
from config.loader import Settings, load_config
from storage import cases as repo
from storage import db, migrate
from storage.cases import CaseCounter, CaseInvestigator, CaseRow
from storage.models import AuditRecord
from tests.conftest import START

SRC = Path(__file__).resolve().parents[2] / "config"
HEADER = "title,stage,police_unit,prosecutor,investigators,investigation_deadline,custody_deadline"


def _config(tmp_path: Path, name: str) -> Path:
    """A config on its own SQLite file, with one prosecutor of a second office (prefix YK),
    so that codes come from two counters."""
    org = yaml.safe_load((SRC / "org.yaml").read_text(encoding="utf-8"))
    org["people"].append({"id": "p-prosecutor-yk", "name": "乐顺检察官", "unit": "c01-02",
                          "roles": ["prosecutor"], "ids": {"dingtalk": "dt-yk-1"}})
    (tmp_path / "org.yaml").write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"org: {tmp_path / 'org.yaml'}\nscore_template: {SRC / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{tmp_path / name}.db'}}\n",
                   encoding="utf-8")
    return cfg


async def _migrated(cfg: Path) -> Settings:
    settings = load_config(cfg)
    engine = db.create_engine(settings.config.storage.database_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return settings


def _rows(n: int) -> str:
    people = ["p-prosecutor-1", "p-prosecutor-yk", "p-prosecutor-2"]
    return "".join(
        f"案件{i}号 ,{'审查逮捕' if i % 2 else '提前介入'},ps-hc-xd,{people[i % 3]},"
        f"p-investigator-1{'|p-investigator-2' if i % 4 else ''},"
        f"{'2026-12-20' if i % 5 else ''},{'2026-12-31' if i % 3 else ''}\n" for i in range(n))


async def _tables(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    engine = db.create_engine(settings.config.storage.database_url)
    try:
        async with engine.connect() as conn:
            return {t.__tablename__: [tuple(r) for r in (await conn.execute(
                select(t.__table__).order_by(*t.__mapper__.primary_key))).all()]
                for t in (CaseRow, CaseInvestigator, CaseCounter, AuditRecord)}
    finally:
        await engine.dispose()


async def _one_by_one(settings: Settings, clock: ManualClock, path: Path) -> list[str]:
    """What `casebot import cases` did before it wrote in bulk: `create_case` per row."""
    rows, errors = read_cases(path)
    assert errors == []
    engine = await migrate.open_existing(settings.config.storage.database_url, readonly=False)
    services = Services(settings=settings, clock=clock, db=db.sessionmaker(engine),
                        directory=Directory(settings.org),
                        signer=Signer(settings.secrets.link_keys))
    try:
        async with unit_of_work(services) as out:
            return [(await ops.create_case(out, new, by="import")).code for _, new in rows]
    finally:
        await engine.dispose()


async def _seed(settings: Settings, clock: ManualClock) -> None:
    """Cases and audit records already there: codes and the chain must continue from them."""
    engine = db.create_engine(settings.config.storage.database_url)
    services = Services(settings=settings, clock=clock, db=db.sessionmaker(engine),
                        directory=Directory(settings.org),
                        signer=Signer(settings.secrets.link_keys))
    try:
        async with unit_of_work(services) as out:
            for p in ("p-prosecutor-1", "p-prosecutor-yk"):
                await ops.create_case(out, ops.NewCase("已有案件", "审查逮捕", "ps-hc-xd", p,
                                                       ("p-investigator-1",), None, None), "api")
    finally:
        await engine.dispose()


async def test_bulk_import_writes_what_one_by_one_wrote(tmp_path: Path) -> None:
    csv = tmp_path / "cases.csv"
    csv.write_text(HEADER + "\n" + _rows(2500), encoding="utf-8")
    clock = ManualClock(START)
    before, after = await _migrated(_config(tmp_path, "old")), await _migrated(
        _config(tmp_path, "new"))
    for s in (before, after):
        await _seed(s, clock)
    old_codes = await _one_by_one(before, clock, csv)
    seen: list[tuple[str, int, int]] = []
    result = await import_cases(after, clock, csv, lambda *p: seen.append(p))
    assert result.codes == old_codes and result.skipped == []
    assert old_codes[:3] == ["HY-2026-0002", "YK-2026-0002", "HY-2026-0003"]
    assert await _tables(after) == await _tables(before)  # cases, investigators, counters, audit
    assert seen[0] == ("check", 1, 2500) and ("check", 2500, 2500) in seen
    assert [p for p in seen if p[0] == "write"] == [("write", 1000, 2500), ("write", 2000, 2500),
                                                    ("write", 2500, 2500)]
    r = subprocess.run([sys.executable, "-m", "bot.cli", "audit", "verify", "--config",
                        str(tmp_path / "new.yaml")], capture_output=True, text=True)
    assert r.returncode == 0 and "audit chain intact: 2502 records" in r.stdout, r.stdout + r.stderr


async def test_external_id_is_imported_once(tmp_path: Path) -> None:
    settings = await _migrated(_config(tmp_path, "x"))
    clock = ManualClock(START)
    row = "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,"
    f = tmp_path / "cases.csv"
    f.write_text(f"{HEADER},external_id\n{row},A-1\n{row},\n{row},A-2\n", encoding="utf-8")
    first = await import_cases(settings, clock, f, lambda *p: None)
    assert first.codes == ["HY-2026-0001", "HY-2026-0002", "HY-2026-0003"]
    # the same file again, plus a new row: only the rows without an id or with a new one
    f.write_text(f.read_text(encoding="utf-8") + f"{row},A-3\n", encoding="utf-8")
    again = await import_cases(settings, clock, f, lambda *p: None)
    assert again.codes == ["HY-2026-0004", "HY-2026-0005"]
    assert again.skipped == [f"{f}:2: 统一受案号「A-1」已有案件 HY-2026-0001，跳过",
                             f"{f}:4: 统一受案号「A-2」已有案件 HY-2026-0003，跳过"]
    tables = await _tables(settings)
    external = [c.name for c in CaseRow.__table__.columns].index("external_id")
    assert [(c[0], c[external]) for c in tables["cases"]] == [
        ("HY-2026-0001", "A-1"), ("HY-2026-0002", None), ("HY-2026-0003", "A-2"),
        ("HY-2026-0004", None), ("HY-2026-0005", "A-3")]
    audit = [r for r in tables["audit_log"] if r[4] == "HY-2026-0005"]
    assert '"external_id":"A-3"' in audit[0][5]


async def test_external_id_twice_in_one_file_is_an_error(tmp_path: Path) -> None:
    settings = await _migrated(_config(tmp_path, "x"))
    row = "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,"
    f = tmp_path / "cases.csv"
    f.write_text(f"{HEADER},external_id\n{row},A-1\n{row}, A-1 \n{row},{'x' * 65}\n",
                 encoding="utf-8")
    try:
        await import_cases(settings, ManualClock(START), f, lambda *p: None)
    except CaseImportError as e:
        assert e.errors == [f"{f}:3: external_id: 统一受案号「A-1」重复（第 2 行已有）",
                            f"{f}:4: external_id: 统一受案号不能为空白，且不超过 64 字"]
    else:
        raise AssertionError("imported a file with a repeated external_id")
    assert (await _tables(settings))["cases"] == []


async def test_deadlines_as_excel_saves_them_are_stored_as_days(tmp_path: Path) -> None:
    """2026/12/20 from a Chinese Excel (GBK), 2026年1月5日 typed: the cases get those days."""
    settings = await _migrated(_config(tmp_path, "x"))
    f = tmp_path / "cases.csv"
    f.write_text(f"{HEADER}\n甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,2026/12/20,"
                 "2026年1月5日\n", encoding="gbk")
    result = await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert result.codes == ["HY-2026-0001"]
    [case] = (await _tables(settings))["cases"]
    names = [c.name for c in CaseRow.__table__.columns]
    assert (case[names.index("investigation_deadline")],
            case[names.index("custody_deadline")]) == (date(2026, 12, 20), date(2026, 1, 5))


async def test_a_title_that_shows_nothing_is_refused(tmp_path: Path) -> None:
    settings = await _migrated(_config(tmp_path, "x"))
    f = tmp_path / "cases.csv"
    f.write_text(f"{HEADER}\n甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,\n"
                 "\u200b\u200d,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,\n",
                 encoding="utf-8")
    with pytest.raises(CaseImportError) as e:
        await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert e.value.errors == [f"{f}:3: title: 案件名称必填，且不超过 200 字"]
    assert (await _tables(settings))["cases"] == []


async def test_an_id_taken_while_importing_fails_the_import_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL could see a case with one of the ids created after the import looked: the
    unique index refuses it and nothing of the file is written."""
    settings = await _migrated(_config(tmp_path, "x"))
    row = "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,"
    f = tmp_path / "cases.csv"
    f.write_text(f"{HEADER},external_id\n{row},A-1\n", encoding="utf-8")
    await import_cases(settings, ManualClock(START), f, lambda *p: None)
    f.write_text(f"{HEADER},external_id\n{row},A-2\n{row},A-1\n", encoding="utf-8")

    async def blind(*_: Any, **__: Any) -> dict[str, str]:
        return {}

    monkeypatch.setattr(repo, "codes_by_external_id", blind)
    with pytest.raises(CaseImportError, match="导入期间另有案件使用了文件中的统一受案号"):
        await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert [c[0] for c in (await _tables(settings))["cases"]] == ["HY-2026-0001"]


def test_cli_shows_both_phases_and_the_skipped_rows(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "x")
    assert subprocess.run([sys.executable, "-m", "bot.cli", "migrate", "--config", str(cfg)],
                          capture_output=True).returncode == 0
    row = "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,"
    f = tmp_path / "cases.csv"
    f.write_text(f"{HEADER},external_id\n{row},A-1\n{row},\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "bot.cli", "import", "cases", str(f), "--config", str(cfg)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line] == ["checked 2/2", "imported 2/2",
                                     "2 cases imported: HY-2026-0001, HY-2026-0002"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line] == [
        "checked 2/2", "imported 1/1", f"{f}:2: 统一受案号「A-1」已有案件 HY-2026-0001，跳过",
        "1 cases imported; 1 rows skipped (already imported): HY-2026-0003"]
    only = tmp_path / "again.csv"  # every row imported before: nothing dangles after a colon
    only.write_text(f"{HEADER},external_id\n{row},A-1\n", encoding="utf-8")
    r = subprocess.run([*cmd[:5], str(only), *cmd[6:]], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "0 cases imported; 1 rows skipped (already imported)"
