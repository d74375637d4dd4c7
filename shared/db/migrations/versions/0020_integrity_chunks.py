"""integrity_chunks: a verification cycle split into path ranges that workers share

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-01

Integrity checks are jobs of the engine now (shared/jobs/integrity_jobs.py): a planner
splits the valid records into path ranges, one `verify_integrity_chunk` job per range, and
any worker re-hashes one. A row per range keeps what a job cannot: how far it got (a worker
killed mid-range is resumed after its last file, not from the start), what it counted, and
whether it is done (the last range to finish ends the cycle). The rows of one cycle are
replaced by the next cycle's.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
# 0019 is being written on another branch; the lead relinks the chain on merge.
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_chunks",
        sa.Column("cycle_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("after_path", sa.Text(), nullable=False),
        sa.Column("through_path", sa.Text()),
        sa.Column("done_through", sa.Text()),
        sa.Column("files", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unread", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("flagged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("cycle_started_at", "number", name="pk_integrity_chunks"),
    )


def downgrade() -> None:
    op.drop_table("integrity_chunks")
