"""Thumbnails as jobs of the engine, against the real database and real worker processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_thumbnails import add_video, row_of
from tests.media import make_text_file_named, make_video
from videolib.shared.config import Config
from videolib.shared.db.repository import ThumbnailRepository, VideoRepository
from videolib.shared.db.schema import thumbnails, videos
from videolib.shared.ingest import scan
from videolib.shared.jobs.defer import (
    defer_thumbnails,
    defer_thumbnails_for_paths,
    thumbnail_key,
)
from videolib.shared.jobs.kinds import GaveUp, JobCall, RetryLater
from videolib.shared.jobs.names import BACKFILL_THUMBNAILS, MAKE_THUMBNAIL
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.thumbnail_jobs import backfill_thumbnails, make_thumbnail
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool
from videolib.shared.thumbnails import thumbnail_name

WAIT_S = 90.0


async def pending_jobs(engine: AsyncEngine, key: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM pgqueuer WHERE dedupe_key = :key"
                " AND status IN ('queued', 'picked')"
            ),
            {"key": key},
        )
    return int(count or 0)


async def test_one_pending_job_per_video_however_often_deferred(
    config: Config, engine: AsyncEngine, library_root: Path
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    video_id = await add_video(engine, "videos/a.mp4")
    assert await defer_thumbnails(engine, [video_id]) == 1
    assert await defer_thumbnails(engine, [video_id, video_id]) == 0
    resources = WorkerResources(config, engine)
    await backfill_thumbnails(resources, JobCall({}, 0))  # the periodic backfill, twice
    await backfill_thumbnails(resources, JobCall({}, 0))
    assert await pending_jobs(engine, thumbnail_key(video_id)) == 1


async def test_an_ingested_batch_defers_the_thumbnails_of_its_valid_videos(
    engine: AsyncEngine,
) -> None:
    valid = await add_video(engine, "videos/a.mp4")
    await add_video(engine, "videos/b.mp4", is_valid=False, invalid_reason="corrupt")
    await add_video(engine, "videos/c.mp4")  # not in the batch
    assert await defer_thumbnails_for_paths(engine, ["videos/a.mp4", "videos/b.mp4"]) == 1
    assert await pending_jobs(engine, thumbnail_key(valid)) == 1
    # An inbox drop is recorded under the path it moved to: a backfill job finds it.
    assert await defer_thumbnails_for_paths(engine, ["inbox/d.mp4"]) == 1
    assert await pending_jobs(engine, BACKFILL_THUMBNAILS) == 1


async def test_a_failing_thumbnail_is_retried_then_given_up_with_its_reason(
    config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    make_text_file_named(library_root / "videos" / "bad.mp4")
    video_id = await add_video(engine, "videos/bad.mp4")  # recorded valid, cannot be decoded
    config = config.replace("thumbnails", dir=str(tmp_path / "thumbs"), max_tries=3)
    resources = WorkerResources(config, engine)
    call = JobCall({"video_id": str(video_id)}, 0)
    try:
        for attempt in (0, 1):
            with pytest.raises(RetryLater) as retry:
                await make_thumbnail(resources, JobCall(call.payload, attempt))
            assert retry.value.delay.total_seconds() == 600.0 * 2**attempt
            assert (await row_of(engine, thumbnails, video_id)).status == "failed"
        with pytest.raises(GaveUp, match="gave up after 3 tries"):
            await make_thumbnail(resources, JobCall(call.payload, 2))
    finally:
        await resources.close(grace_s=1.0)
    state = await row_of(engine, thumbnails, video_id)
    assert state.status == "gave_up" and state.error
    video = await row_of(engine, videos, video_id)
    assert video.is_valid is True and video.thumbnail_path is None  # nothing lost
    # The backfill does not bring it back.
    assert await ThumbnailRepository(engine).needing() == []


def _worker_environment(config: Config, tmp_path: Path, **worker: object) -> dict[str, str]:
    settings = tmp_path / "worker.toml"
    lines = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in worker.items())
    settings.write_text(
        f"[worker]\nmetrics_port = 0\n{lines}[thumbnails]\nretry_seconds = 600.0\n"
        "[probe]\ntimeout_ms = 4000\n"
    )
    return {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        "VIDEOLIB_LOG_LEVEL": "info",
    }


class WorkerProcess:
    """A `videolib worker` subprocess whose log lines go to a file."""

    def __init__(self, env: dict[str, str], log: Path, queues: str = "") -> None:
        self.log = log
        command = [sys.executable, "-m", "videolib.shared.commands.cli", "worker"]
        command += ["--queue", queues] if queues else []
        self.output = log.open("wb")
        self.process = subprocess.Popen(command, env=env, stderr=self.output, stdout=self.output)

    def lines(self, event: str, task: str = "") -> list[str]:
        """Its log lines of one event (of one task kind: the periodic jobs log theirs)."""
        return [
            line for line in self.log.read_text().splitlines() if event in line and task in line
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def test_a_real_worker_makes_the_thumbnail_after_a_real_scan(
    config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    make_video(library_root / "videos" / "clip.mp4")
    async with examiner_pool(config) as pool:
        result = await scan(
            ["videos"],
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
        )
    assert result.created == 1
    async with engine.connect() as connection:
        video_id = (await connection.execute(select(videos.c.id))).scalar_one()
    workers.append(WorkerProcess(_worker_environment(config, tmp_path), tmp_path / "w.log"))
    deadline = time.monotonic() + WAIT_S
    while (await row_of(engine, videos, video_id)).thumbnail_path is None:  # recorded last
        assert time.monotonic() < deadline, "timed out waiting for the thumbnail"
        await asyncio.sleep(0.1)
    assert (await row_of(engine, videos, video_id)).thumbnail_path == thumbnail_name(video_id)
    jpeg = tmp_path / "state" / "thumbnails" / thumbnail_name(video_id)
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"


async def test_a_job_of_a_killed_worker_is_run_again_by_the_other_once(
    config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    # A FIFO with no writer: the frame grab blocks in it, so the job is mid-run when killed.
    fifo = library_root / "videos" / "stuck.mp4"
    os.mkfifo(fifo)
    video_id = await add_video(engine, "videos/stuck.mp4")
    env = _worker_environment(config, tmp_path, stalled_seconds=2.0)
    # Thumbnails only: the periodic reconciliation of a maintenance worker would find the
    # FIFO no video file and end the job before it can hang.
    for name in ("a", "b"):
        workers.append(WorkerProcess(env, tmp_path / f"{name}.log", queues="thumbnails"))
    wait_for(lambda: all(w.lines("worker_ready") for w in workers), "two ready workers")
    assert await defer_thumbnails(engine, [video_id]) == 1

    def started() -> list[WorkerProcess]:
        return [w for w in workers if w.lines("job_started", MAKE_THUMBNAIL)]

    wait_for(lambda: len(started()) == 1, "the job to start")
    [victim] = started()
    victim.process.kill()
    victim.process.wait()
    [survivor] = [w for w in workers if w is not victim]
    wait_for(lambda: bool(survivor.lines("job_started", MAKE_THUMBNAIL)), "the job to start again")
    # The survivor's try times out (probe.timeout_ms) and is recorded; its retry is 600 s
    # away, so any further start here would be a duplicate run.
    wait_for(
        lambda: bool(survivor.lines("job_retried", MAKE_THUMBNAIL)),
        "the survivor's try to end",
        timeout=60,
    )
    state = await row_of(engine, thumbnails, video_id)
    assert state.status == "failed" and "timed out" in state.error
    assert len(victim.lines("job_started", MAKE_THUMBNAIL)) == 1
    assert len(survivor.lines("job_started", MAKE_THUMBNAIL)) == 1
    assert await pending_jobs(engine, thumbnail_key(video_id)) == 1  # queued for its retry
