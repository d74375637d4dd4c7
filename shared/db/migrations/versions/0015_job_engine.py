"""job engine: PgQueuer's tables; the thumbnails table keeps state only (no claims, no retry times)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

Thumbnails are jobs of the engine now (shared/jobs/): its rows say which video has a
thumbnail and why the last try failed or was given up. The claim ('working'), the attempt
count and the retry time were the home-made queue's and go.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

from videolib.shared.jobs.schema import install_sql, uninstall_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

STATUSES = ("done", "failed", "gave_up")
OLD_STATUSES = ("working", "done", "failed")


def _status_check(statuses: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def _run_script(script: str) -> None:
    """Run many statements (DO blocks, $$ bodies) in one simple-protocol call, in this
    migration's transaction: asyncpg's execute() without arguments does exactly that."""
    connection = op.get_bind().connection.dbapi_connection
    assert connection is not None
    await_only(connection.driver_connection.execute(script))


def upgrade() -> None:
    _run_script(install_sql())
    op.drop_constraint("ck_thumbnails_status", "thumbnails", type_="check")
    op.execute("DELETE FROM thumbnails WHERE status = 'working'")  # claims of the old queue
    op.create_check_constraint("ck_thumbnails_status", "thumbnails", _status_check(STATUSES))
    op.drop_column("thumbnails", "attempts")
    op.drop_column("thumbnails", "retry_at")


def downgrade() -> None:
    op.add_column("thumbnails", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "thumbnails",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.drop_constraint("ck_thumbnails_status", "thumbnails", type_="check")
    op.execute("UPDATE thumbnails SET status = 'failed' WHERE status = 'gave_up'")
    op.create_check_constraint("ck_thumbnails_status", "thumbnails", _status_check(OLD_STATUSES))
    _run_script(uninstall_sql())
