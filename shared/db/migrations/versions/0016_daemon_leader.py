"""daemon_leader: the fencing epoch and the name of the library's active watcher

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

One row. The leader itself is a session-level advisory lock (shared/db/repository/leader.py);
this row holds what a lock cannot: an epoch that every write of a daemon checks in its own
transaction (a frozen leader that wakes up after losing the lock must not write), and who
leads since when (for /readyz and doctor).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_leader",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("holder", sa.Text()),
        sa.Column("since", sa.DateTime(timezone=True)),
        sa.CheckConstraint("id = 1", name="ck_daemon_leader_one_row"),
        sa.PrimaryKeyConstraint("id", name="pk_daemon_leader"),
    )
    op.execute("INSERT INTO daemon_leader (id, epoch) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("daemon_leader")
