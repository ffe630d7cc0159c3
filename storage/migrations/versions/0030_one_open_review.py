"""review_requests: one unsettled request per investigator and case (a partial unique index)

An investigator files no second review request on a case while one of theirs is unsettled
(open, or agreed and waiting for the re-score). The bot checked that and then inserted, so
three taps at once (or two instances) filed three requests. The bot now checks under the
case's row lock, and this index makes a second unsettled request impossible on every path.

Duplicates filed before it are resolved first: of each investigator's unsettled requests on
a case the oldest stays; every later one is closed as 已撤回 (a repeated submission the filer
never meant as a request of its own), with a ``review.duplicate`` audit record naming the
request kept. Cards already sent about a closed one refuse any click on it (「已撤回」).

Revision ID: 0030_one_open_review
Revises: 0029_case_withdraw
Create Date: 2026-12-09 10:00:00
"""

import json

from alembic import op
import sqlalchemy as sa

from bot.clock import SystemClock
from storage.audit import GENESIS, record_hash
from storage.types import UTCDateTime


revision = '0030_one_open_review'
down_revision = '0029_case_withdraw'
branch_labels = None
depends_on = None

# storage.reviews.UNSETTLED as it is on this revision
UNSETTLED = sa.text("status IN ('joint', 'joint_done', 'pending') OR (new_version IS NULL AND "
                    "(status = 'accepted' OR (status IN ('confirmed', 'joint_done') "
                    "AND outcome = 'changed')))")

_reviews = sa.table("review_requests", sa.column("id", sa.Integer()),
                    sa.column("case_code", sa.String()), sa.column("filed_by", sa.String()),
                    sa.column("status", sa.String()))
_audit = sa.table("audit_log", sa.column("seq", sa.Integer()), sa.column("at", UTCDateTime()),
                  sa.column("actor", sa.String()), sa.column("action", sa.String()),
                  sa.column("subject", sa.String()), sa.column("data", sa.Text()),
                  sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_reviews.c.id, _reviews.c.case_code, _reviews.c.filed_by,
                                  _reviews.c.status)
                        .where(UNSETTLED).order_by(_reviews.c.id)).all()
    kept: dict[tuple[str, str], int] = {}
    closed: list[tuple[int, str, str, int]] = []  # id, case, status it had, id kept
    for rid, code, filer, status in rows:
        keep = kept.setdefault((code, filer), rid)
        if keep != rid:
            closed.append((rid, code, status, keep))
    if closed:
        bind.execute(_reviews.update().where(_reviews.c.id.in_([c[0] for c in closed]))
                     .values(status="withdrawn"))
        _audit_closed(bind, closed)
    op.create_index("uq_review_one_unsettled", "review_requests", ["case_code", "filed_by"],
                    unique=True, sqlite_where=UNSETTLED, postgresql_where=UNSETTLED)


def _audit_closed(bind: sa.Connection, closed: list[tuple[int, str, str, int]]) -> None:
    """One record per closed duplicate, chained onto the trail as storage.audit appends."""
    last = bind.execute(sa.select(_audit.c.seq, _audit.c.hash)
                        .order_by(_audit.c.seq.desc()).limit(1)).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    at = SystemClock().now()
    records = []
    for rid, code, status, keep in closed:
        seq += 1
        data = json.dumps({"review": rid, "kept": keep, "was": status, "reason": "重复提交"},
                          sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest = record_hash(prev, seq, at, "migration", "review.duplicate", code, data)
        records.append({"seq": seq, "at": at, "actor": "migration", "action": "review.duplicate",
                        "subject": code, "data": data, "prev_hash": prev, "hash": digest})
        prev = digest
    bind.execute(_audit.insert(), records)


def downgrade() -> None:
    op.drop_index("uq_review_one_unsettled", "review_requests")
