"""near_duplicate_pairs and near_duplicate_members: matched videos and their groups

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

Pairs are what `compare` found between two fingerprinted videos; members are the connected
components of the pairs, kept up to date by shared/near_duplicates.py as videos arrive and
leave. The members have no foreign key on purpose: a deleted video's refresh must still
find its group, to regroup the rest.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _match_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("score", sa.Float()),
        sa.Column("offset_seconds", sa.Integer()),
        sa.Column("a_start", sa.Integer()),
        sa.Column("a_end", sa.Integer()),
        sa.Column("b_start", sa.Integer()),
        sa.Column("b_end", sa.Integer()),
        sa.Column("matched_seconds", sa.Integer()),
        sa.Column("mirrored", sa.Boolean()),
        sa.Column("mean_distance", sa.Float()),
    ]


def upgrade() -> None:
    op.create_table(
        "near_duplicate_pairs",
        sa.Column("video_id", UUID(as_uuid=True), nullable=False),
        sa.Column("other_id", UUID(as_uuid=True), nullable=False),
        *_match_columns(),
        sa.Column(
            "found_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("video_id < other_id", name="ck_near_duplicate_pairs_ordered"),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name="fk_near_duplicate_pairs_video_id_videos",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["videos.id"],
            name="fk_near_duplicate_pairs_other_id_videos",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", "other_id", name="pk_near_duplicate_pairs"),
    )
    op.create_index("ix_near_duplicate_pairs_other_id", "near_duplicate_pairs", ["other_id"])
    op.create_table(
        "near_duplicate_members",
        sa.Column("video_id", UUID(as_uuid=True), nullable=False),
        sa.Column("group_id", UUID(as_uuid=True), nullable=False),
        *_match_columns(),
        sa.PrimaryKeyConstraint("video_id", name="pk_near_duplicate_members"),
    )
    op.create_index("ix_near_duplicate_members_group_id", "near_duplicate_members", ["group_id"])


def downgrade() -> None:
    op.drop_table("near_duplicate_members")
    op.drop_table("near_duplicate_pairs")
