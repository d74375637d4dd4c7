"""A private embedded PostgreSQL that a test may stop, start and freeze.

For failure tests: the session's shared server must never be disturbed, so each such test
gets a server of its own, migrated, under its own temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import psutil
from sqlalchemy.engine import URL

from videolib.shared.db import migrate
from videolib.shared.db.embedded import embedded_postgres
from videolib.shared.db.embedded_guard import SERVER_USER
from videolib.shared.db.engine import open_engine


class StoppablePostgres:
    """A running embedded server; `stop()` and `start()` it on the same socket."""

    def __init__(self, pgdata: Path, url: URL) -> None:
        self.pgdata = pgdata
        self.url = url
        socket_dir = url.query["host"]
        assert isinstance(socket_dir, str)
        self.socket_dir = socket_dir

    @property
    def dsn(self) -> str:
        """The libpq-style DSN (unix socket in ?host=), for a Config or a subprocess."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def stop(self) -> None:
        """Stop at once, as a crash or a restart would: sessions end mid-statement."""
        self.thaw()
        pg_ctl(["-w", "-m", "immediate", "stop"], self.pgdata)

    def start(self) -> None:
        log = str(self.pgdata / "restarted.log")
        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log]
        pg_ctl(["-w", *options, "start"], self.pgdata)

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: connections stay open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        for process in self._processes():
            # A backend may end between the listing and the signal (its client left).
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                process.send_signal(signum)

    def _processes(self) -> list[psutil.Process]:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            return [postmaster, *postmaster.children(recursive=True)]
        return []


@contextlib.contextmanager
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    """Start a migrated server of its own; stopped and removed on exit."""
    state = Path(tempfile.mkdtemp(prefix="videolib-stoppable-pg-"))
    try:
        with embedded_postgres(state) as url:
            asyncio.run(_migrate(url))
            server = StoppablePostgres(state / "pgdata", url)
            try:
                yield server
            finally:
                # embedded-postgres only stops the postmaster it started itself: a restarted one is
                # stopped here, and the first is then found stopped.
                if server.running():
                    server.thaw()
                    with contextlib.suppress(Exception):
                        pg_ctl(["-w", "-m", "immediate", "stop"], server.pgdata)
    finally:
        shutil.rmtree(state, ignore_errors=True)


async def _migrate(url: URL) -> None:
    async with open_engine(url, pool_size=1) as engine:
        await migrate.upgrade(engine)


def pg_ctl(args: list[str], pgdata: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns at import without XDG_RUNTIME_DIR
        from embedded_postgres._commands import pg_ctl as run  # type: ignore[attr-defined]

    run(args, pgdata=pgdata, user=SERVER_USER, timeout=60)
