"""`casebot import cases` on what a case-management office exports: an .xlsx (or a CSV saved
from it) with a title row, Chinese column names, a header in two rows, Excel date cells, and
people and units by their names in the roster."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook

from bot.clock import ManualClock
from bot.importer import CaseImportError, import_cases
from config.loader import Settings, load_config
from storage import cases as repo
from storage import db, migrate
from tests.conftest import START

SRC = Path(__file__).resolve().parents[2] / "config"


def _cell(*parts: int) -> datetime:
    """A date cell as openpyxl writes and reads it: a naive datetime (Excel has no zones)."""
    return datetime(*parts)  # noqa: DTZ001
TITLE = "示范市海澄县人民检察院 2026年12月 在办案件清单"
HEADER = ["序号", "案件名称", "诉讼阶段", "移送单位", "承办检察官", "侦查员", "侦查终结期限",
          "羁押到期日", "统一受案号", "备注"]
ROWS: list[list[Any]] = [
    [1, "胡某盗窃案", "审查逮捕", "示范市海澄县公安局刑事侦查大队", "余斌梅", "张洋艳、冯艳霞",
     _cell(2026, 12, 20), _cell(2026, 12, 31, 17, 0), 33042420260001, "加急"],
    [2, "李某诈骗案", "提前介入", "ps-hc", "朱凯秀", "萧宇梅", None, "2027/1/5", "A-2", None],
]


async def _settings(tmp_path: Path, *namesakes: dict[str, Any]) -> Settings:
    """The demo roster (plus `namesakes`) on a migrated SQLite file of its own."""
    org = yaml.safe_load((SRC / "org.yaml").read_text(encoding="utf-8"))
    org["people"] += list(namesakes)
    (tmp_path / "org.yaml").write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"org: {tmp_path / 'org.yaml'}\nscore_template: {SRC / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{tmp_path / 'x.db'}'}}\n",
                   encoding="utf-8")
    settings = load_config(cfg)
    engine = db.create_engine(settings.config.storage.database_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return settings


async def _cases(settings: Settings, codes: list[str]) -> list[tuple[Any, ...]]:
    """Each case as the bot stores it: title, stage, police unit, prosecutor, investigators,
    deadlines, 统一受案号."""
    engine = db.create_engine(settings.config.storage.database_url)
    out: list[tuple[Any, ...]] = []
    try:
        async with db.sessionmaker(engine)() as s:
            for code in codes:
                c = await repo.get_case(s, code)
                if c is None:
                    out.append((code, None))
                    continue
                out.append((c.title, c.stage, c.police_unit, c.prosecutor,
                            sorted(await repo.investigators(s, code)),
                            c.investigation_deadline, c.custody_deadline, c.external_id))
    finally:
        await engine.dispose()
    return out


def _write(path: Path, wb: Workbook) -> Path:
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())
    return path


def _office_book(rows: list[list[Any]]) -> Workbook:
    """The title merged over the table (row 1), the header in row 2, the cases below."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([TITLE])
    ws.merge_cells("A1:J1")
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    return wb


EXPECTED = [
    ("胡某盗窃案", "审查逮捕", "ps-hc-xd", "p-prosecutor-1", ["p-investigator-2", "p-investigator-3"],
     date(2026, 12, 20), date(2026, 12, 31), "33042420260001"),
    ("李某诈骗案", "提前介入", "ps-hc", "p-prosecutor-2", ["p-investigator-4"],
     None, date(2027, 1, 5), "A-2"),
]


async def test_an_office_workbook_with_names_and_date_cells_imports(tmp_path: Path) -> None:
    settings = await _settings(tmp_path)
    f = _write(tmp_path / "在办案件.xlsx", _office_book(ROWS))
    result = await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert result.codes == ["HY-2026-0001", "HY-2026-0002"]
    assert await _cases(settings, result.codes) == EXPECTED
    assert result.notes == ["已忽略的列：序号、备注（案件导入不读取这些列）"]
    # the same file again: both rows carry a 统一受案号, so nothing is created twice
    again = await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert again.codes == [] and again.skipped == [
        f"{f}:3: 统一受案号「33042420260001」已有案件 HY-2026-0001，跳过",
        f"{f}:4: 统一受案号「A-2」已有案件 HY-2026-0002，跳过"]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
async def test_a_csv_saved_from_the_workbook_imports_the_same(tmp_path: Path,
                                                              encoding: str) -> None:
    """Excel's 另存为 CSV: the title line first, dates as 2026/12/20, names separated by 、."""
    settings = await _settings(tmp_path)
    lines = [TITLE + "," * 9, ",".join(HEADER),
             "1,胡某盗窃案,审查逮捕,示范市海澄县公安局刑事侦查大队,余斌梅,张洋艳，冯艳霞,2026/12/20,"
             "2026/12/31,33042420260001,加急",
             "2,李某诈骗案,提前介入,ps-hc,朱凯秀,萧宇梅,,2027/1/5,A-2,"]
    f = tmp_path / "在办案件.csv"
    f.write_text("\r\n".join(lines) + "\r\n", encoding=encoding)
    result = await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert await _cases(settings, result.codes) == EXPECTED
    assert result.notes == ["已忽略的列：序号、备注（案件导入不读取这些列）"]


async def test_a_two_row_grouped_header_after_a_guide_sheet(tmp_path: Path) -> None:
    """序号 merged down over both header rows, 案件信息 / 办案人员 / 期限 merged over the column
    names below them; a 说明 sheet before the table is passed over."""
    settings = await _settings(tmp_path)
    wb = Workbook()
    guide = wb.active
    assert guide is not None
    guide.title = "说明"
    guide.append(["本表由案件管理系统导出，请勿修改列名。"])
    ws = wb.create_sheet("案件")
    ws.append([TITLE])
    ws.merge_cells("A1:I1")
    ws.append(["序号", "案件信息", None, None, "办案人员", None, "期限", None, "案件编号"])
    ws.append([None, "案由", "阶段", "侦查机关", "检察官", "办案民警", "侦查期限", "羁押期限"])
    for rng in ("A2:A3", "B2:D2", "E2:F2", "G2:H2", "I2:I3"):
        ws.merge_cells(rng)
    ws.append([1, "王某故意伤害案", "审查起诉", "示范市海澄县公安局", "余斌梅", "孙浩|萧宇梅",
               _cell(2026, 12, 1), None, "B-1"])
    f = _write(tmp_path / "导出.xlsx", wb)
    result = await import_cases(settings, ManualClock(START), f, lambda *p: None)
    assert await _cases(settings, result.codes) == [
        ("王某故意伤害案", "审查起诉", "ps-hc", "p-prosecutor-1",
         ["p-investigator-4", "p-investigator-5"], date(2026, 12, 1), None, "B-1")]
    assert result.notes[0] == "已跳过工作表：「说明」（未找到表头）"


async def test_an_ambiguous_name_or_an_unknown_unit_imports_nothing(tmp_path: Path) -> None:
    """Two investigators named 胡宇: the row, the column and both are named, as is a police
    unit the roster does not have; the good row is not imported either."""
    namesake = {"id": "p-investigator-hy2", "name": "胡宇", "unit": "ps-hc",
                "roles": ["investigator"], "ids": {"dingtalk": "dt-hy2"}}
    settings = await _settings(tmp_path, namesake)
    rows = [ROWS[0],
            [2, "赵某抢劫案", "审查逮捕", "海澄公安", "余斌梅", "胡宇", None, None, None, None],
            [3, "钱某诈骗案", "审查逮捕", "ps-hc", "余 斌梅", "张洋艳；胡宇", None, None, None, None]]
    f = _write(tmp_path / "在办案件.xlsx", _office_book(rows))
    with pytest.raises(CaseImportError) as e:
        await import_cases(settings, ManualClock(START), f, lambda *p: None)
    both = ("「胡宇」有 2 人同名：胡宇（p-investigator-1，示范市海澄县公安局刑事侦查大队）、"
            "胡宇（p-investigator-hy2，示范市海澄县公安局），请改填人员编号")
    assert e.value.errors == [
        f"{f}:4: 移送单位: 名册中没有公安机关「海澄公安」（须为名册中的单位全称或单位编号）",
        f"{f}:4: 侦查员: {both}",
        f"{f}:5: 侦查员: {both}",
    ]
    assert await _cases(settings, ["HY-2026-0001"]) == [("HY-2026-0001", None)]
