"""inspection_asks.asked_category, asked_text, asked_points: the question as it was revealed

A session's record (the 公布答案 card, the big screen, report.docx) shows each question as it
was put to the unit. The bank can change afterwards (a re-import edits a question in place), so
the reveal copies the question's category, text and answer points (a JSON list) onto its ask.
All three are nullable: asks revealed before this migration keep NULL, and what shows them falls
back to the bank.

Revision ID: 0028_ask_as_asked
Revises: 0027_case_form_tokens
Create Date: 2026-12-08 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0028_ask_as_asked'
down_revision = '0027_case_form_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspection_asks") as batch_op:
        batch_op.add_column(sa.Column("asked_category", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("asked_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("asked_points", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inspection_asks") as batch_op:
        batch_op.drop_column("asked_points")
        batch_op.drop_column("asked_text")
        batch_op.drop_column("asked_category")
