"""Fingerprints as jobs of the engine, against the real database, files and workers (issue 12 §3).

A scanned video gets its fingerprint from a real `videolib worker`; a file that probes but
does not decode is retried by the engine with a doubling delay and then given up, with its
reason kept where the API reads it; one pending job per video however often it is deferred;
a changed file is fingerprinted again; the rows go with their video.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_jobs import WorkerProcess, pending_jobs, wait_for
from tests.scenes import make_scene_video
from videolib.shared.config import Config
from videolib.shared.db.repository import (
    FingerprintRepository,
    FingerprintTask,
    StoredFingerprint,
    VideoRepository,
)
from videolib.shared.db.schema import fingerprint_attempts, video_fingerprints, videos
from videolib.shared.fingerprints import fingerprint_status
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.jobs.defer import (
    defer_fingerprints,
    defer_fingerprints_for_paths,
    fingerprint_key,
)
from videolib.shared.jobs.fingerprint_jobs import backfill_fingerprints, make_fingerprint
from videolib.shared.jobs.kinds import GaveUp, JobCall, RetryLater
from videolib.shared.jobs.names import BACKFILL_FINGERPRINTS, MAKE_FINGERPRINT
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.worker import JobWorker
from videolib.shared.library import Library
from videolib.shared.media.fingerprint import ALGORITHM, FingerprintResult
from videolib.shared.media.stash_phash import video_phash
from videolib.shared.runtime import examiner_pool

#: Generous bounds for waits on real processes on a loaded machine (never a sleep-then-look).
WAIT_S = 120.0


async def run_scan(config: Config, repository: VideoRepository) -> ScanResult:
    async with examiner_pool(config) as pool:
        return await scan(
            ["videos"], library=Library.from_config(config), repository=repository, pool=pool
        )


async def ids_by_path(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(videos.c.path, videos.c.id))
    return {path: video_id for path, video_id in rows}


async def row_of(engine: AsyncEngine, table: Any, video_id: uuid.UUID) -> Any:
    key = table.c.id if table is videos else table.c.video_id
    async with engine.connect() as connection:
        return (await connection.execute(select(table).where(key == video_id))).first()


def zero_the_pictures(path: Path) -> Path:
    """Overwrite an mp4's `mdat` payload with zeros: the header (and so the probe) is intact,
    the size too, but no frame decodes. A copy whose data blocks were lost, say."""
    data = bytearray(path.read_bytes())
    at = data.index(b"mdat") - 4
    size = int.from_bytes(data[at : at + 4], "big")
    data[at + 8 : at + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


async def run_until_settled(resources: WorkerResources, video_id: uuid.UUID) -> list[str]:
    """Run a video's job in-process as the engine would, try after try; the outcomes."""
    outcomes: list[str] = []
    for attempt in range(resources.config.fingerprints.max_attempts + 1):  # bounded
        try:
            await make_fingerprint(resources, JobCall({"video_id": str(video_id)}, attempt))
        except RetryLater:
            outcomes.append("retried")
            continue
        except GaveUp:
            outcomes.append("gave_up")
            break
        outcomes.append("done")
        break
    return outcomes


def worker_environment(config: Config, tmp_path: Path, **fingerprints: object) -> dict[str, str]:
    """A `videolib worker`'s environment on the test's database and library."""
    settings = tmp_path / "worker.toml"
    lines = "".join(f"{key} = {value!r}\n" for key, value in fingerprints.items())
    settings.write_text(f"[worker]\nmetrics_port = 0\n[fingerprints]\n{lines}")
    return {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        "VIDEOLIB_LOG_LEVEL": "info",
    }


@pytest.fixture
async def resources(config: Config, engine: AsyncEngine) -> AsyncIterator[WorkerResources]:
    made = WorkerResources(config.replace("fingerprints", max_attempts=3), engine)
    yield made
    await made.close(grace_s=1.0)


@pytest.fixture
async def videos_dir(library_root: Path) -> AsyncIterator[Path]:
    folder = library_root / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


async def test_a_scanned_video_gets_its_fingerprint_from_a_real_worker(
    config: Config,
    engine: AsyncEngine,
    repository: VideoRepository,
    videos_dir: Path,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    clip = make_scene_video(videos_dir / "scene.mp4", 1, seconds=6)
    await run_scan(config, repository)
    video_id = (await ids_by_path(engine))["videos/scene.mp4"]
    assert await row_of(engine, video_fingerprints, video_id) is None  # the scan made none
    assert await pending_jobs(engine, BACKFILL_FINGERPRINTS) == 1  # it deferred the backfill
    worker = WorkerProcess(worker_environment(config, tmp_path), tmp_path / "worker.log")
    workers.append(worker)
    deadline = time.monotonic() + WAIT_S
    while (row := await row_of(engine, video_fingerprints, video_id)) is None:
        assert time.monotonic() < deadline, "timed out waiting for the fingerprint"
        await asyncio.sleep(0.1)
    assert row.phash == video_phash(str(clip))  # the Stash pHash, as a signed bigint
    assert len(row.frame_hashes) == len(row.mirrored_hashes) == 6  # one per second
    assert row.index_keys and row.algorithm == ALGORITHM
    assert await row_of(engine, fingerprint_attempts, video_id) is None  # no failure kept
    wait_for(lambda: bool(worker.lines("job_started")), "the worker's log")
    assert any(MAKE_FINGERPRINT in line for line in worker.lines("job_started"))


async def test_a_failing_file_is_retried_by_the_engine_then_given_up_with_its_reason(
    config: Config,
    engine: AsyncEngine,
    repository: VideoRepository,
    videos_dir: Path,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    zero_the_pictures(make_scene_video(videos_dir / "zeroed.mp4", 2, seconds=3))
    await run_scan(config, repository)
    video_id = (await ids_by_path(engine))["videos/zeroed.mp4"]
    env = worker_environment(config, tmp_path, max_attempts=3, retry_seconds=0.05)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    workers.append(worker)

    def tries(event: str) -> int:
        return sum(MAKE_FINGERPRINT in line for line in worker.lines(event))

    wait_for(lambda: tries("job_gave_up") == 1, "the job to be given up")
    assert tries("job_retried") == 2  # two retries by the engine, then the third try gave up
    assert await pending_jobs(engine, fingerprint_key(video_id)) == 0
    state = await FingerprintRepository(engine).state(video_id)
    assert state is not None and (state.attempts, state.computed_at) == (3, None)
    assert state.error is not None and state.error.startswith("frame hashes: ")
    assert fingerprint_status(state, 3, datetime.now(UTC)) == "gaveUp"
    # Never marked invalid by it: a fingerprint is derived data, the file is the scan's.
    assert (await row_of(engine, videos, video_id)).is_valid is True
    # And the backfill does not bring it back.
    assert await FingerprintRepository(engine).needing(3) == []


async def test_a_retry_waits_in_the_engine_and_the_api_state_says_when(
    config: Config, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    zero_the_pictures(make_scene_video(videos_dir / "zeroed.mp4", 3, seconds=3))
    await run_scan(config, repository)
    video_id = (await ids_by_path(engine))["videos/zeroed.mp4"]
    config = config.replace("worker", metrics_port=0).replace("fingerprints", retry_seconds=3600.0)
    worker = JobWorker(config, engine)  # in-process, the real engine loop
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    fingerprints = FingerprintRepository(engine)
    try:
        deadline = time.monotonic() + WAIT_S
        while (await row_of(engine, fingerprint_attempts, video_id)) is None:
            assert time.monotonic() < deadline, "timed out waiting for the first failure"
            await asyncio.sleep(0.1)
        # Recorded, then re-queued by the engine: wait for its job to be queued again.
        while (state := await fingerprints.state(video_id)) is None or state.running:
            assert time.monotonic() < deadline, "timed out waiting for the retry"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_S)
    now = datetime.now(UTC)
    assert state.attempts == 1 and state.retry_at is not None
    assert 3500 < (state.retry_at - now).total_seconds() <= 3600
    assert fingerprint_status(state, 5, now) == "retrying"
    assert await pending_jobs(engine, fingerprint_key(video_id)) == 1


async def test_failures_retry_with_a_doubling_delay_then_give_up(
    resources: WorkerResources, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    zero_the_pictures(make_scene_video(videos_dir / "zeroed.mp4", 4, seconds=3))
    await run_scan(resources.config, repository)
    video_id = (await ids_by_path(engine))["videos/zeroed.mp4"]
    payload = {"video_id": str(video_id)}
    for attempt in (0, 1):
        with pytest.raises(RetryLater) as retry:
            await make_fingerprint(resources, JobCall(payload, attempt))
        assert retry.value.delay.total_seconds() == 600.0 * 2**attempt
        assert retry.value.reason.startswith("frame hashes: ")
    with pytest.raises(GaveUp, match="gave up after 3 attempts: frame hashes: "):
        await make_fingerprint(resources, JobCall(payload, 2))
    # A job deferred again (a lost one, say) finds it given up and does nothing.
    await make_fingerprint(resources, JobCall(payload, 0))
    assert (await row_of(engine, fingerprint_attempts, video_id)).attempts == 3


async def test_one_pending_job_per_video_however_often_deferred(
    resources: WorkerResources, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    make_scene_video(videos_dir / "a.mp4", 5, seconds=2)
    await run_scan(resources.config, repository)
    video_id = (await ids_by_path(engine))["videos/a.mp4"]
    async with engine.begin() as connection:  # an invalid video gets none
        await connection.execute(
            videos.insert().values(
                path="videos/gone.mp4",
                filename="gone.mp4",
                directory_type="videos",
                is_valid=False,
                invalid_reason="missing",
                file_hash="0" * 64,
            )
        )
    assert await defer_fingerprints(engine, [video_id]) == 1
    assert await defer_fingerprints(engine, [video_id, video_id]) == 0
    paths = ["videos/a.mp4", "videos/gone.mp4"]
    assert await defer_fingerprints_for_paths(engine, paths, max_attempts=3) == 0
    await backfill_fingerprints(resources, JobCall({}, 0))  # the periodic backfill, twice
    await backfill_fingerprints(resources, JobCall({}, 0))
    assert await pending_jobs(engine, fingerprint_key(video_id)) == 1
    gone = (await ids_by_path(engine))["videos/gone.mp4"]
    assert await pending_jobs(engine, fingerprint_key(gone)) == 0
    # The scan deferred one backfill job; gone, an inbox drop (recorded under the path it
    # moved to) defers it again, once.
    assert await pending_jobs(engine, BACKFILL_FINGERPRINTS) == 1
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM pgqueuer WHERE dedupe_key = :key"), {"key": BACKFILL_FINGERPRINTS}
        )
    for queued in (1, 0):
        inbox = ["inbox/d.mp4"]
        assert await defer_fingerprints_for_paths(engine, inbox, max_attempts=3) == queued
    assert await pending_jobs(engine, BACKFILL_FINGERPRINTS) == 1


async def test_a_changed_file_is_fingerprinted_again(
    resources: WorkerResources, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    make_scene_video(videos_dir / "scene.mp4", 6, seconds=3)
    await run_scan(resources.config, repository)
    video_id = (await ids_by_path(engine))["videos/scene.mp4"]
    assert await run_until_settled(resources, video_id) == ["done"]
    first = await row_of(engine, video_fingerprints, video_id)
    # Another picture under the same name: the rescan records its new sha256.
    make_scene_video(videos_dir / "scene.mp4", 7, seconds=3)
    await run_scan(resources.config, repository)
    assert await row_of(engine, video_fingerprints, video_id) is None  # the trigger's
    fingerprints = FingerprintRepository(engine)
    task = await fingerprints.task(video_id, 3)
    assert task is not None
    result = await resources.fingerprints.compute(str(videos_dir / "scene.mp4"))
    stored = _stored(result)
    # A result for the file the task was loaded for is kept; for an older one, refused.
    old_task = FingerprintTask(task.video_id, task.path, "0" * 64)
    assert await fingerprints.record_made(old_task, stored) is False
    assert await fingerprints.record_made(task, stored) is True
    second = await row_of(engine, video_fingerprints, video_id)
    assert second.phash != first.phash and second.frame_hashes != first.frame_hashes


async def test_fingerprint_rows_go_with_their_video(
    resources: WorkerResources, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    make_scene_video(videos_dir / "kept.mp4", 8, seconds=2)
    zero_the_pictures(make_scene_video(videos_dir / "broken.mp4", 9, seconds=2))
    await run_scan(resources.config, repository)
    ids = await ids_by_path(engine)
    kept, broken = ids["videos/kept.mp4"], ids["videos/broken.mp4"]
    assert await run_until_settled(resources, kept) == ["done"]
    assert await run_until_settled(resources, broken) == ["retried", "retried", "gave_up"]
    assert await row_of(engine, video_fingerprints, kept) is not None
    assert await row_of(engine, fingerprint_attempts, broken) is not None
    async with engine.begin() as connection:
        await connection.execute(delete(videos).where(videos.c.id.in_([kept, broken])))
    assert await row_of(engine, video_fingerprints, kept) is None
    assert await row_of(engine, fingerprint_attempts, broken) is None


def _stored(result: FingerprintResult) -> StoredFingerprint:
    assert result.frames is not None
    return StoredFingerprint(
        result.phash,
        result.frames.seconds,
        result.frames.mirrored,
        result.index_keys,
        ALGORITHM,
    )
