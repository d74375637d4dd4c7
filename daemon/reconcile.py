"""Reconciliation: events are hints, this pass is the truth (issue 4 §5).

At start, after an outage, on a remount or an overflow, one `shared.ingest.scan` over the
nine types, under their advisory locks taken without waiting: a type another daemon, a
worker's periodic pass (shared/jobs/maintenance_jobs.py) or an API scan holds is skipped
this time. One scan over all the types it got, so that a file
moved between two types while nobody watched is marked missing before it is found again,
and re-attached to its old id by (size, SHA-256).
"""

from __future__ import annotations

import time

from videolib.shared.db.repository import DirectoryLocks, VideoRepository
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.media.workers import ExaminerPool
from videolib.shared.mount_guard import MountGuard

from .metrics import DaemonMetrics

log = get_logger(__name__)


async def reconcile(
    library: Library,
    repository: VideoRepository,
    locks: DirectoryLocks,
    pool: ExaminerPool,
    metrics: DaemonMetrics,
    guard: MountGuard | None = None,
) -> ScanResult | None:
    """One pass over the types nobody else is scanning; None when all were taken.

    Its missing marks go through `guard` (the daemon's, which counts holds), else one
    with the default limits.
    """
    guard = guard or MountGuard(library, repository.engine)
    started = time.monotonic()
    async with locks.free_directory_locks(DIRECTORY_TYPES) as types:
        busy = sorted(set(DIRECTORY_TYPES) - set(types))
        if busy:
            log.info("reconcile_types_busy", directory_types=busy)
        if not types:
            return None
        ordered = [t for t in DIRECTORY_TYPES if t in types]
        result = await scan(ordered, library=library, repository=repository, pool=pool, guard=guard)
    elapsed = time.monotonic() - started
    metrics.reconcile_seconds.observe(elapsed)
    metrics.reconcile_last_success.set(time.time())
    counts = {
        "created": result.created,
        "updated": result.updated - result.moved,  # the scan counts moves as updates too
        "moved": result.moved,
        "missing": result.missing,
        "skipped": result.skipped,
    }
    for outcome, count in counts.items():
        metrics.files.labels(outcome).inc(count)
    metrics.held_passes.set(len(await guard.folders.held()))
    log.info("reconcile_finished", seconds=round(elapsed, 3), **_counts(result))
    return result


def _counts(result: ScanResult) -> dict[str, int]:
    return {k: v for k, v in result.as_dict().items() if isinstance(v, int)}
