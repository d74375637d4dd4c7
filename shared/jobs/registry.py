"""Every task kind there is. Adding one: a job function `async def f(resources, call)` in
its own module, and one line below (plus a `defer_*` in defer.py for its callers)."""

from __future__ import annotations

from .fingerprint_jobs import backfill_fingerprints, make_fingerprint
from .kinds import TaskKind
from .names import (
    BACKFILL_FINGERPRINTS,
    BACKFILL_THUMBNAILS,
    FINGERPRINTS_QUEUE,
    MAINTENANCE_QUEUE,
    MAKE_FINGERPRINT,
    MAKE_THUMBNAIL,
    RUN_SCAN,
    SCANS_QUEUE,
    THUMBNAILS_QUEUE,
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
