"""/admin/roster over HTTP: who may open it, what it lists, the search, and the roster import:
preview (changes and errors per row, nothing written), apply (org.yaml written, the running
bot uses it at once, the audit chain names the admin), and the refusals."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.roster import COLUMNS, org_version, read_org_file
from config.loader import Settings
from storage import audit
from storage import roster as roster_store
from storage.models import AuditRecord
from tests.admin.conftest import ADMIN
from tests.conftest import Console, free_port, open_console

HEADER = ",".join(COLUMNS) + "\n"
GOOD = (HEADER
        + "c12,新设市人民检察院,city,prov,,p-chief-c12,周新,dt-9001\n"
        + "c12-01,新设市新城区人民检察院,county,c12,XQ,p-chief-c12-01,吴城,\n"
        + "c01-02,示范市乐顺区人民检察院,county,c01,YK,,,\n")
BAD = (HEADER
       + "c13,某市,town,prov,,,,\n"
       + "c13-01,某县,county,c99,ZZ,,,\n"
       + "c13-02,某县二,county,c01,HY,p-new,,\n"
       + "c13-03,某县三,county,c01,QQ,p-x,某人,dt-0128\n")


async def login(console: Console, user: str) -> None:
    r = await console.client.post("/console/api/login", json={"user": user})
    assert r.status == 200


async def get_page(console: Console, query: str = "") -> tuple[int, str]:
    r = await console.client.get("/admin/roster" + query)
    return r.status, await r.text()


async def preview(console: Console, body: bytes | str, name: str = "roster.csv") -> tuple[int, str]:
    import aiohttp

    form = aiohttp.FormData(quote_fields=False)  # as browsers send a UTF-8 file name
    data = body.encode() if isinstance(body, str) else body
    form.add_field("file", data, filename=name, content_type="text/csv")
    r = await console.client.post("/admin/roster/preview", data=form)
    return r.status, await r.text()


def hidden(page: str) -> dict[str, str]:
    return {m[0]: html.unescape(m[1]) for m in
            re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)}


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</table>", start)]


async def user_ids(console: Console) -> set[str]:
    r = await console.client.get("/console/api/users")
    return {u["id"] for u in (await r.json())["users"]}


async def test_only_admins_open_the_page(console: Console) -> None:
    status, page = await get_page(console)
    assert status == 401 and "请先登录" in page
    await login(console, "p-prosecutor-1")
    status, page = await get_page(console)
    assert status == 403 and "名册管理仅限管理员使用" in page
    status, page = await preview(console, GOOD)
    assert status == 403


async def test_the_page_lists_units_people_and_chats(console: Console) -> None:
    await login(console, ADMIN)
    status, page = await get_page(console)
    assert status == 200
    assert "示范省人民检察院" in page and "示范市海澄县人民检察院" in page
    assert "单位 125 个 · 人员 139 人 · 群 2 个" in page
    # the people 50 a page (the whole roster was some 30,000 px on a phone), folded until asked
    assert page.count("data-person=") == 50 and "第 1–50 人，共 139 人" in page
    assert '<details id="people-list" class="fold">' in page and "下一页" in page
    status, page = await get_page(console, "?page=3")
    assert status == 200 and page.count("data-person=") == 39 and "第 101–139 人" in page
    assert "上一页" in page and "下一页" not in page
    assert '<details id="people-list" class="fold" open>' in page
    row = page[page.index('data-person="p-admin-1"'):]
    row = row[:row.index("</tr>")]
    assert "邓建" in row and "管理员" in row and "dt-0128" in row and "海澄县检警协作群" in row
    assert 'data-chat="g-case-team"' in page and "余斌梅" in page
    assert "无需重启" in page and "下一次定时检查时（默认每分钟一次）生效" in page  # when it is used


async def test_search(console: Console) -> None:
    await login(console, ADMIN)
    status, page = await get_page(console, "?q=余斌梅")
    assert status == 200
    assert "搜索「余斌梅」：人员 1 人，单位 0 个，群 1 个。" in page
    assert page.count("data-person=") == 1
    status, page = await get_page(console, "?q=海澄")
    assert "单位 3 个" in page and "示范市海澄县公安局刑事侦查大队" in section(page, "units")


async def test_preview_shows_changes_and_writes_nothing(console: Console, org_path: Path) -> None:
    before = org_path.read_bytes()
    await login(console, ADMIN)
    status, page = await preview(console, GOOD)
    assert status == 200, re.findall(r"<td class=\"error\">(.*?)<", page)
    assert "共 3 行：新增单位 2 个，修改单位 1 个，新增人员 2 人，修改人员 0 人。" in page
    changes = section(page, "preview-changes")
    assert "新设市新城区人民检察院" in changes and "吴城" in changes
    assert "名称：示范市乐顺市人民检察院 → 示范市乐顺区人民检察院" in changes
    assert 'id="apply"' in page
    assert org_path.read_bytes() == before
    assert "p-chief-c12" not in await user_ids(console)


async def test_errors_per_row_in_chinese_and_no_apply(console: Console, org_path: Path) -> None:
    before = org_path.read_bytes()
    await login(console, ADMIN)
    status, page = await preview(console, BAD)
    assert status == 422
    errors = re.sub(r"<[^>]+>", " ", section(page, "preview-errors"))
    for row, message in (
        (2, "类型（kind）须为 city（市院）或 county（县区院），实际为「town」"),
        (3, "上级单位「c99」不存在"),
        (4, "案件码前缀 HY 已被 示范市海澄县人民检察院（c01-01）使用"),
        (4, "新增检察长 p-new 须填写姓名（chief_name）"),
        (5, "钉钉 ID dt-0128 已属于 邓建（p-admin-1）"),
    ):
        assert re.search(rf"第 {row} 行\s*{re.escape(message)}", errors), (row, message, errors)
    assert "本次不会导入任何一行" in page and 'id="apply"' not in page
    status, page = await preview(console, "name,kind\n某县,county\n")
    assert status == 422 and "缺少列：unit_id" in page
    assert org_path.read_bytes() == before


async def test_an_empty_file_is_said_to_be_empty(console: Console, org_path: Path) -> None:
    """A chosen 0-byte file was answered 「请选择要导入的 CSV 文件」, as if none was chosen."""
    before = org_path.read_bytes()
    await login(console, ADMIN)
    for body in (b"", "\ufeff\r\n\r\n".encode()):  # 0 bytes; Excel's BOM and blank lines
        status, page = await preview(console, body, name="名册.csv")
        assert status == 422, body
        assert upload_error(page) == "文件为空：没有表头，也没有数据行", body
    # no file chosen: the browser sends the field with no file name and no content
    status, page = await preview(console, b"", name="")
    assert status == 400 and upload_error(page) == "请选择要导入的 CSV 文件。"
    assert org_path.read_bytes() == before


def upload_error(page: str) -> str:
    m = re.search(r'<div class="panel bad" id="upload-error">(.*?)</div>', page, re.S)
    assert m, page
    return html.unescape(m.group(1)).strip()


async def test_excel_gbk_file_is_read(console: Console) -> None:
    await login(console, ADMIN)
    status, page = await preview(console, GOOD.encode("gbk"))
    assert status == 200 and "新设市新城区人民检察院" in page


async def test_apply_writes_uses_and_audits(console: Console, org_path: Path) -> None:
    await login(console, ADMIN)
    _, page = await preview(console, GOOD, name="2026-11 名册.csv")
    form = hidden(page)
    r = await console.client.post("/admin/roster/apply", data=form)
    page = await r.text()
    assert r.status == 200, page
    assert "导入成功" in page and "新增单位 2 个，修改单位 1 个，新增人员 2 人" in page
    assert "本实例已生效" in page
    text = org_path.read_text(encoding="utf-8")
    assert "新设市新城区人民检察院" in text and "示范市乐顺区人民检察院" in text
    assert text.startswith("# SYNTHETIC DEMO DATA")

    # the running bot knows the new chief at once: no restart
    assert {"p-chief-c12", "p-chief-c12-01"} <= await user_ids(console)
    got = await console.send("p-chief-c12-01", "dm:p-chief-c12-01", "我是谁")
    assert "示范省人民检察院 / 新设市人民检察院 / 新设市新城区人民检察院" in got["messages"][0]["text"]
    answer = await console.send(ADMIN, f"dm:{ADMIN}", "单位 c12-01")
    assert "检察长：吴城（p-chief-c12-01）" in answer["messages"][0]["text"]

    async with console.app.services.db() as db:
        [rec] = (await db.execute(select(AuditRecord).where(
            AuditRecord.action == "roster.import"))).scalars().all()
        assert (await audit.verify(db)).ok
    data: dict[str, Any] = json.loads(rec.data)
    assert rec.actor == ADMIN and rec.subject == console.app.services.directory.org.version_hash()
    assert data["file"] == "2026-11 名册.csv" and data["rows"] == 3
    assert data["unit_add"] == ["c12", "c12-01"] and data["unit_change"] == ["c01-02"]
    assert data["person_add"] == ["p-chief-c12", "p-chief-c12-01"]

    # the same confirmation again (a reload, a double click): already there, nothing written
    written = org_path.read_bytes()
    again = await console.client.post("/admin/roster/apply", data=form)
    text = await again.text()
    assert again.status == 200 and "这些内容已导入，名册无需更改" in text, text
    assert "名册在预览之后已被修改" not in text and "导入成功" not in text
    assert org_path.read_bytes() == written
    async with console.app.services.db() as db:
        assert len((await db.execute(select(AuditRecord).where(
            AuditRecord.action == "roster.import"))).all()) == 1
    # and the same file again: every row 无变化, nothing to confirm
    status, page = await preview(console, GOOD)
    assert status == 200 and "这些内容已导入，名册无需更改" in page and 'id="apply"' not in page


async def test_a_roster_file_up_to_2_mb_previews_and_applies(console: Console,
                                                             org_path: Path) -> None:
    """The page's own limit is 2 MB: a 1.5 MB file (1,200 county offices, each with a long
    备注 column the import passes over) previews and the page's confirm form (multipart)
    applies it; aiohttp's 1 MiB body cap used to answer with an English 413. Over 2 MB the
    page says so in Chinese, before the rest is read."""
    await login(console, ADMIN)
    remark = "机构沿革：" + "原为派出检察室，后改设为区人民检察院。" * 21
    big = (",".join([*COLUMNS, "备注"]) + "\n" + "".join(
        f"c01-{n:04d},示范市第{n}号测试区人民检察院,county,c01,,,,,{remark}\n"
        for n in range(100, 1300))).encode()
    assert 1_400_000 < len(big) < 2 * 1024 * 1024
    n = 1299
    status, page = await preview(console, big)
    assert status == 200, page[:300]
    assert f"示范市第{n}号测试区人民检察院" in page and 'id="apply"' in page and remark not in page
    assert 'action="/admin/roster/apply" enctype="multipart/form-data"' in page
    form = aiohttp.FormData(default_to_multipart=True)  # as the page's form sends it
    for name, value in hidden(page).items():
        form.add_field(name, value)
    r = await console.client.post("/admin/roster/apply", data=form)
    assert r.status == 200 and "导入成功" in await r.text()
    assert console.app.services.directory.unit(f"c01-{n}") is not None

    before = org_path.read_bytes()
    sent = 0
    boundary = "casebotRoster"
    chunk = ("c01-99999,某县人民检察院,county,c01,,,,\n" * 2000).encode()

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"huge.csv\"\r\nContent-Type: text/csv\r\n\r\n{HEADER}").encode()
        while sent < 32 * 1024 * 1024:
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await console.client.post(
        "/admin/roster/preview", data=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 413 and "文件过大（上限 2 MB）" in await r.text()
    assert sent < 16 * 1024 * 1024, f"the server read {sent} bytes before refusing"
    assert org_path.read_bytes() == before


async def test_apply_from_another_origin_is_refused(console: Console, org_path: Path) -> None:
    """CSRF: a page on a sibling site (another port of this host; the session cookie is
    SameSite=Lax, so it rides along) posts the form with the admin's cookie. The `base` field
    is no secret: every draw's manifest publishes the roster version."""
    await login(console, ADMIN)
    form = {"csv": GOOD, "filename": "x.csv", "base": org_version(read_org_file(org_path))}
    before = org_path.read_bytes()
    for origin in ("http://127.0.0.1:1", "http://evil.example", "null"):
        r = await console.client.post("/admin/roster/apply", data=form,
                                      headers={"Origin": origin})
        assert r.status == 403 and "跨站请求已拒绝" in (await r.json())["error"]
    assert org_path.read_bytes() == before
    r = await console.client.post("/admin/roster/apply", data=form, headers={
        "Origin": console.app.settings.config.web.public_url})  # the page's own origin
    assert r.status == 200 and "导入成功" in await r.text()


async def test_a_malformed_form_is_a_400(console: Console, org_path: Path) -> None:
    await login(console, ADMIN)
    before = org_path.read_bytes()
    for path in ("/admin/roster/preview", "/admin/roster/apply"):
        for content_type in ("multipart/form-data", "multipart/form-data; boundary=xyz"):
            r = await console.client.post(path, data=b"csv=x",
                                          headers={"Content-Type": content_type})
            assert r.status == 400 and "表单格式有误" in (await r.json())["error"]
    assert org_path.read_bytes() == before


async def test_apply_refused_for_others(console: Console, org_path: Path) -> None:
    await login(console, ADMIN)
    _, page = await preview(console, GOOD)
    form = hidden(page)
    before = org_path.read_bytes()
    await login(console, "p-leader-1")
    r = await console.client.post("/admin/roster/apply", data=form)
    assert r.status == 403
    console.client.session.cookie_jar.clear()
    r = await console.client.post("/admin/roster/apply", data=form)
    assert r.status == 401
    assert org_path.read_bytes() == before
    async with console.app.services.db() as db:
        assert not (await db.execute(select(AuditRecord).where(
            AuditRecord.action == "roster.import"))).first()


async def test_apply_after_another_import_is_refused(console: Console, org_path: Path) -> None:
    await login(console, ADMIN)
    _, page = await preview(console, GOOD)
    mine = hidden(page)
    _, page = await preview(console, HEADER + "c01-03,示范市另一县人民检察院,county,c01,,,,\n")
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    assert r.status == 200 and "导入成功" in await r.text()
    r = await console.client.post("/admin/roster/apply", data=mine)
    assert r.status == 409 and "名册在预览之后已被修改" in await r.text()


def errors_in(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section(page, "preview-errors")))


async def test_a_unit_with_offices_under_it_keeps_its_kind(console: Console, org_path: Path) -> None:
    before = org_path.read_bytes()
    await login(console, ADMIN)
    status, page = await preview(console, HEADER + "c01,示范市人民检察院,county,c02,,,,\n")
    assert status == 422 and 'id="apply"' not in page
    errors = errors_in(page)
    assert "第 2 行 单位 c01 下有 14 个下级单位（示范市海澄县人民检察院（c01-01）、" in errors
    assert "不能由市院改为县区院" in errors
    # confirming anyway (a stale or forged form) writes nothing either
    form = {"csv": HEADER + "c01,示范市人民检察院,county,c02,,,,\n",
            "base": org_version(read_org_file(org_path)), "filename": "x.csv"}
    r = await console.client.post("/admin/roster/apply", data=form)
    assert r.status == 422
    assert org_path.read_bytes() == before
    answer = await console.send(ADMIN, f"dm:{ADMIN}", "单位 c01-01")
    assert "隶属：示范省人民检察院 / 示范市人民检察院\n" in answer["messages"][0]["text"]


async def test_a_refused_row_does_not_change_the_others(console: Console) -> None:
    await login(console, ADMIN)
    status, page = await preview(console, HEADER
                                 + "prov,改省院,city,prov,,,,\n"
                                 + "c12,新设市人民检察院,city,prov,,,,\n"
                                 + "c18,县挂省,county,prov,,,,\n"
                                 + "c01,示范市人民检察院,county,c02,,,,\n"
                                 + "c01-02,示范市乐顺区人民检察院,county,c01,,,,\n"
                                 + "c13,某市,city,prov,hy,,,\n"
                                 + "c13-01,某市某县,county,c13,,,,\n")
    assert status == 422
    errors = errors_in(page)
    assert "第 2 行 单位 prov 已存在，是省院，不能用名册导入修改" in errors
    assert "第 3 行" not in errors and "第 6 行" not in errors  # prov is still the province
    assert "第 4 行 县区院的上级单位须为市院，「prov」是省院" in errors  # not 新增
    assert "第 7 行 案件码前缀「hy」须为 2–4 个大写字母" in errors
    assert "第 8 行 上级单位「c13」（第 7 行）有误，未能新增" in errors
    assert "「prov」是市院" not in errors and "「c01」是县区院" not in errors
    changes = section(page, "preview-changes")
    assert "c12" in changes and "c18" not in changes and "c13-01" not in changes


async def test_police_staff_are_not_made_chief(console: Console, org_path: Path) -> None:
    before = org_path.read_bytes()
    await login(console, ADMIN)
    status, page = await preview(console, HEADER
                                 + "c01-01,海澄县,county,c02,,p-investigator-1,,\n")
    assert status == 422 and 'id="apply"' not in page
    assert ("第 2 行 胡宇（p-investigator-1）是公安机关人员（示范市海澄县公安局刑事侦查大队），"
            "不能任检察长，也不能调入检察院") in errors_in(page)
    assert org_path.read_bytes() == before


async def test_a_blank_column_keeps_the_current_value(console: Console, org_path: Path) -> None:
    await login(console, ADMIN)
    status, page = await preview(console, HEADER
                                 + "c01-01,示范市海澄县检察院,county,,,p-chief-c01-01,,\n")
    assert status == 200, errors_in(page)
    changes = section(page, "preview-changes")
    assert "名称：示范市海澄县人民检察院 → 示范市海澄县检察院" in changes
    assert "案件码前缀" not in changes and "上级单位" not in changes
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    assert r.status == 200 and "导入成功" in await r.text()
    unit = next(u for u in console.app.services.directory.org.units if u.id == "c01-01")
    assert (unit.name, unit.parent, unit.code_prefix) == ("示范市海澄县检察院", "c01", "HY")
    chief = console.app.services.directory.person("p-chief-c01-01")
    assert chief is not None and chief.name == "任阳阳" and "dingtalk" in chief.ids


async def test_search_by_unit_name_lists_its_people(console: Console) -> None:
    await login(console, ADMIN)
    status, page = await get_page(console, "?q=海澄")
    assert status == 200 and "搜索「海澄」：人员 12 人，单位 3 个" in page
    people = page[page.index('id="people"'):]
    assert 'data-person="p-prosecutor-1"' in people and 'data-person="p-investigator-4"' in people
    units = section(page, "units")
    row = units[units.index("<td>c01-01</td>"):]
    assert "<td>示范省人民检察院 / 示范市人民检察院</td>" in row[:row.index("</tr>")]


async def test_an_import_on_one_instance_reaches_the_others_without_a_restart(
        console: Console, settings: Settings, org_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Two instances behind a load balancer sharing org.yaml: the admin imports on A; the new
    chief's messages reach B half of the time, and B knows them from its next tick on (the
    reminder sweep interval), without a restart. A broken hand edit keeps the roster."""
    async with open_console(settings, free_port()) as other:
        await login(console, ADMIN)
        _, page = await preview(console, GOOD)
        r = await console.client.post("/admin/roster/apply", data=hidden(page))
        assert r.status == 200
        assert "p-chief-c12-01" not in await user_ids(other)
        await other.advance("1m")
        assert "p-chief-c12-01" in await user_ids(other)
        got = await other.send("p-chief-c12-01", "dm:p-chief-c12-01", "我是谁")
        assert "新设市新城区人民检察院" in got["messages"][0]["text"]
        await login(other, ADMIN)
        status, text = await get_page(other, "?q=新城区")
        assert status == 200 and "吴城" in text

        caplog.set_level(logging.WARNING)
        org_path.write_text(org_path.read_text(encoding="utf-8").replace(
            "p-chief-c12-01", "p-chief-c99-01", 1) + "people: [oops\n", encoding="utf-8")
        await other.advance("1m")
        assert "p-chief-c12-01" in await user_ids(other)
        [warned] = [rec.getMessage() for rec in caplog.records if "roster" in rec.getMessage()]
        assert f"{org_path} changed but is not valid, still using the roster" in warned
        await other.advance("1m")  # the same broken file: no second warning
        assert len([rec for rec in caplog.records if "roster" in rec.getMessage()]) == 1


async def test_a_stored_version_this_casebot_cannot_read_keeps_the_roster(
        console: Console, org_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A newer casebot (a rolling upgrade) stored a roster with a key this one does not know:
    one warning, this instance keeps its roster and its org.yaml, and takes the next version
    it can read."""
    text = org_path.read_text(encoding="utf-8")
    async with console.app.services.db() as db, db.begin():
        await roster_store.add(db, parent_id=1, text=text + "regions: []\n", sha256="f" * 64,
                               roster_version="0" * 64, source="import",
                               imported_by="p-admin-1", at=console.clock.now())
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        await console.advance("1m")
    [warned] = [r.getMessage() for r in caplog.records if "roster" in r.getMessage()]
    assert warned.startswith("roster: roster #2 (imported by p-admin-1) in the database does not "
                             "pass this casebot's checks, still using the roster in use: ")
    assert "regions: unknown key" in warned
    assert org_path.read_text(encoding="utf-8") == text
    await login(console, ADMIN)
    status, page = await preview(console, GOOD)
    assert status == 422 and "当前名册由较新版本的 casebot 保存，本实例无法读取" in page
    assert 'id="apply"' not in page

    renamed = text.replace("name: 余斌梅\n", "name: 余彬梅\n")
    async with console.app.services.db() as db, db.begin():
        await roster_store.add(db, parent_id=2, text=renamed, sha256="e" * 64,
                               roster_version="1" * 64, source="file", imported_by=None,
                               at=console.clock.now())
    await console.advance("1m")
    person = console.app.services.directory.person("p-prosecutor-1")
    assert person is not None and person.name == "余彬梅"
    assert org_path.read_text(encoding="utf-8") == renamed
    assert len([r for r in caplog.records if "roster" in r.getMessage()]) == 1


async def test_a_stored_version_this_casebot_cannot_parse_is_explained_on_the_page(
        console: Console) -> None:
    """A newer casebot stored a roster in YAML this one cannot read at all (a tag it does not
    know): the preview says so in Chinese instead of failing with a 500."""
    async with console.app.services.db() as db, db.begin():
        await roster_store.add(db, parent_id=1, text="units: !regions []\npeople: []\n",
                               sha256="f" * 64, roster_version="0" * 64, source="import",
                               imported_by="p-admin-1", at=console.clock.now())
    await login(console, ADMIN)
    status, page = await preview(console, GOOD)
    assert status == 422 and "当前名册由较新版本的 casebot 保存，本实例无法读取" in page
    assert 'id="apply"' not in page


async def test_names_with_control_or_bidi_characters_are_refused(
        console: Console, org_path: Path) -> None:
    """A unit renamed 「\u202e乐顺\x01」 or a chief named with a bidi override went into the
    roster, and from there into every chat and card that names them."""
    before = org_path.read_bytes()
    await login(console, ADMIN)
    status, page = await preview(console, HEADER
                                 + "c01-02,\u202e乐顺\x01,county,c01,YK,,,\n"
                                 + "c12,新设市人民检察院,city,prov,,p-chief-c12,周\u2066新,\n"
                                 + "c13,\u200b,city,prov,,,,\n")
    assert status == 422 and 'id="apply"' not in page
    errors = errors_in(page)
    assert "第 2 行 单位名称（name）含有控制字符或不可见的格式字符（U+202E），请删除后重试" in errors
    assert "第 3 行 检察长姓名（chief_name）含有控制字符或不可见的格式字符（U+2066），请删除后重试" in errors
    assert "第 4 行 单位名称（name）不能为空" in errors
    assert org_path.read_bytes() == before
    # a name with an emoji joined by U+200D is text like any other
    status, page = await preview(
        console, HEADER + "c01-02,乐顺👩\u200d👩\u200d👧区人民检察院,county,c01,YK,,,\n")
    assert status == 200 and 'id="apply"' in page
