"""Periodic jobs of a library: each one a chain of engine jobs, one queued at a time.

The trash purge and the periodic reconciliation run once per library, on whichever
worker takes the maintenance queue, not once per daemon. Their intervals are seconds
(`trash.purge_interval_seconds`, `daemon.reconcile_interval`), which the engine's cron
schedules (minute granularity, a fixed expression per entrypoint) cannot say without
rounding, and a cron run that a killed worker was in the middle of is lost, not retried.
So each is a self-rescheduling job instead: when a run ends (done or failed), it queues
the next one `interval` later with `execute_after`; a worker seeds the chain when none
is queued or running, at its start (a new library) and every KEEP_UP_INTERVAL after (a
chain the engine dropped: a retry whose own write failed, shared/jobs/worker.py). A run killed
with its worker is taken again by another once its heartbeat is stale (shared/jobs/
worker.py), and that run queues the next.

"One queued at a time" is not a dedupe key: the engine's unique key covers running jobs
too, so a run could not queue its own successor under it. It is a check under a
transaction-scoped advisory lock instead, so that two workers starting at once, or a
seed beside a run ending, never queue two.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository.errors import translate_errors
from videolib.shared.logging import get_logger

from .names import PURGE_TRASH, RECONCILE_LIBRARY

log = get_logger(__name__)

#: Each periodic kind and its interval in seconds, read from the config of the worker
#: whose run queues the next.
INTERVALS: dict[str, Callable[[Config], float]] = {
    PURGE_TRASH: lambda config: config.trash.purge_interval_seconds,
    RECONCILE_LIBRARY: lambda config: config.daemon.reconcile_interval,
}

_PENDING = text(
    "SELECT count(*) FROM pgqueuer WHERE entrypoint = :kind"
    " AND status IN ('queued', 'picked') AND id <> :running"
)


@translate_errors
async def queue_next(
    engine: AsyncEngine, kind: str, delay: timedelta, *, running_job: int = 0
) -> bool:
    """Queue the next run of `kind` after `delay`, unless one other than `running_job`
    is queued or running already. Returns whether one was queued."""
    async with engine.begin() as connection:
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"videolib:periodic:{kind}"},
        )
        pending = await connection.scalar(_PENDING, {"kind": kind, "running": running_job})
        if pending:
            return False
        raw = await connection.get_raw_connection()
        queries = Queries(AsyncpgDriver(raw.driver_connection))  # type: ignore[arg-type]
        await queries.enqueue(kind, None, 0, execute_after=delay)
    return True


async def seed(engine: AsyncEngine, kinds: list[str]) -> list[str]:
    """At a worker's start: a run now of each periodic kind that has none queued or
    running. Returns the kinds seeded."""
    seeded = [k for k in kinds if k in INTERVALS and await queue_next(engine, k, timedelta(0))]
    if seeded:
        log.info("periodic_jobs_seeded", tasks=seeded)
    return seeded


async def reschedule(engine: AsyncEngine, config: Config, kind: str, running_job: int) -> None:
    """At the end of a run: the next one, an interval from now."""
    delay = timedelta(seconds=INTERVALS[kind](config))
    if await queue_next(engine, kind, delay, running_job=running_job):
        log.info("periodic_job_queued", task=kind, after_seconds=delay.total_seconds())
