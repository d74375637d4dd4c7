"""Every task kind there is. Adding one: a job function `async def f(resources, call)` in
its own module, and one line below (plus a `defer_*` in defer.py for its callers)."""

from __future__ import annotations

from .batch_jobs import thumbnail_chunk, validate_chunk
from .fingerprint_jobs import backfill_fingerprints, make_fingerprint
from .integrity_jobs import plan_integrity, verify_integrity_chunk
from .kinds import TaskKind
from .maintenance_jobs import purge_trash, reconcile_library
from .names import (
    BACKFILL_FINGERPRINTS,
    BACKFILL_THUMBNAILS,
    FINGERPRINTS_QUEUE,
    INTEGRITY_QUEUE,
    MAINTENANCE_QUEUE,
    MAKE_FINGERPRINT,
    MAKE_THUMBNAIL,
    PLAN_INTEGRITY,
    PURGE_TRASH,
    RECONCILE_LIBRARY,
    RUN_SCAN,
    SCANS_QUEUE,
    THUMBNAIL_CHUNK,
    THUMBNAILS_QUEUE,
    VALIDATE_CHUNK,
    VALIDATE_QUEUE,
    VERIFY_INTEGRITY_CHUNK,
)
from .scan_jobs import run_scan
from .thumbnail_jobs import backfill_thumbnails, make_thumbnail

TASK_KINDS: tuple[TaskKind, ...] = (
    TaskKind(MAKE_THUMBNAIL, THUMBNAILS_QUEUE, make_thumbnail),
    TaskKind(BACKFILL_THUMBNAILS, MAINTENANCE_QUEUE, backfill_thumbnails, schedule="*/15 * * * *"),
    TaskKind(MAKE_FINGERPRINT, FINGERPRINTS_QUEUE, make_fingerprint),
    TaskKind(
        BACKFILL_FINGERPRINTS, MAINTENANCE_QUEUE, backfill_fingerprints, schedule="*/15 * * * *"
    ),
    TaskKind(VALIDATE_CHUNK, VALIDATE_QUEUE, validate_chunk),
    TaskKind(THUMBNAIL_CHUNK, THUMBNAILS_QUEUE, thumbnail_chunk),
    TaskKind(PLAN_INTEGRITY, INTEGRITY_QUEUE, plan_integrity, schedule="*/5 * * * *"),
    TaskKind(VERIFY_INTEGRITY_CHUNK, INTEGRITY_QUEUE, verify_integrity_chunk),
    TaskKind(PURGE_TRASH, MAINTENANCE_QUEUE, purge_trash),  # periodic: shared/jobs/periodic.py
    TaskKind(RECONCILE_LIBRARY, MAINTENANCE_QUEUE, reconcile_library),  # periodic, as above
    TaskKind(RUN_SCAN, SCANS_QUEUE, run_scan),
)

QUEUES: tuple[str, ...] = tuple(dict.fromkeys(kind.queue for kind in TASK_KINDS))


def kinds_of(queues: tuple[str, ...]) -> tuple[TaskKind, ...]:
    """The kinds a worker of these queues runs (all for an empty tuple)."""
    return tuple(k for k in TASK_KINDS if not queues or k.queue in queues)


def parse_queues(text: str) -> tuple[str, ...]:
    """ "thumbnails,fingerprints" -> names; raises ValueError naming an unknown queue."""
    names = tuple(dict.fromkeys(q.strip() for q in text.split(",") if q.strip()))
    unknown = [q for q in names if q not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue {unknown[0]!r} (queues: {', '.join(QUEUES)})")
    return names
