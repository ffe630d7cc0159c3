"""messages.mention: whom a reply @-mentions, kept with the reply

A reply to a sender not in the roster could only mention them from the instance that received
their message, and only until it restarted (who they are was kept in memory). The transport
now stores it with the reply. Rows stored before the upgrade keep NULL: as before.

Revision ID: 0012_message_mention
Revises: 0011_intake_prompt_by
Create Date: 2026-12-02 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_message_mention'
down_revision = '0011_intake_prompt_by'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("mention", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("mention")
