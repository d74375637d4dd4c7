"""The `videolib` command as a user runs it: real processes, database and files."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL

from tests.media import make_text_file_named, make_video
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import DirectoryLocks
from videolib.shared.tokens import verify_token

SECRET = "cli-test-secret-" + "x" * 32


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def videolib(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "videolib.shared.commands.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(database_url: URL, library_root: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn(database_url),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "JWT_SECRET": SECRET,
        "VIDEOLIB_LOG_LEVEL": "warning",
    }


def test_scan_prints_summary_and_rescan_skips(env: dict[str, str], library_root: Path) -> None:
    (library_root / "videos" / "a").mkdir()
    make_video(library_root / "videos" / "a" / "one.mp4")
    make_video(library_root / "videos" / "two.MOV")

    first = videolib("scan", "videos", env=env)
    second = videolib("scan", "videos", env=env)

    assert first.returncode == 0, first.stderr
    assert "found 2 video files" in first.stdout
    assert "- Created 2 new records" in first.stdout
    assert "- Skipped 2 unchanged records" in second.stdout
    assert "Scan complete in" in second.stdout
    # Not on a terminal: plain progress lines, no bar.
    assert "scan videos: 2/2" in first.stderr


def test_scan_with_a_bad_file_exits_1_and_names_it(env: dict[str, str], library_root: Path) -> None:
    make_text_file_named(library_root / "gifs" / "fake.mkv")
    result = videolib("scan", "--all-types", env=env)
    assert result.returncode == 1
    assert "- Failed 1 files" in result.stdout
    assert "gifs/fake.mkv: " in result.stdout


@pytest.mark.parametrize(
    ("args", "extra_env", "expected"),
    [
        (["scan", "videos"], {"MEDIA_API_PORT": "x"}, "api.port = 'x': expected a whole number"),
        (["scan", "videos"], {"MEDIA_LIBRARY_PATH": "/nonexistent/lib"}, "no such directory"),
        (["scan", "videos"], {"DATABASE_URL": "mysql://x@y/z"}, "malformed database URL"),
        (["scan"], {}, "give one directory type or --all-types"),
        (["validate", "not-a-uuid"], {}, "ID = 'not-a-uuid': not a UUID"),
        (["token", "--ttl", "forever"], {}, "--ttl = 'forever'"),
        (["token"], {"JWT_SECRET": ""}, "api.jwt_secret"),
    ],
)
def test_usage_and_config_errors_exit_2_with_one_line(
    env: dict[str, str], args: list[str], extra_env: dict[str, str], expected: str
) -> None:
    result = videolib(*args, env={**env, **extra_env})
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_type_is_a_usage_error(env: dict[str, str]) -> None:
    result = videolib("scan", "movies", env=env)
    assert result.returncode == 2
    assert "invalid choice: 'movies'" in result.stderr


def test_unreachable_database_exits_3(env: dict[str, str]) -> None:
    result = videolib(
        "scan", "videos", env={**env, "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db"}
    )
    assert result.returncode == 3
    assert "database unavailable" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_is_signed_with_the_secret(env: dict[str, str]) -> None:
    result = videolib("token", "--ttl", "15m", env=env)
    assert result.returncode == 0
    assert verify_token(result.stdout.strip(), SECRET).role == "SUPER_ADMIN"


def recorded_validity(url: URL) -> dict[str, tuple[bool, str | None]]:
    """(is_valid, invalid_reason) of every record, by path."""

    async def read() -> dict[str, tuple[bool, str | None]]:
        connection = await asyncpg.connect(dsn(url))
        try:
            found = await connection.fetch("SELECT path, is_valid, invalid_reason FROM videos")
        finally:
            await connection.close()
        return {r["path"]: (r["is_valid"], r["invalid_reason"]) for r in found}

    return asyncio.run(read())


def test_validate_marks_vanished_and_corrupted_files(
    env: dict[str, str], library_root: Path, database_url: URL
) -> None:
    kept = make_video(library_root / "videos" / "kept.mp4")
    gone = make_video(library_root / "videos" / "gone.mp4")
    broken = make_video(library_root / "videos" / "broken.mp4")
    assert videolib("scan", "videos", env=env).returncode == 0
    gone.unlink()
    broken.write_bytes(b"not a video any more")

    result = videolib("validate", "--all", env=env)

    assert result.returncode == 1
    assert "Validated 3 videos: 1 valid, 2 failed" in result.stdout
    assert "videos/gone.mp4: file not found" in result.stdout
    assert kept.exists()
    # Marked, not only printed: every record kept, each with what is wrong with it.
    assert recorded_validity(database_url) == {
        "videos/kept.mp4": (True, None),
        "videos/gone.mp4": (False, "missing"),
        "videos/broken.mp4": (False, "corrupt"),
    }
    # Through the job engine: one batch of three items, finished, no chunk job left over.
    assert batch_state(database_url) == ("validate_chunk", 3, 3, True, 0)


def batch_state(url: URL) -> tuple[str, int, int, bool, int]:
    """(kind, total, items recorded, finished, chunk jobs pending) of the one batch."""

    async def read() -> tuple[str, int, int, bool, int]:
        connection = await asyncpg.connect(dsn(url))
        try:
            row = await connection.fetchrow(
                "SELECT kind, total, finished_at IS NOT NULL AS finished,"
                " (SELECT count(*) FROM job_batch_items i WHERE i.batch_id = b.id) AS items,"
                " (SELECT count(*) FROM pgqueuer WHERE entrypoint = b.kind) AS pending"
                " FROM job_batches b"
            )
        finally:
            await connection.close()
        assert row is not None
        return row["kind"], row["total"], row["items"], row["finished"], row["pending"]

    return asyncio.run(read())


def test_db_upgrade_from_empty(template_url: URL, library_root: Path) -> None:
    name = f"empty_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(dsn(template_url.set(database="postgres")))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        env = {
            "DATABASE_URL": dsn(template_url.set(database=name)),
            "MEDIA_LIBRARY_PATH": str(library_root),
        }
        before = videolib("scan", "videos", env=env)
        assert before.returncode == 2
        assert "run `videolib db upgrade`" in before.stderr
        upgraded = videolib("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "database at revision" in upgraded.stdout
        assert videolib("scan", "videos", env=env).returncode == 0
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_token_url_is_a_login_link(env: dict[str, str]) -> None:
    result = videolib("token", "--url", env={**env, "MEDIA_API_PORT": "4999"})
    assert result.returncode == 0
    prefix = "http://127.0.0.1:4999/admin/#token="
    assert result.stdout.startswith(prefix)
    claims = verify_token(result.stdout.strip().removeprefix(prefix), SECRET)
    assert claims.role == "SUPER_ADMIN"


async def test_a_scan_waiting_longer_than_the_command_timeout_for_its_lock_goes_on(
    env: dict[str, str], database_url: URL, library_root: Path, tmp_path: Path
) -> None:
    # A daemon reconcile holds the lock of `videos` for longer than the command timeout:
    # the CLI scan waits for it (tries, no statement blocking that long), then scans.
    command_timeout_s = 1.0
    config = tmp_path / "videolib.toml"
    config.write_text(f"[database]\ncommand_timeout_seconds = {command_timeout_s}\n")
    make_video(library_root / "videos" / "one.mp4")
    async with open_engine(database_url, pool_size=2) as engine:
        async with DirectoryLocks(engine).directory_lock(["videos"], wait=False) as held:
            assert held
            scan = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "videolib.shared.commands.cli", "scan", "videos",
                env={**os.environ, **env, "VIDEOLIB_CONFIG": str(config)},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert scan.stderr is not None and scan.stdout is not None
            said = await asyncio.wait_for(scan.stderr.readline(), 60)
            assert b"another scan of these types is running; waiting for it" in said
            # Still waiting well past the command timeout (before: exit 3 "database
            # unavailable" when the blocking pg_advisory_lock was cut).
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(scan.wait(), 4 * command_timeout_s)
        out, err = await asyncio.wait_for(scan.communicate(), 60)
    assert scan.returncode == 0, err.decode()
    assert "- Created 1 new records" in out.decode()
