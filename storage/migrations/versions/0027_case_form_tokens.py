"""case_form_tokens: one row per submitted 新建案件 form (/cases/new)

A prosecutor creates a case in chat (新建案件) on a web form that carries a signed one-time
token. The token is recorded here in the transaction that creates the case, with the case's
code: a second submission of the same form (a double tap, a resubmit after reload) finds the
row and answers with that case instead of creating a second one. The primary key decides, also
between two instances at once.

Revision ID: 0027_case_form_tokens
Revises: 0026_rectification_report
Create Date: 2026-12-07 10:00:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = '0027_case_form_tokens'
down_revision = '0026_rectification_report'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_form_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("case_code", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("token"),
    )


def downgrade() -> None:
    op.drop_table("case_form_tokens")
