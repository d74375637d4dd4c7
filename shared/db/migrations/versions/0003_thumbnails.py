"""thumbnails: the thumbnail queue's state per video, and the index of videos without one

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

THUMBNAIL_STATUSES = ("working", "done", "failed")


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "thumbnails",
        sa.Column("video_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_at", timestamp, nullable=True),
        sa.Column("created_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            f"status IN ({', '.join(repr(s) for s in THUMBNAIL_STATUSES)})",
            name="ck_thumbnails_status",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name="fk_thumbnails_video_id_videos", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("video_id", name="pk_thumbnails"),
    )
    op.create_index(
        "ix_videos_thumbnail_missing",
        "videos",
        ["created_at"],
        postgresql_where=sa.text("is_valid AND thumbnail_path IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_videos_thumbnail_missing", table_name="videos")
    op.drop_table("thumbnails")
