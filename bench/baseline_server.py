"""The baseline: a bare aiohttp handler doing the same indexed SQLite read as `码 <code>`."""

from __future__ import annotations

import json
import sys

import aiosqlite
from aiohttp import web


async def make_app(db_path: str) -> web.Application:
    app = web.Application()
    conn = await aiosqlite.connect(db_path)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")

    async def lookup(request: web.Request) -> web.Response:
        body = await request.json()
        code = body["text"].split()[1]
        async with conn.execute("SELECT code, title, score, color FROM cases WHERE code = ?",
                                (code,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return web.json_response({"messages": []})
        return web.json_response({"messages": [{"text": json.dumps(list(row),
                                                                   ensure_ascii=False)}]})

    async def close(_: web.Application) -> None:
        await conn.close()  # its worker thread would keep the process alive

    app.on_cleanup.append(close)
    app.router.add_post("/console/api/send", lookup)
    app.router.add_get("/healthz", lambda _: web.json_response({"ok": True}))  # type: ignore[arg-type,return-value]
    return app


if __name__ == "__main__":
    web.run_app(make_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), print=None,
                access_log=None)
