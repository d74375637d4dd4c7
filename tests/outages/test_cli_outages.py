"""`videolib` commands with the database stopped or out of slots: exit 3, one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

from tests.outages.conftest import OutageServer, dsn_of
from videolib.shared.media.names import DIRECTORY_TYPES


def run_scan(url: URL, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True, exist_ok=True)
    environ = {**os.environ, "DATABASE_URL": dsn_of(url), "MEDIA_LIBRARY_PATH": str(root)}
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "scan", "videos"]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60)


def assert_one_line_exit_3(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("videolib scan:")]
    assert len(lines) == 1 and fragment in lines[0].lower(), result.stderr


async def test_cli_exits_3_when_the_database_is_stopped(
    outage_server: OutageServer, outage_url: URL, tmp_path: Path
) -> None:
    outage_server.stop()
    try:
        assert_one_line_exit_3(run_scan(outage_url, tmp_path), "database unavailable")
    finally:
        outage_server.start()


async def test_cli_exits_3_when_no_connection_slot_is_free(
    outage_server: OutageServer, outage_url: URL, tmp_path: Path
) -> None:
    async with outage_server.slots_used_up(dsn_of(outage_url)):
        assert_one_line_exit_3(run_scan(outage_url, tmp_path), "too many")
