"""Fixtures of the operations tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def run_home() -> Iterator[Path]:
    """A home for `videolib run` and its embedded server, outside pytest's basetemp: another
    pytest session starting meanwhile makes /tmp/pytest-of-<user> 0700 again, and the
    server's own user then loses its data directory (pg_control: Permission denied)."""
    home = Path(tempfile.mkdtemp(prefix="videolib-test-run-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)
