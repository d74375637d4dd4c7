"""The inbox: a complete file is probed, hashed, moved to its type folder and recorded.

Never overwrites (a numbered suffix on collision, claimed with link(2), which fails if the
name exists, instead of rename(2), which replaces). Across file systems: copy to a hidden
name beside the target, fsync, link to the final name, then unlink the original, so a
crash at any point leaves the file in one place at least (issue 4 §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from videolib.shared.config import DaemonConfig
from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.repository import DirectoryLocks, VideoRepository
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.ingest import FoundFile, ScanResult, examine_settled
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.probe import Metadata
from videolib.shared.media.workers import ExaminerPool

from .metrics import DaemonMetrics

log = get_logger(__name__)

#: Prefix of the hidden copy made across file systems; ignored by names.is_ignored.
INCOMING_PREFIX = ".videolib-incoming-"
# link(2) not supported by the target file system: fall back to check-then-rename.
_NO_LINK = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK)


# -- pure rules --------------------------------------------------------------------------


def inbox_target(metadata: Metadata | None, config: DaemonConfig) -> str:
    """The directory type an inbox file goes to: short clips to gifs/ when configured."""
    limit = config.inbox_gif_max_seconds
    duration = metadata.duration_seconds if metadata else None
    if limit > 0 and duration is not None and duration < limit:
        return "gifs"
    return config.inbox_target


def candidate_names(filename: str) -> Iterator[str]:
    """`clip.mp4`, then `clip (1).mp4`, `clip (2).mp4`, ... without end."""
    yield filename
    stem, dot, suffix = filename.rpartition(".")
    if not dot:
        stem, suffix = filename, ""
    number = 1
    while True:
        yield f"{stem} ({number}){dot}{suffix}"
        number += 1


# -- moving (blocking: run in a thread) ---------------------------------------------------


def place(source: Path, folder: Path, filename: str) -> Path:
    """Move `source` into `folder` under `filename` or a numbered variant; never overwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        final, linked = _claim_name(source, folder, filename)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        return _place_across(source, folder, filename)
    if linked:
        source.unlink()
    return final


def _claim_name(existing: Path, folder: Path, filename: str) -> tuple[Path, bool]:
    """Give `existing` a name in `folder` no file has: (target, True if hard-linked).

    False means it was renamed (the file system refuses links), so `existing` is gone.
    """
    for name in candidate_names(filename):
        target = folder / name
        try:
            os.link(existing, target)
            return target, True
        except FileExistsError:
            continue
        except OSError as error:
            if error.errno not in _NO_LINK:
                raise
            if target.exists():
                continue
            os.rename(existing, target)  # a small race, only where links are refused
            return target, False
    raise AssertionError("candidate_names never ends")


def _place_across(source: Path, folder: Path, filename: str) -> Path:
    hidden = folder / f"{INCOMING_PREFIX}{uuid.uuid4().hex[:8]}-{filename}"
    try:
        shutil.copy2(source, hidden)
        _fsync(hidden)
        final, _linked = _claim_name(hidden, folder, filename)
        _fsync(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            hidden.unlink()
    source.unlink()
    return final


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- the step ---------------------------------------------------------------------------


@dataclass
class Inbox:
    """Handles complete inbox files; keeps moved-but-unrecorded files until the DB is back."""

    library: Library
    repository: VideoRepository
    pool: ExaminerPool
    config: DaemonConfig
    metrics: DaemonMetrics
    locks: DirectoryLocks
    unrecorded: dict[str, tuple[str, ExaminedFile]] = dataclasses.field(default_factory=dict)

    async def process(self, file: FoundFile) -> str:
        """Examine, move and record one inbox file; returns the outcome name."""
        started = time.monotonic()
        result = ScanResult()
        examined = await examine_settled(self.pool, file, result)
        self.metrics.examine_seconds.observe(time.monotonic() - started)
        if examined is None:
            return "skipped"
        if examined.invalid_reason is not None:
            # A corrupt file stays in the inbox, recorded invalid (issue 4 §6).
            await self.repository.write_examined([examined])
            return examined.invalid_reason
        # Two daemons on one library: only the one holding the file's lock moves it.
        lock = self.locks.free_directory_locks([f"inbox-file:{file.stored_path}"])
        async with lock as mine:
            if not mine or not file.absolute.exists():
                return "skipped"
            return await self._move_and_record(file, examined)

    async def _move_and_record(self, file: FoundFile, examined: ExaminedFile) -> str:
        target = inbox_target(examined.metadata, self.config)
        folder = self.library.directory(target)
        try:
            final = await asyncio.to_thread(place, file.absolute, folder, examined.filename)
            stat = final.stat()
        except OSError as error:
            self.metrics.inbox_moves.labels("failed").inc()
            log.error("inbox_move_failed", path=file.stored_path, target=target, error=str(error))
            await self.repository.write_examined([examined])  # listed where it is meanwhile
            return "move_failed"
        self.metrics.inbox_moves.labels("moved").inc()
        new_path = self.library.stored_path(final)
        record = dataclasses.replace(
            examined,
            path=new_path,
            filename=final.name,
            directory_type=target,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            original_filename=examined.filename,
            standardized=True,
        )
        try:
            await self.repository.record_standardized(file.stored_path, record)
        except DatabaseUnavailableError:
            self.unrecorded[new_path] = (file.stored_path, record)
            raise
        return "moved"

    async def retry_unrecorded(self) -> None:
        """Record the files moved while the database was away."""
        for new_path, (inbox_path, record) in list(self.unrecorded.items()):
            await self.repository.record_standardized(inbox_path, record)
            del self.unrecorded[new_path]
