"""Fixtures: one embedded PostgreSQL per session, a fresh database per test, a library.

The schema is migrated once into the `videolib` database, which then serves as the
template of every test's database (CREATE DATABASE ... TEMPLATE is a file copy: fast).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config, DatabaseConfig, LibraryConfig, ProbeConfig, StateConfig
from videolib.shared.db import migrate
from videolib.shared.db.embedded import DATABASE_NAME, embedded_postgres
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import VideoRepository
from videolib.shared.media.names import DIRECTORY_TYPES


def _dsn(url: URL, database: str) -> str:
    """A libpq-style DSN asyncpg accepts (unix socket in ?host=)."""
    return url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


async def _admin(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def template_url() -> Iterator[URL]:
    """The embedded server's migrated `videolib` database: the template of the others."""
    # Not under pytest's basetemp: a second pytest session started meanwhile prunes old
    # basetemp folders, which would delete a running server's data directory.
    state = Path(tempfile.mkdtemp(prefix="videolib-test-pg-"))
    with embedded_postgres(state) as url:

        async def prepare() -> None:
            async with open_engine(url, pool_size=1) as engine:
                await migrate.upgrade(engine)

        asyncio.run(prepare())
        yield url
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def database_url(template_url: URL) -> Iterator[URL]:
    """A database of its own for one test, migrated, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(template_url, f'CREATE DATABASE "{name}" TEMPLATE "{DATABASE_NAME}"'))
    yield template_url.set(database=name)
    asyncio.run(_admin(template_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def library_root(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    return root


@pytest.fixture
def config(library_root: Path, database_url: URL, tmp_path: Path) -> Config:
    """A config on the test's library and database, with two probe workers."""
    return Config(
        library=LibraryConfig(root=library_root),
        database=DatabaseConfig(url=_dsn(database_url, database_url.database or ""), pool_size=4),
        state=StateConfig(dir=tmp_path / "state"),
        probe=ProbeConfig(workers=2, timeout_ms=20000),
    )


@pytest.fixture
async def engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    async with open_engine(database_url, pool_size=4) as engine:
        yield engine


@pytest.fixture
def repository(engine: AsyncEngine) -> VideoRepository:
    return VideoRepository(engine)
