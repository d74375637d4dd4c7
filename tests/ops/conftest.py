"""Fixtures of the operations tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import processes


@pytest.fixture
def run_home() -> Iterator[Path]:
    """A home for `videolib run` and its embedded server, outside pytest's basetemp: another
    pytest session starting meanwhile makes /tmp/pytest-of-<user> 0700 again, and the
    server's own user then loses its data directory (pg_control: Permission denied).

    Removed only once its server has stopped: pg_ctl cannot stop a server whose data
    directory is gone, and the guard of a just-killed `run` may still be about to."""
    home = Path(tempfile.mkdtemp(prefix="videolib-test-run-"))
    yield home
    try:
        postmaster = int((home / "var/pgdata/postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        postmaster = 0
    if postmaster:
        processes.wait_gone({postmaster}, SERVER_STOP_S)
    shutil.rmtree(home, ignore_errors=True)


#: How long a killed `run`'s guard gets to stop its server before the home is removed.
SERVER_STOP_S = 20.0
