"""messages.at: an index, for finding a case's cards again wherever they were sent

Closing, reopening or withdrawing a case, and the prosecutor's 延期受理 / 先收后补, redraw the
cards about it in every chat (bot_cards_mentioning without a chat): the bot's cards sent since
the case was created. Without an index that read the whole messages table (57 ms at 200,000
messages on SQLite, inside the write transaction of the close); with it, only the messages
since the case was created. A plain index on the time: messages are stored in time order, so
each insert lands at its right edge.

Revision ID: 0032_messages_at
Revises: 0031_question_new_since
Create Date: 2026-12-11 10:00:00
"""

from alembic import op


revision = '0032_messages_at'
down_revision = '0031_question_new_since'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_at", "messages", ["at"])


def downgrade() -> None:
    op.drop_index("ix_messages_at", "messages")
