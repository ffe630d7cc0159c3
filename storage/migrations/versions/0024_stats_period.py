"""cases.created_at: an index, for statistics over a period (统计 上月, /stats?from=&to=)

A period counts the cases that entered casebot in it (created_at); the statistics read them
with a WHERE on created_at. Without an index the provincial office's figures for one month
would read the whole cases table; with it, only that month's cases.

Revision ID: 0024_stats_period
Revises: 0020_outbox_unfinished
Create Date: 2026-12-06 10:00:00
"""

from alembic import op


revision = '0024_stats_period'
down_revision = '0020_outbox_unfinished'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_created_at", "cases", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_created_at", "cases")
