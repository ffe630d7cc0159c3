"""inspection: question bank, sessions, asks, notes, rectification items, site tasks

Revision ID: 0004_inspection
Revises: 0003_reviews
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0004_inspection"
down_revision = "0003_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_questions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("answer_points", sa.Text, nullable=False),
        sa.Column("source_department", sa.String(80), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "inspection_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("chat", sa.String(80), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("secret_hex", sa.String(128), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("manifest_hash", sa.String(64), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("drawn_at", UTCDateTime()),
        sa.Column("current", sa.Integer, nullable=False),
        sa.Column("timer_started_at", UTCDateTime()),
        sa.Column("closed_at", UTCDateTime()),
    )
    op.create_index("ix_inspection_sessions_chat", "inspection_sessions", ["chat"])
    op.create_table(
        "inspection_asks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(40), sa.ForeignKey("inspection_sessions.id"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("unit_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("question_id", sa.String(40), sa.ForeignKey("inspection_questions.id"),
                  nullable=False),
        sa.Column("revealed_at", UTCDateTime()),
        sa.Column("answer_published_at", UTCDateTime()),
    )
    op.create_index("ix_inspection_asks_session_id", "inspection_asks", ["session_id"])
    op.create_table(
        "inspection_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(40), sa.ForeignKey("inspection_sessions.id"),
                  nullable=False),
        sa.Column("unit_id", sa.String(40)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20)),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_inspection_notes_session_id", "inspection_notes", ["session_id"])
    op.create_table(
        "rectification_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(40), sa.ForeignKey("inspection_sessions.id"),
                  nullable=False),
        sa.Column("unit_id", sa.String(40), nullable=False),
        sa.Column("owner_person_id", sa.String(80), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
    )
    op.create_index("ix_rectification_items_session_id", "rectification_items", ["session_id"])
    op.create_index("ix_rectification_due", "rectification_items", ["status", "due_date"])
    op.create_table(
        "inspection_site_tasks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(40), sa.ForeignKey("inspection_sessions.id"),
                  nullable=False),
        sa.Column("unit_id", sa.String(40), nullable=False),
        sa.Column("assignee_person_id", sa.String(80), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_inspection_site_tasks_session_id", "inspection_site_tasks",
                    ["session_id"])


def downgrade() -> None:
    op.drop_table("inspection_site_tasks")
    op.drop_table("rectification_items")
    op.drop_table("inspection_notes")
    op.drop_table("inspection_asks")
    op.drop_index("ix_inspection_sessions_chat", "inspection_sessions")
    op.drop_table("inspection_sessions")
    op.drop_table("inspection_questions")
