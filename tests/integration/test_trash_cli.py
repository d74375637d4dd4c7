"""`videolib trash`, `restore` and `cleanup` as a user runs them: real processes, files and
PostgreSQL (the state directory of the test, so thumbnails go where the test looks)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from tests.integration.test_cli import dsn, videolib
from tests.media import make_video
from videolib.shared.db.engine import open_engine


@pytest.fixture
def state_env(database_url: URL, library_root: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn(database_url),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        "VIDEOLIB_LOG_LEVEL": "warning",
    }


def query(url: URL, sql: str) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        async with open_engine(url, pool_size=1) as engine, engine.begin() as connection:
            result = await connection.execute(text(sql))
            return [tuple(r) for r in result.all()] if result.returns_rows else []

    return asyncio.run(run())


def test_trash_then_restore(
    state_env: dict[str, str], library_root: Path, database_url: URL
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4")
    assert videolib("scan", "videos", env=state_env).returncode == 0
    [(video_id,)] = query(database_url, "SELECT id FROM videos")

    trashed = videolib("trash", str(video_id), env=state_env)
    assert trashed.returncode == 0, trashed.stderr
    day = datetime.now(UTC).date().isoformat()
    assert f"videos/clip.mp4 -> .trash/{day}/videos/clip.mp4" in trashed.stdout
    assert not clip.exists()
    again = videolib("trash", str(video_id), env=state_env)
    assert (again.returncode, again.stderr.strip()) == (
        1,
        f"videolib trash: .trash/{day}/videos/clip.mp4: already in the trash",
    )

    restored = videolib("restore", str(video_id), env=state_env)
    assert restored.returncode == 0, restored.stderr
    assert clip.is_file()
    assert query(database_url, "SELECT id, path, is_valid FROM videos") == [
        (video_id, "videos/clip.mp4", True)
    ]
    unknown = videolib("restore", str(uuid.uuid4()), env=state_env)
    assert unknown.returncode == 1 and "no such video" in unknown.stderr


def test_cleanup_dry_run_then_apply(
    state_env: dict[str, str], library_root: Path, database_url: URL
) -> None:
    clip = make_video(library_root / "videos" / "gone.mp4")
    assert videolib("scan", "videos", env=state_env).returncode == 0
    query(database_url, "UPDATE videos SET is_valid = false, invalid_reason = 'deleted'")

    dry = videolib("cleanup", "--reason", "deleted", env=state_env)
    assert dry.returncode == 0, dry.stderr
    assert "videos/gone.mp4" in dry.stdout and "1 invalid videos selected" in dry.stdout
    assert "Dry run: nothing changed" in dry.stdout
    assert clip.exists()
    none_old = videolib("cleanup", "--reason", "deleted", "--older-than-days", "5", env=state_env)
    assert "0 invalid videos selected" in none_old.stdout

    applied = videolib("cleanup", "--reason", "deleted", "--apply", env=state_env)
    assert applied.returncode == 0, applied.stderr
    assert "Clean-up: 1 files to the trash" in applied.stdout
    assert not clip.exists()
    assert query(database_url, "SELECT count(*) FROM videos") == [(0,)]


def test_cleanup_bad_arguments_name_the_option(state_env: dict[str, str]) -> None:
    for args, named in [
        (["cleanup"], "--reason"),
        (["cleanup", "--reason", "valid"], "--reason"),
        (["cleanup", "--reason", "deleted", "--older-than-days", "-3"], "--older-than-days"),
    ]:
        result = videolib(*args, env=state_env)
        assert result.returncode == 2, args
        assert named in result.stderr and "Traceback" not in result.stderr
