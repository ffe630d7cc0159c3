"""Tables as offices keep them in Excel or WPS, for the imports that read them (题库, 案件).

Pure: takes rows of cells or an .xlsx's bytes. A table's header may stand below a title row, a
blank line or a 填表说明, and may take two rows (group titles merged over the column names);
its labels are looked up in a `Columns` (English or Chinese aliases per field). Errors are
Chinese and name rows as Excel numbers them."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

# An .xlsx is a zip: a 5 MB upload can unpack to gigabytes (a zip bomb), and a few bytes of
# sheet XML can stand for millions of empty cells. Limits far above any real import
# (a question bank of 200 questions: a few hundred KB unpacked, a few thousand cells).
XLSX_MAX_ENTRIES = 1000
XLSX_MAX_UNZIPPED = 50 * 1024 * 1024  # all entries together, as the zip declares them
XLSX_MAX_RATIO = 100  # unpacked / packed, for an entry over 1 MB unpacked
XLSX_MAX_CELLS = 1_000_000  # cells read, an empty row counting as one
XLSX_MAX_MERGES = 10_000  # merged ranges a sheet may have (a real table: a few dozen)
XLSX_TOO_BIG = "文件解压后过大，疑似异常文件，未导入。"
XLSX_TOO_MANY_CELLS = f"工作表过大（超过 {XLSX_MAX_CELLS // 10_000} 万个单元格），疑似异常文件，未导入。"
XLSX_UNREADABLE = "无法读取该 .xlsx 工作簿（文件损坏或不是 Excel 文件）"
HEADER_SEARCH_ROWS = 10
Merge = tuple[int, int, int, int]  # a merged range: min_col, min_row, max_col, max_row (1-based)

_LABEL_NOISE = re.compile(r"[\s*＊]+")


class SheetError(ValueError):
    """One line per problem, in Chinese."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class Columns:
    """The fields a table's header may name: each with its labels, English or Chinese (the
    second one is how messages name the field), and those a header must have."""

    def __init__(self, aliases: Mapping[str, tuple[str, ...]], required: Sequence[str]) -> None:
        self.aliases = dict(aliases)
        self.required = tuple(required)
        self.labels = {name: names[1] for name, names in aliases.items()}  # id -> 编号
        self._lookup = {a.lower(): name for name, names in aliases.items() for a in names}

    def of(self, label: Any) -> str | None:
        """The field a header cell names. Spaces, line breaks and the * that templates put
        on required columns (「*题 号」, 「题目\n」) do not count."""
        return self._lookup.get(_LABEL_NOISE.sub("", str(label or "")).lower())

    def known(self, row: Sequence[Any]) -> set[str]:
        return {name for c in row if (name := self.of(c))}

    def close_field(self, label: str, present: Iterable[str]) -> str | None:
        """The field, not in the header, whose Chinese name a passed-over label contains
        (出题部门名称 holds 出题部门): likely the column meant."""
        key = _LABEL_NOISE.sub("", label)
        for name, aliases in self.aliases.items():
            if name not in present and any(a in key for a in aliases if not a.isascii()):
                return name
        return None


class Header(NamedTuple):
    columns: dict[int, str]  # cell index -> field
    ignored: dict[int, str]  # cell index -> label of a column the import does not read
    errors: list[str]


def header_map(header: Sequence[Any], columns: Columns, label: str = "表头") -> Header:
    """The header's fields by cell. A label naming no field (序号, 备注 …) is passed over, its
    cells not read; a field named twice, or a required one missing, is an error."""
    mapping: dict[int, str] = {}
    ignored: dict[int, str] = {}
    errors: list[str] = []
    for i, h in enumerate(header):
        text = str(h or "").strip()
        if not text:
            continue
        name = columns.of(text)
        if name is None:
            ignored[i] = " ".join(text.split())[:20]
        elif name in mapping.values():
            first = next(str(header[j]).strip() for j, n in mapping.items() if n == name)
            errors.append(f"{label}：列「{text[:20]}」与「{first[:20]}」重复，请只保留一列")
        else:
            mapping[i] = name
    missing = [n for n in columns.required if n not in mapping.values()]
    if missing:
        # a column meant as one of these but labelled otherwise: named
        other = f"（未识别的列：{labels_text(ignored.values())}）" if ignored else ""
        errors.append(f"{label}：缺少列 {'、'.join(columns.labels[n] for n in missing)}{other}")
    return Header(mapping, ignored, errors)


def labels_text(labels: Iterable[str]) -> str:
    return "、".join(dict.fromkeys(labels))


def ignored_note(columns: Columns, labels: Iterable[str], where: str = "",
                 present: Iterable[str] = (), kept: str = "") -> str:
    """Said for the columns a table's header passes over (`kept`: why, e.g. 题库不保存这些列);
    a label close to a field the header lacks is pointed out."""
    labels = list(dict.fromkeys(labels))
    present = set(present)
    hints = [f"「{lb}」如是{columns.labels[n]}，请将表头改为「{columns.labels[n]}」"
             for lb in labels if (n := columns.close_field(lb, present))]
    why = f"（{kept}）" if kept else ""
    return f"{where}已忽略的列：{'、'.join(labels)}{why}" + "".join(f"；{h}" for h in hints)


class HeaderRows(NamedTuple):
    """A table's header: one row, or two when a row of group titles (题目信息 merged over 题目
    and 参考答案要点) stands above the column names."""

    first: int  # the index of its first row
    last: int  # the index of its last row: the data starts below it
    cells: list[Any]  # the column labels, by cell

    @property
    def label(self) -> str:
        """How errors name it: rows as Excel numbers them."""
        if self.first != self.last:
            return f"表头（第{self.first + 1}-{self.last + 1}行）"
        return "表头" if self.first == 0 else f"表头（第{self.first + 1}行）"


def blank(cell: Any) -> bool:
    return cell is None or str(cell).strip() == ""


def _group_titles(merges: Sequence[Merge], row: int) -> set[int]:
    """The cells of row `row` (an index) that start a range merged across columns within that
    row: group titles (案件信息, 办案人员), or a title over the whole table."""
    return {c1 - 1 for c1, r1, c2, r2 in merges if r1 == r2 == row + 1 and c2 > c1}


def _two_row_cells(upper: Sequence[Any], lower: Sequence[Any], groups: set[int]
                   ) -> tuple[list[Any], bool]:
    """The labels of a header in two rows: a column's name is in the lower row, or in the upper
    one over an empty lower cell (a label merged down over both rows). A group title is context
    only, never a column's name. Also whether the upper row gave any column its name."""
    cells: list[Any] = []
    filled = False
    for i in range(max(len(upper), len(lower))):
        low = lower[i] if i < len(lower) else None
        up = upper[i] if i < len(upper) else None
        if blank(low) and not blank(up) and i not in groups:
            cells.append(up)
            filled = True
        else:
            cells.append(low)
    return cells, filled


def find_header(table: Sequence[Sequence[Any]], columns: Columns, merges: Sequence[Merge] = ()
                ) -> HeaderRows | None:
    """The header among the first `HEADER_SEARCH_ROWS` rows: a title, a blank line or a 填表说明
    often stands above it. The first row naming every required column, or the first two rows
    that do together (a row of group titles over the column names, a column's label merged down
    over both); failing that the row or two naming most columns (at least two), whose header
    errors then say what is missing (two rows only if the upper names more of them); None
    when nothing looks like a header (a 说明 sheet).
    Two rows are taken only when the upper one names a column the lower leaves empty, and,
    should the lower row name every required column alone, when the upper holds two labels or
    more (a 序号 merged down beside a group title), not only a title."""
    required = set(columns.required)
    rows = table[:HEADER_SEARCH_ROWS]
    best, best_n = None, 1
    for i, row in enumerate(rows):
        known = columns.known(row)
        if required <= known:
            return HeaderRows(i, i, list(row))
        if len(known) > best_n:
            best, best_n = HeaderRows(i, i, list(row)), len(known)
        if i + 1 >= len(rows):
            break
        lower = rows[i + 1]
        lower_known = columns.known(lower)
        cells, filled = _two_row_cells(row, lower, _group_titles(merges, i))
        if not filled or (required <= lower_known and sum(not blank(c) for c in row) < 2):
            continue
        pair = columns.known(cells)
        if required <= pair:
            return HeaderRows(i, i + 1, cells)
        if len(pair) > max(best_n, len(lower_known)):  # else the lower row alone is named
            best, best_n = HeaderRows(i, i + 1, cells), len(pair)
    return best


def fill_merged(table: list[list[Any]], merges: Sequence[Merge], header: int) -> None:
    """A merged range shows its value in every cell it covers, but the file holds it in the
    top-left cell only: give it to each row of the range, in the range's first column (a cell
    merged across columns belongs to its first one, so no value lands under a second header).
    Ranges in or above the header's last row (`header`) are left as they are."""
    for min_col, min_row, _max_col, max_row in merges:
        if min_row <= header + 1 or min_row > len(table):
            continue
        c = min_col - 1
        top = table[min_row - 1]
        value = top[c] if c < len(top) else None
        for r in range(min_row, min(max_row, len(table)) + 1):
            row = table[r - 1]
            if len(row) <= c:
                row.extend([None] * (c + 1 - len(row)))
            row[c] = value


def cell_text(value: Any) -> str | None:
    """A cell as one sees it in Excel or WPS: 题号 1 typed as a number is 「1」, not
    「1.0」; a date is 2026-03-01."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"  # Excel shows 15 significant digits: 0.1 + 0.2 is 0.3
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M" + (":%S" if value.second else ""))
    if isinstance(value, dt.time):
        return value.strftime("%H:%M" + (":%S" if value.second else ""))
    return str(value)  # int, date, timedelta


def check_xlsx_archive(data: bytes) -> None:
    """Refuse, before anything is unpacked, a workbook whose zip holds too many entries, unpacks
    to too much, packs an entry too tightly, or uses a compression .xlsx never uses (bzip2 and
    lzma could unpack a huge block at once). Python's zipfile never unpacks more than an entry
    declares, so the declared sizes bound what openpyxl reads."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise SheetError([XLSX_UNREADABLE]) from None
    if any(e.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for e in entries):
        raise SheetError([XLSX_UNREADABLE])
    if (len(entries) > XLSX_MAX_ENTRIES
            or sum(e.file_size for e in entries) > XLSX_MAX_UNZIPPED
            or any(e.file_size > 1024 * 1024 and e.file_size > XLSX_MAX_RATIO * e.compress_size
                   for e in entries)):
        raise SheetError([XLSX_TOO_BIG])


def _merged_ranges(ws: Any) -> list[Merge]:
    """The merged ranges of a read-only worksheet, which openpyxl does not parse in that mode
    (the mode that bounds what is held): they follow the cells in the sheet's XML, so it is
    read once more for its <mergeCell> elements alone."""
    from openpyxl.utils.cell import range_boundaries
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    merge, row = f"{{{SHEET_MAIN_NS}}}mergeCell", f"{{{SHEET_MAIN_NS}}}row"
    out: list[Merge] = []
    with ws._get_source() as src:
        for _, el in iterparse(src):
            if el.tag == merge:
                if len(out) >= XLSX_MAX_MERGES:
                    raise SheetError([XLSX_TOO_MANY_CELLS])
                ref = el.get("ref") or ""
                try:
                    bounds = range_boundaries(ref)
                except ValueError:
                    continue
                if all(isinstance(b, int) for b in bounds):  # not a whole row or column
                    out.append((bounds[0], bounds[1], bounds[2], bounds[3]))
                el.clear()
            elif el.tag == row:
                el.clear()
    return out


class Sheet(NamedTuple):
    name: str
    rows: list[list[Any]]
    merges: tuple[Merge, ...] = ()


def read_sheets(data: bytes, cell: Callable[[Any], Any] = cell_text) -> list[Sheet]:
    """Every visible worksheet that holds anything (hidden ones, e.g. a template's lists
    for drop-downs, are not read), its cells as `cell` makes them (by default as Excel shows
    them, `cell_text`), with its merged ranges. SheetError for a file that is no workbook or
    is too big to be a real one."""
    from openpyxl import load_workbook

    check_xlsx_archive(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a bad file
        raise SheetError([XLSX_UNREADABLE]) from None
    sheets: list[Sheet] = []
    budget = XLSX_MAX_CELLS
    try:
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                continue
            # rows as long as their own cells, not padded to the sheet's declared dimension
            # (which the file states, e.g. A1:XFD1048576); from A1, so row n is table[n - 1]
            ws.reset_dimensions()
            table: list[list[Any]] = []
            for r in ws.iter_rows(min_row=1, min_col=1, values_only=True):
                budget -= max(len(r), 1)
                if budget < 0:
                    raise SheetError([XLSX_TOO_MANY_CELLS])
                table.append([cell(c) for c in r])
            if all(blank(c) for row in table for c in row):
                continue
            merges = _merged_ranges(ws)
            # filling a merged range writes a cell per row it covers (within the sheet's rows)
            budget -= sum(max(0, min(m[3], len(table)) - m[1]) for m in merges)
            if budget < 0:
                raise SheetError([XLSX_TOO_MANY_CELLS])
            sheets.append(Sheet(ws.title, table, tuple(merges)))
    except SheetError:
        raise
    except Exception:  # a sheet's XML broken, an entry failing its CRC
        raise SheetError([XLSX_UNREADABLE]) from None
    finally:
        wb.close()
    return sheets
