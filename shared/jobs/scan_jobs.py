"""API scans (`async: true`) as jobs of the engine; `scan_jobs` stays their report.

Why a job of the engine and not a task of the API process that took the request: a scan
of a big folder outlives requests, and with replicas behind nginx it must outlive the
replica too. Queued here, it is run by whichever process serves the `scans` queue (every
API process by default, api.run_scans; any `videolib worker` of that queue), followed
through any replica (the row is in the database), and re-run elsewhere when its worker
dies (the engine re-picks a job whose heartbeat is worker.stalled_seconds old).

- `queue_scan` writes the row and queues its job in one transaction: never a row without
  a job (it would say running for ever) nor a job without a row.
- One scan per directory type at once: the job's dedupe key is the directory type, so a
  second request while one is queued or running is refused by the engine's unique index
  (409), and the type's advisory lock is checked free at the request (the daemon, the
  CLI or a synchronous API scan on it: 409 at once, as before). The job holds that lock
  while it scans, waiting for it if someone took it between the request and the start.
- A retried job resets its counts and scans again: a scan is idempotent (files already
  recorded are skipped or re-read, never recorded twice: one row per path).
- A clean stop of the process running it (SIGTERM: a replica's rolling restart, `run`
  stopped) hands the scan back: its row stays `running` and the job is queued again at
  once (JobWorker._run), for another replica or worker, or this one's next start, which
  scans again. A death (kill -9, a lost host) is the engine's recovery, to the same end.
- A job the engine dropped (its retry's own write failed) is queued again by a worker
  keeping up (`requeue_lost_scans`, JobWorker._keep_up): no row says running for ever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.repository import (
    DirectoryLocks,
    ScanJob,
    ScanJobRepository,
    VideoRepository,
    translate_errors,
)
from videolib.shared.errors import ConflictError, DatabaseUnavailableError, VideolibError
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.mount_guard import limits_from

from .defer import defer_in
from .kinds import JobCall, RetryLater
from .names import RUN_SCAN
from .resources import WorkerResources

log = get_logger(__name__)

#: Progress of a running job is written at most this often.
PROGRESS_EVERY_S = 1.0
#: Writing a job's end waits this long between tries while the database is away.
FINISH_RETRY_FIRST_S = 0.2
FINISH_RETRY_MAX_S = 5.0

#: A job that could not read its row (the database away) is tried again this much later.
START_RETRY = timedelta(seconds=5)


def busy(directory_types: Sequence[str]) -> ConflictError:
    return ConflictError(
        f"{', '.join(directory_types)}: a scan of this directory type is already running"
    )


def scan_key(directory_types: Sequence[str]) -> str:
    """The dedupe key of a scan job: one queued or running scan per directory type."""
    return f"{RUN_SCAN}:{','.join(sorted(set(directory_types)))}"


async def queue_scan(
    engine: AsyncEngine,
    locks: DirectoryLocks,
    directory_types: Sequence[str],
    skip_existing: bool,
) -> ScanJob:
    """Record a scan job and queue it; ConflictError (409) if one of the types is being
    scanned (its lock is held) or already has a scan queued or running."""
    async with locks.directory_lock(directory_types, wait=False) as free:
        if not free:
            raise busy(directory_types)
    job = await _record_and_queue(engine, directory_types, skip_existing)
    if job is None:
        raise busy(directory_types)
    log.info("scan_job_queued", job_id=str(job.id), directory_types=list(directory_types))
    return job


@translate_errors
async def _record_and_queue(
    engine: AsyncEngine, directory_types: Sequence[str], skip_existing: bool
) -> ScanJob | None:
    """The row and its job in one transaction; None (nothing written) if the key is taken."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        job = await ScanJobRepository(engine).create_in(connection, directory_types, skip_existing)
        payload = {"scan_job_id": str(job.id)}
        if not await defer_in(connection, RUN_SCAN, [(payload, scan_key(directory_types))]):
            await transaction.rollback()
            return None
        await transaction.commit()
    return job


#: A running scan whose row nobody has written this long and that has no job in the engine
#: lost it: a retry's own write failed (a statement timeout, a failover the connection
#: survived) and the engine dropped the job. Selected with its row locked, so that two
#: workers keeping up at once adopt it once: the other skips it while it is locked, and
#: after, the row the adopter wrote (_ADOPTED) is new again, so its re-check drops it.
_LOST_SCANS = text(
    "SELECT s.id, s.directory_types FROM scan_jobs s"
    " WHERE s.status = 'running' AND s.updated_at < now() - make_interval(secs => :quiet_s)"
    " AND NOT EXISTS (SELECT 1 FROM pgqueuer q WHERE q.entrypoint = :kind"
    " AND convert_from(q.payload, 'UTF8')::jsonb ->> 'scan_job_id' = s.id::text)"
    " ORDER BY s.id FOR UPDATE OF s SKIP LOCKED"
)
_ADOPTED = text("UPDATE scan_jobs SET updated_at = now() WHERE id = :id")
_SUPERSEDED = text(
    "UPDATE scan_jobs SET status = 'failed', error = :error, updated_at = now(),"
    " finished_at = now() WHERE id = :id"
)
#: The error of a lost scan that cannot be queued again: another of its types is pending.
SUPERSEDED = "its job was lost, and another scan of these directory types is queued or running"


@translate_errors
async def requeue_lost_scans(engine: AsyncEngine, quiet: timedelta) -> tuple[int, int]:
    """Queue again the job of each running scan that has lost it (quiet that long); one
    whose types have another scan pending ends failed, saying so. Returns (queued, ended).

    Without this its row would say running for ever and its types would scan again only
    when somebody asked."""
    queued = ended = 0
    async with engine.begin() as connection:
        lost = await connection.execute(
            _LOST_SCANS, {"quiet_s": quiet.total_seconds(), "kind": RUN_SCAN}
        )
        for scan_job_id, directory_types in lost.all():
            payload = {"scan_job_id": str(scan_job_id)}
            if await defer_in(connection, RUN_SCAN, [(payload, scan_key(directory_types))]):
                await connection.execute(_ADOPTED, {"id": scan_job_id})
                queued += 1
                log.warning("scan_job_requeued", job_id=str(scan_job_id))
            else:
                ended += 1
                await connection.execute(_SUPERSEDED, {"id": scan_job_id, "error": SUPERSEDED})
                log.warning("scan_job_superseded", job_id=str(scan_job_id))
    return queued, ended


async def run_scan(resources: WorkerResources, call: JobCall) -> None:
    """The job: scan the row's directory types under their lock, writing progress and end.

    Its outcome is the row's status; the engine's job ends successfully whatever the
    scan's (a failed scan is not retried: the admin sees why and starts another)."""
    job_id = uuid.UUID(call.payload["scan_job_id"])
    jobs = ScanJobRepository(resources.engine)
    try:
        job = await jobs.get(job_id)
    except DatabaseUnavailableError as away:  # nothing done yet: the engine tries later
        raise RetryLater(away.message.splitlines()[0], START_RETRY) from away
    if job is None or job.status != "running":  # ended already (its end was written last)
        log.info("scan_job_skipped", job_id=str(job_id), status=job and job.status)
        return
    locks = DirectoryLocks(resources.engine)
    result, status, error = ScanResult(), "failed", None
    ended = False  # the row had ended meanwhile, or the scan was handed back: no end
    scanning = False  # before the first file: a database error is a retry, not the end
    try:
        async with locks.directory_lock(job.directory_types, wait=True):
            # Under the lock: a frozen first worker may have finished meanwhile.
            if not await jobs.restart(job_id):
                ended = True
                return
            scanning = True
            if job.result:  # counts of an earlier try whose worker died
                log.warning("scan_job_rescanned", job_id=str(job_id), attempt=call.attempt)
            log.info("scan_job_started", job_id=str(job_id), types=job.directory_types)
            await _scan(resources, job, result, _ProgressWriter(jobs, job_id))
        status = "succeeded"
    except asyncio.CancelledError:
        ended = True  # its worker stops: the row stays running for the job's next run
        log.info("scan_job_handed_back", job_id=str(job_id), scanned=result.as_dict())
        raise
    except DatabaseUnavailableError as away:
        if scanning:
            error = away.message.splitlines()[0]
            log.warning("scan_job_failed", job_id=str(job_id), error=error)
        else:  # the lock or the row's reset: nothing scanned yet, the row still running
            ended = True
            raise RetryLater(away.message.splitlines()[0], START_RETRY) from away
    except VideolibError as crash:  # a path went bad: no bug
        error = crash.message.splitlines()[0]
        log.warning("scan_job_failed", job_id=str(job_id), error=error)
    except Exception as crash:
        error = f"{type(crash).__name__}: {crash}"
        log.exception("scan_job_failed", job_id=str(job_id))
    finally:
        if not ended:
            await _record_end(jobs, job_id, status, result.as_dict(), error)
            log.info("scan_job_finished", job_id=str(job_id), status=status)


class _ProgressWriter:
    """Writes a running scan's counts at most every PROGRESS_EVERY_S, in the background."""

    def __init__(self, jobs: ScanJobRepository, job_id: uuid.UUID) -> None:
        self.jobs, self.job_id = jobs, job_id
        self.writes: set[asyncio.Task[None]] = set()
        self.last = 0.0

    def __call__(self, result: ScanResult, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            snapshot: dict[str, Any] = {**result.as_dict(), "total": total}
            write = asyncio.create_task(self.jobs.progress(self.job_id, snapshot))
            self.writes.add(write)
            write.add_done_callback(self.writes.discard)

    async def settle(self) -> None:
        await asyncio.gather(*self.writes, return_exceptions=True)


async def _scan(
    resources: WorkerResources, job: ScanJob, result: ScanResult, progress: _ProgressWriter
) -> None:
    config = resources.config
    try:
        await scan(
            job.directory_types,
            library=Library.from_config(config),
            repository=VideoRepository(resources.engine),
            pool=resources.examiners,
            skip_existing=job.skip_existing,
            limits=limits_from(config),
            progress=progress,
            result=result,  # a failed job keeps its counts so far
        )
    finally:
        await progress.settle()  # before the end: a late progress write must not follow it


async def _record_end(
    jobs: ScanJobRepository,
    job_id: uuid.UUID,
    status: str,
    result: dict[str, Any],
    error: str | None,
) -> None:
    """Write a job's end, waiting out a database that is away: no job says running for ever.

    Should this process die meanwhile, the engine runs the job again elsewhere."""
    delay = FINISH_RETRY_FIRST_S
    while True:
        try:
            await jobs.finish(job_id, status, result, error)
            return
        except DatabaseUnavailableError:
            log.info("scan_job_end_waits_for_database", job_id=str(job_id), retry_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, FINISH_RETRY_MAX_S)
