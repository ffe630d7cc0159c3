"""The confidential question bank (题库): parsing and validating imports from YAML, CSV and XLSX.

Pure: takes bytes or parsed rows, returns questions or raises `BankError`. Error messages are
Chinese (the inspector who uploaded the file reads them) and name the row, the column and why —
never a question's text, which must not leave the server."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from bot.domain import spreadsheet
from bot.domain.spreadsheet import (
    HEADER_SEARCH_ROWS,
    Columns,
    HeaderRows,
    Merge,
    Sheet,
    SheetError,
    fill_merged,
    header_map,
    read_sheets,
)
from bot.domain.text import CSV_EMPTY_ERROR, CSV_ENCODING_ERROR, decode_csv

CATEGORIES: tuple[str, ...] = ("党的建设", "业务建设", "队伍建设", "党风廉政建设", "其他")
CATEGORY_ALIASES: dict[str, str] = {
    "党建": "党的建设", "业务": "业务建设", "队伍": "队伍建设", "党风廉政": "党风廉政建设",
    "廉政": "党风廉政建设", "other": "其他", "其它": "其他",
}
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
MAX_TEXT = 2000

# Column names accepted in CSV / XLSX headers, English or Chinese. The header is the first of the
# first HEADER_SEARCH_ROWS rows that names the REQUIRED columns (see `find_header`). Any other
# column (序号, 备注, 分值 …) is passed over and named in the import's notes; two labels of one
# field in a header stay an error (`_header_map`), so an alias never drops a column silently.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "题号", "题目编号", "试题编号"),
    "category": ("category", "类别", "分类", "题目类别"),
    "text": ("text", "题目", "问题", "题目内容", "试题内容"),
    "answer_points": ("answer_points", "参考答案要点", "参考答案", "答案要点", "参考要点"),
    "source_department": ("source_department", "出题部门", "来源部门", "出题单位"),
    "tags": ("tags", "标签"),
}
_POINT_SPLIT = re.compile(r"[\n；;]+")
_TAG_SPLIT = re.compile(r"[,，、;；\s]+")
REQUIRED: tuple[str, ...] = ("id", "category", "text", "answer_points")
BANK_COLUMNS = Columns(COLUMNS, REQUIRED)
LABELS: dict[str, str] = BANK_COLUMNS.labels  # id -> 编号


class BankError(SheetError):
    """One line per problem, e.g. `第7行：类别「党务」无效，可选：党的建设、…`."""


@dataclass(frozen=True)
class BankFile:
    """A parsed file: its questions, the demo flag (YAML only) and notes for the inspector on
    what the import passed over (columns, sheets), in Chinese; never a question's text."""

    questions: list[BankQuestion]
    demo: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BankQuestion:
    id: str
    category: str
    text: str = field(repr=False)  # confidential: never in a repr, a log line or an error
    answer_points: tuple[str, ...] = field(default=(), repr=False)
    source_department: str = ""
    tags: tuple[str, ...] = ()


def category_of(raw: str) -> str | None:
    c = raw.strip()
    if c in CATEGORIES:
        return c
    return CATEGORY_ALIASES.get(c) or CATEGORY_ALIASES.get(c.lower())


def _as_list(value: Any, split: re.Pattern[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in split.split(str(value)) if p.strip())


def _row_id(row: Mapping[str, Any]) -> str:
    return str(row.get("id") or "").strip()


def question_from_mapping(row: Mapping[str, Any], where: str) -> tuple[BankQuestion | None, list[str]]:
    errors: list[str] = []
    qid = _row_id(row)
    if not qid:
        errors.append(f"{where}：缺少编号")
    elif not ID_RE.match(qid):
        errors.append(f"{where}：编号「{qid[:40]}」无效，只能用字母、数字、- 或 _（不超过 40 个字符）")
    raw_cat = str(row.get("category") or "").strip()
    cat = category_of(raw_cat)
    if cat is None:
        what = f"类别「{raw_cat[:20]}」无效" if raw_cat else "缺少类别"
        errors.append(f"{where}：{what}，可选：{'、'.join(CATEGORIES)}")
    text = str(row.get("text") or "").strip()
    if not text:
        errors.append(f"{where}：缺少题目")
    elif len(text) > MAX_TEXT:
        errors.append(f"{where}：题目超过 {MAX_TEXT} 字")
    points = _as_list(row.get("answer_points"), _POINT_SPLIT)
    if not points:
        errors.append(f"{where}：缺少参考答案要点（至少一条）")
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        errors.append(f"{where}：未知字段 {'、'.join(map(str, unknown))}，"
                      f"可用字段：{'、'.join(COLUMNS)}")
    if errors:
        return None, errors
    assert cat is not None
    return BankQuestion(
        id=qid, category=cat, text=text, answer_points=points,
        source_department=str(row.get("source_department") or "").strip(),
        tags=_as_list(row.get("tags"), _TAG_SPLIT),
    ), []


def _collect(rows: Iterable[tuple[str, Mapping[str, Any]]],
             errors: Sequence[str] = ()) -> list[BankQuestion]:
    """The questions of `rows`, or BankError with `errors` and every row's errors."""
    out: list[BankQuestion] = []
    errors = list(errors)
    seen: dict[str, str] = {}
    for where, row in rows:
        q, errs = question_from_mapping(row, where)
        errors += errs
        # every row's id counts, whatever else is wrong with it: a duplicate is named in the
        # same pass as the other errors, not only once they are fixed
        qid = _row_id(row)
        if qid:
            if qid in seen:
                errors.append(f"{where}：编号「{qid[:40]}」重复（{seen[qid]}已有）")
            seen.setdefault(qid, where)
        if q is not None:
            out.append(q)
    if errors:
        raise BankError(errors)
    if not out:
        raise BankError(["文件中没有题目"])
    return out


def parse_yaml(data: bytes) -> tuple[list[BankQuestion], bool]:
    """`{demo: bool, questions: [...]}` (or a bare list) -> (questions, demo flag)."""
    try:
        doc = yaml.safe_load(data.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        mark = getattr(e, "problem_mark", None)
        where = f"（第{mark.line + 1}行附近）" if mark else ""
        raise BankError([f"YAML 格式有误{where}，或文件不是 UTF-8 编码"]) from None
    demo = False
    if isinstance(doc, dict):
        extra = sorted(set(doc) - {"demo", "questions"})
        if extra:
            raise BankError([f"文件顶层有未知字段 {'、'.join(map(str, extra))}，只能有 demo 和 questions"])
        demo = bool(doc.get("demo", False))
        doc = doc.get("questions")
    if not isinstance(doc, list):
        raise BankError(["文件顶层应为题目列表（或含 questions 列表的映射）"])
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for i, item in enumerate(doc, start=1):
        if not isinstance(item, dict):
            raise BankError([f"第{i}题：应为「字段: 值」的映射"])
        rows.append((f"第{i}题", item))
    return _collect(rows), demo


def ignored_note(labels: Iterable[str], where: str = "", present: Iterable[str] = ()) -> str:
    """Said on the preview and by the CLI for the columns a table's header passes over; a label
    close to a field the header lacks is pointed out."""
    return spreadsheet.ignored_note(BANK_COLUMNS, labels, where, present, "题库不保存这些列")


def skipped_note(sheets: Sequence[str]) -> str:
    """Said for the sheets of a workbook passed over for having no header (a 说明 sheet)."""
    return f"已跳过工作表：{'、'.join(f'「{n[:31]}」' for n in sheets)}（未找到表头）"


def find_header(table: Sequence[Sequence[Any]], merges: Sequence[Merge] = ()
                ) -> HeaderRows | None:
    """The bank's header near the top of a table: see `spreadsheet.find_header`."""
    return spreadsheet.find_header(table, BANK_COLUMNS, merges)


def no_header_error(sheets: Sequence[str] = ()) -> str:
    """Said when no sheet (or CSV) has a header row near its top."""
    where = f"（已查看工作表：{'、'.join(f'「{n[:31]}」' for n in sheets)}）" if sheets else ""
    return (f"未找到表头：前 {HEADER_SEARCH_ROWS} 行中没有一行同时含有列名 编号（或题号）、类别、"
            f"题目、参考答案要点（可另有 出题部门、标签）{where}")


class Table(NamedTuple):
    rows: list[tuple[str, Mapping[str, Any]]]
    errors: list[str]  # the header's, and cells under no header
    header: HeaderRows | None  # None: no header found, nothing read
    notes: list[str]


def _table_rows(table: Sequence[Sequence[Any]], where: str = "", merges: Sequence[Merge] = ()
                ) -> Table:
    """The rows under a table's header as mappings, with the table's own errors and notes.
    Rows are named by their number in the sheet or file, as Excel shows it; `where` (a sheet)
    prefixes each."""
    header = find_header(table, merges)
    if header is None:
        return Table([], [], None, [])
    mapping, ignored, errors = header_map(header.cells, BANK_COLUMNS, header.label)
    if errors:
        return Table([], [f"{where}{e}" for e in errors], header, [])
    notes = [ignored_note(ignored.values(), where, mapping.values())] if ignored else []
    body = [list(r) for r in table]
    fill_merged(body, merges, header.last)
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for n, cells in enumerate(body[header.last + 1:], start=header.last + 2):
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        stray = [i for i, c in enumerate(cells) if i not in mapping and i not in ignored
                 and c is not None and str(c).strip()]
        if stray:
            errors.append(f"{where}第{n}行：第{stray[0] + 1}列有内容但没有表头")
            continue
        rows.append((f"{where}第{n}行",
                     {mapping[i]: c for i, c in enumerate(cells) if i in mapping}))
    return Table(rows, errors, header, notes)


def parse_table(table: Sequence[Sequence[Any]], merges: Sequence[Merge] = ()) -> BankFile:
    """Rows of cells with a header row near the top (a CSV)."""
    if not table:
        raise BankError(["文件为空"])
    rows, errors, header, notes = _table_rows(table, merges=merges)
    if header is None:
        raise BankError([no_header_error()])
    if errors:
        raise BankError(errors)
    return BankFile(_collect(rows), notes=tuple(notes))


def parse_sheets(sheets: Sequence[Sheet]) -> BankFile:
    """A workbook's visible sheets that hold anything: each sheet with a header row is a question
    table, read in order, ids unique across them (a bank is often kept one sheet per category).
    A sheet where no row looks like a header (a 说明 or 填表说明 sheet) is passed over; if no
    sheet has one, the error names the sheets looked at, else the notes do. With several sheets
    every error and note names its sheet (工作表「…」第3行：…)."""
    if not sheets:
        raise BankError(["文件为空"])
    several = len(sheets) > 1
    rows: list[tuple[str, Mapping[str, Any]]] = []
    errors: list[str] = []
    notes: list[str] = []
    skipped: list[str] = []
    for sheet in sheets:
        r, e, header, n = _table_rows(sheet.rows, f"工作表「{sheet.name[:31]}」" if several else "",
                                      sheet.merges)
        if header is None:
            skipped.append(sheet.name)
        rows += r
        errors += e
        notes += n
    if len(skipped) == len(sheets):
        raise BankError([no_header_error([s.name for s in sheets])])
    if skipped:
        notes.insert(0, skipped_note(skipped))
    return BankFile(_collect(rows, errors), notes=tuple(notes))


def parse_csv(data: bytes) -> list[BankQuestion]:
    """The questions of a CSV: see `read_csv`."""
    return read_csv(data).questions


def read_csv(data: bytes) -> BankFile:
    """UTF-8 (with or without BOM) or GBK, as Excel and WPS save a CSV: as the case and
    roster imports read it. A CSV saved from a sheet with a title row has that line first:
    the header is looked for as in a workbook."""
    text = decode_csv(data)
    if text is None:
        raise BankError([CSV_ENCODING_ERROR])
    table = list(csv.reader(io.StringIO(text)))
    if not any(c.strip() for row in table for c in row):  # 0 bytes, blank lines, 「,,,」
        raise BankError([CSV_EMPTY_ERROR])
    return parse_table(table)


def parse_xlsx(data: bytes) -> list[BankQuestion]:
    """The questions of a workbook: see `read_xlsx`."""
    return read_xlsx(data).questions


def read_xlsx(data: bytes) -> BankFile:
    """Every visible worksheet that holds anything, cells read as Excel shows them (see
    `spreadsheet.read_sheets`): see `parse_sheets`."""
    try:
        sheets = read_sheets(data)
    except SheetError as e:
        raise BankError(e.errors) from None
    return parse_sheets(sheets)


def parse_file(name: str, data: bytes) -> tuple[list[BankQuestion], bool]:
    """By extension: .yaml/.yml, .csv, .xlsx -> (questions, demo flag); see `read_file`."""
    f = read_file(name, data)
    return f.questions, f.demo


def read_file(name: str, data: bytes) -> BankFile:
    """By extension: .yaml/.yml, .csv, .xlsx. A YAML file is written by hand: an unknown key
    there is a typo and an error; a spreadsheet's other columns are passed over (noted)."""
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        questions, demo = parse_yaml(data)
        return BankFile(questions, demo)
    if lower.endswith(".csv"):
        return read_csv(data)
    if lower.endswith(".xlsx"):
        return read_xlsx(data)
    raise BankError([f"不支持的文件类型「{name[-40:]}」，请使用 .yaml、.csv 或 .xlsx"])


# -- import preview: what an upload would change, by id (never by text) ------------------------

CHANGE_LABELS: dict[str, str] = {
    "category": "类别", "text": "题目", "answer_points": "参考答案要点",
    "source_department": "出题部门", "tags": "标签", "demo": "演示标记", "active": "重新启用",
}


@dataclass(frozen=True)
class StoredQuestion:
    """A bank row as the import compares it: the question and its flags."""

    question: BankQuestion
    demo: bool
    active: bool


@dataclass(frozen=True)
class BankChange:
    id: str
    category: str
    old_category: str
    fields: tuple[str, ...]  # keys of CHANGE_LABELS

    @property
    def labels(self) -> str:
        return "、".join(CHANGE_LABELS[f] for f in self.fields)


@dataclass(frozen=True)
class BankPlan:
    """An upload against the bank as it is (`base_version`): nothing here holds a text."""

    base_version: str
    new: tuple[tuple[str, str], ...]  # (id, category), in file order
    changed: tuple[BankChange, ...]
    unchanged: tuple[str, ...]
    # active bank questions the file leaves out, in id order: kept unless the import retires them
    missing: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.new and not self.changed

    @property
    def to_write(self) -> frozenset[str]:
        return frozenset([i for i, _ in self.new] + [c.id for c in self.changed])

    @property
    def text_changed(self) -> tuple[str, ...]:
        """Existing ids whose text the file changes: an edit, or the id reused for another
        question; if one was asked, the inspector says which (`made_new_error`)."""
        return tuple(c.id for c in self.changed if "text" in c.fields)


MADE_NEW_LABEL = "作为新题：此前的提问不再计为已问"


def made_new_error(chosen: Iterable[str], offered: Iterable[str]) -> str | None:
    """Said when an id marked 作为新题 is not one the import offers (an asked question whose
    text the file changes); None when every one is."""
    offered = list(offered)
    bad = [i for i in dict.fromkeys(chosen) if i not in offered]
    if not bad:
        return None
    may = f"本次可选：{'、'.join(offered)}" if offered else "本次没有这样的题"
    return (f"{'、'.join(i[:40] for i in bad[:10])} 不能作为新题：只有已问过、且本文件修改了题目的"
            f"题可以作为新题（{may}）")


def split_ids(raw: str) -> list[str]:
    """`Q017,Q018` (also ，、; or spaces) as ids, in order, once each."""
    return list(dict.fromkeys(p for p in _TAG_SPLIT.split(raw) if p))


def _canonical(q: BankQuestion) -> dict[str, Any]:
    return {"id": q.id, "category": q.category, "text": q.text,
            "answer_points": list(q.answer_points), "source_department": q.source_department,
            "tags": list(q.tags)}


def bank_version(stored: Mapping[str, StoredQuestion]) -> str:
    """A digest of every row's content and flags: changes whenever anything in the bank does."""
    h = hashlib.sha256()
    for qid in sorted(stored):
        s = stored[qid]
        h.update(json.dumps([_canonical(s.question), s.demo, s.active], ensure_ascii=False,
                            sort_keys=True).encode())
        h.update(b"\n")
    return h.hexdigest()


def plan_import(stored: Mapping[str, StoredQuestion], questions: Sequence[BankQuestion],
                demo: bool) -> BankPlan:
    new: list[tuple[str, str]] = []
    changed: list[BankChange] = []
    unchanged: list[str] = []
    for q in questions:
        old = stored.get(q.id)
        if old is None:
            new.append((q.id, q.category))
            continue
        was, now = _canonical(old.question), _canonical(q)
        fields = [f for f in ("category", "text", "answer_points", "source_department", "tags")
                  if was[f] != now[f]]
        if old.demo != demo:
            fields.append("demo")
        if not old.active:
            fields.append("active")
        if fields:
            changed.append(BankChange(q.id, q.category, old.question.category, tuple(fields)))
        else:
            unchanged.append(q.id)
    in_file = {q.id for q in questions}
    missing = tuple(sorted(i for i, row in stored.items() if row.active and i not in in_file))
    return BankPlan(bank_version(stored), tuple(new), tuple(changed), tuple(unchanged), missing)


ASKED_FIELDS = frozenset({"category", "text", "answer_points"})  # what a session's record shows


def asked_notes(changed: Sequence[BankChange],
                asks: Mapping[str, Sequence[tuple[str, bool, bool]]]) -> list[str]:
    """For each changed question a session has asked or drawn (`asks`: by id, (session id,
    revealed, session closed)): a line saying what the edit does to it. Informative only."""
    out: list[str] = []
    for c in changed:
        if not ASKED_FIELDS & set(c.fields):
            continue
        seen = asks.get(c.id, ())
        asked = list(dict.fromkeys(sid for sid, revealed, _ in seen if revealed))
        pending = list(dict.fromkeys(sid for sid, revealed, closed in seen
                                     if not revealed and not closed and sid not in asked))
        if asked:
            out.append(f"{c.id} 已在 {'、'.join(asked)} 问询，修改不影响该次会议记录")
        if pending:
            out.append(f"{c.id} 已被 {'、'.join(pending)} 抽中、尚未问询，问询时将显示修改后的内容")
    return out


def questions_to_json(questions: Sequence[BankQuestion]) -> str:
    """The parsed upload, for the confirm form to send back (signed with its digest)."""
    # ASCII (\uXXXX escapes) with no raw newline: a form field returns it byte for byte
    return json.dumps([_canonical(q) for q in questions], separators=(",", ":"))


def questions_from_json(text: str) -> list[BankQuestion]:
    return [BankQuestion(id=str(d["id"]), category=str(d["category"]), text=str(d["text"]),
                         answer_points=tuple(str(p) for p in d["answer_points"]),
                         source_department=str(d["source_department"]),
                         tags=tuple(str(t) for t in d["tags"]))
            for d in json.loads(text)]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
