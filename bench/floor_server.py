"""The floor: a bare aiohttp handler doing by hand the durable work a casebot `码 <code>` event
must do, with nothing else (no SQLAlchemy, no dispatcher, no cards, no roles).

Per request: one indexed read of the case and its current evaluation (sqlite3, inline); an
HMAC-signed link; then, group-committed with the other requests waiting (one transaction per
batch, inline): the de-duplication claim, the person's message, the reply and a hash-chained
audit record. Replies go out after their commit, as in casebot.

It answers "how close to the bare read can *any* Python implementation of this work get on
this machine?", so that casebot's ratio can be read against it. Not part of the product.
Run: python bench/floor_server.py DB PORT (the database is casebot's, migrated and seeded).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import sys
import uuid
from datetime import UTC, datetime

from aiohttp import web

KEY = b"bench-floor-key"


class GroupCommit:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.queue: list[tuple[tuple[str, str, str, str], asyncio.Future[bool]]] = []
        self.writer: asyncio.Task[None] | None = None
        row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        self.seq, self.prev = (row[0], row[1]) if row else (0, "0" * 64)

    async def commit(self, item: tuple[str, str, str, str]) -> bool:
        fut = asyncio.get_running_loop().create_future()
        self.queue.append((item, fut))
        if self.writer is None:
            self.writer = asyncio.create_task(self.drain())
        return await fut

    async def drain(self) -> None:
        await asyncio.sleep(0)  # let the other ready requests join the batch
        while self.queue:
            batch, self.queue = self.queue, []
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            results = []
            for (event_id, chat, text, reply), _ in batch:
                fresh = c.execute("INSERT OR IGNORE INTO processed_events (event_id, at) "
                                  "VALUES (?, ?)", (event_id, now)).rowcount == 1
                results.append(fresh)
                if not fresh:
                    continue
                c.executemany("INSERT INTO messages (chat, sender, at, text, card, event_id) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              [(chat, "p", now, text, None, event_id),
                               (chat, "bot", now, None, reply, event_id)])
                self.seq += 1
                data = json.dumps({"via": "chat"})
                body = json.dumps({"seq": self.seq, "at": now, "actor": "p", "data": data},
                                  sort_keys=True)
                digest = hashlib.sha256(f"{self.prev}\n{body}".encode()).hexdigest()
                c.execute("INSERT INTO audit_log (seq, at, actor, action, subject, data, "
                          "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (self.seq, now, "p", "case.view", text, data, self.prev, digest))
                self.prev = digest
            c.execute("COMMIT")
            for (_, fut), ok in zip(batch, results, strict=True):
                fut.set_result(ok)
        self.writer = None


async def make_app(db_path: str) -> web.Application:
    app = web.Application()
    read = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    write = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    write.execute("PRAGMA synchronous=NORMAL")
    journal = GroupCommit(write)

    async def lookup(request: web.Request) -> web.Response:
        body = await request.json()
        code = body["text"].split()[1]
        row = read.execute(
            "SELECT c.code, c.title, c.score, c.color, e.deductions FROM cases c LEFT JOIN "
            "evaluations e ON e.case_code = c.code AND e.version = c.version WHERE c.code = ?",
            (code,)).fetchone()
        if row is None:
            return web.json_response({"messages": []})
        token = hmac.new(KEY, f"code:{code}".encode(), hashlib.sha256).hexdigest()
        reply = json.dumps({"title": f"{row[0]} {row[1]}", "score": row[2], "color": row[3],
                            "deductions": json.loads(row[4] or "[]"),
                            "url": f"http://x/c/{token}"}, ensure_ascii=False)
        event_id = f"console:{uuid.uuid4().hex}"
        if not await journal.commit((event_id, body["chat"], body["text"], reply)):
            return web.json_response({"messages": [], "status": "duplicate"})
        return web.json_response({"messages": [{"card": reply}], "status": "handled"})

    app.router.add_post("/console/api/send", lookup)
    app.router.add_get("/healthz", lambda _: web.json_response({"ok": True}))  # type: ignore[arg-type,return-value]
    return app


if __name__ == "__main__":
    web.run_app(make_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), print=None,
                access_log=None)
