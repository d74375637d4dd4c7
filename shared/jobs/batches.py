"""A caller's side of a batch: defer its chunk jobs, then wait for its items, helping.

The waiter runs an engine worker of its own for the batch's kind while it waits, so the
batch progresses with no `videolib worker` anywhere, and every worker of the queue on
other hosts shares it. The waiter's death (kill, Ctrl-C) loses nothing: the chunks are
the engine's jobs and any worker finishes them (batch_jobs.py hands a cut-short chunk back).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository import BatchItem, BatchProgress, BatchRepository
from videolib.shared.logging import get_logger
from videolib.shared.media.workers import ExaminerPool

from .batch_jobs import CHUNK_SIZE, chunk_payload
from .defer import defer
from .names import THUMBNAIL_CHUNK, THUMBNAILS_QUEUE, VALIDATE_CHUNK, VALIDATE_QUEUE
from .resources import WorkerResources
from .worker import JobWorker

log = get_logger(__name__)

#: The priority of the chunks of a request that waits for them (bulk validate).
WAITING_REQUEST = 10
#: A finished batch's results are kept this long (for a look in the database), then dropped.
KEEP_FINISHED_DAYS = 1.0
#: An unfinished one this long: its chunks were never queued (its caller died first), or
#: no worker of its queue has run for a month.
KEEP_UNFINISHED_DAYS = 30.0
#: How often the waiter reads its batch's count (the progress bar's refresh).
POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class BatchKind:
    """A chunk job's kind and its queue."""

    task: str
    queue: str


VALIDATE = BatchKind(VALIDATE_CHUNK, VALIDATE_QUEUE)
THUMBNAILS = BatchKind(THUMBNAIL_CHUNK, THUMBNAILS_QUEUE)


@dataclass(frozen=True, slots=True)
class Batch:
    """A started batch: its id, kind and items (each once)."""

    id: uuid.UUID
    kind: BatchKind
    ids: tuple[uuid.UUID, ...]


def chunk_key(kind: BatchKind, batch_id: uuid.UUID, index: int | None = None) -> str:
    """A chunk's dedupe key; without `index`, the prefix of all the batch's chunks."""
    prefix = f"{kind.task}:{batch_id}:"
    return prefix if index is None else f"{prefix}{index}"


async def start_batch(
    engine: AsyncEngine,
    kind: BatchKind,
    ids: Sequence[uuid.UUID],
    *,
    options: Mapping[str, Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
    priority: int = 0,
) -> Batch:
    """A batch of `ids` (each once), its chunk jobs deferred.

    `priority`: the engine takes higher first; a request that answers when its batch is
    done (bulk validate: WAITING_REQUEST) must not queue behind a 100k `validate --all`.
    """
    unique = list(dict.fromkeys(ids))
    repository = BatchRepository(engine)
    # Results are read by their waiter, once: old batches go when a new one starts, with
    # no schedule to run (a 100k validate leaves 100k item rows).
    await repository.forget_old(
        finished_days=KEEP_FINISHED_DAYS, unfinished_days=KEEP_UNFINISHED_DAYS
    )
    batch_id = await repository.create(kind.task, len(unique))
    jobs = [
        (
            chunk_payload(batch_id, unique[start : start + chunk_size], **(options or {})),
            chunk_key(kind, batch_id, index),
        )
        for index, start in enumerate(range(0, len(unique), chunk_size))
    ]
    await defer(engine, kind.task, jobs, priority)
    log.info("batch_started", batch=str(batch_id), task=kind.task, items=len(unique))
    return Batch(batch_id, kind, tuple(unique))


async def wait_for_batch(
    config: Config,
    engine: AsyncEngine,
    batch: Batch,
    *,
    concurrency: int,
    progress: Callable[[BatchProgress], None] | None = None,
    examiners: ExaminerPool | None = None,
) -> list[BatchItem]:
    """Work the batch's queue in this process until every item is recorded; its results.

    `examiners`: the process's running probers (an API's), so that a request's wait does
    not start its own.

    A chunk whose job ended without recording all its items (a bug in it: the engine logs
    job_failed) would keep a waiter forever: its missing items are recorded failed instead.
    """
    repository, kind = BatchRepository(engine), batch.kind
    stop = asyncio.Event()
    # Its own metrics port (0: a free one), beside a `videolib worker` on this host.
    worker = JobWorker(
        config.replace("worker", metrics_port=0),
        engine,
        queues=(kind.queue,),
        concurrency=concurrency,
    )
    # Only the chunks: a CLI waiting on its batch does not take the queue's other work.
    worker.kinds = tuple(k for k in worker.kinds if k.name == kind.task)
    if examiners is not None:
        worker.resources = WorkerResources(
            worker.config, engine, concurrency, shared_examiners=examiners
        )
    running = asyncio.create_task(worker.run(stop))
    try:
        while True:
            state = await repository.progress(batch.id)
            if progress is not None:
                progress(state)
            if state.finished:
                break
            if running.done():
                running.result()  # the worker's error, if it stopped on one
            if await repository.pending_chunks(chunk_key(kind, batch.id)) == 0:
                await _record_lost(repository, batch)  # the last chunk may just have ended
                continue
            await asyncio.sleep(POLL_S)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await running
    return await repository.items(batch.id)


async def _record_lost(repository: BatchRepository, batch: Batch) -> None:
    """Record the items no chunk job will record any more as failed; the rest keep theirs."""
    if (await repository.progress(batch.id)).finished:
        return
    recorded = {item.item_id for item in await repository.items(batch.id)}
    lost = [i for i in batch.ids if i not in recorded]
    log.warning("batch_items_lost", batch=str(batch.id), items=len(lost))
    error = "its chunk job failed (job_failed in the worker's log)"
    await repository.record(batch.id, [BatchItem(i, f"{i}: {error}") for i in lost])


def interrupted_message(command: str, batch: Batch) -> str:
    """What a CLI says on Ctrl-C once its batch is queued: nothing is lost."""
    return (
        f"videolib {command}: interrupted; batch {batch.id} stays queued, and any "
        f"`videolib worker` of the {batch.kind.queue} queue finishes it"
    )
