"""fingerprint jobs: fingerprint_attempts keeps state only (no claims, no retry times)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01

Fingerprints are jobs of the engine now (shared/jobs/fingerprint_jobs.py), as thumbnails
became in 0015: `fingerprint_attempts` says how many attempts failed and why the last did.
The claim and the retry time were the home-made queue's and go. Videos without a
fingerprint get their jobs from the periodic backfill (shared/jobs/registry.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
# 0017 is being written on another branch; the lead relinks this to "0017" on merge.
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("fingerprint_attempts", "claimed_at")
    op.drop_column("fingerprint_attempts", "retry_at")


def downgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.add_column("fingerprint_attempts", sa.Column("retry_at", timestamp, nullable=True))
    op.add_column("fingerprint_attempts", sa.Column("claimed_at", timestamp, nullable=True))
