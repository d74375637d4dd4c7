"""The pg_trgm index of the substring search, where the database allows one.

pg_trgm is a contrib extension: the embedded server ships it, and as a trusted extension any
role with CREATE on the database may add it. A shared production database may allow neither;
then the search still works (repository/search.py), as a scan of every row, `videolib
doctor` warns, and the API and daemon say so once at start. Creating the index is attempted
by migration 0007 and again by every `videolib db upgrade`, so that once an administrator
has run `CREATE EXTENSION pg_trgm` the next upgrade adds it.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.schema import SUBSTRING_DOCUMENT
from videolib.shared.logging import get_logger

INDEX_NAME = "idx_videos_substring"
#: What an administrator runs when the migrating role may not (doctor's fix, the start line).
FIX = (
    "as the database owner or a superuser run `CREATE EXTENSION pg_trgm;` in this database "
    "(or GRANT CREATE ON DATABASE to videolib's role), then `videolib db upgrade`"
)

log = get_logger(__name__)

_EXTENSION_SCHEMA = text(
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pg_trgm'"
)
_INDEX_PRESENT = text("SELECT to_regclass(:name) IS NOT NULL")


def create_substring_index(connection: Connection) -> bool:
    """Create pg_trgm (if allowed) and the index (if missing); whether the index exists.

    Runs inside the migration's transaction: a refused CREATE EXTENSION is undone to a
    savepoint, so that the migration itself still succeeds.
    """
    if connection.execute(_INDEX_PRESENT, {"name": INDEX_NAME}).scalar():
        return True
    schema = _extension_schema(connection) or _try_create_extension(connection)
    if schema is None:
        return False
    # Qualified: the extension may live in a schema off the search_path ("extensions").
    opclass = f'"{schema}".gin_trgm_ops'
    connection.exec_driver_sql(
        f"CREATE INDEX {INDEX_NAME} ON videos USING gin ({SUBSTRING_DOCUMENT} {opclass})"
    )
    return True


def _extension_schema(connection: Connection) -> str | None:
    return connection.execute(_EXTENSION_SCHEMA).scalar()


def _try_create_extension(connection: Connection) -> str | None:
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as error:  # no privilege, or not installed on the server
        savepoint.rollback()
        log.warning("pg_trgm_unavailable", error=str(error.orig).strip(), fix=FIX)
        return None
    savepoint.commit()
    return _extension_schema(connection)


async def substring_index_present(engine: AsyncEngine) -> bool:
    """Whether the search has its trigram index (doctor, start line)."""
    async with engine.connect() as connection:
        return bool(await connection.scalar(_INDEX_PRESENT, {"name": INDEX_NAME}))


async def announce_unindexed_search(engine: AsyncEngine) -> None:
    """Log one line at start when the search has no trigram index."""
    try:
        present = await substring_index_present(engine)
    except (DBAPIError, OSError, TimeoutError):
        return  # a database away at start is reported by the process's own checks
    if not present:
        log.warning(
            "search_unindexed",
            detail="pg_trgm is not installed: each search scans every video",
            fix=FIX,
        )
