"""job batches: the results of validate --all, bulk validate and thumbnails, per item

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01

These commands defer their work as chunk jobs of the engine (shared/jobs/batch_jobs.py), so
that every worker shares them and a killed CLI loses nothing. A batch row says how many
items it has; each chunk writes one row per item, keyed by (batch, item), so a chunk the
engine retries after its worker died counts each item once. State only, not a queue: the
engine holds the chunks.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0019"
# 0019 of other branches may exist; the lead relinks the chain on merge.
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_batches",
        sa.Column(
            "id", UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_job_batches"),
    )
    op.create_table(
        "job_batch_items",
        sa.Column("batch_id", UUID(as_uuid=True), nullable=False),
        sa.Column("item_id", UUID(as_uuid=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["job_batches.id"],
            ondelete="CASCADE",
            name="fk_job_batch_items_batch_id",
        ),
        sa.PrimaryKeyConstraint("batch_id", "item_id", name="pk_job_batch_items"),
    )


def downgrade() -> None:
    op.drop_table("job_batch_items")
    op.drop_table("job_batches")
