"""core: messages, outbox, processed events, audit log

Revision ID: 0001_core
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat", sa.String(80), nullable=False),
        sa.Column("sender", sa.String(80), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("card", sa.Text),
        sa.Column("updated_at", UTCDateTime()),
        sa.Column("event_id", sa.String(120)),
        sa.Column("platform_ref", sa.String(200)),
    )
    op.create_index("ix_messages_chat", "messages", ["chat"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("op", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(160), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_due", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_messages_chat", "messages")
    op.drop_table("messages")
