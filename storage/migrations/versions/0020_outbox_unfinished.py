"""outbox: a partial index on the unfinished rows, in id order

Outbox rows are kept once sent (they are the delivery record). A claim asks for the first due
unfinished rows by id; with many sent rows PostgreSQL answered it by walking the whole primary
key (65 ms a claim with 200,000 sent rows). This index holds only the pending and sending rows,
so a claim reads those alone, however long the history.

Revision ID: 0020_outbox_unfinished
Revises: 0016_outbox_order
Create Date: 2026-12-04 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0020_outbox_unfinished'
down_revision = '0016_outbox_order'
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_index("ix_outbox_unfinished", "outbox", ["id"], postgresql_where=UNFINISHED,
                    sqlite_where=UNFINISHED)


def downgrade() -> None:
    op.drop_index("ix_outbox_unfinished", "outbox")
