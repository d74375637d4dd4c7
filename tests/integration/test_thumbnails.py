"""Thumbnails against the real database: made, recorded, failures kept, never invalid.

What is pending and the retries are the job engine's: tests/integration/test_jobs.py."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_text_file_named, make_video
from videolib.shared.commands.thumbnails import backfill
from videolib.shared.config import Config
from videolib.shared.db.repository import ThumbnailRepository, ThumbnailTask
from videolib.shared.db.schema import thumbnails, videos
from videolib.shared.library import Library
from videolib.shared.media.frames import FrameResult, grab_frame
from videolib.shared.thumbnails import (
    ThumbnailMaker,
    ThumbnailSettings,
    thumbnail_name,
)


async def tasks_of(repository: ThumbnailRepository) -> list[ThumbnailTask]:
    """What the backfill would defer, as the tasks a job would load."""
    found = [await repository.task(video_id) for video_id in await repository.needing()]
    return [task for task in found if task is not None]


async def add_video(engine: AsyncEngine, stored: str, **values: Any) -> uuid.UUID:
    row = {"path": stored, "filename": stored.rsplit("/", 1)[-1], "directory_type": "videos"}
    async with engine.begin() as connection:
        result = await connection.execute(
            insert(videos).values(**row, **values).returning(videos.c.id)
        )
        video_id: uuid.UUID = result.scalar_one()
        return video_id


async def row_of(engine: AsyncEngine, table: Any, video_id: uuid.UUID) -> Any:
    key = table.c.id if table is videos else table.c.video_id
    async with engine.connect() as connection:
        return (await connection.execute(select(table).where(key == video_id))).first()


def hang_or_crash_on_marked(source_and_target: tuple[str, str], width: int) -> FrameResult:
    """A frame grab (in a worker process) that hangs on *hang* files, dies on *crash* ones."""
    name = Path(source_and_target[0]).name
    if "hang" in name:
        time.sleep(600)
    if "crash" in name:
        os._exit(7)
    return grab_frame(source_and_target, width)


@pytest.fixture
async def maker(
    config: Config, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[ThumbnailMaker]:
    settings = ThumbnailSettings(directory=tmp_path / "thumbs", workers=2)
    async with ThumbnailMaker(
        ThumbnailRepository(engine), Library.from_config(config), settings
    ) as maker:
        yield maker


async def test_a_hung_or_crashed_grab_costs_its_own_worker_only(
    config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    for name in ("hang.mp4", "crash.mp4", "good-1.mp4", "good-2.mp4", "good-3.mp4"):
        make_video(library_root / "videos" / name)
    ids = {name: await add_video(engine, f"videos/{name}") for name in ("hang.mp4", "crash.mp4")}
    settings = ThumbnailSettings(directory=tmp_path / "thumbs", workers=2, time_limit_s=2.0)
    repository = ThumbnailRepository(engine)
    library = Library.from_config(config)
    async with ThumbnailMaker(repository, library, settings, job=hang_or_crash_on_marked) as maker:
        first = {o.video_id: o for o in await maker.make_many(await tasks_of(repository))}
        good = [await add_video(engine, f"videos/good-{n}.mp4") for n in (1, 2, 3)]
        later = await maker.make_many(await tasks_of(repository))
    assert first[ids["hang.mp4"]].error == "frame grab timed out after 2 s"
    assert first[ids["crash.mp4"]].error == "frame grabber crashed (exit code 7)"
    # The pool replaced the lost workers: the next batch is made as usual.
    assert sorted(o.video_id for o in later if o.ok) == sorted(good)
    for name in ("hang.mp4", "crash.mp4"):
        state = await row_of(engine, thumbnails, ids[name])
        assert state.status == "failed"
        assert (await row_of(engine, videos, ids[name])).is_valid is True


async def test_maker_makes_and_records_a_portrait_thumbnail(
    maker: ThumbnailMaker, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    make_video(library_root / "videos" / "phone.mp4", width=640, height=360, rotation=90)
    video_id = await add_video(engine, "videos/phone.mp4", duration_seconds=1)
    [task] = await tasks_of(maker.repository)
    assert (await maker.make(task)).ok  # in a real worker process
    assert await tasks_of(maker.repository) == []
    video = await row_of(engine, videos, video_id)
    assert video.thumbnail_path == thumbnail_name(video_id)
    jpeg = tmp_path / "thumbs" / thumbnail_name(video_id)
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"
    state = await row_of(engine, thumbnails, video_id)
    assert (state.status, state.path, state.error) == ("done", thumbnail_name(video_id), None)


async def test_corrupt_file_is_counted_and_kept_needed_but_stays_valid(
    maker: ThumbnailMaker, engine: AsyncEngine, library_root: Path
) -> None:
    make_text_file_named(library_root / "videos" / "broken.mp4")
    video_id = await add_video(engine, "videos/broken.mp4")
    repository = maker.repository
    tasks = await tasks_of(repository)
    outcomes = await maker.make_many(tasks)
    assert [o.ok for o in outcomes] == [False]
    assert maker.failed == 1
    state = await row_of(engine, thumbnails, video_id)
    assert state.status == "failed"
    assert "Invalid data" in state.error
    video = await row_of(engine, videos, video_id)
    assert (video.is_valid, video.invalid_reason, video.thumbnail_path) == (True, None, None)
    # Still needed: the engine's job for it retries (test_jobs.py), a backfill may too.
    assert [t.video_id for t in await tasks_of(repository)] == [video_id]


async def test_custom_thumbnail_wins(
    maker: ThumbnailMaker, engine: AsyncEngine, library_root: Path
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    custom = await add_video(engine, "videos/a.mp4", thumbnail_path="covers/a.jpg")
    assert await tasks_of(maker.repository) == []  # has one: nothing to do
    # The admin's backfill remakes generated thumbnails only.
    assert await maker.repository.backlog(missing_only=False) == []
    # A custom path set while ours was being made is not overwritten.
    make_video(library_root / "videos" / "b.mp4")
    racing = await add_video(engine, "videos/b.mp4")
    [task] = await tasks_of(maker.repository)
    async with engine.begin() as connection:
        await connection.execute(
            update(videos).where(videos.c.id == racing).values(thumbnail_path="covers/b.jpg")
        )
    await maker.make(task)
    assert (await row_of(engine, videos, racing)).thumbnail_path == "covers/b.jpg"
    assert (await row_of(engine, videos, custom)).thumbnail_path == "covers/a.jpg"


async def test_needing_skips_invalid_and_given_up_videos(
    maker: ThumbnailMaker, engine: AsyncEngine
) -> None:
    await add_video(engine, "videos/gone.mp4", is_valid=False, invalid_reason="missing")
    fresh = [await add_video(engine, f"videos/{n}.mp4") for n in range(3)]
    await maker.repository.record_failed(fresh[0], "no frame", gave_up=True)
    assert set(await maker.repository.needing()) == set(fresh[1:])
    assert await maker.repository.needing(["videos/1.mp4", "videos/gone.mp4"]) == [fresh[1]]


async def test_backfill_command_makes_missing_thumbnails(
    config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    make_video(library_root / "videos" / "one.mp4")
    make_text_file_named(library_root / "videos" / "two.mp4")
    one = await add_video(engine, "videos/one.mp4")
    await add_video(engine, "videos/two.mp4")
    config = config.replace("thumbnails", dir=str(tmp_path / "thumbs"))
    outcomes = await backfill(config, missing_only=True)
    assert sorted(o.ok for o in outcomes) == [False, True]
    assert (await row_of(engine, videos, one)).thumbnail_path == thumbnail_name(one)
    counts = await ThumbnailRepository(engine).counts()
    assert counts == {"done": 1, "failed": 1, "missing": 1}
