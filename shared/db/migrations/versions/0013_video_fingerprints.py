"""video_fingerprints: a video's pHash and per-second frame hashes (placeholder)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

A placeholder copied from the brief's contract so that branch h12-near can work; the lead
keeps h12-fp's migration of the same revision.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_fingerprints",
        sa.Column("video_id", UUID(as_uuid=True), nullable=False),
        sa.Column("phash", sa.BigInteger()),
        sa.Column("frame_hashes", ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("mirrored_hashes", ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("index_keys", ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("algorithm", sa.SmallInteger(), nullable=False),
        sa.Column(
            "computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name="fk_video_fingerprints_video_id_videos",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", name="pk_video_fingerprints"),
    )
    op.create_index(
        "ix_video_fingerprints_index_keys",
        "video_fingerprints",
        ["index_keys"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_table("video_fingerprints")
