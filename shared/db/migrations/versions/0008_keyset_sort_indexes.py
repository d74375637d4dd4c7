"""idx_videos_by_title/_duration/_size: each sort's keys in order, for keyset pages

The default order (created_at) has idx_videos_listing since 0004. A keyset page of the
other sorts reads a range of one of these, forwards or backwards, whatever its depth.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (index, sort column): the filters' is_valid first, as in idx_videos_listing, then the
# sort key and the id that breaks its ties.
INDEXES = (
    ("idx_videos_by_title", "title"),
    ("idx_videos_by_duration", "duration_seconds"),
    ("idx_videos_by_size", "file_size"),
)


def upgrade() -> None:
    for name, column in INDEXES:
        op.create_index(name, "videos", ["is_valid", column, "id"])


def downgrade() -> None:
    for name, _column in INDEXES:
        op.drop_index(name, table_name="videos")
