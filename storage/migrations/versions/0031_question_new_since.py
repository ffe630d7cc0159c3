"""inspection_questions.new_since: an id reused for a new question (作为新题)

Inspectors keep next year's bank in the same spreadsheet and reuse ids: Q017 becomes another
question. When the import marks such a question new, `new_since` is set to the import's time and
"already asked" counts only reveals after it; the sessions that asked the earlier question keep
their record (the copy on their asks, 0028). Nullable: NULL on every question never marked new,
whose every reveal counts.

Revision ID: 0031_question_new_since
Revises: 0030_one_open_review
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0031_question_new_since'
down_revision = '0030_one_open_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inspection_questions", sa.Column("new_since", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inspection_questions") as batch_op:
        batch_op.drop_column("new_since")
