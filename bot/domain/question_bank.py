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
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.domain.text import CSV_EMPTY_ERROR, CSV_ENCODING_ERROR, decode_csv

CATEGORIES: tuple[str, ...] = ("党的建设", "业务建设", "队伍建设", "党风廉政建设", "其他")
CATEGORY_ALIASES: dict[str, str] = {
    "党建": "党的建设", "业务": "业务建设", "队伍": "队伍建设", "党风廉政": "党风廉政建设",
    "廉政": "党风廉政建设", "other": "其他", "其它": "其他",
}
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
MAX_TEXT = 2000
# An .xlsx is a zip: a 5 MB upload can unpack to gigabytes (a zip bomb), and a few bytes of
# sheet XML can stand for millions of empty cells. Limits far above any real question bank
# (200 questions: a few hundred KB unpacked, a few thousand cells).
XLSX_MAX_ENTRIES = 1000
XLSX_MAX_UNZIPPED = 50 * 1024 * 1024  # all entries together, as the zip declares them
XLSX_MAX_RATIO = 100  # unpacked / packed, for an entry over 1 MB unpacked
XLSX_MAX_CELLS = 1_000_000  # cells read, an empty row counting as one
XLSX_TOO_BIG = "文件解压后过大，疑似异常文件，未导入。"
XLSX_TOO_MANY_CELLS = f"工作表过大（超过 {XLSX_MAX_CELLS // 10_000} 万个单元格），疑似异常文件，未导入。"
XLSX_UNREADABLE = "无法读取该 .xlsx 工作簿（文件损坏或不是 Excel 文件）"

# Column names accepted in CSV / XLSX headers (first row), English or Chinese.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "题号"),
    "category": ("category", "类别", "分类"),
    "text": ("text", "题目", "问题"),
    "answer_points": ("answer_points", "参考答案要点", "参考答案", "答案要点"),
    "source_department": ("source_department", "出题部门", "来源部门"),
    "tags": ("tags", "标签"),
}
_POINT_SPLIT = re.compile(r"[\n；;]+")
_TAG_SPLIT = re.compile(r"[,，、;；\s]+")
LABELS: dict[str, str] = {name: aliases[1] for name, aliases in COLUMNS.items()}  # id -> 编号


class BankError(ValueError):
    """One line per problem, e.g. `第7行：类别「党务」无效，可选：党的建设、…`."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


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


def _header_map(header: Sequence[Any]) -> tuple[dict[int, str], list[str]]:
    lookup = {alias.lower(): name for name, aliases in COLUMNS.items() for alias in aliases}
    mapping: dict[int, str] = {}
    errors: list[str] = []
    for i, h in enumerate(header):
        label = str(h or "").strip()
        if not label:
            continue
        name = lookup.get(label.lower())
        if name is None:
            errors.append(f"表头：未知列「{label[:20]}」，可用列：{'、'.join(LABELS.values())}")
        elif name in mapping.values():
            first = next(str(header[j]).strip() for j, n in mapping.items() if n == name)
            errors.append(f"表头：列「{label[:20]}」与「{first[:20]}」重复，请只保留一列")
        else:
            mapping[i] = name
    missing = [n for n in ("id", "category", "text", "answer_points") if n not in mapping.values()]
    if missing:
        errors.append(f"表头：缺少列 {'、'.join(LABELS[n] for n in missing)}")
    return mapping, errors


def _table_rows(table: Sequence[Sequence[Any]], where: str = ""
                ) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
    """The rows of a table (the first row its header) as mappings, and the table's own errors
    (header, cells under no header); `where` (a sheet) prefixes every place named."""
    mapping, errors = _header_map(table[0])
    if errors:
        return [], [f"{where}{e}" for e in errors]
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for n, cells in enumerate(table[1:], start=2):
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        stray = [i for i, c in enumerate(cells)
                 if i not in mapping and c is not None and str(c).strip()]
        if stray:
            errors.append(f"{where}第{n}行：第{stray[0] + 1}列有内容但没有表头")
            continue
        rows.append((f"{where}第{n}行",
                     {mapping[i]: c for i, c in enumerate(cells) if i in mapping}))
    return rows, errors


def parse_table(table: Sequence[Sequence[Any]]) -> list[BankQuestion]:
    """Rows of cells, the first one the header (CSV and XLSX share this)."""
    if not table:
        raise BankError(["文件为空"])
    rows, errors = _table_rows(table)
    if errors:
        raise BankError(errors)
    return _collect(rows)


def parse_sheets(sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> list[BankQuestion]:
    """A workbook's sheets that hold anything, as (name, rows): each is a question table
    with its own header, read in order; ids are unique across them. With one sheet the
    errors read as for a CSV; with several each names its sheet (工作表「…」第3行：…)."""
    if not sheets:
        raise BankError(["文件为空"])
    if len(sheets) == 1:
        return parse_table(sheets[0][1])
    rows: list[tuple[str, Mapping[str, Any]]] = []
    errors: list[str] = []
    not_tables: list[str] = []
    for name, table in sheets:
        r, e = _table_rows(table, f"工作表「{name[:31]}」")
        rows += r
        errors += e
        if not r and e and e[0].startswith(f"工作表「{name[:31]}」表头"):
            not_tables.append(name[:31])
    if not_tables:
        errors.append(f"每个有内容的可见工作表都按题目表导入：工作表"
                      f"{'、'.join(f'「{n}」' for n in not_tables)}若是说明等非题目内容，"
                      "请删除或隐藏该工作表；若是题目，请按上面的提示改正表头")
    return _collect(rows, errors)


def parse_csv(data: bytes) -> list[BankQuestion]:
    """UTF-8 (with or without BOM) or GBK, as Excel and WPS save a CSV: as the case and
    roster imports read it."""
    text = decode_csv(data)
    if text is None:
        raise BankError([CSV_ENCODING_ERROR])
    table = list(csv.reader(io.StringIO(text)))
    if not any(c.strip() for row in table for c in row):  # 0 bytes, blank lines, 「,,,」
        raise BankError([CSV_EMPTY_ERROR])
    return parse_table(table)


def check_xlsx_archive(data: bytes) -> None:
    """Refuse, before anything is unpacked, a workbook whose zip holds too many entries, unpacks
    to too much, packs an entry too tightly, or uses a compression .xlsx never uses (bzip2 and
    lzma could unpack a huge block at once). Python's zipfile never unpacks more than an entry
    declares, so the declared sizes bound what openpyxl reads."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise BankError([XLSX_UNREADABLE]) from None
    if any(e.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for e in entries):
        raise BankError([XLSX_UNREADABLE])
    if (len(entries) > XLSX_MAX_ENTRIES
            or sum(e.file_size for e in entries) > XLSX_MAX_UNZIPPED
            or any(e.file_size > 1024 * 1024 and e.file_size > XLSX_MAX_RATIO * e.compress_size
                   for e in entries)):
        raise BankError([XLSX_TOO_BIG])


def parse_xlsx(data: bytes) -> list[BankQuestion]:
    """Every visible worksheet that holds anything (hidden ones, e.g. a template's lists
    for drop-downs, are not read): see `parse_sheets`."""
    from openpyxl import load_workbook

    check_xlsx_archive(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a bad file
        raise BankError([XLSX_UNREADABLE]) from None
    sheets: list[tuple[str, list[list[Any]]]] = []
    budget = XLSX_MAX_CELLS
    try:
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                continue
            # rows as long as their own cells, not padded to the sheet's declared dimension
            # (which the file states, e.g. A1:XFD1048576)
            ws.reset_dimensions()
            table: list[list[Any]] = []
            for r in ws.iter_rows(values_only=True):
                budget -= max(len(r), 1)
                if budget < 0:
                    raise BankError([XLSX_TOO_MANY_CELLS])
                table.append(list(r))
            sheets.append((ws.title, table))
    except BankError:
        raise
    except Exception:  # a sheet's XML broken, an entry failing its CRC
        raise BankError([XLSX_UNREADABLE]) from None
    finally:
        wb.close()
    return parse_sheets([(name, table) for name, table in sheets if any(
        c is not None and str(c).strip() for row in table for c in row)])


def parse_file(name: str, data: bytes) -> tuple[list[BankQuestion], bool]:
    """By extension: .yaml/.yml, .csv, .xlsx -> (questions, demo flag)."""
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        return parse_yaml(data)
    if lower.endswith(".csv"):
        return parse_csv(data), False
    if lower.endswith(".xlsx"):
        return parse_xlsx(data), False
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
