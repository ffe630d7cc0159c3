"""The audit trail (全程留痕): append-only records, each holding the SHA-256 of the previous."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from storage.inline_sqlite import InlineWriter
from storage.models import AuditRecord, table
from storage.types import Writer, dialect_name

GENESIS = "0" * 64
_PG_LOCK = 7_263_001  # advisory lock id serialising appends on PostgreSQL
_T = table(AuditRecord)
_LAST = select(_T.c.seq, _T.c.hash).order_by(_T.c.seq.desc()).limit(1)  # the chain's end


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
                 subject: str, data: dict[str, Any] | None = None) -> None:
    await append_many(session, [Entry(at, actor, action, subject, data)])


_DEFERRED = "casebot.audit.deferred"  # Session.info: the entries its transaction appends


async def append_many(session: Writer, entries: list[Entry]) -> None:
    """Append records in order to the caller's transaction. The chain must not fork, so
    appends are serialised (SQLite: the write lock from BEGIN IMMEDIATE; PostgreSQL: an
    advisory lock held until the commit). A session's records are therefore written when it
    commits, as its last statements: a transaction holding that lock never waits for a row
    another one holds. Taken where `audit` is called, it made two instances deadlock (a
    reminder sweep holding a reminder row and wanting the lock, a click holding the lock and
    wanting that row: one of them failed). A connection's (the journal's batch, which
    appends last anyway) and an inline writer's are written at once."""
    if not entries:
        return
    if isinstance(session, InlineWriter):
        rows = _rows(session.first(_LAST), entries)
        session.insert(_T, rows)
    elif isinstance(session, AsyncSession):
        _defer(session.sync_session, entries)
    else:
        if dialect_name(session) == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        rows = _rows((await session.execute(_LAST)).first(), entries)
        await session.execute(insert(_T), rows)


def _defer(session: Session, entries: list[Entry]) -> None:
    """Keep `entries` until the session's transaction commits; dropped if it, or the savepoint
    they were added in, rolls back."""
    pending: list[tuple[SessionTransaction, Entry]] | None = session.info.get(_DEFERRED)
    if pending is None:
        pending = session.info[_DEFERRED] = []
        event.listen(session, "before_commit", _write_deferred)
        event.listen(session, "after_soft_rollback", _drop_deferred)
    txn = session.get_nested_transaction() or session.get_transaction() or session.begin()
    pending.extend((txn, e) for e in entries)


def _write_deferred(session: Session) -> None:
    pending: list[tuple[SessionTransaction, Entry]] = session.info.get(_DEFERRED) or []
    if not pending or session.in_nested_transaction():  # a savepoint: the commit comes later
        return
    entries = [e for _, e in pending]
    pending.clear()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    session.execute(insert(_T), _rows(session.execute(_LAST).first(), entries))


def _drop_deferred(session: Session, previous: SessionTransaction) -> None:
    """A transaction or savepoint rolled back: the entries added in it go."""
    pending: list[tuple[SessionTransaction, Entry]] | None = session.info.get(_DEFERRED)
    if pending:
        pending[:] = [(t, e) for t, e in pending if not _within(t, previous)]


def _within(txn: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while txn is not None:
        if txn is outer:
            return True
        txn = txn.parent
    return False


def _rows(last: Any, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The records of `entries` after the chain's end `last` (seq, hash; None: empty)."""
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    rows: list[dict[str, Any]] = []
    for e in entries:
        seq += 1
        payload = json.dumps(e.data or {}, sort_keys=True, ensure_ascii=False,
                             separators=(",", ":"))
        digest = record_hash(prev, seq, e.at, e.actor, e.action, e.subject, payload)
        rows.append({"seq": seq, "at": e.at, "actor": e.actor, "action": e.action,
                     "subject": e.subject, "data": payload, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


# -- the head: an anchor kept outside the database ------------------------------------------
# The chain shows an edited or removed record in its middle, but not records removed from its
# end: what is left is a shorter chain that holds. So the head (the latest record's seq and
# hash) is written where the database's owner cannot rewrite it too: the bot's log at start,
# hourly and at stop, and `casebot audit head` for the operator's own log or ticket.
# `casebot audit verify --head SEQ:HASH` then fails when the chain no longer holds that record
# with that hash: it was cut back below it, or rewritten up to it.

HEAD_RE = re.compile(r"(?<![0-9A-Za-z])(\d{1,18}):([0-9a-f]{64})(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_head(text: str) -> Head:
    """The one SEQ:HASH in ``text`` (a pasted `audit head` output or log line, or the pair
    alone). ValueError, in English, when there is none or more than one."""
    found = HEAD_RE.findall(text)
    if len(found) != 1:
        raise ValueError("no SEQ:HASH (a record number, a colon and 64 lowercase hex digits) in it"
                         if not found else "more than one SEQ:HASH in it")
    seq, digest = found[0]
    if int(seq) < 1:
        raise ValueError("record numbers start at 1")
    return Head(int(seq), digest)


async def head(session: AsyncSession) -> tuple[Head, datetime] | None:
    """The latest record's seq and hash, and when it was written; None for an empty trail."""
    t = table(AuditRecord)
    row = (await session.execute(
        select(t.c.seq, t.c.hash, t.c.at).order_by(t.c.seq.desc()).limit(1))).first()
    return (Head(row.seq, row.hash), row.at) if row else None


def head_line(found: tuple[Head, datetime] | None, tz: tzinfo) -> str:
    """One line for a log or a ticket, holding exactly one SEQ:HASH (`parse_head` reads it)."""
    if found is None:
        return "audit trail empty: no record yet"
    h, at = found
    return f"audit head {h} (record of {at.astimezone(tz):%Y-%m-%d %H:%M:%S %z})"


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_broken: int | None = None
    reason: str | None = None
    head: Head | None = None  # the last record verified
    anchors: tuple[str, ...] = ()  # the anchors the chain does not hold, one line each

    @property
    def intact(self) -> bool:
        """The chain holds and holds every anchor given."""
        return self.ok and not self.anchors


async def verify(session: AsyncSession, batch: int = 5000,
                 anchors: Sequence[Head] = ()) -> ChainReport:
    """Walk the chain in order; name the first record whose link or hash does not hold, and
    every anchor (a head taken earlier) whose record is gone or has another hash now."""
    wanted: dict[int, set[str]] = {}
    for a in anchors:
        wanted.setdefault(a.seq, set()).add(a.hash)
    problems: list[str] = []
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
            last = Head(last_seq, prev) if count else None
            problems += [
                f"anchor {a}: record {a.seq} is gone, "
                + (f"the chain ends at record {last_seq}" if count else "the trail is empty")
                + " (records removed from its end, or the chain rebuilt)"
                for seq in sorted(wanted) if seq > last_seq
                for a in (Head(seq, d) for d in sorted(wanted[seq]))]
            return ChainReport(ok=True, records=count, head=last, anchors=tuple(problems))
        for r in rows:
            if r.seq != expected_seq:
                return ChainReport(False, count, expected_seq, f"record {expected_seq} is missing",
                                   anchors=tuple(problems))
            if r.prev_hash != prev:
                return ChainReport(False, count, r.seq, "prev_hash does not match the record before",
                                   anchors=tuple(problems))
            h = record_hash(r.prev_hash, r.seq, r.at, r.actor, r.action, r.subject, r.data)
            if h != r.hash:
                return ChainReport(False, count, r.seq, "content does not match its hash",
                                   anchors=tuple(problems))
            problems += [f"anchor {Head(r.seq, d)}: record {r.seq} now has hash {r.hash} "
                         f"(the chain was rewritten up to it)"
                         for d in sorted(wanted.get(r.seq, ())) if d != r.hash]
            prev, expected_seq, last_seq = r.hash, r.seq + 1, r.seq
            count += 1
