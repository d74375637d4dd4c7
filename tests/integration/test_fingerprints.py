"""The fingerprint job against the real database and real files (issue 12 §3).

Scanned videos get a fingerprint row; a file that probes but does not decode is retried
and then given up, with its reason kept; a changed file is fingerprinted again; the rows go
with their video; and a scan never waits for the job.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.scenes import make_scene_video
from videolib.shared.config import Config
from videolib.shared.db.repository import (
    FingerprintRepository,
    FingerprintTask,
    StoredFingerprint,
    VideoRepository,
)
from videolib.shared.db.schema import fingerprint_attempts, video_fingerprints, videos
from videolib.shared.fingerprints import FingerprintBackfill, FingerprintSettings, Outcome
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.library import Library
from videolib.shared.media.fingerprint import ALGORITHM, FingerprintResult, compute_fingerprint
from videolib.shared.media.stash_phash import video_phash
from videolib.shared.runtime import examiner_pool

STALE = timedelta(minutes=5)
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
    async with engine.connect() as connection:
        return (await connection.execute(select(table).where(table.c.video_id == video_id))).first()


def zero_the_pictures(path: Path) -> Path:
    """Overwrite an mp4's `mdat` payload with zeros: the header (and so the probe) is intact,
    the size too, but no frame decodes. A copy whose data blocks were lost, say."""
    data = bytearray(path.read_bytes())
    at = data.index(b"mdat") - 4
    size = int.from_bytes(data[at : at + 4], "big")
    data[at + 8 : at + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


def backfill(config: Config, engine: AsyncEngine, **settings: Any) -> FingerprintBackfill:
    outcomes: list[Outcome] = []
    made = FingerprintBackfill(
        FingerprintRepository(engine),
        Library.from_config(config),
        FingerprintSettings(**{"workers": 1, "retry_seconds": 0.0, **settings}),
        on_outcome=outcomes.append,
    )
    made.outcomes = outcomes  # type: ignore[attr-defined]
    return made


@pytest.fixture
async def videos_dir(library_root: Path) -> AsyncIterator[Path]:
    folder = library_root / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


async def test_a_scanned_video_gets_its_fingerprint(
    config: Config, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    clip = make_scene_video(videos_dir / "scene.mp4", 1, seconds=6)
    await run_scan(config, repository)
    video_id = (await ids_by_path(engine))["videos/scene.mp4"]
    assert await row_of(engine, video_fingerprints, video_id) is None  # the scan made none
    job = backfill(config, engine)
    try:
        assert await job.run_once() == 1  # in a real worker process
        assert await job.run_once() == 0  # done: not claimed again
    finally:
        await job.close()
    row = await row_of(engine, video_fingerprints, video_id)
    assert row.phash == video_phash(str(clip))  # the Stash pHash, as a signed bigint
    assert len(row.frame_hashes) == len(row.mirrored_hashes) == 6  # one per second
    assert row.index_keys and row.algorithm == ALGORITHM
    assert await row_of(engine, fingerprint_attempts, video_id) is None  # no bookkeeping left
    assert [o.ok for o in job.outcomes] == [True]  # type: ignore[attr-defined]


async def test_a_file_that_probes_but_does_not_decode_is_retried_then_given_up(
    config: Config, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    zero_the_pictures(make_scene_video(videos_dir / "zeroed.mp4", 2, seconds=3))
    await run_scan(config, repository)
    video_id = (await ids_by_path(engine))["videos/zeroed.mp4"]
    async with engine.connect() as connection:
        assert await connection.scalar(select(videos.c.is_valid).where(videos.c.id == video_id))
    job = backfill(config, engine, max_attempts=3)
    try:
        attempted = [await job.run_once() for _ in range(5)]
    finally:
        await job.close()
    assert attempted == [1, 1, 1, 0, 0]  # retried at once (retry_seconds 0), then given up
    outcomes = job.outcomes  # type: ignore[attr-defined]
    assert [(o.attempts, o.gave_up) for o in outcomes] == [(1, False), (2, False), (3, True)]
    state = await FingerprintRepository(engine).state(video_id)
    assert state is not None and state.attempts == 3 and state.computed_at is None
    assert state.error is not None and state.error.startswith("frame hashes: ")
    # Never marked invalid by it: a fingerprint is derived data, the file is the scan's.
    async with engine.connect() as connection:
        assert await connection.scalar(select(videos.c.is_valid).where(videos.c.id == video_id))


async def test_a_failure_waits_for_its_retry(
    config: Config, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    zero_the_pictures(make_scene_video(videos_dir / "zeroed.mp4", 2, seconds=3))
    await run_scan(config, repository)
    job = backfill(config, engine, retry_seconds=3600.0)
    try:
        assert [await job.run_once() for _ in range(2)] == [1, 0]
    finally:
        await job.close()
    video_id = (await ids_by_path(engine))["videos/zeroed.mp4"]
    row = await row_of(engine, fingerprint_attempts, video_id)
    assert row.attempts == 1 and row.claimed_at is None
    assert (row.retry_at - row.updated_at).total_seconds() == pytest.approx(3600, abs=5)


async def test_a_changed_file_is_fingerprinted_again(
    config: Config, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    make_scene_video(videos_dir / "scene.mp4", 3, seconds=3)
    await run_scan(config, repository)
    video_id = (await ids_by_path(engine))["videos/scene.mp4"]
    fingerprints = FingerprintRepository(engine)
    job = backfill(config, engine)
    try:
        assert await job.run_once() == 1
        first = await row_of(engine, video_fingerprints, video_id)
        # Another picture under the same name: the rescan records its new sha256.
        make_scene_video(videos_dir / "scene.mp4", 4, seconds=3)
        await run_scan(config, repository)
        assert await row_of(engine, video_fingerprints, video_id) is None  # the trigger's
        [task] = await fingerprints.claim(10, STALE, 5)
        assert await job.run_once() == 0  # claimed above: not twice
        result = await job.compute(str(videos_dir / "scene.mp4"))
    finally:
        await job.close()
    assert result.frames is not None
    stored = _stored(result)
    # A result for the file the task was claimed for is kept; for an older one, refused.
    old_task = FingerprintTask(task.video_id, task.path, "0" * 64)
    assert await fingerprints.record_made(old_task, stored) is False
    assert await fingerprints.record_made(task, stored) is True
    second = await row_of(engine, video_fingerprints, video_id)
    assert second.phash != first.phash and second.frame_hashes != first.frame_hashes


async def test_fingerprint_rows_go_with_their_video(
    config: Config, engine: AsyncEngine, repository: VideoRepository, videos_dir: Path
) -> None:
    make_scene_video(videos_dir / "kept.mp4", 5, seconds=2)
    zero_the_pictures(make_scene_video(videos_dir / "broken.mp4", 6, seconds=2))
    await run_scan(config, repository)
    ids = await ids_by_path(engine)
    job = backfill(config, engine, retry_seconds=3600.0)
    try:
        assert await job.run_once() == 2
    finally:
        await job.close()
    kept, broken = ids["videos/kept.mp4"], ids["videos/broken.mp4"]
    assert await row_of(engine, video_fingerprints, kept) is not None
    assert await row_of(engine, fingerprint_attempts, broken) is not None
    async with engine.begin() as connection:
        await connection.execute(delete(videos).where(videos.c.id.in_([kept, broken])))
    assert await row_of(engine, video_fingerprints, kept) is None
    assert await row_of(engine, fingerprint_attempts, broken) is None


def wait_for_release(path: str, _settings: object = None) -> FingerprintResult:
    """A fingerprint (in a worker process) that starts, says so, and waits to be let go."""
    folder = Path(path).parent.parent
    (folder / "started").touch()
    deadline = time.monotonic() + WAIT_S
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return compute_fingerprint(path)


async def test_a_scan_does_not_wait_for_fingerprints(
    config: Config,
    engine: AsyncEngine,
    repository: VideoRepository,
    library_root: Path,
    videos_dir: Path,
) -> None:
    make_scene_video(videos_dir / "first.mp4", 7, seconds=2)
    await run_scan(config, repository)
    first = (await ids_by_path(engine))["videos/first.mp4"]
    job = FingerprintBackfill(
        FingerprintRepository(engine),
        Library.from_config(config),
        FingerprintSettings(workers=1, poll_seconds=0.2),
        job=wait_for_release,
    )
    running = asyncio.create_task(job.run())
    try:
        await _until(lambda: (library_root / "started").exists())
        # The job is busy on the first video; a scan of a new file goes through meanwhile.
        make_scene_video(videos_dir / "second.mp4", 8, seconds=2)
        result = await asyncio.wait_for(run_scan(config, repository), WAIT_S)
        assert "videos/second.mp4" in await ids_by_path(engine)
        assert result is not None
        assert await row_of(engine, video_fingerprints, first) is None  # still being made
        (library_root / "release").touch()
        job.wake()
        await _until_rows(engine, 2)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def _until_rows(engine: AsyncEngine, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        async with engine.connect() as connection:
            found = await connection.scalar(select(func.count()).select_from(video_fingerprints))
        if (found or 0) >= count:
            return
        assert time.monotonic() < deadline, f"{found} of {count} fingerprints"
        await asyncio.sleep(0.1)


def _stored(result: FingerprintResult) -> StoredFingerprint:
    assert result.frames is not None
    return StoredFingerprint(
        result.phash,
        result.frames.seconds,
        result.frames.mirrored,
        result.index_keys,
        ALGORITHM,
    )
