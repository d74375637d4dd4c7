"""The daemon defers the fingerprint of what it ingests to the job engine (issue 12 §3)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, fast, listed, running_service
from tests.integration.test_jobs import pending_jobs
from tests.scenes import make_scene_video
from videolib.shared.config import Config
from videolib.shared.db.schema import video_fingerprints
from videolib.shared.jobs.defer import fingerprint_key
from videolib.shared.jobs.worker import JobWorker
from videolib.shared.media.stash_phash import video_phash


async def test_a_dropped_video_is_fingerprinted_by_a_job_deferred_after_its_ingest(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    config = fast(config).replace("worker", metrics_port=0)
    clip = make_scene_video(tmp_path / "scene.mp4", 21, seconds=3)
    (library_root / "videos").mkdir(parents=True, exist_ok=True)
    async with running_service(config, database_url):
        shutil.copy(clip, library_root / "videos" / "scene.mp4")
        video = await listed(engine, "videos/scene.mp4", timeout=60)

        async def deferred() -> int:
            return await pending_jobs(engine, fingerprint_key(video.id))

        # The daemon's deferral, not a backfill's: no worker runs yet, no scan was made.
        assert await eventually(deferred, 60, "the fingerprint job") == 1

    worker = JobWorker(config, engine)  # in-process, the real engine loop
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:

        async def fingerprinted() -> int | None:
            async with engine.connect() as connection:
                return await connection.scalar(
                    select(video_fingerprints.c.phash).where(
                        video_fingerprints.c.video_id == video.id
                    )
                )

        phash = await eventually(fingerprinted, 120, "the fingerprint")
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
    assert phash == video_phash(str(clip))
    assert await pending_jobs(engine, fingerprint_key(video.id)) == 0
