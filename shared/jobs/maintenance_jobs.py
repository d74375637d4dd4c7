"""The library's periodic maintenance as engine jobs: the trash purge and the periodic
reconciliation, once per library on whichever worker takes the maintenance queue
(shared/jobs/periodic.py says how they repeat).

The daemon keeps its own passes (at start, after a database outage, on a remount, on an
overflow): those follow what its watch saw, and the inbox's drops stay with it. This pass
is the backstop behind them, and the only one while no daemon runs.

A worker's pass is the daemon's pass (shared.ingest.scan under the directory types' scan
locks, taken without waiting, so it never runs beside the daemon's or an API scan on one
type; missing marks through the mount guard with the same limits), over the types this
worker can judge (`judged_types`):

- the inbox is left out: its files are the watcher's to move (daemon/inbox.py);
- a type under the worker's `worker.path_map` is left out: the pass walks one tree under
  `library.root`, and a folder mapped elsewhere is not in it;
- a type whose folder, or the root, is on another device than the one recorded by the
  last applied pass is left out: its share is unmounted on this host, or this host mounts
  it with devices of its own. Either way this host cannot tell a deletion from a missing
  mount, so it neither marks nor holds: the watcher's remount pass decides, on the host
  whose devices were recorded. (The guard would hold it as "unmounted" instead; on a
  second host that would be a false alarm every interval.)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from videolib.shared.db.repository import (
    ROOT_FOLDER,
    DirectoryLocks,
    MountRepository,
    TrashRepository,
    VideoRepository,
)
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.library import INBOX, Library
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.mount_guard import MountGuard, limits_from
from videolib.shared.runtime import examiner_pool
from videolib.shared.trash import Trash

from .kinds import JobCall, RetryLater
from .names import PURGE_TRASH, RECONCILE_LIBRARY
from .periodic import reschedule
from .resources import WorkerResources

log = get_logger(__name__)

#: A run that met the database gone is tried again this much later (the same job).
DATABASE_RETRY = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Skipped:
    directory_type: str
    reason: str  # a label value: inbox, path_map, device


def judged_types(
    types: Sequence[str],
    path_map: Mapping[str, Path],
    recorded: Mapping[str, int],
    seen: Mapping[str, int | None],
) -> tuple[list[str], list[Skipped]]:
    """The types this worker's pass covers, and those it leaves (why), from the recorded
    devices (folder -> st_dev, "." the root) and the devices seen here (None: not there).

    A folder with no recorded device (never applied) is judged: there is nothing to
    compare, and the guard's emptiness and mass checks still apply.
    """
    mapped = {prefix.split("/", 1)[0] for prefix in path_map}
    root_moved = ROOT_FOLDER in recorded and seen.get(ROOT_FOLDER) != recorded[ROOT_FOLDER]
    judged: list[str] = []
    skipped: list[Skipped] = []
    for directory_type in types:
        if directory_type == INBOX:
            skipped.append(Skipped(directory_type, "inbox"))
        elif directory_type in mapped:
            skipped.append(Skipped(directory_type, "path_map"))
        elif root_moved or (
            directory_type in recorded and seen.get(directory_type) != recorded[directory_type]
        ):
            skipped.append(Skipped(directory_type, "device"))
        else:
            judged.append(directory_type)
    return judged, skipped


async def purge_trash(resources: WorkerResources, call: JobCall) -> None:
    """Purge the trash's days older than `trash.retention_days`, then queue the next look.

    The trash is `<library.root>/.trash` of this worker (a path map never maps it): a
    worker whose share is not mounted finds no day folders there, and so purges nothing,
    records included (a record goes only with its day folder found on disk).
    """
    await _then_next(resources, call, PURGE_TRASH, _purge(resources))


async def reconcile_library(resources: WorkerResources, call: JobCall) -> None:
    """One periodic pass over the types this worker can judge, then queue the next."""
    await _then_next(resources, call, RECONCILE_LIBRARY, _reconcile(resources))


async def _then_next(
    resources: WorkerResources, call: JobCall, kind: str, work: Coroutine[Any, Any, object]
) -> None:
    """Run one periodic job's work; then queue its next run, after a failure too.

    The database gone (during the work or the queueing) is a retry of this same job,
    which the engine keeps queued: the chain goes on, and never as two.
    """
    try:
        await work
    except DatabaseUnavailableError as error:
        raise RetryLater(error.message, DATABASE_RETRY) from error
    except Exception:
        log.exception("periodic_job_failed", task=kind, then="its next run is queued")
        await _queue_next(resources, call, kind)
        raise
    await _queue_next(resources, call, kind)


async def _queue_next(resources: WorkerResources, call: JobCall, kind: str) -> None:
    try:
        await reschedule(resources.engine, resources.config, kind, call.job_id)
    except DatabaseUnavailableError as error:  # the work is done again at the retry
        raise RetryLater(error.message, DATABASE_RETRY) from error


async def _purge(resources: WorkerResources) -> None:
    config = resources.config
    trash = Trash(
        Library.from_config(config),
        TrashRepository(resources.engine),
        config.thumbnail_dir.absolute(),
    )
    result = await trash.purge(config.trash.retention_days)
    counts = resources.metrics.maintenance
    counts.trash_purged_files.inc(result.files)
    counts.trash_purged_records.inc(result.records)
    counts.trash_purges.inc()


async def _reconcile(resources: WorkerResources) -> ScanResult | None:
    config, engine = resources.config, resources.engine
    counts = resources.metrics.maintenance
    library = Library.from_config(config)
    folders = MountRepository(engine)
    seen = await asyncio.to_thread(_devices, library)
    recorded = await folders.devices()
    types, skipped = judged_types(DIRECTORY_TYPES, resources.path_map, recorded, seen)
    for one in skipped:
        if one.reason != "inbox":
            counts.reconcile_skipped.labels(one.directory_type, one.reason).inc()
    left = [one.directory_type for one in skipped if one.reason != "inbox"]
    if left:
        log.warning("reconcile_types_left", directory_types=left, to="the watcher's passes")
    result = None
    started = time.monotonic()
    if types:
        result = await _scan_free(library, resources, types)
    if result is not None:
        elapsed = time.monotonic() - started
        counts.reconciled.inc()
        counts.reconcile_seconds.observe(elapsed)
        counts.reconcile_last_success.set(time.time())
        for outcome, count in _outcomes(result).items():
            counts.reconcile_files.labels(outcome).inc(count)
        log.info("periodic_reconcile_finished", seconds=round(elapsed, 3), **_outcomes(result))
    return result


async def _scan_free(
    library: Library, resources: WorkerResources, types: list[str]
) -> ScanResult | None:
    """The daemon's pass (daemon/reconcile.py) over `types`: the types another pass or
    scan holds are skipped this time; None when all were."""
    engine, config = resources.engine, resources.config
    async with DirectoryLocks(engine).free_directory_locks(types) as free:
        busy = sorted(set(types) - set(free))
        if busy:
            log.info("reconcile_types_busy", directory_types=busy)
        if not free:
            return None
        ordered = [t for t in DIRECTORY_TYPES if t in free]
        async with examiner_pool(config) as pool:
            return await scan(
                ordered,
                library=library,
                repository=VideoRepository(engine),
                pool=pool,
                guard=MountGuard(library, engine, limits_from(config)),
            )


def _outcomes(result: ScanResult) -> dict[str, int]:
    return {
        "created": result.created,
        "updated": result.updated - result.moved,  # the scan counts moves as updates too
        "moved": result.moved,
        "missing": result.missing,
        "skipped": result.skipped,
    }


def _devices(library: Library) -> dict[str, int | None]:
    """The device of the root and of each type folder on this host (None: not there)."""
    folders = {ROOT_FOLDER: library.root}
    folders.update({t: library.directory(t) for t in DIRECTORY_TYPES})
    return {name: _device(path) for name, path in folders.items()}


def _device(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_dev
    except OSError:
        return None
