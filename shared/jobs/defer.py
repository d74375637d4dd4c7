"""Asking for deferred work: rows in the engine's queue, deduplicated by a job key.

The daemon, the scans and the API call these after their own rows are written; a worker
(`videolib worker`, or the one `videolib run` starts) picks them up by LISTEN/NOTIFY.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.repository import FingerprintRepository, ThumbnailRepository
from videolib.shared.db.repository.errors import translate_errors
from videolib.shared.library import INBOX
from videolib.shared.logging import get_logger

from .names import BACKFILL_FINGERPRINTS, BACKFILL_THUMBNAILS, MAKE_FINGERPRINT, MAKE_THUMBNAIL

log = get_logger(__name__)


@translate_errors
async def defer(
    engine: AsyncEngine,
    kind: str,
    jobs: Sequence[tuple[Mapping[str, Any], str | None]],
    priority: int = 0,  # higher first (a waiting request's chunks: shared/jobs/batches.py)
) -> int:
    """Queue jobs of one kind as (payload, job key); a key already pending is skipped.

    Returns how many were queued. The key makes "one pending job per video" a unique index
    of the engine's, not a check of ours that two callers could both pass.
    """
    if not jobs:
        return 0
    async with engine.connect() as connection:
        return await defer_in(connection, kind, jobs, priority)


async def defer_in(
    connection: AsyncConnection,
    kind: str,
    jobs: Sequence[tuple[Mapping[str, Any], str | None]],
    priority: int = 0,
) -> int:
    """`defer` on the caller's connection, inside its transaction if it has one: the jobs
    are queued if and only if the caller's own rows are committed with them."""
    raw = await connection.get_raw_connection()
    queries = Queries(AsyncpgDriver(raw.driver_connection))  # type: ignore[arg-type]
    ids = await queries.enqueue(
        [kind] * len(jobs),
        [json.dumps(payload).encode() for payload, _ in jobs],
        [priority] * len(jobs),
        dedupe_key=[key for _, key in jobs],
        on_conflict="skip",
    )
    return sum(1 for job_id in ids if job_id is not None)


def thumbnail_key(video_id: uuid.UUID) -> str:
    return f"{MAKE_THUMBNAIL}:{video_id}"


async def defer_thumbnails(engine: AsyncEngine, video_ids: Sequence[uuid.UUID]) -> int:
    """One thumbnail job per video that has none pending."""
    jobs = [({"video_id": str(v)}, thumbnail_key(v)) for v in video_ids]
    queued = await defer(engine, MAKE_THUMBNAIL, jobs)
    if queued:
        log.info("thumbnails_deferred", jobs=queued)
    return queued


async def defer_thumbnails_for_paths(engine: AsyncEngine, paths: Sequence[str]) -> int:
    """After an ingest: the thumbnails of those of `paths` that are valid and have none.

    An inbox drop was recorded under the path it moved to, not under `paths`: for those,
    one (deduplicated) backfill job finds it."""
    queued = await defer_thumbnails(engine, await ThumbnailRepository(engine).needing(paths))
    if _has_inbox_drop(paths):
        queued += await defer_thumbnail_backfill(engine)
    return queued


def _has_inbox_drop(paths: Sequence[str]) -> bool:
    return any(path.split("/", 1)[0] == INBOX for path in paths)


async def defer_thumbnail_backfill(engine: AsyncEngine) -> int:
    """After a scan: one backfill job (it defers one job per video still without one)."""
    return await defer(engine, BACKFILL_THUMBNAILS, [({}, BACKFILL_THUMBNAILS)])


def fingerprint_key(video_id: uuid.UUID) -> str:
    return f"{MAKE_FINGERPRINT}:{video_id}"


async def defer_fingerprints(engine: AsyncEngine, video_ids: Sequence[uuid.UUID]) -> int:
    """One fingerprint job per video that has none pending."""
    jobs = [({"video_id": str(v)}, fingerprint_key(v)) for v in video_ids]
    queued = await defer(engine, MAKE_FINGERPRINT, jobs)
    if queued:
        log.info("fingerprints_deferred", jobs=queued)
    return queued


async def defer_fingerprints_for_paths(
    engine: AsyncEngine, paths: Sequence[str], *, max_attempts: int
) -> int:
    """After an ingest: the fingerprints of those of `paths` that are valid, have none and
    were not given up on (`max_attempts`); an inbox drop by one backfill job, as above."""
    needing = await FingerprintRepository(engine).needing(max_attempts, paths)
    queued = await defer_fingerprints(engine, needing)
    if _has_inbox_drop(paths):
        queued += await defer_fingerprint_backfill(engine)
    return queued


async def defer_fingerprint_backfill(engine: AsyncEngine) -> int:
    """After a scan: one backfill job (it defers one job per video still without one)."""
    return await defer(engine, BACKFILL_FINGERPRINTS, [({}, BACKFILL_FINGERPRINTS)])
