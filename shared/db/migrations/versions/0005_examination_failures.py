"""examination_failures: files that crashed or hung a worker, retried with backoff

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "examination_failures",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "failure IN ('crashed', 'timed out')", name="ck_examination_failures_failure"
        ),
        sa.PrimaryKeyConstraint("path", name="pk_examination_failures"),
    )


def downgrade() -> None:
    op.drop_table("examination_failures")
