"""cases.closed_at: when the case was closed (NULL while it is open)

Set when the case-management system closes the case (PATCH /api/v1/cases/{code} status
closed), cleared when it reopens it. Read by the reminders instead of the audit trail: a
责任倒查 owed by the time the case was closed still goes out, and its card says when.
Existing closed cases get it from the audit trail: the first ``case.update`` that set status
closed after the last one that set it open (a case closed some other way keeps NULL).

Revision ID: 0009_case_closed_at
Revises: 0008_intake_version_card
Create Date: 2026-11-29 10:00:00
"""

import json

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = '0009_case_closed_at'
down_revision = '0008_intake_version_card'
branch_labels = None
depends_on = None

_cases = sa.table("cases", sa.column("code", sa.String()), sa.column("status", sa.String()),
                  sa.column("closed_at", UTCDateTime()))
_audit = sa.table("audit_log", sa.column("seq", sa.Integer()), sa.column("at", UTCDateTime()),
                  sa.column("action", sa.String()), sa.column("subject", sa.String()),
                  sa.column("data", sa.Text()))


def upgrade() -> None:
    # a plain ADD COLUMN (no batch table rebuild on SQLite: the cases table may be large)
    op.add_column("cases", sa.Column("closed_at", UTCDateTime(), nullable=True))
    bind = op.get_bind()
    closed = sa.select(_cases.c.code).where(_cases.c.status == "closed")
    rows = bind.execute(
        sa.select(_audit.c.subject, _audit.c.at, _audit.c.data)
        .where(_audit.c.action == "case.update", _audit.c.subject.in_(closed),
               _audit.c.data.like('%"status":%'))
        .order_by(_audit.c.seq))
    found: dict[str, object] = {}
    for code, at, data in rows:
        status = json.loads(data).get("status")
        if status == "closed":
            found.setdefault(code, at)  # closing a closed case again does not move it
        elif status is not None:
            found.pop(code, None)  # reopened: only a later closing counts
    if found:
        bind.execute(_cases.update().where(_cases.c.code == sa.bindparam("c"))
                     .values(closed_at=sa.bindparam("t")),
                     [{"c": c, "t": t} for c, t in found.items()])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("closed_at")
