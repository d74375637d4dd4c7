"""A lost worker becomes the item's result (shared/media/pooled_jobs.py), in real processes;
the fingerprinter's reasons, as the thumbnail maker's are in test_thumbnails.py."""

from __future__ import annotations

import os
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository import FingerprintRepository
from videolib.shared.fingerprints import Fingerprinter, FingerprintSettings
from videolib.shared.library import Library
from videolib.shared.media.fingerprint import FingerprintResult
from videolib.shared.media.pooled_jobs import PooledJobs
from videolib.shared.media.workers import WorkerPool


def hang_crash_or_echo(item: str, _settings: object) -> str:
    if item == "hang":
        time.sleep(60)
    if item == "crash":
        os._exit(7)
    return item.upper()


def crash_on_crash(path: str, _settings: object) -> FingerprintResult:
    if path.endswith("crash"):
        os._exit(7)
    time.sleep(60)
    return FingerprintResult(error="not reached")


async def test_a_hung_or_crashed_worker_is_its_item_s_result_and_the_pool_goes_on() -> None:
    pool: WorkerPool[str] = WorkerPool(2, hang_crash_or_echo, None, 2.0, name="test-pooled")
    async with PooledJobs(
        pool, timed_out=lambda limit_s: f"timeout {limit_s:g}", crashed=lambda s: f"lost {s}"
    ) as jobs:
        assert await jobs.run_item("hang") == "timeout 2"
        assert await jobs.run_item("crash") == "lost exit code 7"
        assert await jobs.run_item("fine") == "FINE"  # replaced workers


async def test_the_fingerprinter_names_a_lost_worker(engine: AsyncEngine, config: Config) -> None:
    settings = FingerprintSettings(time_limit_s=2.0)
    async with Fingerprinter(
        FingerprintRepository(engine), Library.from_config(config), settings, job=crash_on_crash
    ) as fingerprinter:
        assert (await fingerprinter.compute("/videos/crash")).error == (
            "fingerprinter crashed (exit code 7)"
        )
        assert (await fingerprinter.compute("/videos/hang")).error == "timed out after 2 s"
