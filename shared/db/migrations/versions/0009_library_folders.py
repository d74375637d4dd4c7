"""library_folders: each folder's device and the missing marks held back (mount safety)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_folders",
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("device", sa.BigInteger()),
        sa.Column("device_seen_at", sa.DateTime(timezone=True)),
        sa.Column("held_kind", sa.Text()),
        sa.Column("held_reason", sa.Text()),
        sa.Column("held_missing", sa.Integer()),
        sa.Column("held_records", sa.Integer()),
        sa.Column("held_at", sa.DateTime(timezone=True)),
        sa.Column("held_passes", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.CheckConstraint(
            "held_kind IS NULL OR held_kind IN ('unmounted', 'mass_missing')",
            name="ck_library_folders_held_kind",
        ),
        sa.PrimaryKeyConstraint("folder", name="pk_library_folders"),
    )


def downgrade() -> None:
    op.drop_table("library_folders")
