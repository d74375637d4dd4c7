"""Integrity checks in tests: clips, bit rot that keeps size and mtime, a whole cycle run."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_video
from videolib.shared.config import Config
from videolib.shared.db.repository import IntegrityRepository, VideoRepository
from videolib.shared.db.repository.integrity import CycleEnd
from videolib.shared.db.schema import integrity_findings
from videolib.shared.ingest import scan
from videolib.shared.integrity.budget import Window
from videolib.shared.jobs.integrity_jobs import ChunkVerifier, local_now, plan
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool

NAMES = ["videos/a.mp4", "videos/b.mp4", "videos/c.mp4", "studios/s/d.mp4"]


def make_clips(root: Path, names: list[str] = NAMES) -> None:
    for number, stored in enumerate(names):
        path = root / stored
        path.parent.mkdir(parents=True, exist_ok=True)
        make_video(path, seconds=1 + number % 2, noise=True)


async def record(config: Config, engine: AsyncEngine) -> None:
    async with examiner_pool(config) as pool:
        await scan(
            ["videos", "studios"],
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
        )


def flip_byte_keeping_mtime(path: Path, offset: int) -> None:
    """Bit rot: one byte changes, size and mtime (to the nanosecond) stay."""
    before = os.stat(path)
    with open(path, "r+b") as file:
        file.seek(offset)
        value = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([value ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


async def findings(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as connection:
        return list(await connection.execute(select(integrity_findings)))


async def verify_cycle(
    config: Config, engine: AsyncEngine, *, max_files: int = 200
) -> tuple[CycleEnd | None, ChunkVerifier]:
    """Start a cycle now (due at once) and verify every range in this process, as the
    engine's jobs would; the cycle's end and the verifier (its metrics, its count)."""
    config = config.replace("integrity", cycle_interval_hours=0.0)
    repository = IntegrityRepository(engine)
    keys = await plan(repository, config.integrity, local_now(), max_files=max_files)
    assert keys, "no cycle was started"
    verifier = ChunkVerifier(WorkerResources(config, engine), Window.parse(config.integrity.window))
    end = None
    for key in keys:
        end = await verifier.run(key) or end
    return end, verifier
