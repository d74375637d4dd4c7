"""idx_videos_substring: a pg_trgm index for the seed's substring search, where allowed

Without pg_trgm (a role that may not create it) the migration still succeeds and the search
scans every row; `videolib doctor` warns. Every `videolib db upgrade` tries again, so this
revision delegates to the same function (shared/db/trigram.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

from videolib.shared.db.trigram import INDEX_NAME, create_substring_index

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_substring_index(op.get_bind())


def downgrade() -> None:
    # The extension stays: other objects may use it, and dropping it needs its owner.
    op.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
