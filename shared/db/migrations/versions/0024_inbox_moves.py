"""inbox_moves: the inbox's move journal, shared by every daemon of the library

Revision ID: 0024
Revises: 0018
Create Date: 2026-12-01

A move of an inbox file into its type folder is journaled before its first step and the
entry removed in the transaction that records it (daemon/journal.py). The entries were
files in each daemon's own state dir: a leader killed between the move and its record left
its entry where the new leader (another state dir, maybe another host) never looked, and
the file was recorded as a plain new one, without originalFilename or standardizedAt.
Entries left in a state dir (`<state.dir>/inbox-moves/<id>.json`) by an earlier version
are moved into the table by that daemon's first recovery after the upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
# 0019-0023 are being written on other branches; the lead relinks this chain on merge.
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_moves",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("inbox_path", sa.Text(), nullable=False),
        sa.Column("directory_type", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_moves"),
    )


def downgrade() -> None:
    op.drop_table("inbox_moves")
