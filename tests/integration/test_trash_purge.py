"""Purging the trash (issue 11 §3) with an injected clock: real files, real PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.trash_helpers import trashed_file
from videolib.shared.db.repository import TrashRepository
from videolib.shared.library import Library
from videolib.shared.thumbnails import thumbnail_name
from videolib.shared.trash import Trash


def trash_at(engine: AsyncEngine, root: Path, thumbs: Path, moment: datetime) -> Trash:
    return Trash(Library(root, root / "inbox"), TrashRepository(engine), thumbs, lambda: moment)


async def test_a_day_is_purged_once_retention_days_old(
    engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    thumbs = tmp_path / "thumbs"
    old = await trashed_file(engine, library_root, "2026-11-01", "videos/old.mp4")
    recent = await trashed_file(engine, library_root, "2026-11-02", "studios/recent.mp4")
    jpeg = thumbs / thumbnail_name(old)
    jpeg.parent.mkdir(parents=True)
    jpeg.write_bytes(b"\xff\xd8")
    (library_root / ".trash" / "keep-me").mkdir()  # not a day of ours: never purged

    day_before = trash_at(engine, library_root, thumbs, datetime(2026, 11, 30, 23, 0, tzinfo=UTC))
    assert (await day_before.purge(30)).files == 0
    assert (library_root / ".trash" / "2026-11-01" / "videos" / "old.mp4").is_file()

    trash = trash_at(engine, library_root, thumbs, datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    with capture_logs() as logs:
        result = await trash.purge(30)
    assert (result.days, result.files, result.records) == (["2026-11-01"], 1, 1)
    assert sorted(os.listdir(library_root / ".trash")) == ["2026-11-02", "keep-me"]
    assert await trash.repository.get(old) is None
    assert await trash.repository.get(recent) is not None
    assert not jpeg.exists()
    purged = [e for e in logs if e["event"] == "trash_purged"]
    assert [(e["day"], e["files"], e["records"]) for e in purged] == [("2026-11-01", 1, 1)]


async def test_a_symlinked_trash_is_never_purged(
    engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "2020-01-01").mkdir(parents=True)
    precious = elsewhere / "2020-01-01" / "precious.mp4"
    precious.write_bytes(b"not yours")
    (library_root / ".trash").symlink_to(elsewhere)
    trash = trash_at(engine, library_root, tmp_path, datetime(2026, 12, 1, tzinfo=UTC))
    with capture_logs() as logs:
        assert (await trash.purge(1)).files == 0
    assert precious.read_bytes() == b"not yours"
    assert any(e["event"] == "trash_not_purged" for e in logs)
