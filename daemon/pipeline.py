"""Carrying out decisions: ingest a batch of complete paths, apply moves and deletions.

An ingest goes stat -> stat-skip (decide_rescan) -> examine in the worker pool (re-read
if size or mtime moved while it was read: `examine_settled`) -> one batched upsert, so a
partial file is never recorded. Inbox files take the inbox step instead.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.repository import VideoRepository
from videolib.shared.decisions import Examine, decide_rescan
from videolib.shared.errors import PathError
from videolib.shared.ingest import FoundFile, ScanResult, examine_and_record
from videolib.shared.library import INBOX, Library
from videolib.shared.logging import get_logger
from videolib.shared.media.names import is_video_name
from videolib.shared.media.workers import ExaminerPool
from videolib.shared.mount_guard import MountGuard

from .debounce import Signal
from .events import Action, MarkMissing, MarkMissingTree, Move, MoveTree
from .inbox import Inbox
from .metrics import DaemonMetrics

log = get_logger(__name__)

#: Called to debounce a path again (after a move, or a file that came back).
Touch = Callable[[str, Signal], None]


def stat_found(library: Library, stored_paths: Sequence[str]) -> list[FoundFile]:
    """The paths that are regular files now, with their fingerprint (blocking)."""
    found = []
    for stored in stored_paths:
        try:
            absolute = library.absolute(stored)
            stat = os.stat(absolute)
        except (OSError, PathError):
            continue
        if absolute.is_file():
            found.append(FoundFile(stored, absolute, stat.st_size, stat.st_mtime_ns))
    return found


def walk_videos(library: Library, stored_folder: str) -> list[str]:
    """Stored paths of the video files under a folder (blocking; a folder moved in)."""
    try:
        top = library.absolute(stored_folder + "/x").parent
    except PathError:
        return []
    found = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        relative = os.path.relpath(folder, top)
        base = stored_folder if relative == "." else f"{stored_folder}/{relative}"
        found += [f"{base}/{name}" for name in files if is_video_name(name)]
    return found


@dataclass
class Pipeline:
    library: Library
    repository: VideoRepository
    pool: ExaminerPool
    metrics: DaemonMetrics
    inbox: Inbox
    touch: Touch
    #: Asked before a delete event marks anything missing (issue 11 §1).
    guard: MountGuard

    async def ingest(self, stored_paths: Sequence[str]) -> None:
        """Ingest complete paths. Raises DatabaseUnavailableError (the caller re-queues)."""
        found = await asyncio.to_thread(stat_found, self.library, stored_paths)
        inbox = [f for f in found if f.stored_path.split("/", 1)[0] == INBOX]
        rest = [f for f in found if f.stored_path.split("/", 1)[0] != INBOX]
        await asyncio.gather(self._ingest_library(rest), *(self._ingest_inbox(f) for f in inbox))

    async def _ingest_library(self, found: list[FoundFile]) -> None:
        """Stat-skip, then the scans' own write path (shared/ingest), told to follow
        content whose old file is gone: a rename into a folder not watched yet (just
        created), or across two watches, arrives as a create and a late delete."""
        if not found:
            return
        recorded = await self.repository.fingerprints([f.stored_path for f in found])
        to_read = [
            f
            for f in found
            if isinstance(decide_rescan(f.size, f.mtime_ns, recorded.get(f.stored_path)), Examine)
        ]
        self.metrics.files.labels("skipped").inc(len(found) - len(to_read))
        examined: list[tuple[ExaminedFile, float]] = []

        def observe(_file: FoundFile, result: ExaminedFile | None, seconds: float) -> None:
            self.metrics.examine_seconds.observe(seconds)
            if result is not None:
                examined.append((result, seconds))

        outcomes = await examine_and_record(
            to_read,
            repository=self.repository,
            pool=self.pool,
            result=ScanResult(),
            library=self.library,
            observe=observe,
            batch_wait_s=0.0,  # a watched file is recorded as soon as it is read
        )
        by_path = {o.path: o for o in outcomes}
        for file, seconds in examined:
            written = by_path.get(file.path)
            outcome = file.invalid_reason or (written.outcome if written else "skipped")
            if outcome == "moved" and file.path not in recorded:
                log.info("file_moved", new=file.path, by="content")
            self.metrics.files.labels(outcome).inc()
            log.info(
                "file_ingested",
                path=file.path,
                outcome=outcome,
                id=str(written.id) if written else None,
                examine_ms=round(seconds * 1000, 1),
                size=file.size,
                error=file.error,
            )

    async def _ingest_inbox(self, file: FoundFile) -> None:
        started = time.monotonic()
        outcome = await self.inbox.process(file)
        retry_in_s = self.inbox.retry_delay(file.stored_path)
        if outcome == "move_failed" and retry_in_s is not None:
            # A full disk or a folder not writable may clear soon: try again with backoff,
            # not only at the next periodic pass (issue 10 §8).
            loop = asyncio.get_running_loop()
            loop.call_later(retry_in_s, self.touch, file.stored_path, Signal.APPEAR)
        self.metrics.files.labels(outcome).inc()
        log.info(
            "file_ingested",
            path=file.stored_path,
            outcome=outcome,
            inbox=True,
            seconds=round(time.monotonic() - started, 3),
        )

    # -- moves and deletions -----------------------------------------------------------

    async def apply(self, action: Action) -> None:
        """Carry out a move or deletion, checking the disk first: events can be stale."""
        if isinstance(action, Move):
            await self._move(action)
        elif isinstance(action, MoveTree):
            count = await self.repository.move_prefix(action.old, action.new)
            self.metrics.files.labels("moved").inc(count)
            log.info("folder_moved", old=action.old, new=action.new, records=count)
        elif isinstance(action, MarkMissing):
            await self._mark_missing(action.path)
        elif isinstance(action, MarkMissingTree):
            await self._mark_missing_tree(action.prefix)

    async def _move(self, action: Move) -> None:
        outcome = await self.repository.move(action.old, action.new)
        if outcome == "moved":
            self.metrics.files.labels("moved").inc()
            log.info("file_moved", old=action.old, new=action.new)
        elif outcome == "occupied":
            await self._mark_missing(action.old)
        # Stat-skip decides: nothing to read if the record matches the file, a re-read if
        # it was unknown, missing or changed; the inbox step if it landed in the inbox.
        self.touch(action.new, Signal.RENAMED)

    async def _mark_missing(self, path: str) -> None:
        if await asyncio.to_thread(_exists, self.library, path):
            self.touch(path, Signal.APPEAR)  # it came back before we got to it
            return
        if not await self.guard.events_may_mark(path.split("/", 1)[0]):
            return  # not mounted: the pass after the share is back decides
        count = await self.repository.mark_missing([path])
        if count:
            self.metrics.files.labels("missing").inc(count)
            log.info("file_missing", path=path)

    async def _mark_missing_tree(self, prefix: str) -> None:
        if await asyncio.to_thread(_exists, self.library, prefix):
            for path in await asyncio.to_thread(walk_videos, self.library, prefix):
                self.touch(path, Signal.APPEAR)
            return
        if not await self.guard.events_may_mark(prefix.split("/", 1)[0]):
            return
        count = await self.repository.mark_missing_under(prefix)
        self.metrics.files.labels("missing").inc(count)
        log.info("folder_missing", prefix=prefix, records=count)


def _exists(library: Library, stored: str) -> bool:
    try:
        return library.absolute(stored).exists()
    except PathError:
        return False
