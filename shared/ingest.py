"""The ingest core: walk -> stat-skip -> probe/hash in workers -> batched upsert.

One code path for the CLI scan, the API scan and the daemon's reconciliation, so they
count and record files the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from videolib.shared.db.records import ExaminedFile, Fingerprint, WriteOutcome
from videolib.shared.db.repository import WRITE_BATCH, FailureRepository, VideoRepository
from videolib.shared.db.repository.videos import FINGERPRINT_PAGE
from videolib.shared.decisions import Examine, WorkerFailure, decide_rescan
from videolib.shared.errors import DatabaseUnavailableError, PathError
from videolib.shared.jobs.defer import defer_fingerprint_backfill, defer_thumbnail_backfill
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.examine import Examination
from videolib.shared.media.names import directory_type_of
from videolib.shared.media.workers import ExaminerPool
from videolib.shared.mount_guard import MountGuard
from videolib.shared.mount_safety import Hold, MissingLimits, library_unmounted
from videolib.shared.walk import FoundFile, Vanished, merge_join, walk_in_order

__all__ = [
    "FoundFile",
    "HeldMissing",
    "ScanResult",
    "examine_and_record",
    "examine_settled",
    "scan",
    "walk",
]

log = get_logger(__name__)

# A file whose size or mtime moved while it was read is re-read this many times (after a
# pause) before the scan gives up on it for now; the next pass or event picks it up.
CHANGED_RETRIES = 3
CHANGED_PAUSE_S = 1.0
# How long the writer lets examined files gather before writing them (latency vs. trips).
BATCH_WAIT_S = 0.05
# Problem messages a scan result keeps; the rest are only counted (errors_total).
ERRORS_KEPT = 100


@dataclass
class ScanResult:
    """The seed's scan counts, plus what our reconciliation adds.

    Only the first ERRORS_KEPT messages are kept (a job's result is rewritten every second
    while it runs); `errors_total` counts them all.
    """

    scanned: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    moved: int = 0
    missing: int = 0
    errors_total: int = 0
    #: Types whose missing marks were held back (shared/mount_safety.py).
    held: list[HeldMissing] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "scanned": self.scanned,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
            "errors": list(self.errors),
            "errorsTotal": self.errors_total,
            "moved": self.moved,
            "missing": self.missing,
            "held": [held.as_dict() for held in self.held],
        }

    def note(self, message: str) -> None:
        """Record a problem message (kept if among the first ERRORS_KEPT)."""
        self.errors_total += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(message)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.note(message)


@dataclass(frozen=True, slots=True)
class HeldMissing:
    """One type's missing marks a pass held back instead of applying."""

    directory_type: str
    kind: str
    reason: str
    missing: int
    records: int

    def as_dict(self) -> dict[str, object]:
        return {
            "directoryType": self.directory_type,
            "kind": self.kind,
            "reason": self.reason,
            "missing": self.missing,
            "records": self.records,
        }


Progress = Callable[[ScanResult, int], None]
#: Told of each examination: the file, what it found (None: unsettled or gone), seconds.
Observe = Callable[[FoundFile, ExaminedFile | None, float], None]


@dataclass
class _Survey:
    """What the walk-and-compare pass found to do; sized by the work, not the library."""

    failures: dict[str, WorkerFailure] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    to_read: list[FoundFile] = field(default_factory=list)
    #: Per type: the paths of records whose file was not found, and the live records.
    vanished: dict[str, list[str]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    linked: list[FoundFile] = field(default_factory=list)


async def scan(
    directory_types: Sequence[str],
    *,
    library: Library,
    repository: VideoRepository,
    pool: ExaminerPool,
    skip_existing: bool = True,
    mark_missing: bool = True,
    progress: Progress | None = None,
    result: ScanResult | None = None,
    limits: MissingLimits | None = None,
    apply_missing: bool = False,
    guard: MountGuard | None = None,
) -> ScanResult:
    """Bring the records of some directory types in line with the disk.

    New files are recorded, changed ones re-read, vanished ones marked missing (only for
    types whose folder exists: a vanished folder is a mount problem, not a mass deletion).
    Every vanished file is marked before any file is read, so that a file moved while
    nobody watched is re-attached to its old record by content.

    The missing marks of each type go through the mount guard (issue 11 §1): a library
    without its marker, a folder on another device or empty, or more than `limits` of a
    type's records gone, and they are held (`result.held`), not applied.
    `apply_missing` is an admin applying a held pass; `guard` a caller's own (the
    daemon's counts its holds), else one with `limits`.
    """
    result = result or ScanResult()  # the caller's, to read the counts so far on a failure
    present_types = []
    for directory_type in directory_types:
        folder = library.directory(directory_type)
        if folder.is_dir():
            present_types.append(directory_type)
        else:
            result.note(f"{directory_type}: directory not found: {folder}")
    failure_repository = FailureRepository(repository.engine)
    # Only the files that crashed or hung a worker: sized by the work, not the library.
    survey = _Survey(failures=await failure_repository.under(present_types))
    for directory_type in present_types:
        await _survey_type(directory_type, library, repository, skip_existing, result, survey)
    await _decide_linked(survey, repository, skip_existing, result)
    if mark_missing:
        guard = guard or MountGuard(library, repository.engine, limits)
        await _mark_vanished(guard, survey, repository, result, forced=apply_missing)
    if progress:
        progress(result, result.scanned)

    async def remember(batch: Sequence[ExaminedFile]) -> None:
        await failure_repository.remember(batch, survey.failures, datetime.now(UTC))

    await examine_and_record(
        survey.to_read,
        repository=repository,
        pool=pool,
        result=result,
        progress=progress,
        remember=remember,
    )
    log.info("scan_finished", directory_types=list(directory_types), **_counts(result))
    # The thumbnails and fingerprints of what it recorded: one backfill job each,
    # deduplicated (shared/jobs/). The scan's work is done: a database gone now costs the
    # deferral only, which the worker's periodic backfills make up for.
    try:
        await defer_thumbnail_backfill(repository.engine)
        await defer_fingerprint_backfill(repository.engine)
    except DatabaseUnavailableError as error:
        log.warning("backfills_not_deferred", error=error.message)
    return result


async def _mark_vanished(
    guard: MountGuard,
    survey: _Survey,
    repository: VideoRepository,
    result: ScanResult,
    *,
    forced: bool,
) -> None:
    """Mark each type's vanished records missing, unless the mount guard holds them."""
    on_disk_by_link = {file.stored_path for file in survey.linked}
    marker = await guard.marker()
    unmounted = library_unmounted(marker)
    if unmounted is not None:
        result.note(f"library: {unmounted}; nothing is marked missing")
    for directory_type, paths in survey.vanished.items():
        vanished = [path for path in paths if path not in on_disk_by_link]
        decision = await guard.settle(
            directory_type,
            records=survey.records.get(directory_type, 0),
            vanished=len(vanished),
            marker=marker,
            forced=forced,
        )
        if isinstance(decision, Hold):
            if decision.vanished:
                result.held.append(
                    HeldMissing(
                        directory_type,
                        decision.kind.value,
                        decision.reason,
                        decision.vanished,
                        decision.records,
                    )
                )
                result.note(
                    f"{directory_type}: {decision.vanished} missing marks held: {decision.reason}"
                )
            continue
        for start in range(0, len(vanished), WRITE_BATCH):
            result.missing += await repository.mark_missing(vanished[start : start + WRITE_BATCH])


async def _survey_type(
    directory_type: str,
    library: Library,
    repository: VideoRepository,
    skip_existing: bool,
    result: ScanResult,
    survey: _Survey,
) -> None:
    """Walk one type and merge-join it with its records, in a thread (syscalls)."""
    stop = threading.Event()  # a cancelled scan ends its thread at the next file
    recorded = _recorded(repository, directory_type, asyncio.get_running_loop())

    vanished = survey.vanished.setdefault(directory_type, [])
    survey.records[directory_type] = 0

    def compare() -> None:
        walked = walk(library, directory_type, result)
        for paired in merge_join(_divert_linked(walked, survey), recorded):
            if stop.is_set():
                return
            live = paired.recorded is not None and paired.recorded.invalid_reason not in (
                "deleted",
                "missing",
            )
            survey.records[directory_type] += live
            if isinstance(paired, Vanished):
                if live:
                    vanished.append(paired.path)
            else:
                _decide(paired.file, paired.recorded, skip_existing, result, survey)

    try:
        await asyncio.to_thread(compare)
    finally:
        stop.set()


def walk(library: Library, directory_type: str, result: ScanResult) -> Iterator[FoundFile]:
    """Video files under one directory type, in path order; problems go to `result`."""
    return walk_in_order(library, directory_type, lambda path, why: _skip(result, path, why))


def _skip(result: ScanResult, stored: str, reason: str) -> None:
    """One entry the walk cannot take: one error in the result, one log line, walk on."""
    log.warning("walk_entry_skipped", path=stored, reason=reason)
    result.fail(f"{stored}: {reason}")


def _divert_linked(files: Iterable[FoundFile], survey: _Survey) -> Iterator[FoundFile]:
    """The files recorded under their own path; symlinked ones go to `survey.linked`."""
    for file in files:
        if file.linked:
            survey.linked.append(file)
        else:
            yield file


def _recorded(
    repository: VideoRepository, directory_type: str, loop: asyncio.AbstractEventLoop
) -> Iterator[tuple[str, Fingerprint]]:
    """A type's records in path order, page by page, for a thread to merge with the walk.

    The next page is asked for before this one is handed on, so the query and the walk
    overlap.
    """

    def fetch(after: str | None) -> concurrent.futures.Future[list[tuple[str, Fingerprint]]]:
        page = repository.fingerprint_page(directory_type, after, FINGERPRINT_PAGE)
        return asyncio.run_coroutine_threadsafe(page, loop)

    coming = fetch(None)
    while True:
        page = coming.result()
        if len(page) < FINGERPRINT_PAGE:
            yield from page
            return
        coming = fetch(page[-1][0])
        yield from page


async def _decide_linked(
    survey: _Survey, repository: VideoRepository, skip_existing: bool, result: ScanResult
) -> None:
    """Decide the symlinked files, looked up by their targets' paths (few, so at once)."""
    for start in range(0, len(survey.linked), WRITE_BATCH):
        batch = survey.linked[start : start + WRITE_BATCH]
        recorded = await repository.fingerprints([file.stored_path for file in batch])
        for file in batch:
            _decide(file, recorded.get(file.stored_path), skip_existing, result, survey)


def _decide(
    file: FoundFile,
    recorded: Fingerprint | None,
    skip_existing: bool,
    result: ScanResult,
    survey: _Survey,
) -> None:
    result.scanned += 1
    decision = decide_rescan(
        file.size,
        file.mtime_ns,
        recorded,
        skip_existing=skip_existing,
        failure=survey.failures.get(file.stored_path),
        now=survey.now,
    )
    if isinstance(decision, Examine):
        survey.to_read.append(file)
    else:
        result.skipped += 1


async def examine_and_record(
    files: Iterable[FoundFile],
    *,
    repository: VideoRepository,
    pool: ExaminerPool,
    result: ScanResult,
    progress: Progress | None = None,
    library: Library | None = None,
    observe: Observe | None = None,
    batch_wait_s: float = BATCH_WAIT_S,
    remember: Callable[[Sequence[ExaminedFile]], Awaitable[None]] | None = None,
) -> list[WriteOutcome]:
    """Probe and hash files in the worker pool and record them in batches.

    Reading and writing overlap: a writer task records batch N while batch N+1 is read.
    `remember` is called with each batch once it is written (the scan's failure memory).
    With `library` (the daemon), a new path also takes the record of identical content
    whose file is gone from disk though nothing marked it missing yet; a scan marks
    vanished files missing before it writes, so it needs no look at the disk.
    `observe(file, examined, seconds)` hears of every examination (the daemon's metrics);
    `batch_wait_s` trades round trips for latency.
    """
    outcomes: list[WriteOutcome] = []
    pending: asyncio.Queue[ExaminedFile | None] = asyncio.Queue(maxsize=WRITE_BATCH * 2)
    total = result.scanned

    async def write_all() -> None:
        finished = False
        while not finished:
            batch, finished = await _next_batch(pending, batch_wait_s)
            if batch:
                vanished = await _vanished_twins(library, repository, batch) if library else set()
                written = await repository.write_examined(batch, vanished=vanished)
                if remember is not None:
                    await remember(batch)
                _count(result, batch, written)
                outcomes.extend(written)
                if progress:
                    progress(result, total)

    async def read(file: FoundFile) -> None:
        started = time.monotonic()
        examined = await examine_settled(pool, file, result)
        if observe:
            observe(file, examined, time.monotonic() - started)
        if examined is not None:
            await pending.put(examined)

    async def read_all() -> None:
        # Bounded fan-out: a burst of 100,000 files never becomes 100,000 tasks at once.
        limit = asyncio.Semaphore(pool.workers * 4)

        async def bounded(file: FoundFile) -> None:
            try:
                await read(file)
            finally:
                limit.release()

        async with asyncio.TaskGroup() as readers:
            for file in files:
                await limit.acquire()
                readers.create_task(bounded(file))
        await pending.put(None)

    await run_together(write_all(), read_all())
    return outcomes


async def run_together(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run coroutines as one task group; the first failure cancels the rest and is raised.

    Raised as itself, not inside an ExceptionGroup, so callers keep catching
    DatabaseUnavailableError. (A writer that failed while readers waited on its full
    queue once left the scan stalled for ever: issue 10 item 3.)

    The group runs in a task of its own, awaited here: a cancellation of the caller still
    reaches it (awaiting a task forwards the cancel, and waits for the group to end), but
    the group's way of aborting never touches the caller's task. On Python < 3.13 a
    TaskGroup whose child fails while it waits in `__aexit__` cancels its parent task and
    never uncancels it (CPython gh-116720): the caller's `cancelling()` stayed 1 after
    the error, and the daemon's loops, which re-raise while being cancelled, took the
    database error for a stop, so the reconciler ended silently and never ran again.
    """
    try:
        await asyncio.create_task(_run_group(jobs))
    finally:
        for job in jobs:  # a group cancelled before it started: no "never awaited"
            job.close()


async def _run_group(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    failure: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as failed:
        failure = first_error(failed)
    if failure is not None:
        raise failure  # outside the except block: its own cause and context stay


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a (nested) exception group."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def _vanished_twins(
    library: Library, repository: VideoRepository, batch: Sequence[ExaminedFile]
) -> set[str]:
    """Recorded paths holding the content of a file in the batch, whose file is gone."""
    keys = {
        (f.size, f.sha256)
        for f in batch
        if f.size is not None and f.sha256 and f.invalid_reason is None
    }
    if not keys:
        return set()
    paths = {f.path for f in batch}
    twins = [p for p in await repository.paths_with_content(keys) if p not in paths]
    return set(await asyncio.to_thread(_gone_from_disk, library, twins)) if twins else set()


def _gone_from_disk(library: Library, stored_paths: Sequence[str]) -> list[str]:
    gone = []
    for stored in stored_paths:
        try:
            if not library.absolute(stored).exists():
                gone.append(stored)
        except PathError:
            gone.append(stored)
    return gone


async def _next_batch(
    pending: asyncio.Queue[ExaminedFile | None], wait_s: float
) -> tuple[list[ExaminedFile], bool]:
    """The next files to write, and whether the end mark came.

    Waits a moment after the first file so that a batch is a few rows, not one: each
    statement is a round trip, and a busy scan should not make one per file.
    """
    first = await pending.get()
    if first is None:
        return [], True
    batch = [first]
    if pending.qsize() < WRITE_BATCH:
        await asyncio.sleep(wait_s)
    while len(batch) < WRITE_BATCH and not pending.empty():
        item = pending.get_nowait()
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


async def examine_settled(
    pool: ExaminerPool, file: FoundFile, result: ScanResult
) -> ExaminedFile | None:
    """Examine a file until it holds still while read; None if it never did or vanished."""
    for attempt in range(CHANGED_RETRIES + 1):
        examination = await pool.examine(os.fspath(file.location))
        if not examination.changed:
            break
        if attempt < CHANGED_RETRIES:
            await asyncio.sleep(CHANGED_PAUSE_S)
    else:
        result.fail(f"{file.stored_path}: still being written; left for the next pass")
        return None
    if examination.invalid_reason == "missing":
        result.fail(f"{file.stored_path}: vanished while being read")
        return None
    return to_examined(file.stored_path, examination)


def to_examined(stored_path: str, examination: Examination) -> ExaminedFile:
    """The record-ready form of a worker's examination."""
    return ExaminedFile(
        path=stored_path,
        filename=stored_path.rsplit("/", 1)[-1],
        directory_type=directory_type_of(stored_path) or "inbox",
        size=examination.size,
        mtime_ns=examination.mtime_ns,
        sha256=examination.sha256,
        metadata=examination.metadata,
        error=examination.error,
        invalid_reason=examination.invalid_reason,
        lost_worker=examination.lost_worker,
    )


def _count(
    result: ScanResult, batch: Sequence[ExaminedFile], written: Sequence[WriteOutcome]
) -> None:
    failed = {file.path for file in batch if file.invalid_reason is not None}
    for file in batch:
        if file.path in failed:
            result.fail(f"{file.path}: {file.error}")
    for outcome in written:
        if outcome.path in failed:
            continue
        if outcome.outcome == "created":
            result.created += 1
        else:
            result.updated += 1
            result.moved += outcome.outcome == "moved"


def _counts(result: ScanResult) -> dict[str, int]:
    return {k: v for k, v in result.as_dict().items() if isinstance(v, int)}
