"""videos: the trash (invalid_reason "trashed", trashed_from, trashed_at)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_REASONS = "invalid_reason IN ('deleted', 'missing', 'corrupt', 'unreadable', 'trashed')"
_OLD_REASONS = "invalid_reason IN ('deleted', 'missing', 'corrupt', 'unreadable')"
_TRASH_STATE = (
    "(invalid_reason IS NOT DISTINCT FROM 'trashed') = "
    "(trashed_from IS NOT NULL AND trashed_at IS NOT NULL)"
)


def upgrade() -> None:
    op.add_column("videos", sa.Column("trashed_from", sa.Text()))
    op.add_column("videos", sa.Column("trashed_at", sa.DateTime(timezone=True)))
    op.drop_constraint("ck_videos_invalid_reason", "videos", type_="check")
    op.create_check_constraint("ck_videos_invalid_reason", "videos", _REASONS)
    op.create_check_constraint("ck_videos_trash_state", "videos", _TRASH_STATE)


def downgrade() -> None:
    # Trashed records go back to "deleted" (their file is in the trash, not at the path).
    op.execute("UPDATE videos SET invalid_reason = 'deleted' WHERE invalid_reason = 'trashed'")
    op.drop_constraint("ck_videos_trash_state", "videos", type_="check")
    op.drop_constraint("ck_videos_invalid_reason", "videos", type_="check")
    op.create_check_constraint("ck_videos_invalid_reason", "videos", _OLD_REASONS)
    op.drop_column("videos", "trashed_at")
    op.drop_column("videos", "trashed_from")
