"""integrity_findings: files whose hash changed while size and mtime did not

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_findings",
        sa.Column(
            "id", UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False
        ),
        sa.Column("video_id", UUID(as_uuid=True)),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("recorded_hash", sa.Text(), nullable=False),
        sa.Column("observed_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column(
            "found_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.Text()),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'intact', 'superseded')",
            name="ck_integrity_findings_status",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name="fk_integrity_findings_video_id_videos",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_integrity_findings"),
    )
    op.create_index(
        "ux_integrity_findings_open_video",
        "integrity_findings",
        ["video_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_integrity_findings_status_found",
        "integrity_findings",
        ["status", sa.text("found_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_table("integrity_findings")
