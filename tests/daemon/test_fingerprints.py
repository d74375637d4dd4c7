"""The daemon fingerprints what it ingests, by its own loop after the ingest (issue 12 §3)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, fast, listed, running_service
from tests.scenes import make_scene_video
from videolib.shared.config import Config
from videolib.shared.db.schema import video_fingerprints
from videolib.shared.media.stash_phash import video_phash


async def test_a_dropped_video_is_fingerprinted_after_its_ingest(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    # A poll far longer than the test: only the wake after the ingest can start it in time.
    config = fast(config).replace("fingerprints", poll_seconds=3600.0)
    clip = make_scene_video(tmp_path / "scene.mp4", 21, seconds=3)
    (library_root / "videos").mkdir(parents=True, exist_ok=True)
    async with running_service(config, database_url) as service:
        shutil.copy(clip, library_root / "videos" / "scene.mp4")
        video = await listed(engine, "videos/scene.mp4", timeout=60)

        async def fingerprinted() -> int | None:
            async with engine.connect() as connection:
                return await connection.scalar(
                    select(video_fingerprints.c.phash).where(
                        video_fingerprints.c.video_id == video.id
                    )
                )

        phash = await eventually(fingerprinted, 120, "the fingerprint")
        made = service.metrics.fingerprints.labels("made")
        await eventually(lambda: _at_least(made, 1), 30, "the made counter")
    assert phash == video_phash(str(clip))


async def _at_least(counter: object, value: float) -> bool:
    return bool(counter._value.get() >= value)  # type: ignore[attr-defined]
