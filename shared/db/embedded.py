"""A private PostgreSQL under the state directory, for when DATABASE_URL is unset.

A real server (PostgreSQL 16 from the pgserver wheel), never a SQLite stand-in. pgserver
counts the processes holding a handle on the data directory and stops the server when the
last one lets go, so `videolib api` and `videolib daemon` started separately share one.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from videolib.shared.errors import DatabaseUnavailableError

DATABASE_NAME = "videolib"

# pgserver logs each handle at INFO through the standard library; its lines are noise here.
logging.getLogger("pgserver").setLevel(logging.WARNING)


@contextlib.contextmanager
def embedded_postgres(state_dir: Path) -> Iterator[URL]:
    """Start (or join) the embedded server; yield the asyncpg URL of its `videolib` database."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (services, CI); pgserver
        # then keeps its lock under /tmp, which is what we want.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded mode needs it

    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(state_dir / "pgdata", cleanup_mode="stop")
    except Exception as error:  # pgserver raises bare subprocess and OS errors
        raise DatabaseUnavailableError(f"embedded PostgreSQL under {state_dir}: {error}") from error
    try:
        if DATABASE_NAME not in server.psql("SELECT datname FROM pg_database;"):
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        url = make_url(server.get_uri()).set(
            drivername="postgresql+asyncpg", database=DATABASE_NAME
        )
        yield url
    finally:
        server.cleanup()
