"""case_former_prosecutors: who a case was reassigned away from (改派)

A prosecutor whose case went to another one no longer sees it; their code page and 码 then
say why (此案件已改派给 李四，您已无权查看), and the cards they still hold about it are no longer
redrawn with its new state. One row per case and former prosecutor, read by the primary key.
Existing reassignments come from the audit trail (`case.reassign`, {"from": …}).

Revision ID: 0033_case_former_prosecutors
Revises: 0032_messages_at
Create Date: 2026-12-12 10:00:00
"""

import json

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = '0033_case_former_prosecutors'
down_revision = '0032_messages_at'
branch_labels = None
depends_on = None

_audit = sa.table("audit_log", sa.column("seq", sa.Integer()), sa.column("at", UTCDateTime()),
                  sa.column("action", sa.String()), sa.column("subject", sa.String()),
                  sa.column("data", sa.Text()))


def upgrade() -> None:
    table = op.create_table(
        "case_former_prosecutors",
        sa.Column("case_code", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_code"], ["cases.code"]),
        sa.PrimaryKeyConstraint("case_code", "person_id"),
    )
    found: dict[tuple[str, str], object] = {}
    for code, at, data in op.get_bind().execute(
            sa.select(_audit.c.subject, _audit.c.at, _audit.c.data)
            .where(_audit.c.action == "case.reassign").order_by(_audit.c.seq)):
        before = json.loads(data).get("from")
        if isinstance(before, str) and before:
            found[(code, before)] = at  # the last time it left them
    if found:
        op.bulk_insert(table, [{"case_code": c, "person_id": p, "at": t}
                               for (c, p), t in found.items()])


def downgrade() -> None:
    op.drop_table("case_former_prosecutors")
