"""deploy/INSTALL.md: the rollback snippet really downgrades, and upgrade brings it back."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap

import asyncpg
from sqlalchemy.engine import URL

from tests.ops.tools import DEPLOY
from videolib.shared.db import migrate


def rollback_snippet() -> tuple[str, str]:
    """The Python of the rollback section and the revision it is run with."""
    guide = (DEPLOY / "INSTALL.md").read_text()
    match = re.search(
        r"exec /opt/videolib/venv/bin/python - (\w+)' <<'EOF'\n(.*?)\n *EOF\n", guide, re.S
    )
    assert match, "rollback snippet not found in INSTALL.md"
    return textwrap.dedent(match.group(2)), match.group(1)


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def revision_of(url: URL) -> str:
    connection = await asyncpg.connect(dsn(url))
    try:
        return str(await connection.fetchval("SELECT version_num FROM alembic_version"))
    finally:
        await connection.close()


def run(args: list[str], url: URL, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        env={**os.environ, "DATABASE_URL": dsn(url), "VIDEOLIB_CONFIG": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_rollback_snippet_downgrades_and_db_upgrade_returns_to_head(database_url: URL) -> None:
    code, revision = rollback_snippet()
    down = run(["-", revision], database_url, stdin=code)
    assert down.returncode == 0, down.stderr
    assert asyncio.run(revision_of(database_url)) == revision

    up = run(["-m", "videolib.shared.commands.cli", "db", "upgrade"], database_url)
    assert up.returncode == 0, up.stderr
    assert asyncio.run(revision_of(database_url)) == migrate.head_revision()
