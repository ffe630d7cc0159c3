"""roster_versions: the roster shared by every instance through the database

Until now each instance read its own org.yaml, so an import on /admin/roster reached only the
instance that wrote the file (and those sharing it). The roster in use is now the newest row of
this table: an import adds one, and every instance swaps it in at its next tick. org.yaml stays
the seed and the way to edit by hand: an instance publishes its file as a new version when its
text (SHA-256) is not one of the versions already stored.

parent_id is unique: each version replaces exactly one (0 for the first), so two versions added
on top of the same one at once cannot both be kept.

Revision ID: 0025_roster_versions
Revises: 0024_stats_period
Create Date: 2026-12-05 10:00:00
"""

from alembic import op
import sqlalchemy as sa

from storage.types import UTCDateTime


revision = '0025_roster_versions'
down_revision = '0024_stats_period'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("roster_version", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("imported_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_roster_versions_parent", "roster_versions", ["parent_id"], unique=True)
    op.create_index("ix_roster_versions_sha256", "roster_versions", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_roster_versions_sha256", "roster_versions")
    op.drop_index("uq_roster_versions_parent", "roster_versions")
    op.drop_table("roster_versions")
