"""`videolib worker`'s loop: the engine's queue manager running our task kinds.

Stalled jobs: the engine beats a heartbeat for each job a worker holds; a job whose worker
is gone (kill -9, a lost host) is picked again by another worker once its heartbeat is
`worker.stalled_seconds` old. Stopping: the first SIGTERM stops taking jobs and lets the
running ones finish within STOP_GRACE_S; what is still running or waiting then is cancelled
and queued again at once (a retry, not the engine's "canceled", which would drop it), and
the media workers are killed (no orphans).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web
from pgqueuer import PgQueuer
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job, Schedule
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.logging import get_logger

from .kinds import GaveUp, JobCall, RetryLater, TaskKind
from .metrics import serve
from .names import RUN_SCAN
from .periodic import seed
from .registry import kinds_of
from .resources import WorkerResources
from .scan_jobs import requeue_lost_scans

log = get_logger(__name__)

#: The reason a job cut short by its worker's stop is queued again with.
HANDED_BACK = "its worker stopped"
#: From SIGTERM to the last media worker gone: the daemon's budget (daemon/scheduler.py).
STOP_BUDGET_S = 2.5
#: Of which the running jobs get this long to finish before they are abandoned.
STOP_GRACE_S = 1.0

#: The engine's own session: its writes (a pick, a job's status, a heartbeat, a retry) do
#: not wait for the WAL to reach the disk. A server crash may forget the last of them; the
#: job then runs again (a lost pick or status: queued or stalled again), which every job
#: already allows (at least once: a job checks first whether its work is still to do).
#: A pick's commit is on the way from a job's creation to its start (bench/workers.py).
ENGINE_SESSION = {"synchronous_commit": "off", "application_name": "videolib worker engine"}

#: How soon a worker looks at the queue again while it has work it cannot take yet (all its
#: jobs picked) or work due soon; PgQueuer's 0.1 s costs two statements ten times a second
#: per worker. A job that ends wakes every worker anyway (the engine's trigger notifies on
#: the job's DELETE), so this is only the safety net for a missed wake and a retry's delay.
REPOLL_INTERVAL = timedelta(seconds=1)

#: How often a worker puts back what the engine can drop: a job whose retry's own write
#: failed (a statement timeout, a failover the connection survived) is logged as an
#: exception and gone. A periodic chain is seeded again, a scan's job queued again.
KEEP_UP_INTERVAL = timedelta(seconds=60)

#: `videolib worker`'s CPU priority (nice), its media processes' with it: on a host that
#: also runs the daemon, a backfill gives way to probing a dropped file (bench/daemon.py
#: --under-backfill); on a host of its own, idle cores are used all the same.
BACKGROUND_NICE = 10


def lower_priority() -> None:
    """Step this process (and what it starts later) down to BACKGROUND_NICE, if above it."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current < BACKGROUND_NICE:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICE)


class JobWorker:
    """One worker process's engine loop over the kinds of some queues."""

    def __init__(
        self,
        config: Config,
        engine: AsyncEngine,
        *,
        queues: tuple[str, ...] = (),
        concurrency: int = 1,
        resources: WorkerResources | None = None,
        serve_metrics: bool = True,
    ) -> None:
        self.config, self.concurrency = config, concurrency
        # The engine's own connection (it LISTENs on it), to the same database as ours.
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.kinds = kinds_of(queues)
        self.resources = resources or WorkerResources(config, engine, concurrency)
        #: False inside another process (the API's scans): that process has its own /metrics.
        self.serve_metrics = serve_metrics
        # The engine picks up to twice `concurrency` jobs (it needs max_concurrent_tasks >=
        # 2 x batch_size); the second half waits here, picked, so the next job is at hand
        # when one ends, while no more than `concurrency` run (and use media processes).
        self.slots = asyncio.Semaphore(concurrency)
        self.metrics = self.resources.metrics
        self.ready = asyncio.Event()
        self.metrics_port: int | None = None
        self.keep_up_interval = KEEP_UP_INTERVAL

    def _register(self, pgq: PgQueuer, kind: TaskKind) -> None:
        async def entry(job: Job) -> None:
            payload = json.loads(job.payload) if job.payload else {}
            await self._run(kind, JobCall(payload, job.attempts, int(job.id)))

        pgq.entrypoint(kind.name)(entry)
        if kind.schedule is not None:

            async def scheduled(_schedule: Schedule) -> None:
                await self._run(kind, JobCall({}, 0))

            pgq.schedule(kind.name, kind.schedule)(scheduled)

    async def _run(self, kind: TaskKind, call: JobCall) -> None:
        """Run one job when a slot is free; our RetryLater becomes the engine's retry."""
        try:
            async with self.slots:
                await self._run_now(kind, call)
        except asyncio.CancelledError:
            # Cut short by our stop, running or still waiting for its slot: the engine would
            # log a cancelled job "canceled" and drop it (a thumbnail never made until the
            # next backfill, a batch never done); as a retry it is queued again at once.
            log.info("job_handed_back", task=kind.name, job_id=call.job_id)
            raise RetryRequested(delay=timedelta(0), reason=HANDED_BACK) from None

    async def _run_now(self, kind: TaskKind, call: JobCall) -> None:
        """Run one job, counted."""
        self.metrics.jobs.labels(kind.name, "started").inc()
        log.info("job_started", task=kind.name, job_id=call.job_id, attempt=call.attempt)
        began = time.monotonic()
        outcome = "failed"
        try:
            await kind.run(self.resources, call)
            outcome = "succeeded"
        except RetryLater as retry:
            outcome = "retried"
            log.warning("job_retried", task=kind.name, job_id=call.job_id, reason=retry.reason)
            raise RetryRequested(delay=retry.delay, reason=retry.reason) from retry
        except asyncio.CancelledError:
            outcome = "handed_back"
            raise
        except GaveUp as gave_up:
            log.warning("job_gave_up", task=kind.name, job_id=call.job_id, reason=str(gave_up))
            raise
        except Exception as error:
            log.exception("job_failed", task=kind.name, job_id=call.job_id, error=str(error))
            raise
        finally:
            self.metrics.jobs.labels(kind.name, outcome).inc()
            self.metrics.job_seconds.labels(kind.name).observe(time.monotonic() - began)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then finish or abandon within STOP_BUDGET_S."""
        await seed(self.resources.engine, [k.name for k in self.kinds])  # periodic chains
        runner: web.AppRunner | None = None
        if self.serve_metrics:
            runner, self.metrics_port = await serve(self.metrics, self.config.worker.metrics_port)
        connection = await asyncpg.connect(self.dsn, server_settings=ENGINE_SESSION)
        pgq = PgQueuer.from_asyncpg_connection(connection)
        pgq.qm.min_dequeue_poll_interval = REPOLL_INTERVAL
        for kind in self.kinds:
            self._register(pgq, kind)
        stalled = timedelta(seconds=self.config.worker.stalled_seconds)
        running = asyncio.create_task(
            pgq.run(
                dequeue_timeout=timedelta(seconds=5),
                batch_size=self.concurrency,
                max_concurrent_tasks=2 * self.concurrency,
                heartbeat_timeout=stalled,
            )
        )
        keeping_up = asyncio.create_task(self._keep_up())
        log.info(
            "worker_ready",
            tasks=[k.name for k in self.kinds],
            concurrency=self.concurrency,
            metrics_port=self.metrics_port,
        )
        self.ready.set()
        try:
            await _first(running, stop)
        finally:
            stop_by = time.monotonic() + STOP_BUDGET_S
            log.info("worker_stopping")
            keeping_up.cancel()
            await asyncio.wait({keeping_up}, timeout=0.2)  # bounded: it may be mid-statement
            pgq.shutdown.set()
            await asyncio.wait({running}, timeout=STOP_GRACE_S)
            # What still runs is cancelled (and handed back, _run); its media processes are
            # killed meanwhile, not after: a hand-back's write waits on the database, and a
            # server that does not answer must not keep them (and this stop) going.
            running.cancel()
            closing = asyncio.ensure_future(
                self.resources.close(grace_s=max(0.0, (stop_by - time.monotonic()) / 2))
            )
            await asyncio.wait({running, closing}, timeout=max(0.0, stop_by - time.monotonic()))
            await closing
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=0.3)
            if runner is not None:
                await runner.cleanup()
            log.info("worker_stopped")
        if running.done() and not running.cancelled() and running.exception() is not None:
            raise running.exception()  # type: ignore[misc]

    async def _keep_up(self) -> None:
        """Every keep_up_interval: seed the periodic chains again, and queue again the
        jobs of scans that lost theirs (if this worker runs scans)."""
        names = [kind.name for kind in self.kinds]
        # A scan row written within this is not taken for lost: a hand-back's re-queue.
        quiet = timedelta(seconds=self.config.worker.stalled_seconds)
        while True:
            await asyncio.sleep(self.keep_up_interval.total_seconds())
            try:
                await seed(self.resources.engine, names)
                if RUN_SCAN in names:
                    await requeue_lost_scans(self.resources.engine, quiet)
            except DatabaseUnavailableError as away:  # the next round tries again
                log.warning("worker_keep_up_failed", error=away.message.splitlines()[0])
            except Exception:  # a bug: said, and the next round tries again
                log.exception("worker_keep_up_failed")


async def _first(task: asyncio.Task[Any], stop: asyncio.Event) -> None:
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set `stop`; the handlers are removed again on the way out."""
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        yield
    finally:
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(number)
