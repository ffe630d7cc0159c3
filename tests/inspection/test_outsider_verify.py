"""An outside observer verifies a draw without trusting the bot (SPEC §4 "Verifiable draw",
bot/domain/draw.md §13): the cards, the verify page and the report give full addresses; the
observer downloads the published files and verify.py (bot/domain/draw.py, unchanged) into an
empty folder and runs it with their own python3, outside the repository."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.domain.draw import Manifest, publication, run_draw
from tests.conftest import Console, require
from tests.inspection.helpers import card, quick_session, say, session_row
from tests.inspection.test_report import all_text

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = re.compile(r"https?://[!-~]+")  # as written in the Chinese text: up to （，： or a space


def addresses(text: str) -> list[str]:
    return ADDRESS.findall(text)


async def fetch(url: str) -> bytes:
    """A download by an outsider: a plain HTTP client, not the test client or a login."""
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200, (url, r.status)
        return await r.read()


def observer(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The observer's own python3 (the system's, not the project's virtualenv), in their folder,
    with a clean environment: no PYTHONPATH, nothing of the repository."""
    python3 = shutil.which("python3", path=os.defpath)
    require("a system python3", python3 is not None)
    assert python3 is not None
    return subprocess.run([python3, *args], cwd=folder, env={"PATH": os.defpath},
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def operator_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


async def test_an_outsider_verifies_the_draw_with_python3_and_the_published_files(
        console: Console, tmp_path: Path) -> None:
    base = console.app.services.config.web.base_url
    folder = tmp_path / "observer"
    folder.mkdir()
    created = await say(console, "督导 新建 第一期 单位数=3 题数=3 熵源=福彩3D第2026318期开奖号码 熵格式=3x1")
    commit = card(created, "抽签承诺")
    s = await session_row(console)
    manifest_url = f"{base}/draw/{s.id}/manifest.json"
    publication_url = f"{base}/draw/{s.id}/publication.json"
    verifier_url, spec_url = f"{base}/draw/verify.py", f"{base}/draw/spec"
    # before the draw: the commitment card names the manifest and the verifier by full address,
    # and its 复核说明 button opens the steps for this session; the observer keeps the manifest
    assert addresses(commit["body"]) == [manifest_url, verifier_url]
    assert "python3 verify.py publication.json manifest.json" in commit["body"]
    assert [a["url"] for a in commit["actions"]] == [manifest_url, f"{base}/draw/verify?session={s.id}"]
    (folder / "manifest.json").write_bytes(await fetch(manifest_url))
    before = await fetch(f"{base}/draw/verify?session={s.id}")
    assert f"会议 {s.id} 尚未抽签".encode() in before and publication_url.encode() in before

    await say(console, "开始")
    result = card(await say(console, "抽签 5 2 8"), "抽签结果")
    body = result["body"]
    # the result card: the outsider's steps with full addresses; the CLI line is the operator's
    assert addresses(body) == [publication_url, manifest_url, verifier_url, spec_url]
    assert "python3 verify.py publication.json manifest.json" in body
    assert f"运维人员（在本系统服务器上）：casebot draw verify {s.id}" in body
    assert body.count("casebot draw verify") == 1 and body.count("/draw/") == body.count(f"{base}/draw/")

    (folder / "publication.json").write_bytes(await fetch(publication_url))
    verifier = await fetch(verifier_url)
    (folder / "verify.py").write_bytes(verifier)
    # the verifier is the reference implementation itself, and the page shows its hash
    assert verifier == (ROOT / "bot" / "domain" / "draw.py").read_bytes()
    page = (await fetch(f"{base}/draw/verify?session={s.id}")).decode()
    shown = re.search(r'<code id="verifier-sha256">([0-9a-f]{64})</code>', page)
    assert shown and shown.group(1) == hashlib.sha256(verifier).hexdigest()

    # outside the repository: casebot cannot even be imported there
    assert observer(folder, "-c", "import bot.domain.draw").returncode != 0
    for announced in ([], ["manifest.json"], [s.manifest_hash]):
        run = observer(folder, "verify.py", "publication.json", *announced)
        assert (run.returncode, run.stdout, run.stderr) == (0, "MATCH\n", ""), announced

    # one drawn office replaced by another eligible one: MISMATCH naming it, as the CLI says
    pub = json.loads((folder / "publication.json").read_text(encoding="utf-8"))
    drawn = list(pub["result"]["units"])
    other = next(u["id"] for u in pub["manifest"]["units"] if u["id"] not in drawn)
    pub["result"]["units"][0] = other
    (folder / "publication.json").write_text(json.dumps(pub, ensure_ascii=False), encoding="utf-8")
    run = observer(folder, "verify.py", "publication.json")
    assert run.returncode == 1
    assert run.stdout == f"MISMATCH: unit #1: published {other}, recomputed {drawn[0]}\n"
    cli = operator_cli("draw", "verify", str(folder / "publication.json"))
    assert (cli.returncode, cli.stdout) == (run.returncode, run.stdout)

    # a publication rebuilt after the reveal on another manifest is consistent in itself; the
    # manifest kept from before the draw (or the card's hash) is what exposes it
    pub["result"]["units"][0] = drawn[0]
    m = Manifest.from_dict(pub["manifest"])
    m = Manifest.from_dict({**m.to_dict(), "units": [u.to_dict() for u in m.units if u.id != other]})
    forged = publication(m, run_draw(m, pub["result"]["entropy"], bytes.fromhex(pub["result"]["secret_hex"])))
    (folder / "forged.json").write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    assert observer(folder, "verify.py", "forged.json").stdout == "MATCH\n"
    for kept in ("manifest.json", s.manifest_hash):
        run = observer(folder, "verify.py", "forged.json", kept)
        assert run.returncode == 1 and run.stdout.startswith(
            f"MISMATCH: announced manifest hash: announced before the draw {s.manifest_hash}, "), kept


async def test_the_spec_is_served_and_shipped_with_the_package(console: Console, tmp_path: Path) -> None:
    base = console.app.services.config.web.base_url
    spec = (ROOT / "bot" / "domain" / "draw.md").read_bytes()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/draw/spec") as r:
            assert r.status == 200 and r.content_type == "text/markdown" and r.charset == "utf-8"
            assert await r.read() == spec
        async with http.get(f"{base}/draw/verify.py") as r:
            assert r.status == 200 and r.content_type == "text/plain" and r.charset == "utf-8"
            assert 'filename="verify.py"' in r.headers["Content-Disposition"]
    assert b"## 13. Verifying a published draw" in spec and b"python3 verify.py" in spec
    # the page an observer opens first (复核说明) links the spec and the verifier by full address
    page = await (await console.client.get("/draw/verify")).text()
    assert f'href="{base}/draw/spec"' in page and f'href="{base}/draw/verify.py"' in page
    assert "把地址中的 &lt;会议编号&gt; 换成会议编号" in page

    # the installed package carries the spec next to the verifier (setuptools' build_py copies
    # exactly what a wheel installs)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    for package in ("bot", "handlers", "cards", "storage", "config"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                            "build_py", "-d", str(tmp_path / "out")], cwd=src, capture_output=True,
                           text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / "bot" / "domain" / "draw.md").read_bytes() == spec
    assert (tmp_path / "out" / "bot" / "domain" / "draw.py").is_file()


async def test_the_report_gives_full_addresses_and_labels_the_operator_line(console: Console) -> None:
    base = console.app.services.config.web.base_url
    s = await quick_session(console)
    await say(console, "结束 确认")
    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    r = await console.client.get(f"/inspection/{s.id}/report.docx")
    assert r.status == 200
    text = all_text(await r.read())
    lines = text.splitlines()
    for line in (f"1. 下载抽签数据 {base}/draw/{s.id}/publication.json 和抽签清单 "
                 f"{base}/draw/{s.id}/manifest.json",
                 f"2. 下载复核程序 {base}/draw/verify.py（只用 Python 标准库，可直接阅读；"
                 f"算法说明 {base}/draw/spec）",
                 f"运维人员（在本系统服务器上）：casebot draw verify {s.id}"):
        assert line in lines, line
    assert any(line.startswith("3. 在装有 Python 3.10 或更高版本的电脑上运行 python3 verify.py "
                               "publication.json manifest.json") for line in lines)
    # no address an outsider cannot type: every /draw/ link is a full one
    assert text.count("/draw/") == text.count(f"{base}/draw/") >= 4
    shown = next(line for line in lines if line.startswith("复核程序 verify.py 的 SHA-256："))
    verifier = (ROOT / "bot" / "domain" / "draw.py").read_bytes()
    assert shown.endswith(hashlib.sha256(verifier).hexdigest())
