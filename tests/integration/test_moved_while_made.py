"""A thumbnail or fingerprint job whose file moves while it is read (the inbox's organiser
or a rename, by the watcher) makes it at the new path at once. On main it failed on the old
path and was retried `retry_seconds` later (ten minutes): the cluster test timed out on it.

Real PostgreSQL, files and media processes; the move is made by a repository wrapper right
after the job has read its task, which is the window the watcher's move fell in."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_video
from videolib.shared.config import Config
from videolib.shared.db.repository import VideoRepository
from videolib.shared.db.schema import video_fingerprints, videos
from videolib.shared.ingest import scan
from videolib.shared.jobs.fingerprint_jobs import make_fingerprint
from videolib.shared.jobs.kinds import JobCall
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.thumbnail_jobs import make_thumbnail
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool


class MovesAfterFirstRead:
    """A repository whose first `task()` is followed by the file's move, as the watcher's."""

    def __init__(self, repository: Any, move: Callable[[], Awaitable[None]]) -> None:
        self.repository, self.move, self.moved = repository, move, False

    async def task(self, *args: Any) -> Any:
        task = await self.repository.task(*args)
        if not self.moved:
            self.moved = True
            await self.move()
        return task

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repository, name)


@pytest.fixture
async def resources(config: Config, engine: AsyncEngine) -> AsyncIterator[WorkerResources]:
    made = WorkerResources(config, engine)
    yield made
    await made.close(grace_s=1.0)


async def recorded_clip(config: Config, engine: AsyncEngine, library_root: Path) -> uuid.UUID:
    make_video(library_root / "videos" / "arrived.mp4", seconds=2.0)
    async with examiner_pool(config) as pool:
        await scan(
            ["videos"],
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
        )
    async with engine.connect() as connection:
        return uuid.UUID(str((await connection.execute(select(videos.c.id))).scalar_one()))


def mover(engine: AsyncEngine, library_root: Path, video_id: uuid.UUID) -> Callable[[], Any]:
    async def move() -> None:
        (library_root / "videos" / "sorted").mkdir()
        os.rename(library_root / "videos" / "arrived.mp4", library_root / "videos/sorted/a.mp4")
        async with engine.begin() as connection:
            await connection.execute(
                update(videos).where(videos.c.id == video_id).values(path="videos/sorted/a.mp4")
            )

    return move


async def test_a_thumbnail_job_makes_it_at_the_path_its_file_moved_to(
    config: Config, engine: AsyncEngine, library_root: Path, resources: WorkerResources
) -> None:
    video_id = await recorded_clip(config, engine, library_root)
    maker = resources.thumbnails
    maker.repository = MovesAfterFirstRead(  # type: ignore[assignment]
        maker.repository, mover(engine, library_root, video_id)
    )
    await make_thumbnail(resources, JobCall({"video_id": str(video_id)}, 0))  # no RetryLater
    async with engine.connect() as connection:
        row = (await connection.execute(select(videos).where(videos.c.id == video_id))).one()
    assert row.path == "videos/sorted/a.mp4" and row.thumbnail_path is not None


async def test_a_fingerprint_job_makes_it_at_the_path_its_file_moved_to(
    config: Config, engine: AsyncEngine, library_root: Path, resources: WorkerResources
) -> None:
    video_id = await recorded_clip(config, engine, library_root)
    fingerprinter = resources.fingerprints
    fingerprinter.repository = MovesAfterFirstRead(  # type: ignore[assignment]
        fingerprinter.repository, mover(engine, library_root, video_id)
    )
    await make_fingerprint(resources, JobCall({"video_id": str(video_id)}, 0))  # no RetryLater
    async with engine.connect() as connection:
        stored = await connection.scalar(
            select(video_fingerprints.c.video_id).where(video_fingerprints.c.video_id == video_id)
        )
    assert stored == video_id
