"""`casebot import cases FILE`: a CSV or an .xlsx as a case-management office exports it;
all rows or none, with every bad row named."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot import cases as ops
from bot.clock import Clock
from bot.context import Outbound, Services, unit_of_work
from bot.directory import Directory
from bot.domain.codes import normalize_external_id
from bot.domain.spreadsheet import (
    HEADER_SEARCH_ROWS,
    Columns,
    HeaderRows,
    Merge,
    SheetError,
    blank,
    cell_text,
    fill_merged,
    find_header,
    header_map,
    ignored_note,
    read_sheets,
)
from bot.domain.text import CSV_EMPTY_ERROR, CSV_ENCODING_ERROR, decode_csv
from bot.roster_versions import org_in_use
from bot.signing import Signer
from config.loader import Settings
from config.model import Person
from storage import cases as repo
from storage import db, migrate

COLUMNS = ("title", "stage", "police_unit", "prosecutor", "investigators",
           "investigation_deadline", "custody_deadline", "external_id")
# the labels a header may give each column: the English ones, or the Chinese of an office's
# export (the second is how messages name the column); the first five are required
CASE_COLUMNS = Columns({
    "title": ("title", "案件名称", "案由", "案名"),
    "stage": ("stage", "诉讼阶段", "阶段", "办案阶段"),
    "police_unit": ("police_unit", "移送单位", "公安机关", "侦查机关", "侦查单位", "移送机关"),
    "prosecutor": ("prosecutor", "承办检察官", "检察官", "承办人"),
    "investigators": ("investigators", "侦查员", "办案民警", "侦查人员", "承办民警"),
    "investigation_deadline": ("investigation_deadline", "侦查期限", "侦查终结期限",
                               "侦查期限届满日"),
    "custody_deadline": ("custody_deadline", "羁押期限", "羁押到期日", "羁押期限届满日"),
    "external_id": ("external_id", "统一受案号", "案件编号", "受案号"),
}, COLUMNS[:5])
# several investigators in one cell, as offices separate them (a line break in a cell too)
_PEOPLE_SPLIT = re.compile(r"[|｜、，,；;\n]+")


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


@dataclass(frozen=True)
class CaseLine:
    """One row of the file as a case, with how errors name it."""

    where: str  # "cases.xlsx:3": the file and the row as Excel numbers it
    order: int  # the row's place in the file: errors are listed in this order
    n: int  # the row's number in its sheet
    case: ops.NewCase
    labels: Mapping[str, str]  # field -> the column's label in the file (案件名称, or title)

    def column(self, field_name: str) -> str:
        """How an error names a field's column: as the file labels it (investigators[1] is
        侦查员（第2人） under a Chinese header)."""
        base, _, index = field_name.partition("[")
        label = self.labels.get(base, base)
        if not index:
            return label
        if label.isascii():
            return f"{label}[{index}"
        return f"{label}（第{int(index.rstrip(']')) + 1}人）"


@dataclass
class CaseFile:
    lines: list[CaseLine]
    errors: list[tuple[int, str]]  # (order, line): the file's own come first (order 0)
    notes: list[str]  # what was passed over: columns, sheets


def _cell(value: Any) -> Any:
    """An Excel cell as the import reads it: a date cell is a date (a time in it does not
    count), anything else the text Excel shows (33042420260001 typed as a number too)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return cell_text(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _missing_columns(where: str, header: HeaderRows | None, mapping: Mapping[int, str],
                     errors: list[str]) -> list[str]:
    """The header's errors as the import says them: an English header (or none found) as
    before, with the column names it must have; a Chinese one as the bank import says it."""
    english = header is not None and all(
        _text(header.cells[i]).isascii() for i in mapping)
    if header is not None and not english:
        return [f"{where}: {e}" for e in errors]
    missing = [c for c in COLUMNS[:5] if c not in mapping.values()]
    if not missing:  # a column named twice
        return [f"{where}: {e}" for e in errors]
    chinese = "、".join(CASE_COLUMNS.labels[c] for c in COLUMNS[:5])
    also = "" if header is not None else f"；或中文表头：{chinese}等"
    return [f"{where}: 缺少列：{', '.join(missing)}（表头应为 {','.join(COLUMNS)}{also}）"]


def _read_table(path: Path, table: Sequence[Sequence[Any]], merges: Sequence[Merge], *,
                sheet: str = "", order: int = 0, csv_file: bool = False) -> CaseFile | None:
    """The cases of one table (a CSV, a sheet); None when nothing in it looks like a header."""
    header = find_header(table, CASE_COLUMNS, merges)
    where = f"{path}:工作表「{sheet[:31]}」" if sheet else f"{path}"
    if header is None and sheet:
        return None
    if header is None:
        return CaseFile([], [(order, e) for e in _missing_columns(where, None, {}, [])], [])
    mapping, ignored, errors = header_map(header.cells, CASE_COLUMNS, header.label)
    if errors:
        return CaseFile([], [(order, e) for e in
                             _missing_columns(where, header, mapping, errors)], [])
    labels = {name: " ".join(_text(header.cells[i]).split()) for i, name in mapping.items()}
    line_labels = {name: labels.get(name, name) for name in COLUMNS}
    notes = [ignored_note(CASE_COLUMNS, ignored.values(), f"{where}: " if sheet else "",
                          mapping.values(), "案件导入不读取这些列")] if ignored else []
    body = [list(r) for r in table]
    fill_merged(body, merges, header.last)
    out = CaseFile([], [], notes)
    width = len(header.cells)
    for n, cells in enumerate(body[header.last + 1:], start=header.last + 2):
        at, key = f"{where}:{n}", order + n
        if all(blank(c) for c in cells):
            continue
        extra = cells[width:]
        if csv_file and extra:  # the text of a cell cut at an unquoted comma
            out.errors.append((key, f"{at}: 本行比表头多 {len(extra)} 列（文字中的逗号须加引号）"))
            continue
        stray = [i for i, c in enumerate(cells) if i not in mapping and i not in ignored
                 and not blank(c)]
        if stray:
            out.errors.append((key, f"{at}: 第{stray[0] + 1}列有内容但没有表头"))
            continue
        row = {name: cells[i] if i < len(cells) else None for i, name in mapping.items()}

        def day(name: str, row: dict[str, Any] = row, at: str = at, key: int = key
                ) -> date | None:
            v = row.get(name)
            if isinstance(v, date):
                return v
            text = _text(v)
            if not text:
                return None
            try:
                return parse_office_day(text)
            except ValueError as e:
                out.errors.append((key, f"{at}: {line_labels[name]}: {e}：{text!r}"))
                return None
        out.lines.append(CaseLine(at, key, n, ops.NewCase(
            title=_text(row.get("title")), stage=_text(row.get("stage")),
            police_unit=_text(row.get("police_unit")), prosecutor=_text(row.get("prosecutor")),
            investigators=tuple(i.strip() for i in _PEOPLE_SPLIT.split(
                _text(row.get("investigators"))) if i.strip()),
            investigation_deadline=day("investigation_deadline"),
            custody_deadline=day("custody_deadline"),
            external_id=normalize_external_id(_text(row.get("external_id")))), line_labels))
    return out


def read_case_file(path: Path) -> CaseFile:
    """The cases of a CSV (UTF-8 with or without BOM, or GBK as Excel saves it) or of an .xlsx
    workbook (every visible sheet with a header; a 说明 sheet is passed over). The header may
    stand below a title row and take two rows (`spreadsheet.find_header`), in English or
    Chinese (`CASE_COLUMNS`); other columns (序号, 备注) are passed over and noted. Blank rows
    (a spreadsheet's trailing ",,,,,,") are skipped. Errors name the row and the column."""
    if path.suffix.lower() == ".xls":
        return CaseFile([], [(0, f"{path}: 不支持 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")], [])
    if path.suffix.lower() == ".xlsx":
        try:
            sheets = read_sheets(path.read_bytes(), _cell)
        except SheetError as e:
            return CaseFile([], [(0, f"{path}: {x}") for x in e.errors], [])
        if not sheets:
            return CaseFile([], [(0, f"{path}: {CSV_EMPTY_ERROR}")], [])
        found = CaseFile([], [], [])
        skipped: list[str] = []
        for i, sheet in enumerate(sheets):
            part = _read_table(path, sheet.rows, sheet.merges, order=i * 10_000_000,
                               sheet=sheet.name if len(sheets) > 1 else "")
            if part is None:
                skipped.append(sheet.name)
                continue
            found.lines += part.lines
            found.errors += part.errors
            found.notes += part.notes
        if len(skipped) == len(sheets):
            return _no_header(path, [s.name for s in sheets])
        if skipped:
            found.notes.insert(0, f"已跳过工作表：{'、'.join(f'「{n[:31]}」' for n in skipped)}"
                                  "（未找到表头）")
    else:
        text = decode_csv(path.read_bytes())
        if text is None:
            return CaseFile([], [(0, f"{path}: {CSV_ENCODING_ERROR}")], [])
        if not text.strip():
            return CaseFile([], [(0, f"{path}: {CSV_EMPTY_ERROR}")], [])
        # an empty line is no row (as csv.DictReader read it before): rows keep their numbers
        table = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
        found = _read_table(path, table, (), csv_file=True) or _no_header(path, [])
    if not found.lines and not found.errors:
        found.errors.append((0, f"{path}: 文件中没有案件"))
    return found


def _no_header(path: Path, sheets: Sequence[str]) -> CaseFile:
    where = f"（已查看工作表：{'、'.join(f'「{n[:31]}」' for n in sheets)}）" if sheets else ""
    return CaseFile([], [(0, f"{path}: 未找到表头：前 {HEADER_SEARCH_ROWS} 行中没有一行含有列名 "
                         f"{'、'.join(CASE_COLUMNS.labels[c] for c in COLUMNS[:5])}"
                         f"（或 {','.join(COLUMNS[:5])}）{where}")], [])


def read_cases(path: Path) -> tuple[list[tuple[int, ops.NewCase]], list[str]]:
    """The cases of a file by row number, and its errors (see `read_case_file`): names of
    people and units are not resolved here (`resolve_names`)."""
    found = read_case_file(path)
    return ([(line.n, line.case) for line in found.lines],
            [e for _, e in sorted(found.errors, key=lambda e: e[0])])


def _norm(text: str) -> str:
    """A name as typed: full-width letters, spaces inside it and around it do not count."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def _who(d: Directory, p: Person) -> str:
    return f"{p.name}（{p.id}，{d.unit_name(p.unit)}）"


def _person_id(d: Directory, value: str, role: str) -> tuple[str, str | None]:
    """A person's id from an id or a roster name: (id or the value as it was, the reason it
    names no one person). Among namesakes those with the column's role count first."""
    if not value or d.person(value) is not None:
        return value, None
    key = _norm(value)
    found = [p for p in d.org.people if _norm(p.name) == key]
    found = [p for p in found if role in p.roles] or found
    if len(found) == 1:
        return found[0].id, None
    if found:
        return value, (f"「{value}」有 {len(found)} 人同名：{'、'.join(_who(d, p) for p in found)}"
                       "，请改填人员编号")
    if value.isascii():  # an id: checked as before (`validate_new_case`)
        return value, None
    near = [p for p in d.find_people(value) if role in p.roles][:5]
    hint = f"，相近的有：{'、'.join(_who(d, p) for p in near)}" if near else ""
    return value, f"名册中没有「{value}」（须为名册中的姓名或人员编号）{hint}"


def _unit_id(d: Directory, value: str) -> tuple[str, str | None]:
    """A police unit's id from an id or its full name in the roster, as `_person_id`."""
    if not value or d.unit(value) is not None:
        return value, None
    key = _norm(value)
    police = [u for u in d.org.units if u.kind == "police"]
    found = [u for u in police if _norm(u.name) == key]
    if len(found) == 1:
        return found[0].id, None
    if found:
        return value, (f"「{value}」有 {len(found)} 个同名单位："
                       f"{'、'.join(f'{u.name}（{u.id}）' for u in found)}，请改填单位编号")
    if value.isascii():
        return value, None
    near = [u for u in d.find_units(value) if u.kind == "police"][:5]
    hint = f"，相近的有：{'、'.join(f'{u.name}（{u.id}）' for u in near)}" if near else ""
    return value, f"名册中没有公安机关「{value}」（须为名册中的单位全称或单位编号）{hint}"


def resolve_names(d: Directory, line: CaseLine) -> tuple[ops.NewCase, list[str]]:
    """The row's case with the units and people it names by name given by id; an unknown
    name, or one several people have, is an error naming the row, the column and who."""
    errors: list[str] = []
    new = line.case

    def check(field_name: str, found: tuple[str, str | None]) -> str:
        if found[1] is not None:
            errors.append(f"{line.where}: {line.column(field_name)}: {found[1]}")
        return found[0]
    police_unit = check("police_unit", _unit_id(d, new.police_unit))
    prosecutor = check("prosecutor", _person_id(d, new.prosecutor, "prosecutor"))
    investigators = tuple(check("investigators", _person_id(d, i, "investigator"))
                          for i in new.investigators)
    return replace(new, police_unit=police_unit, prosecutor=prosecutor,
                   investigators=investigators), errors


@dataclass(frozen=True)
class ImportResult:
    codes: list[str]  # the new cases, in file order
    skipped: list[str] = field(default_factory=list)  # per row, in Chinese: already imported
    notes: list[str] = field(default_factory=list)  # what the file's reading passed over


Progress = Callable[[str, int, int], None]
"""(phase, done, total): phase ``check`` while rows are validated, ``write`` while written."""


async def import_cases(settings: Settings, clock: Clock, path: Path,
                       progress: Progress) -> ImportResult:
    """All rows or none. Every row is checked first, outside any write transaction; then the
    cases are written in one short transaction with bulk statements, so a bot using the same
    SQLite file waits for a moment only. Rows whose `external_id` a case already has are
    skipped (named in the result), not created again."""
    found = read_case_file(path)
    errors = list(found.errors)
    # an existing database at head (DatabaseUnavailable otherwise): never creates or migrates
    engine = await migrate.open_existing(settings.config.storage.database_url, readonly=False)
    try:
        sessions = db.sessionmaker(engine)
        async with sessions() as session:  # the roster in use, not only this machine's org.yaml
            org = await org_in_use(session, settings.org_path, settings.org)
        services = Services(settings=settings, clock=clock, db=sessions,
                            directory=Directory(org), signer=Signer(settings.secrets.link_keys))
        seen: dict[str, int] = {}
        rows: list[tuple[CaseLine, ops.NewCase]] = []
        async with services.db() as session:  # no statement runs on it: no transaction
            checker = Outbound(services, session)
            for i, line in enumerate(found.lines, 1):
                new, named = resolve_names(services.directory, line)
                errors += [(line.order, e) for e in named]
                rows.append((line, new))
                if not named:  # a name not resolved is not checked again as an id
                    for e in ops.validate_new_case(checker, new):
                        errors.append((line.order, f"{line.where}: {line.column(e.field)}: "
                                                   f"{e.reason}"))
                if new.external_id is not None:
                    if new.external_id in seen:
                        errors.append((line.order, f"{line.where}: {line.column('external_id')}: "
                                       f"统一受案号「{new.external_id}」"
                                       f"重复（第 {seen[new.external_id]} 行已有）"))
                    seen.setdefault(new.external_id, line.n)
                progress("check", i, len(found.lines))
        if errors:  # by row: the reading errors came first
            raise CaseImportError([e for _, e in sorted(errors, key=lambda e: e[0])])
        try:
            async with unit_of_work(services) as out:
                existing = await repo.codes_by_external_id(out.session, seen)
                fresh = [new for _, new in rows if new.external_id not in existing]
                codes = await ops.create_cases(out, fresh, by="import",
                                               progress=lambda i, n: progress("write", i, n))
        except IntegrityError:  # PostgreSQL: a case with one of the ids was created meanwhile
            raise CaseImportError([f"{path}: 导入期间另有案件使用了文件中的统一受案号，"
                                   "未导入，请重新导入（已有的行将跳过）"]) from None
        skipped = [f"{line.where}: 统一受案号「{new.external_id}」已有案件 "
                   f"{existing[new.external_id]}，跳过" for line, new in rows
                   if new.external_id in existing]
        return ImportResult(codes, skipped, found.notes)
    finally:
        await engine.dispose()
