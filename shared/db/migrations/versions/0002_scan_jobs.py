"""scan_jobs: asynchronous API scans, readable from any API process

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JOB_STATUSES = ("running", "succeeded", "failed", "cancelled")


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "scan_jobs",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("directory_types", postgresql.JSONB(), nullable=False),
        sa.Column("skip_existing", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "result", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", timestamp, nullable=True),
        sa.CheckConstraint(
            f"status IN ({', '.join(repr(s) for s in JOB_STATUSES)})",
            name="ck_scan_jobs_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scan_jobs"),
    )
    op.create_index("ix_scan_jobs_status", "scan_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_scan_jobs_status", table_name="scan_jobs")
    op.drop_table("scan_jobs")
