"""scan jobs of the engine: scans left running by the in-process runner end failed

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-01

API scans with `async: true` are jobs of the engine now (shared/jobs/scan_jobs.py); the
row in `scan_jobs` stays their report. A row still `running` at this upgrade belongs to
an API process of the old runner, which is stopped for the upgrade, and has no job of the
engine to finish it: without this it would say running for ever. No table changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
# 0019 and 0020 are being written on other branches; the lead relinks this on merge.
down_revision = "0020"
branch_labels = None
depends_on = None

#: The reason such a scan reads, as `GET /api/media/scans/{jobId}` shows it.
LEFT_RUNNING = "the API process running this scan stopped before the upgrade (start it again)"


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE scan_jobs SET status = 'failed', error = :error,"
            " updated_at = now(), finished_at = now() WHERE status = 'running'"
        ).bindparams(error=LEFT_RUNNING)
    )


def downgrade() -> None:
    pass  # the old runner reads failed rows as they are
