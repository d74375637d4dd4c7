"""What a worker puts back that the engine dropped (shared/jobs/worker.py: _keep_up): a job
whose retry's own write failed is logged and gone, so a scan's row would say running for
ever and a periodic chain would stop. Simulated by deleting the job's row, which is what
the engine's drop leaves; real PostgreSQL, engine and files."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_maintenance_jobs import jobs_of
from tests.media import make_video
from videolib.shared.config import Config
from videolib.shared.db.repository import DirectoryLocks, ScanJobRepository
from videolib.shared.jobs.names import MAINTENANCE_QUEUE, PURGE_TRASH, RUN_SCAN, SCANS_QUEUE
from videolib.shared.jobs.scan_jobs import SUPERSEDED, queue_scan, requeue_lost_scans
from videolib.shared.jobs.worker import JobWorker

WAIT_S = 60.0
QUIET = timedelta(seconds=30)


async def drop_jobs(engine: AsyncEngine, kind: str, *, row_age_s: float = 0.0) -> int:
    """Delete the engine's jobs of `kind`, as its drop would, and age the scan rows."""
    async with engine.begin() as connection:
        dropped = await connection.execute(
            text("DELETE FROM pgqueuer WHERE entrypoint = :kind"), {"kind": kind}
        )
        await connection.execute(
            text("UPDATE scan_jobs SET updated_at = now() - make_interval(secs => :age)"),
            {"age": row_age_s},
        )
    return dropped.rowcount


async def scan_payloads(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT convert_from(payload, 'UTF8')::jsonb ->> 'scan_job_id' FROM pgqueuer"
                " WHERE entrypoint = :kind ORDER BY id"
            ),
            {"kind": RUN_SCAN},
        )
    return [payload for (payload,) in result]


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def keeping_up(config: Config, engine: AsyncEngine, queue: str) -> AsyncIterator[None]:
    """A real in-process worker of `queue` that keeps up every 0.2 s, stopped on the way out."""
    worker = JobWorker(config.replace("worker", metrics_port=0), engine, queues=(queue,))
    worker.keep_up_interval = timedelta(seconds=0.2)
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(loop, WAIT_S)


async def test_a_running_worker_queues_again_a_scan_whose_job_was_dropped_and_scans_it(
    config: Config, engine: AsyncEngine, library_root: Path
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    lost = await queue_scan(engine, DirectoryLocks(engine), ["videos"], skip_existing=False)
    assert await drop_jobs(engine, RUN_SCAN, row_age_s=3600) == 1
    jobs = ScanJobRepository(engine)

    async def ended() -> bool:
        row = await jobs.get(lost.id)
        return row is not None and row.status != "running"

    async with keeping_up(config, engine, SCANS_QUEUE):
        await until(ended, "the lost scan to end")
    row = await jobs.get(lost.id)
    assert row is not None and row.status == "succeeded", row
    assert row.result["created"] == 1


async def test_a_lost_scan_whose_types_have_another_pending_ends_failed_saying_so(
    engine: AsyncEngine,
) -> None:
    locks = DirectoryLocks(engine)
    lost = await queue_scan(engine, locks, ["videos"], skip_existing=False)
    await drop_jobs(engine, RUN_SCAN, row_age_s=3600)
    newer = await queue_scan(engine, locks, ["videos"], skip_existing=True)  # the key is free
    assert await requeue_lost_scans(engine, QUIET) == (0, 1)
    row = await ScanJobRepository(engine).get(lost.id)
    assert row is not None and (row.status, row.error) == ("failed", SUPERSEDED)
    assert row.finished_at is not None
    assert await scan_payloads(engine) == [str(newer.id)]  # the newer one's job untouched
    assert await requeue_lost_scans(engine, QUIET) == (0, 0)


async def test_a_scan_row_written_recently_or_with_its_job_is_not_taken_for_lost(
    engine: AsyncEngine,
) -> None:
    """Within `quiet` a row without its job may be a hand-back on its way back to queued."""
    locks = DirectoryLocks(engine)
    recent = await queue_scan(engine, locks, ["videos"], skip_existing=False)
    await drop_jobs(engine, RUN_SCAN, row_age_s=1)
    assert await requeue_lost_scans(engine, QUIET) == (0, 0)
    held = await queue_scan(engine, locks, ["playback"], skip_existing=False)
    await drop_jobs(engine, "none", row_age_s=3600)  # both rows old; playback keeps its job
    assert await requeue_lost_scans(engine, QUIET) == (1, 0)  # videos: old now, and no job
    assert sorted(await scan_payloads(engine)) == sorted([str(recent.id), str(held.id)])
    assert await requeue_lost_scans(engine, QUIET) == (0, 0)


async def test_a_running_worker_seeds_a_periodic_chain_the_engine_dropped(
    config: Config, engine: AsyncEngine
) -> None:
    async def next_run_queued() -> bool:  # the seeded run has ended and queued its successor
        jobs = await jobs_of(engine, PURGE_TRASH)  # the ended run gone: its status flushed
        return len(jobs) == 1 and jobs[0][0] == "queued" and jobs[0][1] > 60

    async with keeping_up(config, engine, MAINTENANCE_QUEUE):
        await until(next_run_queued, "the purge's next run")
        assert await drop_jobs(engine, PURGE_TRASH) == 1
        assert await jobs_of(engine, PURGE_TRASH) == []
        await until(next_run_queued, "the dropped chain to be seeded and run again")
    assert len(await jobs_of(engine, PURGE_TRASH)) == 1
