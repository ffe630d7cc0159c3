"""intake_decisions.version and .message_id

version: the evaluation version an intake decision was made on, so a repeated scan of a case
that was not re-scored since is recognised (it repeats the decision, notifying nobody).
Existing rows get the version that was current at their time.
message_id: the case manager's 待定 card of a yellow intake, redrawn when the prosecutor
chooses 延期受理 or 先收后补.

Revision ID: 0008_intake_version_card
Revises: 0007_case_external_id
Create Date: 2026-11-28 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008_intake_version_card'
down_revision = '0007_case_external_id'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (no batch table rebuild on SQLite)
    op.add_column("intake_decisions", sa.Column("version", sa.Integer(), nullable=True))
    op.add_column("intake_decisions", sa.Column("message_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE intake_decisions SET version = (SELECT MAX(e.version) FROM evaluations e "
        "WHERE e.case_code = intake_decisions.case_code AND e.at <= intake_decisions.at)")


def downgrade() -> None:
    with op.batch_alter_table("intake_decisions") as batch_op:
        batch_op.drop_column("message_id")
        batch_op.drop_column("version")
