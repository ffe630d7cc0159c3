"""rectification_items.closed_by_person, closed_note, card_message_id: 整改完成 reports

The unit's chief (or the item's 责任人) reports an item done with a short note; the item is
closed (销号) by that report until the inspector sends it back (退回重新整改). Who reported and
the note are kept with the item, and the item card sent to its 责任人 (card_message_id), so
that it can say the item was reported and lose its button. closed_by_note stays the 整改汇报
that closed an item, so a correction of that report still reopens only the items it closed.
All three are nullable: older code ignores them, and earlier items keep NULL.

Revision ID: 0026_rectification_report
Revises: 0025_roster_versions
Create Date: 2026-12-06 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0026_rectification_report'
down_revision = '0025_roster_versions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rectification_items") as batch_op:
        batch_op.add_column(sa.Column("closed_by_person", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("closed_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("card_message_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rectification_items") as batch_op:
        batch_op.drop_column("card_message_id")
        batch_op.drop_column("closed_note")
        batch_op.drop_column("closed_by_person")
