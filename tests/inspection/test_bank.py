"""The question bank: imports from YAML, CSV and XLSX, the demo bank, and confidentiality of
the bank itself (only inspectors, only 1:1 or the bank page, every read audited)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.domain.question_bank import (
    CATEGORIES,
    BankChange,
    BankError,
    asked_notes,
    parse_csv,
    parse_file,
    parse_xlsx,
    parse_yaml,
)
from config.loader import DEFAULT_DIR, Settings
from storage import inspection as store
from storage.models import AuditRecord
from tests.conftest import Console
from tests.inspection.helpers import HOST, bank, confirm, say, zip_bomb

ROOT = Path(__file__).resolve().parents[2]
HEADER_ZH = ["编号", "类别", "题目", "参考答案要点", "出题部门", "标签"]
ROWS = [
    ["T001", "党的建设", "测试题一：请谈谈你院落实重大事项请示报告制度的情况。", "明确范围；逐级报告",
     "办公室", "请示报告"],
    ["T002", "业务", "测试题二：你院公益诉讼诉前检察建议回复率是多少？", "回复率\n跟踪落实",
     "第五检察部", "公益诉讼,数据"],
    ["T003", "其它", "测试题三：你院如何开展检察开放日？", "开放日", "", ""],
]


def test_demo_bank_is_big_labelled_and_covers_every_category() -> None:
    questions, demo = parse_file("questions.demo.yaml",
                                 (DEFAULT_DIR / "questions.demo.yaml").read_bytes())
    assert demo and len(questions) >= 220
    assert {q.category for q in questions} == set(CATEGORIES)
    assert len({q.text for q in questions}) == len(questions)
    assert all(q.answer_points and q.source_department for q in questions)
    assert "SYNTHETIC DEMO DATA" in (DEFAULT_DIR / "questions.demo.yaml").read_text(encoding="utf-8")
    # the generator is deterministic and the committed file is its output
    out = subprocess.run([sys.executable, "scripts/gen_demo_questions.py"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0
    diff = subprocess.run(["git", "diff", "--quiet", "--", "config/questions.demo.yaml"], cwd=ROOT)
    assert diff.returncode == 0


def test_csv_with_chinese_headers_and_aliases() -> None:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER_ZH, *ROWS, ["", "", "", "", "", ""]])
    questions = parse_csv(("\ufeff" + buf.getvalue()).encode("utf-8"))
    assert [(q.id, q.category) for q in questions] == [
        ("T001", "党的建设"), ("T002", "业务建设"), ("T003", "其他")]
    assert questions[0].answer_points == ("明确范围", "逐级报告")
    assert questions[1].answer_points == ("回复率", "跟踪落实")
    assert questions[1].tags == ("公益诉讼", "数据")


def test_gbk_csv_as_excel_and_wps_save_it_on_chinese_windows() -> None:
    """「CSV（逗号分隔）」 from Excel/WPS on Chinese Windows is GBK: read as the case and roster
    imports read it; bytes that are neither UTF-8 nor GBK get the same message as there."""
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER_ZH, *ROWS])
    questions = parse_csv(buf.getvalue().encode("gbk"))
    assert [(q.id, q.category, q.text) for q in questions] == [
        (r[0], c, r[2]) for r, c in zip(ROWS, ("党的建设", "业务建设", "其他"), strict=True)]
    assert questions[0].answer_points == ("明确范围", "逐级报告")
    with pytest.raises(BankError) as e:
        parse_csv(b"id,category,text,answer_points\nT1,\xff\xfe,x,y\n")
    assert e.value.errors == ["文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV"]


def test_a_csv_of_blank_lines_is_empty() -> None:
    """As the case and roster imports say it: not a missing-columns error about a header
    that is not there."""
    for data in (b"", b"\n\n\n", b"\r\n\r\n", "\ufeff\n".encode(), b",,,,\n,,,,\n",
                 "\n\n".encode("gbk")):
        with pytest.raises(BankError) as e:
            parse_csv(data)
        assert e.value.errors == ["文件为空：没有表头，也没有数据行"], data
    with pytest.raises(BankError) as e:  # a header and no questions: that is said too
        parse_csv("编号,类别,题目,参考答案要点\n\n".encode())
    assert e.value.errors == ["文件中没有题目"]


def test_xlsx_generated_with_openpyxl() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "category", "text", "answer_points", "source_department", "tags"])
    for row in ROWS:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    questions = parse_xlsx(buf.getvalue())
    assert [q.id for q in questions] == ["T001", "T002", "T003"]
    assert questions[2].text.startswith("测试题三")
    with pytest.raises(BankError, match=r"无法读取该 \.xlsx 工作簿"):
        parse_xlsx(b"not a zip")


def _workbook(sheets: dict[str, list[list[Any]]], hidden: tuple[str, ...] = ()) -> bytes:
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        if name in hidden:
            ws.sheet_state = "hidden"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_reads_every_visible_sheet() -> None:
    """A bank kept one sheet per category: every visible sheet with content is a question
    table (own header), read in order; empty sheets and hidden ones (a template's lists for
    drop-downs) are not read."""
    data = _workbook({"党建": [HEADER_ZH, ROWS[0]], "空表": [],
                      "业务": [HEADER_ZH, ROWS[1], [], ROWS[2]],
                      "下拉选项": [["党的建设"], ["业务建设"]]}, hidden=("下拉选项",))
    assert [q.id for q in parse_xlsx(data)] == ["T001", "T002", "T003"]
    # the questions on the second sheet are not lost when the first is empty
    assert [q.id for q in parse_xlsx(_workbook({"Sheet1": [], "题库": [HEADER_ZH, *ROWS]}))] == [
        "T001", "T002", "T003"]
    with pytest.raises(BankError, match="文件为空"):
        parse_xlsx(_workbook({"Sheet1": [], "Sheet2": [[None, ""]]}))


def test_xlsx_errors_name_the_sheet() -> None:
    """A 填写说明 sheet (no row of it looks like a header) is passed over; a sheet whose header
    lacks a column is a question table with a mistake, and is said so, naming it."""
    secret_text = ROWS[1][2]
    data = _workbook({"党建": [HEADER_ZH, ROWS[0]],
                      "业务": [HEADER_ZH, ROWS[1], ["T001", "其他", "题", "点", "", ""]],
                      "填写说明": [["每行一题，类别可选：党的建设、业务建设……"]]})
    with pytest.raises(BankError) as e:
        parse_xlsx(data)
    assert e.value.errors == ["工作表「业务」第3行：编号「T001」重复（工作表「党建」第2行已有）"]
    assert secret_text not in "\n".join(e.value.errors)
    data = _workbook({"填写说明": [["每行一题"]], "党建": [HEADER_ZH, ROWS[0]],
                      "业务": [["2026年题库"], ["编号", "题目", "参考答案要点"], ROWS[1]]})
    with pytest.raises(BankError) as e:
        parse_xlsx(data)
    assert e.value.errors == ["工作表「业务」表头（第2行）：缺少列 类别"]


def test_xlsx_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = zip_bomb()
    assert len(bomb) < 2 * 1024 * 1024
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(BankError) as e:
            parse_file("题库.xlsx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.value.errors == ["文件解压后过大，疑似异常文件，未导入。"]
    assert peak < 20 * 1024 * 1024, f"{peak} bytes held to refuse it"
    assert time.monotonic() - started < 5


def test_xlsx_cells_are_bounded_not_the_declared_dimension() -> None:
    """A few bytes of sheet XML can stand for millions of cells: one cell at ALL20000 made the
    sheet 20,000 rows of 1,000 cells each (XFD1048576: 17 billion). Rows are as long as their
    own cells now, and past a million cells the file is refused."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER_ZH)
    ws.append(ROWS[0])
    ws.cell(row=20_000, column=1_000, value="x")
    buf = io.BytesIO()
    wb.save(buf)
    started = time.monotonic()
    with pytest.raises(BankError) as e:
        parse_xlsx(buf.getvalue())
    assert e.value.errors == ["第20000行：第1000列有内容但没有表头"]
    for row in range(3, 1_100):  # and 1,100 rows of 1,000 cells each
        ws.cell(row=row, column=1_000, value="x")
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(BankError) as e:
        parse_xlsx(buf.getvalue())
    assert e.value.errors == ["工作表过大（超过 100 万个单元格），疑似异常文件，未导入。"]
    assert time.monotonic() - started < 10


def test_a_sheet_that_breaks_while_read_is_an_unreadable_workbook() -> None:
    data = _workbook({"题库": [HEADER_ZH, ROWS[0]]})
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:  # the sheet's XML cut short: opens, fails when read
        for info in src.infolist():
            z.writestr(info, src.read(info)[:-40] if info.filename.startswith("xl/worksheets/")
                       else src.read(info))
    with pytest.raises(BankError) as e:
        parse_xlsx(out.getvalue())
    assert e.value.errors == ["无法读取该 .xlsx 工作簿（文件损坏或不是 Excel 文件）"]


def test_columns_that_would_lose_data_are_errors() -> None:
    """Two columns for one field (参考答案 is an alias of 参考答案要点), or a cell under no
    header, would silently drop what the inspector typed: both are errors."""
    with pytest.raises(BankError, match="表头：列「参考答案」与「参考答案要点」重复，请只保留一列"):
        parse_csv("编号,类别,题目,参考答案要点,参考答案\nT001,党的建设,题一,要点,另一要点\n".encode())
    with pytest.raises(BankError, match="第2行：第5列有内容但没有表头"):
        parse_csv("编号,类别,题目,参考答案要点\nT001,党的建设,题一,要点,另一要点\n".encode())


def test_errors_name_row_and_field_but_never_the_text() -> None:
    secret_text = "绝密题目：不应出现在错误信息中"
    buf = io.StringIO()
    csv.writer(buf).writerows([
        HEADER_ZH,
        ["T001", "党务", secret_text, "要点", "", ""],
        ["T001", "党的建设", secret_text, "", "", ""],
        ["bad id!", "其他", "", "要点", "", ""],
    ])
    with pytest.raises(BankError) as e:
        parse_csv(buf.getvalue().encode())
    msg = "\n".join(e.value.errors)
    assert e.value.errors == [
        "第2行：类别「党务」无效，可选：党的建设、业务建设、队伍建设、党风廉政建设、其他",
        "第3行：缺少参考答案要点（至少一条）",
        "第3行：编号「T001」重复（第2行已有）",
        "第4行：编号「bad id!」无效，只能用字母、数字、- 或 _（不超过 40 个字符）",
        "第4行：缺少题目",
    ]
    assert secret_text not in msg and secret_text not in repr(e.value)
    with pytest.raises(BankError, match="表头：缺少列 类别、参考答案要点"):
        parse_csv("编号,题目\nX,Y\n".encode())
    with pytest.raises(BankError, match="第2题：编号「A」重复（第1题已有）"):
        parse_yaml(b"- {id: A, category: other, text: t, answer_points: [p]}\n"
                   b"- {id: A, category: other, text: u, answer_points: [p]}\n")
    with pytest.raises(BankError, match=r"不支持的文件类型「bank\.txt」"):
        parse_file("bank.txt", b"")


def test_a_duplicate_id_is_named_in_the_same_pass_as_the_rows_other_errors() -> None:
    """Rows 2 and 4 share an id and row 2 has a bad category too (the QA walk's bad1.csv): the
    duplicate is listed with the other errors, so the inspector fixes the file once."""
    data = ("编号,类别,题目,参考答案,出题部门\n"
            "T010,党务,题目甲,要点一,政治部\n"
            "T011,业务建设,题目乙,,政治部\n"
            "T010,队伍建设,题目丙,要点,政治部\n"
            ",其他,题目丁,要点,\n"
            "T 012,其他,题目戊,要点,\n"
            "T011,党建,题目己,要点,\n").encode()
    with pytest.raises(BankError) as e:
        parse_csv(data)
    assert e.value.errors == [
        "第2行：类别「党务」无效，可选：党的建设、业务建设、队伍建设、党风廉政建设、其他",
        "第3行：缺少参考答案要点（至少一条）",
        "第4行：编号「T010」重复（第2行已有）",
        "第5行：缺少编号",
        "第6行：编号「T 012」无效，只能用字母、数字、- 或 _（不超过 40 个字符）",
        "第7行：编号「T011」重复（第3行已有）",
    ]
    # the same in a YAML file, where the first copy lacks its text
    with pytest.raises(BankError) as e:
        parse_yaml(b"- {id: A, category: other, answer_points: [p]}\n"
                   b"- {id: A, category: other, text: u, answer_points: [p]}\n")
    assert e.value.errors == ["第1题：缺少题目", "第2题：编号「A」重复（第1题已有）"]


def test_cli_import_questions_from_yaml_csv_and_xlsx(tmp_path: Path, settings: Settings) -> None:
    cfg = tmp_path / "cli.yaml"
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    cfg.write_text(f"org: {DEFAULT_DIR / 'org.yaml'}\n"
                   f"score_template: {DEFAULT_DIR / 'score_template.yaml'}\n"
                   f"storage: {{database_url: '{db_url}'}}\n",
                   encoding="utf-8")
    y = tmp_path / "bank.yaml"
    y.write_text(json.dumps({"questions": [dict(zip(
        ["id", "category", "text", "answer_points", "source_department", "tags"],
        [r[0], r[1], r[2], r[3].split("；"), r[4], []], strict=True)) for r in ROWS]},
        ensure_ascii=False), encoding="utf-8")
    c = tmp_path / "bank.csv"
    with c.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([HEADER_ZH, ["T004", "队伍建设", "测试题四？", "要点", "", ""]])
    x = tmp_path / "bank.xlsx"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER_ZH)
    ws.append(["T005", "党风廉政建设", "测试题五？", "要点", "", ""])
    wb.save(x)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "import", "questions", *args,
                               "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT)

    r = run(str(y))
    assert r.returncode == 2 and "error: database not found" in r.stderr  # never created here
    migrated = subprocess.run([sys.executable, "-m", "bot.cli", "migrate", "--config", str(cfg)],
                              capture_output=True, text=True, cwd=ROOT)
    assert migrated.returncode == 0, migrated.stderr
    r = run(str(y))
    assert r.returncode == 0 and "added 3, updated 0" in r.stdout, r.stderr
    assert "added 1" in run(str(c)).stdout and "added 1" in run(str(x)).stdout

    def rows() -> dict[str, tuple[str, int, str]]:  # id -> (imported_at, active, text)
        with sqlite3.connect(tmp_path / "cli.db") as con:
            return {r[0]: r[1:] for r in con.execute(
                "SELECT id, imported_at, active, text FROM inspection_questions")}

    def audits() -> list[dict[str, Any]]:
        with sqlite3.connect(tmp_path / "cli.db") as con:
            return [json.loads(d) for (d,) in con.execute(
                "SELECT data FROM audit_log WHERE action = 'inspection.bank.import' ORDER BY seq")]

    before, n_audit = rows(), len(audits())
    r = run(str(y))  # the same file again: nothing to write, nothing rewritten
    assert "added 0, updated 0, unchanged 3" in r.stdout, r.stdout
    assert rows() == before and len(audits()) == n_audit
    # the bank holds T004 and T005, which this file leaves out: said, and kept
    assert "2 active questions in the bank are not in the file" in r.stdout
    assert "T004、T005" in r.stdout
    y.write_text(y.read_text(encoding="utf-8").replace(ROWS[0][2], "测试题一（修改）？"),
                 encoding="utf-8")
    r = run(str(y), "--retire-missing")
    assert "added 0, updated 1, unchanged 2" in r.stdout and "retired 2" in r.stdout, r.stdout
    after = rows()
    assert after["T001"][2] == "测试题一（修改）？" and after["T001"][0] != before["T001"][0]
    assert after["T002"] == before["T002"]  # unchanged rows are not touched
    assert after["T004"][1] == 0 and after["T005"][1] == 0 and after["T001"][1] == 1
    record = audits()[-1]
    assert record["via"] == "cli" and record["changed"] == ["T001"] and record["new"] == []
    assert record["updated"] == 1 and record["unchanged"] == 2
    assert record["retired"] == ["T004", "T005"]
    assert "测试题一" not in json.dumps(record, ensure_ascii=False)
    # re-importing a retired question brings it back
    assert "added 0, updated 1" in run(str(c)).stdout and rows()["T004"][1] == 1
    g = tmp_path / "gbk.csv"  # as Excel/WPS on Chinese Windows saves 「CSV（逗号分隔）」
    g.write_bytes("id,category,text,answer_points\nT030,其他,中文题目测试,要点一；要点二\n"
                  .encode("gbk"))
    r = run(str(g))
    assert r.returncode == 0 and "added 1" in r.stdout, r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,类别,题目,参考答案要点\nT9,党务,机密内容,要点\n", encoding="utf-8")
    r = run(str(bad))
    assert r.returncode == 2 and "第2行：类别「党务」无效" in r.stderr and "机密内容" not in r.stderr


def test_notes_on_edited_questions_name_the_sessions_that_asked_or_drew_them() -> None:
    """What the preview (web and CLI) says about an edit: by id, never the text."""
    def change(qid: str, *fields: str) -> BankChange:
        return BankChange(qid, "其他", "其他", fields)

    asks = {"Q1": [("DD20261127-01", True, True), ("DD20261205-01", True, False)],
            "Q2": [("DD20261205-01", False, False)], "Q3": [("DD20261127-01", False, True)],
            "Q4": [("DD20261127-01", True, True)]}
    assert asked_notes([change("Q1", "text"), change("Q2", "answer_points"),
                        change("Q3", "category"), change("Q4", "source_department"),
                        change("Q5", "text")], asks) == [
        "Q1 已在 DD20261127-01、DD20261205-01 问询，修改不影响该次会议记录",
        "Q2 已被 DD20261205-01 抽中、尚未问询，问询时将显示修改后的内容"]


async def test_bank_in_chat_is_for_inspectors_in_dm_and_audited(console: Console) -> None:
    questions = await bank(console)
    assert len(questions) >= 220  # the demo bank is seeded at start
    q = questions["Q017"]
    refused = await say(console, "题库 Q017", user="p-chief-c01-01", chat="dm:p-chief-c01-01")
    assert "仅限检务督察" in refused[0]["text"] and q.text not in refused[0]["text"]
    in_group = await say(console, "题库 Q017")
    assert "请在与 casebot 的单聊中查看" in in_group[0]["text"] and q.text not in in_group[0]["text"]
    summary = await say(console, "题库", chat=f"dm:{HOST}")
    assert "题库共" in summary[0]["text"] and "党风廉政建设" in summary[0]["text"]
    read = await say(console, "题库 Q017", chat=f"dm:{HOST}")
    assert q.text in read[0]["text"] and q.points[0] in read[0]["text"]
    listing = await say(console, "题库 队伍建设", chat=f"dm:{HOST}")
    assert listing[0]["text"].startswith("队伍建设")
    # one phone-sized page at a time, with the way to the next
    in_category = [x for x in (await bank(console)).values() if x.category == "队伍建设"]
    assert len(in_category) > 20 and "第 1/" in listing[0]["text"]
    assert "下一页：题库 队伍建设 2" in listing[0]["text"]
    assert sum(x.text in listing[0]["text"] for x in in_category) == 20
    async with console.app.services.db() as db:
        recs = [r for r in (await db.execute(select(AuditRecord))).scalars()
                if r.action.startswith("inspection.bank.") and r.actor == HOST]
    assert [r.action for r in recs] == ["inspection.bank.summary", "inspection.bank.read",
                                        "inspection.bank.list"]
    assert json.loads(recs[1].data) == {"ids": ["Q017"]}
    assert all(q.text not in r.data for r in recs)


async def test_bank_in_chat_reads_pages_aliases_and_punctuation_as_typed_on_a_phone(
        console: Console) -> None:
    async def reply(text: str) -> str:
        return str((await say(console, text, chat=f"dm:{HOST}"))[0]["text"])

    questions = await bank(console)
    party = [q for q in questions.values() if q.category == "党的建设"]
    assert len(party) > 20
    page1 = await reply("题库 党的建设")
    assert "第 1/" in page1
    page2 = await reply("题库 党的建设 2")
    on_page2 = [q.id for q in party if q.text in page2]
    assert "第 2/" in page2 and len(on_page2) == min(20, len(party) - 20)
    assert not any(q.text in page1 for q in party if q.id in on_page2)
    for typed in ("题库 党的建设 第2页", "题库 党的建设 2页", "题库 党的建设 第 2 页",
                  "题库 党的建设2", "题库 党建 2", "题库 党的建设 第2页。"):
        assert await reply(typed) == page2, typed
    # the import's category aliases
    assert await reply("题库 党建") == page1
    corruption = await reply("题库 廉政")
    assert corruption.startswith("党风廉政建设（") and "第 1/" in corruption
    # a page that is not understood is said so, not silently answered with page 1
    odd = await reply("题库 党的建设 下一页")
    assert odd.startswith("没看懂页码「下一页」") and "题库 党的建设 2" in odd
    assert not any(q.text in odd for q in party)
    # a sentence's full stop after an id
    for typed in ("题库 Q001。", "题库 Q001.", "题库 q001？"):
        assert questions["Q001"].text in await reply(typed), typed


async def test_bank_page_is_for_inspectors_and_audited(console: Console) -> None:
    questions = await bank(console)
    assert (await console.client.get("/inspection/bank")).status == 401
    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    r = await console.client.get("/inspection/bank")
    assert r.status == 403 and questions["Q001"].text not in await r.text()
    await console.client.post("/console/api/login", json={"user": HOST})
    r = await console.client.get("/inspection/bank", params={"category": "党的建设"})
    html = await r.text()
    assert r.status == 200 and questions["Q001"].text in html and "本次查阅已留痕" in html
    # every text and answer point: not left in a shared PC's or a phone's browser cache
    assert r.headers["Cache-Control"] == "no-store"
    assert questions["Q009"].text not in html  # 业务建设
    # web import of an XLSX file
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER_ZH)
    ws.append(["W001", "其他", "网页导入测试题？", "要点一；要点二", "办公室", ""])
    buf = io.BytesIO()
    wb.save(buf)
    from aiohttp import FormData

    form = FormData()
    form.add_field("file", buf.getvalue(), filename="bank.xlsx")
    r = await console.client.post("/inspection/bank/preview", data=form)
    assert r.status == 200 and "新增 1 道" in await r.text()
    r = await confirm(console, await r.text())
    assert r.status == 200 and "新增1道" in await r.text()
    async with console.app.services.db() as db:
        rows = (await db.execute(select(AuditRecord))).scalars().all()
        assert await store.bank_size(db) == len(questions) + 1
    assert [r.action for r in rows if r.actor == HOST] == [
        "inspection.bank.list", "inspection.bank.preview", "inspection.bank.import",
        "inspection.bank.list"]


async def test_web_import_errors_are_chinese_one_per_line_and_nothing_is_imported(
        console: Console) -> None:
    before = len(await bank(console))
    await console.client.post("/console/api/login", json={"user": HOST})
    buf = io.StringIO()
    csv.writer(buf).writerows([
        HEADER_ZH,
        ["N001", "党的建设", "新题一？", "要点", "", ""],
        ["N002", "不存在类别", "新题二？", "要点", "", ""],
        ["N003", "其他", "", "要点", "", ""],
        ["N001", "其他", "新题四？", "要点", "", ""],
    ])
    from aiohttp import FormData

    form = FormData()
    form.add_field("file", buf.getvalue().encode(), filename="bank.csv")
    r = await console.client.post("/inspection/bank/preview", data=form)
    html = await r.text()
    assert r.status == 400 and "导入失败" in html and r.content_type == "text/html"
    items = re.findall(r"<li>(.*?)</li>", html)
    assert items == ["第3行：类别「不存在类别」无效，可选：党的建设、业务建设、队伍建设、党风廉政建设、其他",
                     "第4行：缺少题目", "第5行：编号「N001」重复（第2行已有）"]
    assert not re.search(r"row \d|unknown|required|duplicate", html)
    assert len(await bank(console)) == before  # all rows or none


async def test_web_import_of_a_gbk_csv(console: Console) -> None:
    before = len(await bank(console))
    await console.client.post("/console/api/login", json={"user": HOST})
    from aiohttp import FormData

    form = FormData()
    form.add_field("file", "编号,类别,题目,参考答案要点\nG001,党建,国标编码的题目？,要点甲；要点乙\n"
                   .encode("gbk"), filename="题库.csv")
    r = await console.client.post("/inspection/bank/preview", data=form)
    html = await r.text()
    assert r.status == 200 and "新增 1 道" in html, html
    r = await confirm(console, html)
    assert r.status == 200 and "新增1道" in await r.text()
    questions = await bank(console)
    assert len(questions) == before + 1
    g = questions["G001"]
    assert (g.category, g.text, g.points) == ("党的建设", "国标编码的题目？", ["要点甲", "要点乙"])


async def test_web_import_of_a_malformed_form_is_a_400(console: Console) -> None:
    """Not a file upload, or a multipart body without its boundary: refused, not a 500."""
    await console.client.post("/console/api/login", json={"user": HOST})
    for content_type, body in (("application/x-www-form-urlencoded", b"file=x"),
                               ("multipart/form-data", b"file=x"),
                               ("multipart/form-data; boundary=xyz", b"file=x")):
        r = await console.client.post("/inspection/bank/preview", data=body,
                                      headers={"Content-Type": content_type})
        assert r.status == 400, (content_type, await r.text())
    r = await console.client.post("/inspection/sessions", data=b"title=x",
                                  headers={"Content-Type": "multipart/form-data"})
    assert r.status == 400 and "表单格式有误" in (await r.json())["error"]


async def test_web_import_parses_the_file_off_the_event_loop(
        console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5 MB workbook takes seconds to parse: meanwhile everyone else keeps getting answers."""
    import asyncio
    import threading

    from aiohttp import FormData

    import bot.web.inspection as pages
    from tests.dingtalk.conftest import eventually

    parsing, release = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    real = pages.read_file

    def held(name: str, data: bytes) -> Any:
        parsing.set()
        released_in_time.append(release.wait(timeout=3))
        return real(name, data)

    monkeypatch.setattr(pages, "read_file", held)
    await console.client.post("/console/api/login", json={"user": HOST})
    form = FormData()
    form.add_field("file", "编号,类别,题目,参考答案要点\nW001,其他,题,要点\n".encode(),
                   filename="bank.csv")
    upload = asyncio.create_task(console.client.post("/inspection/bank/preview", data=form))
    await eventually(parsing.is_set, within=10, what="the parse to start")
    other = await console.send("p-investigator-1", "dm:p-investigator-1", "帮助")
    assert not upload.done()
    release.set()
    r = await upload
    assert other["messages"] and released_in_time == [True]
    assert r.status == 200 and "新增 1 道" in await r.text()
