"""The audit trail (全程留痕): append-only records, each holding the SHA-256 of the previous."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditRecord, table
from storage.types import Executor, dialect_name

GENESIS = "0" * 64
_PG_LOCK = 7_263_001  # advisory lock id serialising appends on PostgreSQL


def record_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str,
                subject: str, data: str) -> str:
    body = json.dumps(
        {"seq": seq, "at": at.isoformat(), "actor": actor, "action": action,
         "subject": subject, "data": data},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One record to append (its place in the chain is decided when it is written)."""

    at: datetime
    actor: str
    action: str
    subject: str
    data: dict[str, Any] | None = None


async def append(session: AsyncSession, *, at: datetime, actor: str, action: str,
                 subject: str, data: dict[str, Any] | None = None) -> str:
    return (await append_many(session, [Entry(at, actor, action, subject, data)]))[0]


async def append_many(session: Executor, entries: list[Entry]) -> list[str]:
    """Append records in order inside the caller's transaction (SQLite holds the write lock
    from BEGIN IMMEDIATE; PostgreSQL takes an advisory lock), so the chain never forks.
    Returns their hashes."""
    if not entries:
        return []
    if dialect_name(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    t = table(AuditRecord)
    last = (await session.execute(
        select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1))).first()
    seq = last.seq if last else 0
    prev = last.hash if last else GENESIS
    rows: list[dict[str, Any]] = []
    hashes: list[str] = []
    for e in entries:
        seq += 1
        payload = json.dumps(e.data or {}, sort_keys=True, ensure_ascii=False,
                             separators=(",", ":"))
        digest = record_hash(prev, seq, e.at, e.actor, e.action, e.subject, payload)
        rows.append({"seq": seq, "at": e.at, "actor": e.actor, "action": e.action,
                     "subject": e.subject, "data": payload, "prev_hash": prev, "hash": digest})
        hashes.append(digest)
        prev = digest
    await session.execute(insert(t), rows)
    return hashes


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_broken: int | None = None
    reason: str | None = None


async def verify(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk the chain in order; name the first record whose link or hash does not hold."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = (
            await session.execute(
                select(AuditRecord).where(AuditRecord.seq > last_seq)
                .order_by(AuditRecord.seq).limit(batch)
            )
        ).scalars().all()
        if not rows:
            return ChainReport(ok=True, records=count)
        for r in rows:
            if r.seq != expected_seq:
                return ChainReport(False, count, expected_seq, f"record {expected_seq} is missing")
            if r.prev_hash != prev:
                return ChainReport(False, count, r.seq, "prev_hash does not match the record before")
            h = record_hash(r.prev_hash, r.seq, r.at, r.actor, r.action, r.subject, r.data)
            if h != r.hash:
                return ChainReport(False, count, r.seq, "content does not match its hash")
            prev, expected_seq, last_seq = r.hash, r.seq + 1, r.seq
            count += 1
