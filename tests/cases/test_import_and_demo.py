from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import free_port

SRC = Path(__file__).resolve().parents[2] / "config"


def _cfg(tmp_path: Path) -> Path:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"org: {SRC / 'org.yaml'}\nscore_template: {SRC / 'score_template.yaml'}\n"
                   f"storage: {{database_url: 'sqlite+aiosqlite:///{tmp_path / 'x.db'}'}}\n",
                   encoding="utf-8")
    return cfg


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True)


def test_import_cases_all_or_nothing(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("title,stage,police_unit,prosecutor,investigators,investigation_deadline,"
                   "custody_deadline\n甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,\n"
                   "乙案,侦查,ps-hc-xd,p-prosecutor-1,p-investigator-1,2026-02-30,\n",
                   encoding="utf-8")
    r = _run("import", "cases", str(bad), "--config", str(cfg))
    assert r.returncode == 2 and r.stderr.startswith(f"error: database not found: {tmp_path}/x.db")
    assert not (tmp_path / "x.db").exists()  # an import never creates the database
    assert _run("migrate", "--config", str(cfg)).returncode == 0
    r = _run("import", "cases", str(bad), "--config", str(cfg))
    assert r.returncode == 2  # a bad file, as for the other imports
    assert f"{bad}:3: stage:" in r.stderr and f"{bad}:3: investigation_deadline" in r.stderr
    good = tmp_path / "good.csv"
    good.write_text("title,stage,police_unit,prosecutor,investigators\n"
                    "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1|p-investigator-2\n"
                    "乙案,提前介入,ps-hc,p-prosecutor-2,p-investigator-4\n", encoding="utf-8")
    r = _run("import", "cases", str(good), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "imported 2/2" in r.stdout and "HY-2026-0001, HY-2026-0002" in r.stdout


def _start_demo(port: int, data_dir: Path, token: str = "") -> tuple[subprocess.Popen[str], str]:
    """`casebot demo` on ``port`` and ``data_dir``, once it is ready: the process, its banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--port", str(port), "--data-dir",
         str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "CASEBOT_API_TOKEN": token})
    assert proc.stdout is not None
    banner = ""
    deadline = time.monotonic() + 60
    while "casebot demo ready" not in banner and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=20)
            pytest.fail(f"demo exited early: {banner}")
        banner += line
    return proc, banner


def test_import_cases_of_an_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    assert _run("migrate", "--config", str(cfg)).returncode == 0
    empty = tmp_path / "empty.csv"
    for content in (b"", b"\xef\xbb\xbf\r\n"):  # 0 bytes; a BOM and a blank line
        empty.write_bytes(content)
        r = _run("import", "cases", str(empty), "--config", str(cfg))
        assert r.returncode == 2
        assert r.stderr.endswith(f"{empty}：未导入，请修改：\n"
                                 f"  {empty}: 文件为空：没有表头，也没有数据行\n"), content
        assert "缺少列" not in r.stderr


def test_import_cases_uses_the_signing_keys_from_the_environment(tmp_path: Path) -> None:
    """With CASEBOT_LINK_KEYS set, as for `casebot serve`, the import does not tell the operator
    that the keys are missing."""
    cfg = _cfg(tmp_path)
    assert _run("migrate", "--config", str(cfg)).returncode == 0
    good = tmp_path / "good.csv"
    good.write_text("title,stage,police_unit,prosecutor,investigators\n"
                    "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bot.cli", "import", "cases", str(good),
                        "--config", str(cfg)], capture_output=True, text=True,
                       env={**os.environ, "CASEBOT_LINK_KEYS": "k-new,k-old"})
    assert r.returncode == 0, r.stderr
    assert "1 cases imported" in r.stdout
    assert "signing keys" not in r.stderr and "WARNING" not in r.stderr, r.stderr


@pytest.mark.parametrize("token", ["", "s3cret-from-the-environment"])
def test_demo_starts_with_data_and_answers(tmp_path: Path, token: str) -> None:
    port = free_port()
    proc, banner = _start_demo(port, tmp_path / "demo", token)
    try:
        if token:  # a real token is never printed
            assert token not in banner
            assert "integration API token: from CASEBOT_API_TOKEN" in banner
        else:
            assert "integration API token: demo-token" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/cases/HY-2026-0001",
                                     headers={"Authorization": f"Bearer {token or 'demo-token'}"})
        with urllib.request.urlopen(req) as r:
            assert json.loads(r.read())["color"] == "red"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_a_second_demo_on_a_busy_data_dir_or_port_deletes_nothing(tmp_path: Path) -> None:
    """`make demo` run twice: the second one stops with one line before it wipes anything, and
    the first one keeps its database and answers."""
    port, data_dir = free_port(), tmp_path / "demo"
    proc, _ = _start_demo(port, data_dir)
    try:
        db_file = data_dir / "casebot.db"
        before = db_file.stat().st_ino
        r = _run("demo", "--port", str(free_port()), "--data-dir", str(data_dir))
        assert r.returncode == 2
        assert r.stderr == (f"error: demo data dir {data_dir} is in use by another casebot demo "
                            f"(pid {proc.pid}); nothing was deleted: stop that demo or pass "
                            "another --data-dir\n")
        # the same port, another data dir: refused before that dir is wiped
        other = tmp_path / "other"
        other.mkdir()
        (other / "keep.txt").write_text("mine", encoding="utf-8")
        r = _run("demo", "--port", str(port), "--data-dir", str(other))
        assert r.returncode == 2
        assert r.stderr == (f"error: cannot listen on 127.0.0.1:{port}: address already in use "
                            "(--host / --port)\n")
        assert (other / "keep.txt").read_text(encoding="utf-8") == "mine"
        # the first demo still has its database, with its data
        assert db_file.stat().st_ino == before
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/cases/HY-2026-0001",
                                     headers={"Authorization": "Bearer demo-token"})
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    # once it stopped, the data dir is free again: a new demo starts there, fresh
    (data_dir / "left-over.txt").write_text("old", encoding="utf-8")
    proc, _ = _start_demo(port, data_dir)
    assert not (data_dir / "left-over.txt").exists()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0


HEADER = "title,stage,police_unit,prosecutor,investigators,investigation_deadline,custody_deadline\n"
ROW = "甲案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,2026-12-20,2026-12-31\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_import_cases_reads_what_excel_saves(tmp_path: Path, encoding: str) -> None:
    """Excel's CSV: UTF-8 with or without BOM, or GBK (「CSV（逗号分隔）」 on Chinese Windows),
    and trailing rows of bare commas, which are blank rows, not cases."""
    from bot.importer import read_cases

    f = tmp_path / "cases.csv"
    f.write_text(HEADER + ROW + ",,,,,,\n\n" + ROW.replace("甲", "乙") + ",,,,,,\n",
                 encoding=encoding)
    rows, errors = read_cases(f)
    assert errors == []
    assert [(n, c.title) for n, c in rows] == [(2, "甲案"), (4, "乙案")]  # Excel's row numbers


@pytest.mark.parametrize("typed", [
    "2026-12-20", "2026/12/20", "2026.12.20", "2026年12月20日", "２０２６／１２／２０",
    "２０２６年１２月２０日", " 2026/12/20 "])
@pytest.mark.parametrize("custody", ["2026-1-5", "2026/1/5", "2026.1.5", "2026年1月5日"])
def test_import_cases_reads_dates_as_chinese_excel_saves_them(tmp_path: Path, typed: str,
                                                             custody: str) -> None:
    """Excel in Chinese saves a date cell as 2026/12/20; offices also type 2026.12.20 and
    2026年12月20日, without zero padding, in full-width digits from an input method."""
    from bot.importer import read_cases

    f = tmp_path / "cases.csv"
    f.write_text(HEADER + ROW.replace("2026-12-20", typed).replace("2026-12-31", custody),
                 encoding="gbk")
    rows, errors = read_cases(f)
    assert errors == []
    [(_, case)] = rows
    assert case.investigation_deadline == date(2026, 12, 20)
    assert case.custody_deadline == date(2026, 1, 5)


@pytest.mark.parametrize(("typed", "reason"), [
    ("2026/2/30", "日期不存在"),
    ("2026年13月1日", "日期不存在"),
    ("2026/12-20", "不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日）"),
    ("12/20/2026", "不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日）"),
    ("2026/12/20 0:00", "不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日）"),
    ("20261220", "不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日）"),
    ("2026年12月20", "不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日）"),
    ("12月20日", "不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D 或 YYYY年M月D日）"),
])
def test_import_cases_refuses_other_dates_precisely(tmp_path: Path, typed: str,
                                                   reason: str) -> None:
    from bot.importer import read_cases

    f = tmp_path / "cases.csv"
    f.write_text(HEADER + ROW.replace("2026-12-31", typed), encoding="utf-8")
    assert read_cases(f)[1] == [f"{f}:2: custody_deadline: {reason}：{typed!r}"]


def test_import_cases_errors_are_per_row_and_in_chinese(tmp_path: Path) -> None:
    from bot.importer import read_cases

    f = tmp_path / "cases.csv"
    f.write_text(HEADER + ROW.replace("2026-12-20", "12/20/2026")
                 + "张某,李某盗窃案,审查逮捕,ps-hc-xd,p-prosecutor-1,p-investigator-1,,\n",
                 encoding="utf-8")
    errors = read_cases(f)[1]
    assert errors == [f"{f}:2: investigation_deadline: 不是日期（须为 YYYY-MM-DD、YYYY/M/D、YYYY.M.D "
                      "或 YYYY年M月D日）：'12/20/2026'",
                      f"{f}:3: 本行比表头多 1 列（文字中的逗号须加引号）"]
    f.write_text("title,stage\n甲案,审查逮捕\n", encoding="utf-8")
    assert read_cases(f)[1] == [
        f"{f}: 缺少列：police_unit, prosecutor, investigators（表头应为 {HEADER.strip()},external_id）"]
    f.write_text(HEADER + ",,,,,,\n", encoding="utf-8")
    assert read_cases(f)[1] == [f"{f}: 文件中没有案件"]
