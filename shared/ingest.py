"""The ingest core: walk -> stat-skip -> probe/hash in workers -> batched upsert.

One code path for the CLI scan, the API scan and the daemon's reconciliation, so they
count and record files the same way.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG

from videolib.shared.db.failures import FailureRepository
from videolib.shared.db.records import ExaminedFile, WriteOutcome
from videolib.shared.db.repository import WRITE_BATCH, VideoRepository
from videolib.shared.decisions import Examine, decide_rescan
from videolib.shared.errors import PathError
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.examine import Examination
from videolib.shared.media.names import directory_type_of, is_video_name
from videolib.shared.media.workers import ExaminerPool

log = get_logger(__name__)

# A file whose size or mtime moved while it was read is re-read this many times (after a
# pause) before the scan gives up on it for now; the next pass or event picks it up.
CHANGED_RETRIES = 3
CHANGED_PAUSE_S = 1.0
# How long the writer lets examined files gather before writing them (latency vs. trips).
BATCH_WAIT_S = 0.05


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A video file found on disk, with its stat fingerprint."""

    stored_path: str
    #: Where the file is on disk. A string from the walk: building a Path per file costs
    #: more than its stat (a rescan of 100,000 unchanged files is bound by this loop).
    location: str | os.PathLike[str]
    size: int
    mtime_ns: int

    @property
    def absolute(self) -> Path:
        return Path(self.location)


@dataclass
class ScanResult:
    """The seed's scan counts, plus what our reconciliation adds."""

    scanned: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    moved: int = 0
    missing: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "scanned": self.scanned,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
            "errors": list(self.errors),
            "moved": self.moved,
            "missing": self.missing,
        }

    def fail(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)


Progress = Callable[[ScanResult, int], None]
#: Told of each examination: the file, what it found (None: unsettled or gone), seconds.
Observe = Callable[[FoundFile, ExaminedFile | None, float], None]


def walk(library: Library, directory_type: str, result: ScanResult) -> Iterator[FoundFile]:
    """Video files under one directory type, recursively; problems go to ``result``.

    One stat per file and no path resolution on the common path: a rescan of 100,000
    unchanged files is bound by these syscalls. Directories are never followed through
    symlinks (no loops, no escapes); a symlinked file is taken only when its target is
    inside the library.
    """
    stack = [(str(library.directory(directory_type)), directory_type)]
    while stack:
        folder, stored_folder = stack.pop()
        try:
            with os.scandir(folder) as scanner:
                entries = list(scanner)
        except OSError as error:
            _skip(result, stored_folder, error.strerror or str(error))
            continue
        for entry in entries:
            stored = f"{stored_folder}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, stored))
            elif is_video_name(entry.name):
                found = _found_file(library, entry, stored, result)
                if found is not None:
                    yield found


def _found_file(
    library: Library, entry: os.DirEntry[str], stored: str, result: ScanResult
) -> FoundFile | None:
    # Problems are reported under the entry's own stored path (a link's name, not its
    # target's): that is what the user finds in the tree, and it leaks no server path.
    try:
        stored.encode("utf-8")
        target = stored
        if entry.is_symlink():
            # The target must stay inside the library; it is recorded under its own path.
            target = library.stored_path(Path(entry.path))
        stat = os.stat(entry.path) if entry.is_symlink() else entry.stat(follow_symlinks=False)
    except UnicodeEncodeError:
        _skip(result, stored.encode("utf-8", "replace").decode(), "name is not valid UTF-8")
        return None
    except PathError as error:  # a loop, a target outside the library
        _skip(result, stored, error.reason)
        return None
    except OSError as error:  # a dangling link, a name too long, ELOOP
        _skip(result, stored, error.strerror or str(error))
        return None
    if not S_ISREG(stat.st_mode):
        return None
    return FoundFile(target, entry.path, stat.st_size, stat.st_mtime_ns)


def _skip(result: ScanResult, stored: str, reason: str) -> None:
    """One entry the walk cannot take: one error in the result, one log line, walk on."""
    log.warning("walk_entry_skipped", path=stored, reason=reason)
    result.fail(f"{stored}: {reason}")


def _walk_all(library: Library, directory_types: list[str], result: ScanResult) -> list[FoundFile]:
    return [file for t in directory_types for file in walk(library, t, result)]


async def scan(
    directory_types: Sequence[str],
    *,
    library: Library,
    repository: VideoRepository,
    pool: ExaminerPool,
    skip_existing: bool = True,
    mark_missing: bool = True,
    progress: Progress | None = None,
) -> ScanResult:
    """Bring the records of some directory types in line with the disk.

    New files are recorded, changed ones re-read, vanished ones marked missing (only for
    types whose folder exists: a vanished folder is a mount problem, not a mass deletion).
    """
    result = ScanResult()
    present_types = []
    for directory_type in directory_types:
        folder = library.directory(directory_type)
        if folder.is_dir():
            present_types.append(directory_type)
        else:
            result.errors.append(f"{directory_type}: directory not found: {folder}")
    # The walk (a thread, syscalls) and the query (the database) overlap.
    failure_repository = FailureRepository(repository.engine)
    found, recorded, failures = await asyncio.gather(
        asyncio.to_thread(_walk_all, library, present_types, result),
        repository.fingerprints_under(present_types),
        failure_repository.under(present_types),
    )
    if mark_missing:
        on_disk = {f.stored_path for f in found}
        vanished = [
            path
            for path, fingerprint in recorded.items()
            if path not in on_disk and fingerprint.invalid_reason not in ("deleted", "missing")
        ]
        result.missing = await repository.mark_missing(vanished)
    result.scanned = len(found)
    to_read = []
    now = datetime.now(UTC)
    for file in found:
        decision = decide_rescan(
            file.size,
            file.mtime_ns,
            recorded.get(file.stored_path),
            skip_existing=skip_existing,
            failure=failures.get(file.stored_path),
            now=now,
        )
        if isinstance(decision, Examine):
            to_read.append(file)
        else:
            result.skipped += 1
    if progress:
        progress(result, result.scanned)

    async def remember(batch: Sequence[ExaminedFile]) -> None:
        await failure_repository.remember(batch, failures, datetime.now(UTC))

    await examine_and_record(
        to_read,
        repository=repository,
        pool=pool,
        result=result,
        progress=progress,
        remember=remember,
    )
    log.info("scan_finished", directory_types=list(directory_types), **_counts(result))
    return result


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

    async def writer() -> None:
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

    writing = asyncio.create_task(writer())
    # Bounded fan-out: a burst of 100,000 files never becomes 100,000 tasks at once.
    limit = asyncio.Semaphore(pool.workers * 4)

    async def bounded(file: FoundFile) -> None:
        try:
            await read(file)
        finally:
            limit.release()

    reading: set[asyncio.Task[None]] = set()
    try:
        for file in files:
            await limit.acquire()
            if writing.done():
                limit.release()
                break
            task = asyncio.create_task(bounded(file))
            reading.add(task)
            task.add_done_callback(reading.discard)
        await asyncio.gather(*reading)
    finally:
        if not writing.done():
            await pending.put(None)
        await writing  # re-raises a database error from the writer
    return outcomes


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
