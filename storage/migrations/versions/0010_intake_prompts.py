"""intake_prompts: the prosecutor's 受理待定 cards of a 待定 intake decision

Each scan of a yellow case (and each repeated scan while it waits) sends the prosecutor a card
with 延期受理 / 先收后补; the table links those cards to their 待定 decision, so all of them are
redrawn with the outcome once the prosecutor chooses (or a re-score makes the question moot).
Cards sent before the upgrade are not linked: a tap on one still refuses and redraws it.

Revision ID: 0010_intake_prompts
Revises: 0009_case_closed_at
Create Date: 2026-11-30 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_intake_prompts'
down_revision = '0009_case_closed_at'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_prompts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["intake_decisions.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_intake_prompts_intake_id", "intake_prompts", ["intake_id"])


def downgrade() -> None:
    op.drop_index("ix_intake_prompts_intake_id", table_name="intake_prompts")
    op.drop_table("intake_prompts")
