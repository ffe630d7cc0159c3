"""Drive a 检务督导面对面 session through the console API, as the host would."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from typing import Any

from aiohttp import FormData
from openpyxl import Workbook
from sqlalchemy import select

from storage import inspection as store
from tests.conftest import Console

HOST = "p-inspector-1"
GROUP = "g-inspection"


async def say(console: Console, text: str, user: str = HOST, chat: str = GROUP, *,
              answered: bool = True) -> list[dict[str, Any]]:
    """`text` as `user` in `chat`. A plain 下一题 comes a minute after the last, as when the
    unit has answered (`answered=False`: at once, as a double send would)."""
    if text == "下一题" and answered:
        await console.advance("1m")
    r = await console.send(user, chat, text)
    assert r["status"] == "handled", r
    return list(r["messages"])


def card(messages: list[dict[str, Any]], title_start: str) -> dict[str, Any]:
    found = [m["card"] for m in messages if m["card"] and m["card"]["title"].startswith(title_start)]
    assert found, [m["card"]["title"] if m["card"] else m["text"] for m in messages]
    return dict(found[0])


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join((m["text"] or "") + json.dumps(m["card"], ensure_ascii=False) for m in messages)


async def session_row(console: Console, chat: str = GROUP) -> store.InspectionSession:
    async with console.app.services.db() as db:
        s = await store.latest_in_chat(db, chat)
    assert s is not None
    return s


async def asks(console: Console, sid: str) -> list[store.Ask]:
    async with console.app.services.db() as db:
        return await store.asks_of(db, sid)


async def bank(console: Console) -> dict[str, store.Question]:
    async with console.app.services.db() as db:
        rows = (await db.execute(select(store.Question))).scalars()
        return {q.id: q for q in rows}


def city_chief(console: Console, unit_id: str) -> str:
    d = console.app.services.directory
    city = d.city_of(unit_id)
    assert city is not None
    chief = d.chief_of(city.id)
    assert chief is not None
    return chief.id


async def run_unit(console: Console, per_unit: int, unit_id: str, comment: str) -> list[dict[str, Any]]:
    """下一题 × n, 点评 (prompt), the city chief's 点评, 公布答案."""
    out: list[dict[str, Any]] = []
    for _ in range(per_unit):
        out += await say(console, "下一题")
    out += await say(console, "点评")
    out += await say(console, f"点评 {comment}", user=city_chief(console, unit_id))
    out += await say(console, "公布答案")
    return out


async def quick_session(console: Console, extra: str = "", entropy: str = "5 2 8",
                        title: str = "第一期") -> store.InspectionSession:
    """Create, open and draw a 3 × 3 session."""
    await say(console, f"督导 新建 {title} 单位数=3 题数=3 熵源=福彩3D第2026318期开奖号码 熵格式=3x1 {extra}")
    await say(console, "开始")
    await say(console, f"抽签 {entropy}")
    return await session_row(console)


async def confirm(console: Console, preview_html: str, *, token: str | None = None) -> Any:
    """Submit the confirm form of a bank import preview page, as the browser would
    (multipart/form-data). `token` replaces the page's signed token."""
    found = re.search(r'name="token" value="([^"]*)"', preview_html)
    payload = re.search(r'<textarea name="questions" hidden>(.*?)</textarea>', preview_html, re.S)
    assert found and payload, "no confirm form on the preview page"
    form = FormData(default_to_multipart=True)
    form.add_field("token", token if token is not None else html.unescape(found.group(1)))
    form.add_field("questions", html.unescape(payload.group(1)))
    return await console.client.post("/inspection/bank/confirm", data=form)


def zip_bomb(unpacked_mb: int = 256) -> bytes:
    """A real workbook whose sheet entry unpacks to ``unpacked_mb`` MB (the zip declares it
    honestly) while the file stays about 1 MB."""
    wb = Workbook()
    assert wb.active is not None
    wb.active.append(["编号", "类别", "题目", "参考答案要点"])
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info, src.read(info))
                continue
            with z.open(info.filename, "w", force_zip64=True) as f:
                f.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                        b'spreadsheetml/2006/main"><sheetData><!--')
                for _ in range(unpacked_mb):
                    f.write(b"A" * (1 << 20))
                f.write(b"--></sheetData></worksheet>")
    return out.getvalue()
