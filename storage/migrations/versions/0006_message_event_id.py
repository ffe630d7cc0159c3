"""messages.event_id as wide as processed_events.event_id

A console event id may be 128 characters ("console:" + up to 120), which PostgreSQL refused in
messages.event_id (120). SQLite does not enforce lengths, so only PostgreSQL is altered.

Revision ID: 0006_message_event_id
Revises: 0005_reminders
Create Date: 2026-11-26 20:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_message_event_id'
down_revision = '0005_reminders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("messages", "event_id", type_=sa.String(160),
                        existing_type=sa.String(120), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("messages", "event_id", type_=sa.String(120),
                        existing_type=sa.String(160), existing_nullable=True)
