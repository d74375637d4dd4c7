"""The chunk jobs of a batch: re-probe (validate) or thumbnail up to CHUNK_SIZE videos.

`videolib validate --all`, bulk validate and `videolib thumbnails` used to run in their own
process: one host did all of a 100k re-probe, and a killed CLI lost it. Now the caller
defers one job per chunk of ids (shared/jobs/batches.py) and any worker of the queue runs
them. Each item's result is written to the batch as soon as it is known, keyed by (batch,
item): a chunk the engine runs again after its worker died skips the items already written,
and a second answer for one is dropped, so the batch counts each video once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from videolib.shared.db.repository import BatchItem, BatchRepository, VideoRepository
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.ingest import run_together
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.validate import Validation, validate_many

from .kinds import JobCall, RetryLater
from .resources import WorkerResources

log = get_logger(__name__)

#: Ids per chunk job: small enough that a killed worker's chunk is soon taken again and the
#: work spreads over the workers, large enough that the engine's cost per job (about 2 ms,
#: README) is nothing beside 100 probes.
CHUNK_SIZE = 100
#: A chunk that could not reach the database is tried again after this long.
DATABASE_RETRY = timedelta(seconds=10)


def chunk_payload(batch_id: uuid.UUID, ids: list[uuid.UUID], **options: Any) -> dict[str, Any]:
    return {"batch": str(batch_id), "ids": [str(i) for i in ids], **options}


def _chunk_of(payload: Mapping[str, Any]) -> tuple[uuid.UUID, list[uuid.UUID]]:
    return uuid.UUID(payload["batch"]), [uuid.UUID(i) for i in payload["ids"]]


async def validate_chunk(resources: WorkerResources, call: JobCall) -> None:
    """Validate the chunk's videos not yet recorded in its batch, recording each result."""
    batch_id, ids = _chunk_of(call.payload)
    batches = BatchRepository(resources.engine)
    async with _handed_back_when_stopped(batch_id):
        done = await batches.recorded(batch_id, ids)
        todo = [i for i in ids if i not in done]

        async def record(result: Validation) -> None:
            await batches.record(batch_id, [BatchItem(result.id, result.error)])

        await validate_many(
            todo,
            library=Library.from_config(resources.config),
            repository=VideoRepository(resources.engine),
            pool=resources.examiners,
            record=record,
            path_map=resources.path_map,
        )
    log.info("batch_chunk_done", batch=str(batch_id), items=len(ids), run=len(todo))


async def thumbnail_chunk(resources: WorkerResources, call: JobCall) -> None:
    """Make the thumbnails of the chunk's videos not yet recorded in its batch (an error
    recorded as "<video id>: <reason>", as validate's name their path).

    `missing_only` as `videolib thumbnails --missing`. A video that needs none any more
    (made meanwhile, invalid, a custom thumbnail set) is recorded done: nothing to do."""
    batch_id, ids = _chunk_of(call.payload)
    missing_only = bool(call.payload.get("missing_only", True))
    batches, maker = BatchRepository(resources.engine), resources.thumbnails
    async with _handed_back_when_stopped(batch_id):
        done = await batches.recorded(batch_id, ids)
        todo = [i for i in ids if i not in done]
        tasks = await maker.repository.backlog(missing_only=missing_only, ids=todo)
        needing = {task.video_id for task in tasks}
        await batches.record(batch_id, [BatchItem(i, None) for i in todo if i not in needing])
        pending = iter(tasks)

        async def consume() -> None:
            for task in pending:  # one shared iterator: each task is taken once
                outcome = await maker.make(task)
                error = None if outcome.ok else f"{task.video_id}: {outcome.error}"
                await batches.record(batch_id, [BatchItem(task.video_id, error)])

        # The first error (the database gone) cancels the other consumers: none goes on
        # making thumbnails outside its job while the chunk waits for its retry.
        await run_together(*(consume() for _ in range(resources.concurrency)))
    log.info("batch_chunk_done", batch=str(batch_id), items=len(ids), run=len(todo))


@contextlib.asynccontextmanager
async def _handed_back_when_stopped(batch_id: uuid.UUID) -> AsyncIterator[None]:
    """A chunk cut short goes back to the queue, whole, for any worker to finish.

    Cancelled (its worker stops: a CLI's Ctrl-C, or the CLI's own batch done while it runs
    another's chunk): the worker queues it again at once (JobWorker._run_now). The database
    gone: tried again later. Either way the items written so far are kept and skipped by
    the next run.
    """
    try:
        yield
    except asyncio.CancelledError:
        log.info("batch_chunk_handed_back", batch=str(batch_id))
        raise
    except DatabaseUnavailableError as error:
        raise RetryLater(error.message, DATABASE_RETRY) from error
