"""The inbox: a complete file is probed, hashed, moved to its type folder and recorded.

Each move is journaled before it starts (journal.py, a table every daemon of the library
reads) and carried out in crash-safe steps (moving.py); the entry goes in the transaction
that records the file in its place. A kill at any instant, or a database outage after the
move, leaves an entry that `recover` finishes or rolls back, at start, after an outage and
on every reconciliation, by this daemon or the one that leads after it: the file ends up
exactly once in the library (or still in the inbox), with one record carrying
originalFilename and standardizedAt (issue 10 §8).

Connections (issue 10 §2): a file's lock is a session outside the pool (DirectoryLocks),
its writes take a pooled connection one statement at a time, and at most
`moves_at_once` files are between lock and record at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

from videolib.shared.config import DaemonConfig
from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.repository import DirectoryLocks, VideoRepository
from videolib.shared.errors import PathError
from videolib.shared.ingest import FoundFile, ScanResult, examine_settled
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.media.probe import Metadata
from videolib.shared.media.workers import ExaminerPool

from .journal import MoveEntry, MoveJournal
from .metrics import DaemonMetrics
from .moving import (
    Adopt,
    Content,
    Finish,
    Recovery,
    Step,
    claim_name,
    decide_recovery,
    find_placed,
    is_stale_orphan,
    move_retry_delay,
    place,
    source_state,
    temporaries,
    temporary_state,
)

log = get_logger(__name__)


def inbox_target(metadata: Metadata | None, config: DaemonConfig) -> str:
    """The directory type an inbox file goes to: short clips to gifs/ when configured."""
    limit = config.inbox_gif_max_seconds
    duration = metadata.duration_seconds if metadata else None
    if limit > 0 and duration is not None and duration < limit:
        return "gifs"
    return config.inbox_target


def _lock_key(inbox_path: str) -> str:
    return f"inbox-file:{inbox_path}"


def _no_step(_name: str) -> None:
    pass


@dataclass
class Inbox:
    """Handles complete inbox files; their moves are journaled until recorded."""

    library: Library
    repository: VideoRepository
    pool: ExaminerPool
    config: DaemonConfig
    metrics: DaemonMetrics
    locks: DirectoryLocks
    journal: MoveJournal
    #: Files between lock and record at once: each holds a lock session of its own.
    moves_at_once: int = 4
    #: Told of each step of a move on disk; tests stop a real process there (a kill).
    step: Step = _no_step
    _slots: asyncio.Semaphore = dataclasses.field(init=False)
    _moving: set[str] = dataclasses.field(default_factory=set)  # entry ids in progress here
    _failures: dict[str, int] = dataclasses.field(default_factory=dict)  # failed moves in a row

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(max(1, self.moves_at_once))

    async def process(self, file: FoundFile) -> str:
        """Examine, move and record one inbox file; returns the outcome name."""
        started = time.monotonic()
        result = ScanResult()
        examined = await examine_settled(self.pool, file, result)
        self.metrics.examine_seconds.observe(time.monotonic() - started)
        if examined is None:
            return "skipped"
        if examined.invalid_reason is not None or examined.sha256 is None or examined.size is None:
            # A corrupt file stays in the inbox, recorded invalid (issue 4 §6).
            await self.repository.write_examined([examined])
            return examined.invalid_reason or "unreadable"
        # Two daemons on one library: only the one holding the file's lock moves it.
        lock = self.locks.free_directory_locks([_lock_key(file.stored_path)])
        async with self._slots, lock as mine:
            if not mine or not file.absolute.exists():
                return "skipped"
            return await self.move_and_record(file, examined)

    def retry_delay(self, stored_path: str) -> float | None:
        """Seconds before a failed move of this file is tried again; None if it did not fail."""
        failures = self._failures.get(stored_path)
        return move_retry_delay(failures) if failures else None

    async def move_and_record(self, file: FoundFile, examined: ExaminedFile) -> str:
        """Journal, move and record one examined inbox file (its lock held by the caller)."""
        assert examined.sha256 is not None and examined.size is not None
        target = inbox_target(examined.metadata, self.config)
        content = Content(examined.size, examined.sha256)
        entry = MoveEntry.new(file.stored_path, target, examined.filename, content)
        self._moving.add(entry.id)
        try:
            await self.journal.write(entry)
            self.step("journaled")
            try:
                final = await asyncio.to_thread(self._place, file.absolute, entry)
            except OSError as error:
                await self.journal.remove(entry)  # nothing moved: forget it
                return await self._move_failed(file, examined, target, error)
            self._failures.pop(file.stored_path, None)
            self.metrics.inbox_moves.labels("moved").inc()
            # A database outage from here on keeps the entry: recovery records it later.
            await self._record(entry, final, examined)  # and removes the entry
            self.step("recorded")
            return "moved"
        finally:
            self._moving.discard(entry.id)

    def _place(self, source: Path, entry: MoveEntry) -> Path:
        folder = self.library.directory(entry.directory_type)
        return place(source, folder, entry.filename, entry.content, entry.temporary_name, self.step)

    async def _move_failed(
        self, file: FoundFile, examined: ExaminedFile, target: str, error: OSError
    ) -> str:
        failures = self._failures[file.stored_path] = self._failures.get(file.stored_path, 0) + 1
        self.metrics.inbox_moves.labels("failed").inc()
        log.error(
            "inbox_move_failed",
            path=file.stored_path,
            target=target,
            error=str(error),
            retry_in_s=move_retry_delay(failures),
        )
        await self.repository.write_examined([examined])  # listed where it is meanwhile
        return "move_failed"

    async def _record(self, entry: MoveEntry, final: Path, examined: ExaminedFile) -> None:
        stat = await asyncio.to_thread(final.stat)
        record = dataclasses.replace(
            examined,
            path=self.library.stored_path(final),
            filename=final.name,
            directory_type=entry.directory_type,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            original_filename=entry.filename,
            standardized=True,
        )
        await self.repository.record_standardized(entry.inbox_path, record, move_id=entry.id)

    # -- recovery -------------------------------------------------------------------------

    async def recover(self) -> int:
        """Finish or roll back the moves a kill or an outage left half done; returns how
        many entries were settled. Stray temporaries nobody journaled are removed."""
        folders = [self.library.directory(t) for t in DIRECTORY_TYPES]
        # Temporaries first, entries second: an entry is written before its temporary, so
        # every temporary seen here whose entry is missing was not made by a move now running.
        # That holds for every daemon of the library: they all journal in one table.
        stray = await asyncio.to_thread(temporaries, folders)
        entries = await self.journal.entries()
        settled = 0
        for entry in entries:
            if entry.id in self._moving:
                continue
            # A live mover (here or in another daemon) holds its file's lock: its entry is
            # not left over. One that finished after the read above has removed its entry.
            async with self.locks.free_directory_locks([_lock_key(entry.inbox_path)]) as mine:
                if mine and await self.journal.holds(entry):
                    await self._recover(entry)
                    settled += 1
        known = {e.temporary_name for e in entries}
        await asyncio.to_thread(_remove_orphans, [t for t in stray if t.name not in known])
        return settled

    async def _recover(self, entry: MoveEntry) -> None:
        try:
            source = self.library.absolute(entry.inbox_path)
            folder = self.library.directory(entry.directory_type)
        except PathError as error:  # a type or path unknown to this version: nowhere to go
            log.error("inbox_journal_unusable", entry=entry.id, error=str(error))
            await self.journal.remove(entry)
            return
        try:
            action, placed = await asyncio.to_thread(_settle_on_disk, source, folder, entry)
        except OSError as error:
            # Kept for the next pass; one bad entry never stops the reconciliation.
            log.error("inbox_recovery_failed", path=entry.inbox_path, error=str(error))
            return
        log.info(
            "inbox_move_recovered",
            path=entry.inbox_path,
            action=type(action).__name__,
            placed=self.library.stored_path(placed) if placed else None,
        )
        if placed is not None:
            examined = await self._examine(placed)
            if examined is None:
                return  # being changed right now: the entry stays for the next pass
            await self._record(entry, placed, examined)  # and removes the entry
        else:
            await self.journal.remove(entry)

    async def _examine(self, path: Path) -> ExaminedFile | None:
        stat = await asyncio.to_thread(path.stat)
        found = FoundFile(self.library.stored_path(path), path, stat.st_size, stat.st_mtime_ns)
        return await examine_settled(self.pool, found, ScanResult())


def _settle_on_disk(source: Path, folder: Path, entry: MoveEntry) -> tuple[Recovery, Path | None]:
    """Look at what a crash left, decide, and carry out the disk part; the file's place.

    Blocking: run in a thread.
    """
    temporary = folder / entry.temporary_name
    placed = find_placed(folder, entry.filename, entry.content)
    action = decide_recovery(
        placed.name if placed else None,
        source_state(source, entry.content),
        temporary_state(temporary, entry.content),
    )
    final: Path | None = None
    if isinstance(action, Finish):
        final = folder / action.placed
        if action.remove_source:
            source.unlink()
    elif isinstance(action, Adopt):
        final, _how = claim_name(temporary, folder, entry.filename, entry.content)
    # RollBack and Forget leave the inbox as it is: the reconciliation walks the inbox
    # right after and moves what is there again.
    if temporary.exists():
        temporary.unlink()
    return action, final


def _remove_orphans(stray: list[Path]) -> None:
    now = time.time()
    for path in stray:
        try:
            if is_stale_orphan(path.stat().st_mtime, now):
                os.unlink(path)
                log.warning("inbox_temporary_removed", path=str(path))
        except FileNotFoundError:
            continue
