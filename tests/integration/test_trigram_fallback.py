"""Without pg_trgm: a real role that may not create it, on the embedded server (issue 14, 5).

pg_trgm is a trusted extension: any role with CREATE on the database may add it. The role
here has none (only CREATE on the schema, to own its tables), as on a shared production
database. The migrations must still succeed, the search still answer (a scan), doctor warn,
the API and the daemon say so once at start, and a later grant plus `db upgrade` index it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from sqlalchemy.engine import URL
from structlog.testing import capture_logs

from tests.api.conftest import SECRET, insert_rows, row
from tests.ops.test_doctor import lines_by_check, videolib_doctor
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.db import migrate, trigram
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import AdminVideoRepository, VideoQuery


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def as_superuser(server: URL, database: str, *statements: str) -> None:
    connection = await asyncpg.connect(dsn(server.set(database=database)))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def plain_role(template_url: URL) -> AsyncIterator[URL]:
    """A new database (no pg_trgm) and a login role that owns nothing but may create tables."""
    name = f"plain_{uuid.uuid4().hex[:10]}"
    await as_superuser(template_url, "postgres", f'CREATE ROLE "{name}" LOGIN')
    await as_superuser(template_url, "postgres", f'CREATE DATABASE "{name}"')
    # PostgreSQL 15 took CREATE on `public` from PUBLIC: the role gets that, not the database's.
    await as_superuser(template_url, name, f'GRANT USAGE, CREATE ON SCHEMA public TO "{name}"')
    try:
        yield template_url.set(username=name, database=name, password=None)
    finally:
        await as_superuser(
            template_url,
            "postgres",
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'DROP ROLE IF EXISTS "{name}"',
        )


@pytest.fixture
async def migrated_plain(plain_role: URL) -> URL:
    async with open_engine(plain_role, pool_size=1) as engine:
        await migrate.upgrade(engine)
    return plain_role


async def test_the_migrations_succeed_and_the_search_scans(plain_role: URL) -> None:
    async with open_engine(plain_role, pool_size=2) as engine:
        with capture_logs() as logs:
            await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert not await trigram.substring_index_present(engine)
        refused = [e for e in logs if e["event"] == "pg_trgm_unavailable"]
        assert len(refused) == 1 and "permission denied" in refused[0]["error"], logs
        await insert_rows(
            engine,
            row("videos/a.mp4", title="Mountain Biking"),
            row("videos/b.mp4", producer="Fountain Films"),
            row("videos/c.mp4", title="Ocean"),
        )
        listing = AdminVideoRepository(engine)
        page = await listing.list_page(VideoQuery(search="OUNTAIN"))
        assert (page.rows, page.total) == (2, 2)
        assert '"videos/a.mp4"' in page.items_json and '"videos/b.mp4"' in page.items_json
        plan = await listing.explain_list(VideoQuery(search="ountain"))
        assert "idx_videos_substring" not in plan and "Seq Scan on videos" in plan, plan


async def test_a_later_grant_and_db_upgrade_add_the_index(
    migrated_plain: URL, template_url: URL
) -> None:
    database = migrated_plain.database or ""
    # Enough for a trusted extension: CREATE on the database, no superuser.
    await as_superuser(
        template_url, "postgres", f'GRANT CREATE ON DATABASE "{database}" TO "{database}"'
    )
    async with open_engine(migrated_plain, pool_size=1) as engine:
        await migrate.upgrade(engine)  # already at head: only the index step runs
        assert await trigram.substring_index_present(engine)


def plain_config(config: Config, url: URL) -> Config:
    return config.replace("database", url=dsn(url)).replace("api", jwt_secret=SECRET)


async def test_the_api_says_so_once_at_start(
    migrated_plain: URL,
    config: Config,
    aiohttp_client: Callable[[web.Application], Awaitable[object]],
) -> None:
    async with open_engine(migrated_plain, pool_size=2) as engine:
        with capture_logs() as logs:
            await aiohttp_client(create_app(plain_config(config, migrated_plain), engine))
        lines = [e for e in logs if e["event"] == "search_unindexed"]
        assert len(lines) == 1, logs
        assert "CREATE EXTENSION pg_trgm" in lines[0]["fix"]


async def test_the_api_is_quiet_when_indexed(
    config: Config,
    aiohttp_client: Callable[[web.Application], Awaitable[object]],
    database_url: URL,
) -> None:
    async with open_engine(database_url, pool_size=2) as engine:
        with capture_logs() as logs:
            await aiohttp_client(create_app(config.replace("api", jwt_secret=SECRET), engine))
    assert [e for e in logs if e["event"] == "search_unindexed"] == []


async def test_the_daemon_says_so_once_at_start(
    migrated_plain: URL, library_root: Path, tmp_path: Path
) -> None:
    settings = tmp_path / "daemon.toml"
    settings.write_text("[daemon]\nmetrics_port = 0\n[probe]\nworkers = 1\n")
    env = {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": dsn(migrated_plain),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
    }
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "daemon"]
    daemon = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert daemon.stderr is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "daemon_ready" not in seen:  # one line at a time: the pipe blocks
            assert daemon.poll() is None and time.monotonic() < deadline, seen
            seen += await asyncio.to_thread(daemon.stderr.readline)
    finally:
        daemon.terminate()
        rest = await asyncio.to_thread(daemon.communicate, timeout=30)
    assert seen.count("search_unindexed") == 1, seen + rest[1]
    assert daemon.returncode == 0, seen + rest[1]


async def test_doctor_warns_with_what_to_do(migrated_plain: URL, library_root: Path) -> None:
    env = {
        "DATABASE_URL": dsn(migrated_plain),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "JWT_SECRET": SECRET,
    }
    result = await asyncio.to_thread(videolib_doctor, env)
    line = lines_by_check(result.stdout)["search"]
    assert line.startswith("WARN  search: no pg_trgm index (idx_videos_substring)"), line
    assert "CREATE EXTENSION pg_trgm;" in line and "videolib db upgrade" in line, line
    assert result.returncode == 0, result.stdout  # a WARN, not a failure
