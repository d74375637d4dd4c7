"""videos and settings tables, with the seed's indexes

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIRECTORY_TYPES = (
    "studios",
    "gifs",
    "private",
    "inbox",
    "curated",
    "playback",
    "compilations",
    "videos",
    "highlights",
)
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || "
    "coalesce(producer, '') || ' ' || coalesce(creator, ''))"
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "videos",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("original_filename", sa.Text()),
        sa.Column("directory_type", sa.Text(), nullable=False),
        sa.Column("producer", sa.Text()),
        sa.Column("creator", sa.Text()),
        sa.Column("title", sa.Text()),
        sa.Column(
            "tags", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("duration_seconds", sa.Integer()),
        sa.Column("quality", sa.Text()),
        sa.Column("orientation", sa.Text()),
        sa.Column("has_audio", sa.Boolean(), server_default=sa.text("false")),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("file_size", sa.BigInteger()),
        sa.Column("file_hash", sa.Text()),
        sa.Column("file_mtime_ns", sa.BigInteger()),
        sa.Column("is_valid", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("invalid_reason", sa.Text()),
        sa.Column("probe_error", sa.Text()),
        sa.Column("last_validated", timestamp),
        sa.Column("standardized_at", timestamp),
        sa.Column("thumbnail_path", sa.Text()),
        sa.Column("public_view_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("public_upvote_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("moved_from_public_at", timestamp),
        sa.Column("created_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            _one_of("directory_type", DIRECTORY_TYPES), name="ck_videos_directory_type"
        ),
        sa.CheckConstraint(
            _one_of("invalid_reason", ("deleted", "missing", "corrupt", "unreadable")),
            name="ck_videos_invalid_reason",
        ),
        sa.CheckConstraint(
            _one_of("quality", ("SD", "HD", "FHD", "UHD")), name="ck_videos_quality"
        ),
        sa.CheckConstraint(
            _one_of("orientation", ("portrait", "landscape", "square")),
            name="ck_videos_orientation",
        ),
        sa.CheckConstraint("is_valid = (invalid_reason IS NULL)", name="ck_videos_validity"),
        sa.PrimaryKeyConstraint("id", name="pk_videos"),
        sa.UniqueConstraint("path", name="uq_videos_path"),
    )
    op.create_index("idx_videos_directory_type", "videos", ["directory_type"])
    op.create_index("idx_videos_orientation", "videos", ["orientation"])
    op.create_index("idx_videos_quality", "videos", ["quality"])
    op.create_index("idx_videos_is_valid", "videos", ["is_valid"])
    op.create_index("idx_videos_created_at", "videos", [sa.text("created_at DESC")])
    op.create_index(
        "idx_videos_filters", "videos", ["directory_type", "is_valid", sa.text("created_at DESC")]
    )
    op.create_index(
        "idx_videos_search", "videos", [sa.text(SEARCH_DOCUMENT)], postgresql_using="gin"
    )
    op.create_index("idx_videos_file_hash", "videos", ["file_hash"])
    op.create_table(
        "settings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("videos")
