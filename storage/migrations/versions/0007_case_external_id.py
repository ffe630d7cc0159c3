"""cases.external_id: the case's id in the case-management system (统一受案号)

Nullable; unique when given (a unique index: many NULLs are allowed on SQLite and PostgreSQL).
Re-importing a file or re-sending POST /api/v1/cases with the same id finds the existing case.

Revision ID: 0007_case_external_id
Revises: 0006_message_event_id
Create Date: 2026-11-27 02:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_case_external_id'
down_revision = '0006_message_event_id'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch table rebuild on SQLite: the cases table may be large)
    op.add_column("cases", sa.Column("external_id", sa.String(64), nullable=True))
    op.create_index("uq_cases_external_id", "cases", ["external_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_cases_external_id", table_name="cases")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("external_id")
