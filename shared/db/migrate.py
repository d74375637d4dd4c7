"""Alembic migrations, run from videolib itself (`videolib db upgrade`)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.trigram import create_substring_index
from videolib.shared.logging import get_logger

MIGRATIONS = Path(__file__).with_name("migrations")

log = get_logger(__name__)

# Alembic says "Context impl PostgresqlImpl." and "Running upgrade ..." at INFO, as
# sentences, twice per process start: `_upgrade` logs one event of ours instead.
logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic config pointing at our migrations, bound to a connection when given."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def _upgrade(connection: Connection, revision: str) -> None:
    # Two processes starting at once (api and daemon) must not migrate concurrently.
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7166010101)")
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(alembic_config(connection), revision)
    after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        log.info("migrations_applied", from_revision=before, to_revision=after)
    if revision == "head" and before == head_revision():
        # pg_trgm may have been allowed since 0007 ran without it (shared/db/trigram.py);
        # when 0007 has just run, it has just tried.
        create_substring_index(connection)


def url_for_display(url: URL) -> str:
    return url.render_as_string(hide_password=True)
