"""`casebot import cases FILE.csv`: all rows or none, with every bad row named."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from bot import cases as ops
from bot.clock import Clock
from bot.context import Outbound, Services, unit_of_work
from bot.directory import Directory
from bot.domain.text import CSV_EMPTY_ERROR, CSV_ENCODING_ERROR, decode_csv
from bot.roster_versions import org_in_use
from bot.signing import Signer
from config.loader import Settings
from storage import cases as repo
from storage import db, migrate

COLUMNS = ("title", "stage", "police_unit", "prosecutor", "investigators",
           "investigation_deadline", "custody_deadline", "external_id")


DAY_FORMS = "YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日"
# a day as Excel in Chinese saves it (2026/12/30), or as offices type it (2026.12.30,
# 2026年12月30日, 2026-1-5): one separator throughout, no zero padding needed
_OFFICE_DAY = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})|(\d{4})年(\d{1,2})月(\d{1,2})日")


def parse_office_day(text: str) -> date:
    """A deadline as a spreadsheet holds it (DAY_FORMS, full-width digits too); ValueError
    with the reason in Chinese otherwise. Only the CSV import reads these: the integration
    API stays exactly YYYY-MM-DD, a machine's contract (`cases.parse_day`)."""
    m = _OFFICE_DAY.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if m is None:
        raise ValueError(f"不是日期（须为 {DAY_FORMS}）")
    year, month, day = (int(g) for g in m.groups() if g is not None and g.isdigit())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError("日期不存在") from None


class CaseImportError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def read_cases(path: Path) -> tuple[list[tuple[int, ops.NewCase]], list[str]]:
    """Rows of a cases CSV, UTF-8 (with or without BOM) or GBK as Excel saves it; blank rows
    (a spreadsheet's trailing ",,,,,,") are skipped. Errors name the line and the column."""
    errors: list[str] = []
    rows: list[tuple[int, ops.NewCase]] = []
    text = decode_csv(path.read_bytes())
    if text is None:
        return [], [f"{path}: {CSV_ENCODING_ERROR}"]
    if not text.strip():
        return [], [f"{path}: {CSV_EMPTY_ERROR}"]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    reader.fieldnames = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[:5] if c not in reader.fieldnames]
    if missing:
        return [], [f"{path}: 缺少列：{', '.join(missing)}（表头应为 {','.join(COLUMNS)}）"]
    for n, row in enumerate(reader, start=2):  # the spreadsheet's row number
        if None in row:
            errors.append(f"{path}:{n}: 本行比表头多 {len(row[None])} 列（文字中的逗号须加引号）")
            continue
        if all(not (v or "").strip() for v in row.values()):
            continue

        def day(name: str, row: dict[str, str] = row, n: int = n) -> date | None:
            v = (row.get(name) or "").strip()
            if not v:
                return None
            try:
                return parse_office_day(v)
            except ValueError as e:
                errors.append(f"{path}:{n}: {name}: {e}：{v!r}")
                return None
        rows.append((n, ops.NewCase(
            title=(row.get("title") or "").strip(), stage=(row.get("stage") or "").strip(),
            police_unit=(row.get("police_unit") or "").strip(),
            prosecutor=(row.get("prosecutor") or "").strip(),
            investigators=tuple(i.strip() for i in (row.get("investigators") or "").split("|")
                                if i.strip()),
            investigation_deadline=day("investigation_deadline"),
            custody_deadline=day("custody_deadline"),
            external_id=(row.get("external_id") or "").strip() or None)))
    if not rows and not errors:
        errors.append(f"{path}: 文件中没有案件")
    return rows, errors


def _row_of(error: str, path: Path) -> int:
    head = error[len(str(path)) + 1:].split(":", 1)[0]
    return int(head) if head.isdigit() else 0


@dataclass(frozen=True)
class ImportResult:
    codes: list[str]  # the new cases, in file order
    skipped: list[str] = field(default_factory=list)  # per row, in Chinese: already imported


Progress = Callable[[str, int, int], None]
"""(phase, done, total): phase ``check`` while rows are validated, ``write`` while written."""


async def import_cases(settings: Settings, clock: Clock, path: Path,
                       progress: Progress) -> ImportResult:
    """All rows or none. Every row is checked first, outside any write transaction; then the
    cases are written in one short transaction with bulk statements, so a bot using the same
    SQLite file waits for a moment only. Rows whose `external_id` a case already has are
    skipped (named in the result), not created again."""
    rows, errors = read_cases(path)
    # an existing database at head (DatabaseUnavailable otherwise): never creates or migrates
    engine = await migrate.open_existing(settings.config.storage.database_url, readonly=False)
    try:
        sessions = db.sessionmaker(engine)
        async with sessions() as session:  # the roster in use, not only this machine's org.yaml
            org = await org_in_use(session, settings.org_path, settings.org)
        services = Services(settings=settings, clock=clock, db=sessions,
                            directory=Directory(org), signer=Signer(settings.secrets.link_keys))
        seen: dict[str, int] = {}
        async with services.db() as session:  # no statement runs on it: no transaction
            checker = Outbound(services, session)
            for i, (n, new) in enumerate(rows, 1):
                for e in ops.validate_new_case(checker, new):
                    errors.append(f"{path}:{n}: {e.field}: {e.reason}")
                if new.external_id is not None:
                    if new.external_id in seen:
                        errors.append(f"{path}:{n}: external_id: 统一受案号「{new.external_id}」"
                                      f"重复（第 {seen[new.external_id]} 行已有）")
                    seen.setdefault(new.external_id, n)
                progress("check", i, len(rows))
        if errors:  # by row: the reading errors came first
            raise CaseImportError(sorted(errors, key=lambda e: _row_of(e, path)))
        try:
            async with unit_of_work(services) as out:
                existing = await repo.codes_by_external_id(out.session, seen)
                fresh = [new for _, new in rows if new.external_id not in existing]
                codes = await ops.create_cases(out, fresh, by="import",
                                               progress=lambda i, n: progress("write", i, n))
        except IntegrityError:  # PostgreSQL: a case with one of the ids was created meanwhile
            raise CaseImportError([f"{path}: 导入期间另有案件使用了文件中的统一受案号，"
                                   "未导入，请重新导入（已有的行将跳过）"]) from None
        skipped = [f"{path}:{n}: 统一受案号「{new.external_id}」已有案件 "
                   f"{existing[new.external_id]}，跳过" for n, new in rows
                   if new.external_id in existing]
        return ImportResult(codes, skipped)
    finally:
        await engine.dispose()
