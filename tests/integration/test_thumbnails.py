"""The thumbnail queue against the real database: made, recorded, retried, never invalid."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_text_file_named, make_video
from videolib.shared.commands.thumbnails import backfill
from videolib.shared.config import Config
from videolib.shared.db.repository import ThumbnailRepository
from videolib.shared.db.schema import thumbnails, videos
from videolib.shared.library import Library
from videolib.shared.media.frames import FrameResult, grab_frame
from videolib.shared.thumbnails import (
    ThumbnailMaker,
    ThumbnailSettings,
    ThumbnailWorker,
    thumbnail_name,
)

STALE = timedelta(minutes=5)


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
    settings = ThumbnailSettings(directory=tmp_path / "thumbs", workers=2, retry_seconds=60)
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
        first = {o.video_id: o for o in await maker.make_many(await repository.claim(10, STALE))}
        good = [await add_video(engine, f"videos/good-{n}.mp4") for n in (1, 2, 3)]
        later = await maker.make_many(await repository.claim(10, STALE))
    assert first[ids["hang.mp4"]].error == "frame grab timed out after 2 s"
    assert first[ids["crash.mp4"]].error == "frame grabber crashed (exit code 7)"
    # The pool replaced the lost workers: the next batch is made as usual.
    assert sorted(o.video_id for o in later if o.ok) == sorted(good)
    for name in ("hang.mp4", "crash.mp4"):
        state = await row_of(engine, thumbnails, ids[name])
        assert (state.status, state.attempts) == ("failed", 1)
        assert (await row_of(engine, videos, ids[name])).is_valid is True


async def test_worker_makes_and_records_a_portrait_thumbnail(
    config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    make_video(library_root / "videos" / "phone.mp4", width=640, height=360, rotation=90)
    video_id = await add_video(engine, "videos/phone.mp4", duration_seconds=1)
    config = config.replace("thumbnails", dir=str(tmp_path / "thumbs"), workers=1)
    worker = ThumbnailWorker.from_config(config, ThumbnailRepository(engine))
    try:
        assert await worker.run_once() == 1  # in a real worker process
        assert await worker.run_once() == 0
    finally:
        await worker.maker.close()
    video = await row_of(engine, videos, video_id)
    assert video.thumbnail_path == thumbnail_name(video_id)
    jpeg = tmp_path / "thumbs" / thumbnail_name(video_id)
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"
    state = await row_of(engine, thumbnails, video_id)
    assert (state.status, state.path, state.attempts) == ("done", thumbnail_name(video_id), 0)


async def test_corrupt_file_is_counted_and_retried_later_but_stays_valid(
    maker: ThumbnailMaker, engine: AsyncEngine, library_root: Path
) -> None:
    make_text_file_named(library_root / "videos" / "broken.mp4")
    video_id = await add_video(engine, "videos/broken.mp4")
    repository = maker.repository
    tasks = await repository.claim(10, STALE)
    outcomes = await maker.make_many(tasks)
    assert [o.ok for o in outcomes] == [False]
    assert maker.failed == 1
    state = await row_of(engine, thumbnails, video_id)
    assert (state.status, state.attempts) == ("failed", 1)
    assert "Invalid data" in state.error
    video = await row_of(engine, videos, video_id)
    assert (video.is_valid, video.invalid_reason, video.thumbnail_path) == (True, None, None)
    # Not claimed again before its retry time...
    assert await repository.claim(10, STALE) == []
    # ...and again once it is due, counting attempts.
    async with engine.begin() as connection:
        await connection.execute(update(thumbnails).values(retry_at=None))
    await maker.make_many(await repository.claim(10, STALE))
    assert (await row_of(engine, thumbnails, video_id)).attempts == 2


async def test_custom_thumbnail_wins(
    maker: ThumbnailMaker, engine: AsyncEngine, library_root: Path
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    custom = await add_video(engine, "videos/a.mp4", thumbnail_path="covers/a.jpg")
    assert await maker.repository.claim(10, STALE) == []  # has one: nothing to do
    # The admin's backfill remakes generated thumbnails only.
    assert await maker.repository.backlog(missing_only=False) == []
    # A custom path set while ours was being made is not overwritten.
    make_video(library_root / "videos" / "b.mp4")
    racing = await add_video(engine, "videos/b.mp4")
    [task] = await maker.repository.claim(10, STALE)
    async with engine.begin() as connection:
        await connection.execute(
            update(videos).where(videos.c.id == racing).values(thumbnail_path="covers/b.jpg")
        )
    await maker.make(task)
    assert (await row_of(engine, videos, racing)).thumbnail_path == "covers/b.jpg"
    assert (await row_of(engine, videos, custom)).thumbnail_path == "covers/a.jpg"


async def test_claims_skip_invalid_videos_and_never_overlap(
    maker: ThumbnailMaker, engine: AsyncEngine
) -> None:
    await add_video(engine, "videos/gone.mp4", is_valid=False, invalid_reason="missing")
    fresh = [await add_video(engine, f"videos/{n}.mp4") for n in range(3)]
    first = await maker.repository.claim(2, STALE)
    second = await maker.repository.claim(2, STALE)
    assert len(first) == 2 and len(second) == 1
    assert {t.video_id for t in first + second} == set(fresh)
    # A claim older than `stale` belongs to a worker that died: it is taken over.
    assert len(await maker.repository.claim(5, timedelta(0))) == 3


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


async def test_worker_loop_picks_up_new_videos_when_woken(
    config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    import asyncio

    settings = ThumbnailSettings(directory=tmp_path / "thumbs", poll_seconds=60.0)
    repository = ThumbnailRepository(engine)
    library = Library.from_config(config)
    worker = ThumbnailWorker(ThumbnailMaker(repository, library, settings))
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.2)  # idle: nothing to do, waiting for the poll or a wake
        make_video(library_root / "videos" / "late.mp4")
        video_id = await add_video(engine, "videos/late.mp4")
        worker.wake()  # what the daemon does after an ingest: no wait for the next poll
        async with asyncio.timeout(10):
            while (await row_of(engine, videos, video_id)).thumbnail_path is None:
                await asyncio.sleep(0.05)
        assert worker.maker.made == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
