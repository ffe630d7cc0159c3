"""cases.withdrawn_at, withdrawn_by, withdraw_reason: a case withdrawn by its prosecutor (撤销案件)

A prosecutor who entered a case by mistake withdraws it while it has never been scored. The
case then has status 'withdrawn' (beside 'open' and 'closed'; the column is a String(20), so
the value needs no schema change) and keeps who withdrew it, when and why, for 码 and the code
page (已撤销（张三 2026-11-27：重复录入）). All three are nullable: NULL on every other case.

Revision ID: 0029_case_withdraw
Revises: 0028_ask_as_asked
Create Date: 2026-12-09 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0029_case_withdraw'
down_revision = '0028_ask_as_asked'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (no batch table rebuild on SQLite: the cases table may be large)
    op.add_column("cases", sa.Column("withdrawn_at", UTCDateTime(), nullable=True))
    op.add_column("cases", sa.Column("withdrawn_by", sa.String(length=80), nullable=True))
    op.add_column("cases", sa.Column("withdraw_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("withdraw_reason")
        batch_op.drop_column("withdrawn_by")
        batch_op.drop_column("withdrawn_at")
