"""Fixtures: one embedded PostgreSQL per session, a fresh database per test, a library.

The schema is migrated once into the `videolib` database, which then serves as the
template of every test's database (CREATE DATABASE ... TEMPLATE is a file copy: fast).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import processes
from tests.corpus import make_extended_corpus
from videolib.shared.config import Config, DatabaseConfig, LibraryConfig, ProbeConfig, StateConfig
from videolib.shared.db import migrate
from videolib.shared.db.embedded import DATABASE_NAME, embedded_postgres
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import VideoRepository
from videolib.shared.library_marker import new_library_id, write_marker
from videolib.shared.media.names import DIRECTORY_TYPES

# Every process the session starts inherits this mark, and keeps it when its parent dies:
# the check at the end finds what was left behind even after it was reparented to init.
_SESSION = uuid.uuid4().hex
os.environ[processes.SESSION_VARIABLE] = _SESSION
#: How long the processes of the last test get to exit before the check fails the run.
LEFTOVER_GRACE_S = 10.0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process it started is still alive (issue 10, item 7).

    Runs after the session fixtures are torn down: the session's own embedded PostgreSQL
    is stopped by then and counts as left behind if it is not.
    """
    marked = processes.marked(processes.SESSION_VARIABLE, _SESSION) - {os.getpid()}
    # Except this process's own multiprocessing resource tracker (started by the first
    # worker pool): it exits when its pipe closes, i.e. with this process, kill -9 or not.
    marked -= {pid for pid in processes.children(os.getpid()) if _is_resource_tracker(pid)}
    left = processes.wait_gone(marked, LEFTOVER_GRACE_S)
    if not left:
        return
    lines = [f"  {pid}: {processes.command_line(pid)}" for pid in sorted(left)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "processes started by the test session are still alive:\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True)
    for pid in left:  # do not leave them on the machine either
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _is_resource_tracker(pid: int) -> bool:
    return "from multiprocessing.resource_tracker import main" in processes.command_line(pid)


def _dsn(url: URL, database: str) -> str:
    """A libpq-style DSN asyncpg accepts (unix socket in ?host=)."""
    return url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


async def _admin(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


#: A superuser's URL on a PostgreSQL server to run the tests against instead of an embedded
#: one (CI: Debian's PostgreSQL 15, see .ci/run). Its database is dropped and re-created.
EXTERNAL_DATABASE = "VIDEOLIB_TEST_DATABASE_URL"


def _migrate(url: URL) -> None:
    async def prepare() -> None:
        async with open_engine(url, pool_size=1) as engine:
            await migrate.upgrade(engine)

    asyncio.run(prepare())


@pytest.fixture(scope="session")
def template_url() -> Iterator[URL]:
    """The embedded server's migrated `videolib` database: the template of the others."""
    if external := os.environ.get(EXTERNAL_DATABASE):
        url = make_url(external).set(drivername="postgresql+asyncpg")
        name = url.database or DATABASE_NAME
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
        _migrate(url.set(database=name))
        yield url.set(database=name)
        return
    # Not under pytest's basetemp: a second pytest session started meanwhile prunes old
    # basetemp folders, which would delete a running server's data directory.
    state = Path(tempfile.mkdtemp(prefix="videolib-test-pg-"))
    with embedded_postgres(state) as url:
        _migrate(url)
        yield url
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def database_url(template_url: URL) -> Iterator[URL]:
    """A database of its own for one test, migrated, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    template = template_url.database
    asyncio.run(_admin(template_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield template_url.set(database=name)
    asyncio.run(_admin(template_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def library_root(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    write_marker(root, new_library_id())  # `videolib init`'s marker: the library is mounted
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


@pytest.fixture(scope="session")
def extended_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real-world shapes of tests/corpus.py by case name, built once: about a second."""
    return make_extended_corpus(tmp_path_factory.mktemp("extended-corpus"))
