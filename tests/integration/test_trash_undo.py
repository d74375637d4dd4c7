"""A rename whose transaction fails to commit is moved back (shared/trash.py): the file is
where its record says. The commit is made to fail by a deferred constraint trigger raising
SQLSTATE 57P01 (admin_shutdown), what a server going down says; real files and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.media import make_video
from tests.trash_helpers import trashed_file
from videolib.shared.db.repository import TrashRepository
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.library import Library
from videolib.shared.trash import Trash

FAIL_AT_COMMIT = [
    """CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'terminating connection' USING ERRCODE = '57P01'; END $$""",
    """CREATE CONSTRAINT TRIGGER fail_at_commit AFTER UPDATE ON videos
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()""",
]


async def insert_valid(engine: AsyncEngine, path: str) -> object:
    async with engine.begin() as connection:
        return (
            await connection.execute(
                text(
                    "INSERT INTO videos (path, filename, directory_type) "
                    "VALUES (:p, 'clip.mp4', 'videos') RETURNING id"
                ),
                {"p": path},
            )
        ).scalar_one()


async def test_a_trash_that_did_not_commit_puts_the_file_back(
    engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4")
    video_id = await insert_valid(engine, "videos/clip.mp4")
    async with engine.begin() as connection:
        for statement in FAIL_AT_COMMIT:
            await connection.execute(text(statement))
    trash = Trash(Library(library_root, library_root / "inbox"), TrashRepository(engine), tmp_path)
    with capture_logs() as logs, pytest.raises(DatabaseUnavailableError):
        await trash.trash(video_id)  # type: ignore[arg-type]
    assert clip.is_file()
    assert list((library_root / ".trash").rglob("*.mp4")) == []
    record = await trash.repository.get(video_id)  # type: ignore[arg-type]
    assert record is not None and (record.path, record.is_valid) == ("videos/clip.mp4", True)
    assert any(e["event"] == "trash_move_undone" for e in logs)


async def test_a_restore_that_did_not_commit_leaves_the_file_in_the_trash(
    engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    video_id = await trashed_file(engine, library_root, "2026-12-01", "videos/clip.mp4")
    async with engine.begin() as connection:
        for statement in FAIL_AT_COMMIT:
            await connection.execute(text(statement))
    trash = Trash(Library(library_root, library_root / "inbox"), TrashRepository(engine), tmp_path)
    with pytest.raises(DatabaseUnavailableError):
        await trash.restore(video_id)
    assert not (library_root / "videos" / "clip.mp4").exists()
    assert (library_root / ".trash" / "2026-12-01" / "videos" / "clip.mp4").is_file()
    record = await trash.repository.get(video_id)
    assert record is not None and record.invalid_reason == "trashed"
