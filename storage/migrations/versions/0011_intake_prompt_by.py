"""intake_prompts.by: the case manager whose scan sent the prosecutor the card

Every case manager who scanned a 待定 case is told the prosecutor's choice, not only the one
whose scan made the 待定 decision. Cards sent before the upgrade keep NULL (who scanned is not
known): their case managers are not told, as before.

Revision ID: 0011_intake_prompt_by
Revises: 0010_intake_prompts
Create Date: 2026-12-01 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_intake_prompt_by'
down_revision = '0010_intake_prompts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("intake_prompts", sa.Column("by", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_prompts") as batch_op:
        batch_op.drop_column("by")
