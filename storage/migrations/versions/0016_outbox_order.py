"""outbox: an index on message_id, for delivering one message's rows in order

A card's creation and its later updates are separate outbox rows. An outbox worker now claims a
row only when no earlier row of the same message is still pending or in flight (on any
instance), so that an update never reaches the platform before the card exists nor an older
version after a newer one. That check looks the message's rows up by this index.

Revision ID: 0016_outbox_order
Revises: 0013_rectification_closed_by
Create Date: 2026-12-04 10:00:00
"""

from alembic import op


revision = '0016_outbox_order'
down_revision = '0013_rectification_closed_by'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_message", "outbox", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message", "outbox")
