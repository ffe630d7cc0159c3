"""rectification_items.closed_by_note: the 整改汇报 that closed (销号) the item

A report of 已整改 closes the unit's open items; when the host corrects it to 整改中 or 未整改,
exactly the items that report closed are reopened. Items closed before the upgrade keep NULL
(which report closed them is not known): a correction does not reopen them, as before.

Revision ID: 0013_rectification_closed_by
Revises: 0012_message_mention
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013_rectification_closed_by'
down_revision = '0012_message_mention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the table is small (items recorded at sessions): a batch rebuild on SQLite is cheap
    with op.batch_alter_table("rectification_items") as batch_op:
        batch_op.add_column(sa.Column("closed_by_note", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_rectification_items_closed_by_note", "inspection_notes",
                                    ["closed_by_note"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("rectification_items") as batch_op:
        batch_op.drop_constraint("fk_rectification_items_closed_by_note", type_="foreignkey")
        batch_op.drop_column("closed_by_note")
