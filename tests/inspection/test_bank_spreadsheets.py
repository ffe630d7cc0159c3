"""Question banks as inspectors really keep them in Excel / WPS: a title row (merged across the
columns) and a 填表说明 above the header, 类别 and 出题部门 merged down over several questions, a
说明 sheet before the questions, 题号 typed as numbers. Read through `parse_file` (what the upload
page and `casebot import questions` call), the upload page and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain.question_bank import BankError, parse_file, read_file
from config.loader import DEFAULT_DIR
from tests.conftest import Console
from tests.inspection.helpers import HOST, bank, confirm

ROOT = Path(__file__).resolve().parents[2]
TITLE = "2026年检务督导题库（内部资料 注意保密）"
NOTE = "填表说明：每行一题；类别可选 党的建设、业务建设、队伍建设、党风廉政建设、其他；要点用分号隔开。"
TEXTS = ["办公室测试题一：请谈谈重大事项请示报告制度的落实情况？",
         "办公室测试题二：请介绍你院机关党建与业务融合的做法？",
         "办公室测试题三：请说明你院党员教育管理的情况？",
         "第五部测试题四：公益诉讼诉前检察建议回复率是多少？"]


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _office_sheet(ws: Worksheet) -> None:
    """Rows as Excel shows them: 1 the title (merged A1:F1), 2 blank, 3 填表说明 (merged), 4 the
    header with 题目 merged over C:D, 5–8 the questions: 题号 numbers, 类别 党的建设 merged over
    B5:B7, 出题部门 办公室 merged over F5:F7, each question's text merged over its C:D."""
    ws["A1"] = TITLE
    ws.merge_cells("A1:F1")
    ws["A3"] = NOTE
    ws.merge_cells("A3:F3")
    for col, label in zip("ABCEF", ["题号", "类别", "题目", "参考答案要点", "出题部门"],
                          strict=True):
        ws[f"{col}4"] = label
    ws.merge_cells("C4:D4")
    for i, text in enumerate(TEXTS):
        row = 5 + i
        ws[f"A{row}"] = float(i + 1)  # typed as a number, saved as 1.0: shown as 1
        ws[f"C{row}"] = text
        ws.merge_cells(f"C{row}:D{row}")
        ws[f"E{row}"] = f"要点{i + 1}甲；要点{i + 1}乙"
    ws["B5"] = "党的建设"
    ws.merge_cells("B5:B7")
    ws["F5"] = "办公室"
    ws.merge_cells("F5:F7")
    ws["B8"] = "业务建设"
    ws["F8"] = "第五检察部"


def office_workbook(*, guide_first: bool = True) -> bytes:
    wb = Workbook()
    first = wb.active
    assert first is not None
    if guide_first:  # a 说明 sheet before the questions: read past, not an error
        first.title = "说明"
        first["A1"] = "本题库仅供检务督导面对面使用，严禁外传。"
        first["A2"] = "题号、类别、题目、参考答案要点为必填项。"
        _office_sheet(wb.create_sheet("题库"))
    else:
        first.title = "题库"
        _office_sheet(first)
    return _save(wb)


def _workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    return _save(wb)


def test_title_rows_merged_cells_and_a_guide_sheet_import_every_question() -> None:
    for data in (office_workbook(), office_workbook(guide_first=False)):
        questions, demo = parse_file("2026年题库.xlsx", data)
        assert not demo
        assert [(q.id, q.category, q.source_department) for q in questions] == [
            ("1", "党的建设", "办公室"), ("2", "党的建设", "办公室"), ("3", "党的建设", "办公室"),
            ("4", "业务建设", "第五检察部")]
        assert [q.text for q in questions] == TEXTS
        assert questions[3].answer_points == ("要点4甲", "要点4乙")


def test_error_rows_are_the_sheet_rows_excel_shows() -> None:
    """Under a title and a blank row the header is row 3: the first question is row 4. A 类别
    left empty (not merged) is still missing; a cell that is merged is not."""
    header = ["题号", "类别", "题目", "参考答案要点"]
    data = _workbook({"题库": [[TITLE], [], header, ["A1", "党的建设", "题一", "要点"],
                               ["A2", None, "题二", "要点"], ["A1", "其他", "题三", "要点"]]})
    with pytest.raises(BankError) as e:
        parse_file("题库.xlsx", data)
    assert e.value.errors == [
        "第5行：缺少类别，可选：党的建设、业务建设、队伍建设、党风廉政建设、其他",
        "第6行：编号「A1」重复（第4行已有）"]
    assert "题二" not in "\n".join(e.value.errors)  # never a question's text
    # a header merged over two columns whose second column holds data: said, not misread
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["题号", "类别", "题目", None, "参考答案要点"])
    ws.merge_cells("C1:D1")
    ws.append(["B1", "其他", "题一", "题一的补充", "要点"])
    with pytest.raises(BankError) as e:
        parse_file("题库.xlsx", _save(wb))
    assert e.value.errors == ["第2行：第4列有内容但没有表头"]


def test_numbers_and_dates_read_as_the_inspector_sees_them() -> None:
    data = _workbook({"题库": [["题号", "类别", "题目", "参考答案要点", "标签"],
                               [1, "其他", "题一", 100, dt.date(2026, 3, 1)],
                               [2.0, "其他", "题二", 0.5, 2026],
                               [30000000001, "其他", "题三", "要点", None]]})
    questions, _ = parse_file("题库.xlsx", data)
    assert [(q.id, q.answer_points, q.tags) for q in questions] == [
        ("1", ("100",), ("2026-03-01",)), ("2", ("0.5",), ("2026",)),
        ("30000000001", ("要点",), ())]


def test_a_workbook_without_a_header_names_the_sheets_and_the_columns() -> None:
    data = _workbook({"说明": [["本题库仅供内部使用"]],
                      "题库": [[TITLE], ["序号", "问题内容", "答案"], [1, "题一", "要点"]]})
    with pytest.raises(BankError) as e:
        parse_file("题库.xlsx", data)
    assert e.value.errors == [
        "未找到表头：前 10 行中没有一行同时含有列名 编号（或题号）、类别、题目、参考答案要点"
        "（可另有 出题部门、标签）（已查看工作表：「说明」、「题库」）"]
    # a header further down than the first ten rows is not looked for
    late = _workbook({"题库": [[f"说明{i}"] for i in range(10)]
                      + [["题号", "类别", "题目", "参考答案要点"], ["A1", "其他", "题", "点"]]})
    with pytest.raises(BankError, match="未找到表头"):
        parse_file("题库.xlsx", late)


def test_a_csv_saved_from_such_a_sheet_finds_its_header_too() -> None:
    text = (f"{TITLE},,,\n,,,\n题号,类别,题目,参考答案要点\n1,党建,题一,要点\n2,党务,题二,要点\n")
    with pytest.raises(BankError) as e:
        parse_file("题库.csv", text.encode("gbk"))
    assert e.value.errors == [
        "第5行：类别「党务」无效，可选：党的建设、业务建设、队伍建设、党风廉政建设、其他"]
    questions, _ = parse_file("题库.csv", text.replace("党务", "业务").encode("utf-8"))
    assert [(q.id, q.category) for q in questions] == [("1", "党的建设"), ("2", "业务建设")]
    with pytest.raises(BankError) as e:
        parse_file("题库.csv", f"{TITLE}\n序号,问题\n".encode())
    assert e.value.errors[0].startswith("未找到表头：前 10 行中没有一行同时含有列名 编号（或题号）")


async def test_the_upload_page_imports_the_office_workbook(console: Console) -> None:
    await console.client.post("/console/api/login", json={"user": HOST})
    form = FormData()
    form.add_field("file", office_workbook(), filename="2026年题库.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    html = await r.text()
    assert r.status == 200 and "共 4 道：新增 4 道" in html, html
    r = await confirm(console, html)
    assert r.status == 200 and "新增4道" in await r.text()
    stored = await bank(console)
    assert [(stored[i].category, stored[i].source_department, stored[i].text)
            for i in ("1", "2", "3", "4")] == [
        ("党的建设", "办公室", TEXTS[0]), ("党的建设", "办公室", TEXTS[1]),
        ("党的建设", "办公室", TEXTS[2]), ("业务建设", "第五检察部", TEXTS[3])]
    # no header anywhere: a 400 whose page names the sheets looked at
    form = FormData()
    form.add_field("file", _workbook({"说明": [["仅供内部使用"]], "Sheet2": [["序号", "问题"]]}),
                   filename="题库.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 400 and "（已查看工作表：「说明」、「Sheet2」）" in await r.text()


def test_the_cli_reads_the_office_workbook_and_names_the_sheets_it_looked_at(
        tmp_path: Path) -> None:
    bad = tmp_path / "题库.xlsx"
    bad.write_bytes(_workbook({"说明": [["仅供内部使用"]], "Sheet2": [["序号", "问题"]]}))
    r = subprocess.run([sys.executable, "-m", "bot.cli", "import", "questions", str(bad)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert "未找到表头" in r.stderr and "（已查看工作表：「说明」、「Sheet2」）" in r.stderr


def _with_merges(data: bytes, refs: list[str]) -> bytes:
    """The workbook with `refs` merged on its first sheet, written into the XML as Excel writes
    it (openpyxl would also write an empty cell for every cell a range covers)."""
    merges = (f'<mergeCells count="{len(refs)}">'
              + "".join(f'<mergeCell ref="{r}"/>' for r in refs) + "</mergeCells>").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"</sheetData>", b"</sheetData>" + merges, 1)
            z.writestr(info, body)
    return out.getvalue()


def test_merged_ranges_are_bounded_by_the_rows_read() -> None:
    """A range merged down to the sheet's last row (B2:B1048576) fills only the rows the sheet
    has; more merged ranges than any bank has are refused as an abnormal file."""
    data = _workbook({"题库": [["题号", "类别", "题目", "参考答案要点"],
                               ["A1", "其他", "题一", "要点"], ["A2", None, "题二", "要点"]]})
    started = time.monotonic()
    questions, _ = parse_file("题库.xlsx", _with_merges(data, ["B2:B1048576"]))
    assert [(q.id, q.category) for q in questions] == [("A1", "其他"), ("A2", "其他")]
    assert time.monotonic() - started < 2
    with pytest.raises(BankError) as e:
        parse_file("题库.xlsx", _with_merges(data, [f"F{r}:G{r}" for r in range(10, 10_012)]))
    assert e.value.errors == ["工作表过大（超过 100 万个单元格），疑似异常文件，未导入。"]


def test_header_labels_as_templates_write_them() -> None:
    """A template marks required columns with * and wraps or spaces a label: still the column."""
    data = _workbook({"题库": [["*题 号", "＊类别", "题目\n", " 参考答案\n要点 ", "出题部门"],
                               ["A1", "其他", "题一", "要点", "办公室"]]})
    questions, _ = parse_file("题库.xlsx", data)
    assert [(q.id, q.category, q.source_department) for q in questions] == [
        ("A1", "其他", "办公室")]


# -- columns and sheets the bank does not use -------------------------------------------------

IGNORED = "工作表「题库」已忽略的列：序号、备注、难度（题库不保存这些列）"
SKIPPED = "已跳过工作表：「填表说明」（未找到表头）"


def noted_workbook() -> bytes:
    """A 填表说明 sheet, then the questions with 序号, 备注 and 难度 columns, as kept in WPS."""
    return _workbook({
        "填表说明": [["序号、备注、难度仅供内部整理。"], ["题号、类别、题目、参考答案要点为必填项。"]],
        "题库": [[TITLE], ["序号", "题号", "类别", "题目", "参考答案要点", "备注", "难度"],
                 [1, "N1", "党的建设", TEXTS[0], "要点甲；要点乙", "王科长已审核", "易"],
                 [2, "N2", "业务建设", TEXTS[3], "要点", None, "难"]]})


def test_columns_and_sheets_the_bank_does_not_use_are_passed_over_and_named() -> None:
    f = read_file("题库.xlsx", noted_workbook())
    assert [(q.id, q.category, q.text, q.answer_points, q.source_department, q.tags)
            for q in f.questions] == [
        ("N1", "党的建设", TEXTS[0], ("要点甲", "要点乙"), "", ()),
        ("N2", "业务建设", TEXTS[3], ("要点",), "", ())]
    assert f.notes == (SKIPPED, IGNORED)
    # one sheet, or a CSV: the note names no sheet; parse_file still gives (questions, demo)
    csv_text = "序号,编号,类别,题目,参考答案要点,备注\n1,C1,其他,题一,要点,仅供参考\n"
    f = read_file("题库.csv", csv_text.encode("gbk"))
    assert [q.id for q in f.questions] == ["C1"]
    assert f.notes == ("已忽略的列：序号、备注（题库不保存这些列）",)
    assert parse_file("题库.csv", csv_text.encode()) == (f.questions, False)
    # a cell under no header at all is still an error; a header without such columns, no note
    with pytest.raises(BankError) as e:
        parse_file("题库.csv", "序号,编号,类别,题目,参考答案要点\n1,C1,其他,题一,要点,多余\n"
                   .encode())
    assert e.value.errors == ["第2行：第6列有内容但没有表头"]
    assert read_file("题库.csv", "编号,类别,题目,参考答案要点\nC1,其他,题一,要点\n"
                     .encode()).notes == ()


def test_a_missing_or_doubled_column_is_still_an_error() -> None:
    """A required column missing names the columns that were not recognised (the one meant is
    likely among them); two labels of one field stay an error, alias or not."""
    with pytest.raises(BankError) as e:
        parse_file("题库.csv", "序号,编号,类别,题目,答案\n1,C1,其他,题一,要点\n".encode())
    assert e.value.errors == ["表头：缺少列 参考答案要点（未识别的列：序号、答案）"]
    with pytest.raises(BankError) as e:
        parse_file("题库.xlsx", _workbook({"题库": [
            ["编号", "类别", "题目", "题目内容", "参考答案要点"], ["C1", "其他", "题一", "题一", "点"]]}))
    assert e.value.errors == ["表头：列「题目内容」与「题目」重复，请只保留一列"]


def test_common_header_aliases_name_their_columns() -> None:
    data = _workbook({"题库": [["序号", "题目编号", "题目类别", "题目内容", "答案要点", "出题单位"],
                               [1, "A1", "其他", "题一", "要点", "办公室"]]})
    f = read_file("题库.xlsx", data)
    assert [(q.id, q.category, q.text, q.answer_points, q.source_department)
            for q in f.questions] == [("A1", "其他", "题一", ("要点",), "办公室")]
    assert f.notes == ("已忽略的列：序号（题库不保存这些列）",)
    # a label holding a field's name, that field not in the header: passed over, pointed out
    f = read_file("题库.csv", "编号,类别,题目,参考答案要点,出题部门名称\nA1,其他,题一,要点,办公室\n"
                  .encode())
    assert f.questions[0].source_department == ""
    assert f.notes == ("已忽略的列：出题部门名称（题库不保存这些列）；"
                       "「出题部门名称」如是出题部门，请将表头改为「出题部门」",)


def test_a_yaml_file_with_an_unknown_key_is_still_an_error() -> None:
    """YAML is written by hand: an unknown key there is a typo, not a column to pass over."""
    with pytest.raises(BankError) as e:
        parse_file("bank.yaml", "- {id: A, category: 其他, text: 题一, answer_points: [点], 序号: 1}\n"
                   .encode())
    assert e.value.errors == [
        "第1题：未知字段 序号，可用字段：id、category、text、answer_points、source_department、tags"]


async def test_the_upload_preview_names_what_it_passed_over(console: Console) -> None:
    await console.client.post("/console/api/login", json={"user": HOST})
    form = FormData()
    form.add_field("file", noted_workbook(), filename="题库.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    html = await r.text()
    assert r.status == 200 and "共 2 道：新增 2 道" in html, html
    assert f'<ul id="passed-over"><li>{SKIPPED}</li><li>{IGNORED}</li></ul>' in html
    r = await confirm(console, html)
    assert r.status == 200 and "新增2道" in await r.text()
    stored = await bank(console)
    assert [(i, q.category, q.text, q.points, q.source_department, q.tag_list)
            for i, q in sorted(stored.items()) if i in ("N1", "N2")] == [
        ("N1", "党的建设", TEXTS[0], ["要点甲", "要点乙"], "", []),
        ("N2", "业务建设", TEXTS[3], ["要点"], "", [])]
    # a file with nothing passed over: no such list
    form = FormData()
    form.add_field("file", "编号,类别,题目,参考答案要点\nC1,其他,题一,要点\n".encode(),
                   filename="题库.csv")
    html = await (await console.client.post("/inspection/bank/preview", data=form)).text()
    assert "共 1 道" in html and "passed-over" not in html


def test_the_cli_prints_what_it_passed_over(tmp_path: Path) -> None:
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(f"org: {DEFAULT_DIR / 'org.yaml'}\n"
                   f"score_template: {DEFAULT_DIR / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{tmp_path / 'cli.db'}'}}\n",
                   encoding="utf-8")
    migrated = subprocess.run([sys.executable, "-m", "bot.cli", "migrate", "--config", str(cfg)],
                              capture_output=True, text=True, cwd=ROOT)
    assert migrated.returncode == 0, migrated.stderr
    book = tmp_path / "题库.xlsx"
    book.write_bytes(noted_workbook())
    r = subprocess.run([sys.executable, "-m", "bot.cli", "import", "questions", str(book),
                        "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "2 questions" in r.stdout and "added 2" in r.stdout
    assert f"  {SKIPPED}\n" in r.stdout and f"  {IGNORED}\n" in r.stdout, r.stdout


# -- a header in two rows: group titles merged over the column names --------------------------

def _grouped_sheet(ws: Worksheet) -> None:
    """Rows as offices export them: 1 the title (merged A1:G1); 2 序号 and 备注 merged down over
    rows 2–3 beside the group titles 题目信息 (B2:D2) and 答案与出处 (E2:F2); 3 the column names
    under the groups; 4–5 the questions."""
    ws["A1"] = TITLE
    ws.merge_cells("A1:G1")
    for ref, label in (("A2:A3", "序号"), ("B2:D2", "题目信息"), ("E2:F2", "答案与出处"),
                       ("G2:G3", "备注")):
        ws[ref.split(":")[0]] = label
        ws.merge_cells(ref)
    for col, label in zip("BCDEF", ["题号", "类别", "题目", "参考答案要点", "出题部门"],
                          strict=True):
        ws[f"{col}3"] = label
    ws.append([1, "G1", "党的建设", TEXTS[0], "要点甲；要点乙", "办公室", "已审核"])
    ws.append([2, "G2", "业务建设", TEXTS[3], "要点", "第五检察部", None])


def test_a_header_in_two_rows_under_group_titles_reads_the_column_names() -> None:
    wb = Workbook()
    assert wb.active is not None
    _grouped_sheet(wb.active)
    f = read_file("题库.xlsx", _save(wb))
    assert [(q.id, q.category, q.text, q.answer_points, q.source_department)
            for q in f.questions] == [
        ("G1", "党的建设", TEXTS[0], ("要点甲", "要点乙"), "办公室"),
        ("G2", "业务建设", TEXTS[3], ("要点",), "第五检察部")]
    # the labels merged down are columns passed over; the group titles are not columns at all
    assert f.notes == ("已忽略的列：序号、备注（题库不保存这些列）",)
    # the questions start below the second header row: errors give the rows Excel shows
    assert wb.active is not None
    wb.active["C5"] = "党务"
    with pytest.raises(BankError) as e:
        read_file("题库.xlsx", _save(wb))
    assert e.value.errors == [
        "第5行：类别「党务」无效，可选：党的建设、业务建设、队伍建设、党风廉政建设、其他"]


def test_only_some_columns_under_a_group_title() -> None:
    """题号, 类别 and 出题部门 merged down over both header rows; only 题目 and 参考答案要点 stand
    under a group title: neither row names every column alone."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for ref, label in (("A1:A2", "题号"), ("B1:B2", "类别"), ("C1:D1", "题目与答案"),
                       ("E1:E2", "出题部门")):
        ws[ref.split(":")[0]] = label
        ws.merge_cells(ref)
    ws["C2"], ws["D2"] = "题目", "参考答案要点"
    ws.append(["P1", "队伍建设", TEXTS[1], "要点一", "政治部"])
    ws.append(["P2", "其他", TEXTS[2], "要点二", None])
    f = read_file("题库.xlsx", _save(wb))
    assert [(q.id, q.category, q.text, q.answer_points, q.source_department)
            for q in f.questions] == [("P1", "队伍建设", TEXTS[1], ("要点一",), "政治部"),
                                      ("P2", "其他", TEXTS[2], ("要点二",), "")]
    assert f.notes == ()


def test_a_csv_saved_from_a_two_row_header_reads_the_same() -> None:
    """A CSV keeps a merged cell's value in its first cell, the others empty; a group title that
    is itself a column name (答案) over named columns stays a title."""
    text = ("序号,题目信息,,,答案,\n"
            ",题号,类别,题目,参考答案要点,出题部门\n"
            "1,C1,党建,题一,要点甲；要点乙,办公室\n")
    f = read_file("题库.csv", text.encode("gbk"))
    assert [(q.id, q.category, q.answer_points, q.source_department) for q in f.questions] == [
        ("C1", "党的建设", ("要点甲", "要点乙"), "办公室")]
    assert f.notes == ("已忽略的列：序号（题库不保存这些列）",)


def test_a_two_row_header_missing_a_column_names_its_sheet_rows_and_the_column() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "党的建设"
    for ref, label in (("A1:A2", "题号"), ("B1:C1", "题目信息")):
        ws[ref.split(":")[0]] = label
        ws.merge_cells(ref)
    ws["B2"], ws["C2"], ws["D2"] = "类别", "题目", "答案"
    ws.append(["D1", "党的建设", "题一", "要点"])
    _grouped_sheet(wb.create_sheet("业务建设"))
    with pytest.raises(BankError) as e:
        read_file("题库.xlsx", _save(wb))
    assert e.value.errors == [
        "工作表「党的建设」表头（第1-2行）：缺少列 参考答案要点（未识别的列：答案）"]


async def test_the_upload_page_imports_a_two_row_header(console: Console) -> None:
    await console.client.post("/console/api/login", json={"user": HOST})
    wb = Workbook()
    assert wb.active is not None
    _grouped_sheet(wb.active)
    form = FormData()
    form.add_field("file", _save(wb), filename="题库.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    html = await r.text()
    assert r.status == 200 and "共 2 道：新增 2 道" in html, html
    assert "已忽略的列：序号、备注（题库不保存这些列）" in html
    r = await confirm(console, html)
    assert r.status == 200 and "新增2道" in await r.text()
    stored = await bank(console)
    assert [(stored[i].category, stored[i].source_department, stored[i].text)
            for i in ("G1", "G2")] == [("党的建设", "办公室", TEXTS[0]),
                                       ("业务建设", "第五检察部", TEXTS[3])]
