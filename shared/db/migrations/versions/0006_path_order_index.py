"""idx_videos_path_bytes: paths in code point order, for the rescan's merge-join

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("idx_videos_path_bytes", "videos", [sa.text('path COLLATE "C"')])


def downgrade() -> None:
    op.drop_index("idx_videos_path_bytes", table_name="videos")
