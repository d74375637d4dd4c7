"""API scans: synchronous, or queued as a job of the engine and recorded in `scan_jobs`.

A synchronous scan holds the directory type's advisory lock for its whole run, so it never
runs beside another scan of that type (daemon, CLI, another API process): the second
caller gets 409 at once instead of waiting. A background scan (`async: true`) is a job of
the engine's scans queue (shared/jobs/scan_jobs.py): it outlives the request and the
replica that took it, and any process serving the queue runs it, this one included
(`scan_worker`, unless api.run_scans is false).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from videolib.api.keys import CONFIG, ENGINE, LIBRARY, LOCKS, POOL, SCAN_WRITES
from videolib.shared.db.repository import ScanJob, database_call_bound
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.jobs.names import SCANS_QUEUE
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.scan_jobs import busy, queue_scan
from videolib.shared.jobs.worker import JobWorker
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.mount_guard import limits_from

log = get_logger(__name__)

#: The engine's queues every API process works beside its requests (api.run_scans): the
#: one place to add another. Scans are here so that a lone `videolib api`, with no
#: `videolib worker`, still runs them, and so that replicas share them.
API_QUEUES: tuple[str, ...] = (SCANS_QUEUE,)
#: Jobs the API's worker runs at once: a scan per directory type, as many as could run
#: beside each other before scans were jobs. A scan waiting for its type's lock (the daemon
#: is on it) must not hold back another type's.
API_CONCURRENCY = len(DIRECTORY_TYPES)
#: The worker is started again after this pause when it stops on its own, doubling.
RESTART_FIRST_S = 0.5
RESTART_MAX_S = 10.0


async def scan_now(
    app: web.Application, directory_type: str, skip_existing: bool, *, apply_missing: bool = False
) -> ScanResult:
    """Scan one directory type while the caller waits; `apply_missing`: a held pass."""
    async with app[LOCKS].directory_lock([directory_type], wait=False) as locked:
        if not locked:
            raise busy([directory_type])
        # The scan's statements are the work the caller asked for, as a job's are: a big
        # directory's must not be cut by the per-call bound meant for a server that does
        # not answer. The lock above stays bounded: taking it never waits.
        with database_call_bound(None):
            return await scan(
                [directory_type],
                library=app[LIBRARY],
                repository=app[SCAN_WRITES],
                pool=app[POOL],
                skip_existing=skip_existing,
                limits=limits_from(app[CONFIG]),
                apply_missing=apply_missing,
            )


async def start_job(app: web.Application, directory_type: str, skip_existing: bool) -> ScanJob:
    """Queue a background scan and return its job (409 if that type is being scanned)."""
    return await queue_scan(app[ENGINE], app[LOCKS], [directory_type], skip_existing)


async def scan_worker(app: web.Application) -> AsyncIterator[None]:
    """The engine's worker of API_QUEUES in this process (a cleanup_ctx), on the API's
    database and examiner pool.

    On shutdown it stops taking jobs; a scan still running after the worker's grace is
    handed back, its row still running, for another process or this one's next start
    (shared/jobs/scan_jobs.py).
    """
    config = app[CONFIG]
    if not config.api.run_scans:
        yield
        return
    engine = app[ENGINE]
    resources = WorkerResources(config, engine, shared_examiners=app[POOL])
    worker = JobWorker(
        config,
        engine,
        queues=API_QUEUES,
        concurrency=API_CONCURRENCY,
        resources=resources,
        serve_metrics=False,
    )
    stop = asyncio.Event()
    # The worker outlives every request: no request's per-call bound on its statements.
    with database_call_bound(None):
        running = asyncio.create_task(_work(worker, stop))
    yield
    stop.set()
    await running


async def _work(worker: JobWorker, stop: asyncio.Event) -> None:
    """Run the worker until `stop`; started again when it ends otherwise (its connection
    lost with a database that went away), so that the API's scans resume with it."""
    delay = RESTART_FIRST_S
    while not stop.is_set():
        try:
            await worker.run(stop)
        except Exception as error:
            log.warning("scan_worker_restarts", error=str(error), retry_s=delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, RESTART_MAX_S)
