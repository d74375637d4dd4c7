"""API scans: synchronous, or as a background job recorded in `scan_jobs`.

Both hold the directory type's advisory lock for the whole scan, so an API scan never
runs beside another scan of the same type (daemon, CLI, another API process): the second
caller gets 409 at once instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from videolib.api.keys import (
    CONFIG,
    JOBS,
    LIBRARY,
    LOCKS,
    POOL,
    SCAN_JOB_IDS,
    SCAN_TASKS,
    SCAN_WRITES,
)
from videolib.shared.db.repository import (
    ScanJob,
    ScanJobRepository,
    database_call_bound,
    translate_errors,
)
from videolib.shared.errors import ConflictError, DatabaseUnavailableError, VideolibError
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.logging import get_logger
from videolib.shared.mount_guard import limits_from

log = get_logger(__name__)

#: Progress of a running job is written at most this often.
PROGRESS_EVERY_S = 1.0
#: Writing a job's end waits this long between tries while the database is away.
FINISH_RETRY_FIRST_S = 0.2
FINISH_RETRY_MAX_S = 5.0


def _busy(directory_type: str) -> ConflictError:
    return ConflictError(f"{directory_type}: a scan of this directory type is already running")


async def scan_now(
    app: web.Application, directory_type: str, skip_existing: bool, *, apply_missing: bool = False
) -> ScanResult:
    """Scan one directory type while the caller waits; `apply_missing`: a held pass."""
    async with app[LOCKS].directory_lock([directory_type], wait=False) as locked:
        if not locked:
            raise _busy(directory_type)
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
    """Start a background scan; returns its job once the lock is held (409 if not free)."""
    started: asyncio.Future[ScanJob] = asyncio.get_running_loop().create_future()
    # The job outlives the request: it must not inherit the request's per-call bound on
    # the database (a task copies the context it is created in).
    with database_call_bound(None):
        task = asyncio.create_task(_run_job(app, directory_type, skip_existing, started))
    app[SCAN_TASKS].add(task)
    task.add_done_callback(app[SCAN_TASKS].discard)
    return await started


async def _run_job(
    app: web.Application,
    directory_type: str,
    skip_existing: bool,
    started: asyncio.Future[ScanJob],
) -> None:
    try:
        async with app[LOCKS].directory_lock([directory_type], wait=False) as locked:
            if not locked:
                raise _busy(directory_type)
            job = await app[JOBS].create([directory_type], skip_existing)
            app[SCAN_JOB_IDS].add(job.id)
            try:
                started.set_result(job)
                await _scan_job(app, job)
            finally:
                app[SCAN_JOB_IDS].discard(job.id)
    except BaseException as error:
        if not started.done():
            started.set_exception(error)
        elif not isinstance(error, asyncio.CancelledError):
            log.exception("scan_job_crashed")
        if isinstance(error, asyncio.CancelledError):
            raise


async def _scan_job(app: web.Application, job: ScanJob) -> None:
    jobs = app[JOBS]
    writes: set[asyncio.Task[None]] = set()
    last = 0.0

    def progress(result: ScanResult, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S:
            last = now
            snapshot: dict[str, Any] = {**result.as_dict(), "total": total}
            write = asyncio.create_task(jobs.progress(job.id, snapshot))
            writes.add(write)
            write.add_done_callback(writes.discard)

    result, status, error = ScanResult(), "failed", None
    try:
        await scan(
            job.directory_types,
            library=app[LIBRARY],
            repository=app[SCAN_WRITES],
            pool=app[POOL],
            skip_existing=job.skip_existing,
            limits=limits_from(app[CONFIG]),
            progress=progress,
            result=result,  # a failed job keeps its counts so far
        )
        status = "succeeded"
    except asyncio.CancelledError:
        status, error = "cancelled", "the API process stopped during the scan"
        raise
    except VideolibError as crash:  # the database went away, a path went bad: no bug
        error = crash.message.splitlines()[0]
        log.warning("scan_job_failed", job_id=str(job.id), error=error)
    except Exception as crash:
        error = f"{type(crash).__name__}: {crash}"
        log.exception("scan_job_failed", job_id=str(job.id))
    finally:
        await asyncio.gather(*writes, return_exceptions=True)
        await _record_end(jobs, job, status, result.as_dict(), error)
        log.info("scan_job_finished", job_id=str(job.id), status=status)


async def _record_end(
    jobs: ScanJobRepository, job: ScanJob, status: str, result: dict[str, Any], error: str | None
) -> None:
    """Write a job's end, waiting out a database that is away: no job says running for ever.

    Meanwhile the job's id stays in SCAN_JOB_IDS, so a reader is not told it was orphaned.
    """
    delay = FINISH_RETRY_FIRST_S
    while True:
        try:
            await jobs.finish(job.id, status, result, error)
            return
        except DatabaseUnavailableError:
            log.info("scan_job_end_waits_for_database", job_id=str(job.id), retry_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, FINISH_RETRY_MAX_S)


ORPHANED = "the process running this scan stopped before it finished (killed or crashed)"


@translate_errors
async def fail_orphaned_jobs(app: web.Application, jobs: list[ScanJob] | None = None) -> None:
    """Mark failed the running jobs whose process is gone, so none says `running` for ever.

    A job's process holds its directory type's advisory lock from before the job row is
    written until after its end is, and PostgreSQL frees the lock when that process's
    session ends. So a running job whose lock can be taken has lost its process. (Should
    the lock's session alone be killed while the scan goes on, the job reads failed until
    the scan ends and writes its real outcome.)
    """
    for job in await app[JOBS].running() if jobs is None else jobs:
        if job.id in app[SCAN_JOB_IDS]:  # ours, alive: its lock may have gone with a restart
            continue
        async with app[LOCKS].directory_lock(job.directory_types, wait=False) as free:
            if free and await app[JOBS].fail_orphan(job.id, ORPHANED):
                log.warning("scan_job_orphaned", job_id=str(job.id))


async def cancel_jobs(app: web.Application) -> None:
    """Stop this process's running scans (shutdown); each marks its job cancelled."""
    tasks: list[asyncio.Task[None]] = [*app[SCAN_TASKS]]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
