"""The worker loop's own rules (shared/jobs/worker.py), on the real database and engine."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_jobs import WorkerProcess, _worker_environment, wait_for
from videolib.shared.config import Config
from videolib.shared.jobs.defer import defer
from videolib.shared.jobs.kinds import JobCall, TaskKind
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.worker import BACKGROUND_NICE, ENGINE_SESSION, JobWorker

WAIT_S = 90.0
KIND, QUEUE = "test_held_job", "test_worker_loop"


async def scalar(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text(sql)) or 0)


async def until(engine: AsyncEngine, sql: str, expected: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while await scalar(engine, sql) != expected:
        assert time.monotonic() < deadline, f"timed out waiting for {sql} = {expected}"
        await asyncio.sleep(0.05)


async def test_a_worker_runs_no_more_jobs_at_once_than_its_concurrency(
    config: Config, engine: AsyncEngine
) -> None:
    """With concurrency 1 the engine picks two jobs (its batch and the one after); the
    second waits, picked, until the first ends, so one media process is busy at a time.
    On main both ran at once: a thumbnail and a fingerprint job of one `--concurrency 1`
    worker kept two media processes, i.e. both cores, busy (bench/workers.py)."""
    release = asyncio.Event()
    running: list[int] = []
    most = 0
    finished: list[int] = []

    async def held(_resources: WorkerResources, call: JobCall) -> None:
        nonlocal most
        running.append(call.payload["n"])
        most = max(most, len(running))
        await release.wait()
        running.remove(call.payload["n"])
        finished.append(call.payload["n"])

    worker = JobWorker(config.replace("worker", metrics_port=0), engine, concurrency=1)
    worker.kinds = (TaskKind(KIND, QUEUE, held),)
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), WAIT_S)
        assert await defer(engine, KIND, [({"n": n}, f"{KIND}:{n}") for n in range(3)]) == 3
        # Two picked by the engine: the one running and the one at hand.
        await until(
            engine,
            f"SELECT count(*) FROM pgqueuer WHERE entrypoint = '{KIND}' AND status = 'picked'",
            2,
        )
        # The engine's session is ours, named, committing without waiting for the disk.
        name = ENGINE_SESSION["application_name"]
        await until(
            engine, f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}'", 1
        )
        assert len(running) == 1
        release.set()
        await until(engine, f"SELECT count(*) FROM pgqueuer WHERE entrypoint = '{KIND}'", 0)
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(loop, WAIT_S)
    assert sorted(finished) == [0, 1, 2]  # every job ran, once
    assert most == 1


def test_a_worker_process_and_its_media_processes_run_at_background_priority(
    config: Config, tmp_path: Path
) -> None:
    """A backfill on the daemon's host gives way to probing a drop: on main, the worker's
    fingerprint and thumbnail processes competed at the daemon's own priority, and
    drop-to-listed rose 1.58x while one ran (bench/daemon.py --under-backfill)."""
    worker = WorkerProcess(_worker_environment(config, tmp_path), tmp_path / "w.log")
    try:
        wait_for(lambda: bool(worker.lines("worker_ready")), "the worker to be ready")
        assert psutil.Process(worker.process.pid).nice() == BACKGROUND_NICE
    finally:
        worker.stop()
    assert worker.process.returncode == 0


async def test_a_stopped_worker_hands_back_its_running_and_waiting_jobs(
    config: Config, engine: AsyncEngine
) -> None:
    """A stop (SIGTERM, a CLI's Ctrl-C) cuts short the job running past the grace and the
    one picked and waiting for its slot. Both are queued again and the next worker runs
    them; on main the engine logged them "canceled" and dropped them (a thumbnail left
    until the next backfill)."""
    first_started = asyncio.Event()
    done: list[int] = []

    async def hangs(_resources: WorkerResources, call: JobCall) -> None:
        first_started.set()
        await asyncio.Event().wait()  # past any grace: only the stop ends it

    async def quick(_resources: WorkerResources, call: JobCall) -> None:
        done.append(call.payload["n"])

    stopped = JobWorker(config.replace("worker", metrics_port=0), engine, concurrency=1)
    stopped.kinds = (TaskKind(KIND, QUEUE, hangs),)
    stop = asyncio.Event()
    loop = asyncio.create_task(stopped.run(stop))
    await asyncio.wait_for(stopped.ready.wait(), WAIT_S)
    assert await defer(engine, KIND, [({"n": n}, f"{KIND}:{n}") for n in range(2)]) == 2
    await asyncio.wait_for(first_started.wait(), WAIT_S)
    await until(
        engine,
        f"SELECT count(*) FROM pgqueuer WHERE entrypoint = '{KIND}' AND status = 'picked'",
        2,
    )
    stop.set()
    await asyncio.wait_for(loop, WAIT_S)
    # Both back in the queue, none dropped as canceled.
    await until(
        engine,
        f"SELECT count(*) FROM pgqueuer WHERE entrypoint = '{KIND}' AND status = 'queued'",
        2,
    )
    canceled = (
        f"SELECT count(*) FROM pgqueuer_log WHERE entrypoint = '{KIND}' AND status = 'canceled'"
    )
    assert await scalar(engine, canceled) == 0

    successor = JobWorker(config.replace("worker", metrics_port=0), engine, concurrency=1)
    successor.kinds = (TaskKind(KIND, QUEUE, quick),)
    stop = asyncio.Event()
    loop = asyncio.create_task(successor.run(stop))
    try:
        await until(engine, f"SELECT count(*) FROM pgqueuer WHERE entrypoint = '{KIND}'", 0)
    finally:
        stop.set()
        await asyncio.wait_for(loop, WAIT_S)
    assert sorted(done) == [0, 1]
