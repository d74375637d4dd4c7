"""The library's trash: a video's file goes to `<root>/.trash/<day>/<path>` by one rename,
comes back the same way, and is purged after `trash.retention_days`.

videolib never unlinks a library file except here, when purging its own trash (issue 11
§3). The record and the rename change together (shared/db/repository/trash.py): the record
first, under its row lock, then the rename, then the commit. A rename across file systems
(a type folder that is a mount of its own, an inbox elsewhere) is refused with 409, not
copied: a trash that copies could fill a disk or leave two copies after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from videolib.shared.db.records import Video
from videolib.shared.db.repository import TrashRepository
from videolib.shared.errors import ConflictError, NotFoundError, PathError
from videolib.shared.frame_cache import remove_frames
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.renaming import rename_no_replace
from videolib.shared.thumbnails import remove_thumbnail
from videolib.shared.trash_paths import (
    TRASH_FOLDER,
    expired_days,
    is_trash_path,
    trash_day,
    trash_path,
)

log = get_logger(__name__)

Clock = Callable[[], datetime]
#: A rename done: (from, to).
Move = tuple[Path, Path]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TrashRefusedError(ConflictError):
    """The file cannot go to (or come back from) the trash; nothing was changed."""

    code = "trash_refused"


@dataclass(frozen=True, slots=True)
class PurgeResult:
    days: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0


@dataclass(frozen=True)
class Trash:
    """Moves files of one library into and out of its trash, and purges old days."""

    library: Library
    repository: TrashRepository
    thumbnail_dir: Path
    clock: Clock = utc_now

    @property
    def folder(self) -> Path:
        return self.library.root / TRASH_FOLDER

    # -- one video ----------------------------------------------------------------------

    async def trash(self, video_id: uuid.UUID) -> Video:
        """Move a video's file to the trash; its record says so (restorable, same id)."""
        moves: list[Move] = []
        with self.undone_on_failure(moves):
            trashed = await self.repository.trash(
                video_id,
                self._free_target,
                lambda video, target: self._rename(
                    self.library.absolute(video.path), self.library.root / target, moves
                ),
            )
        if trashed is None:
            raise NotFoundError(f"{video_id}: no such video")
        log.info(
            "video_trashed", video_id=str(video_id), path=trashed.trashed_from, trash=trashed.path
        )
        return trashed

    async def restore(self, video_id: uuid.UUID) -> Video:
        """Move a trashed file back to its path; the record is valid again, same id."""
        moves: list[Move] = []
        with self.undone_on_failure(moves):
            restored = await self.repository.restore(
                video_id,
                self._check_restorable,
                lambda video: self._rename(
                    self.library.root / video.path, self._original(video), moves
                ),
            )
        if restored is None:
            raise NotFoundError(f"{video_id}: no such video")
        log.info("video_restored", video_id=str(video_id), path=restored.path)
        return restored

    def move_file_in(self, stored_path: str, moves: list[Move]) -> str | None:
        """Move the file at a stored path to the trash (blocking); its trash path, or None
        when there is no file there. Raises TrashRefusedError."""
        source = self.library.absolute(stored_path)
        if not os.path.lexists(source):
            return None
        target = self._free_path(stored_path)
        self._rename(source, self.library.root / target, moves)
        return target

    @contextlib.contextmanager
    def undone_on_failure(self, moves: list[Move]) -> Iterator[None]:
        """The renames made in the body, moved back if it fails (its transaction did not
        commit, as far as we know: the database went away, the call timed out).

        Should the commit have gone through with its reply lost, the record then points at
        where the file was; nothing is lost either way, and the daemon settles the record
        (marks it missing, or finds the file back at its path).
        """
        try:
            yield
        except BaseException:
            for source, target in reversed(moves):
                try:
                    rename_no_replace(target, source)
                    log.warning("trash_move_undone", path=str(source))
                except OSError as error:
                    log.error("trash_move_not_undone", path=str(target), error=str(error))
            raise

    def remove_thumbnail_of(self, video_id: uuid.UUID) -> None:
        remove_thumbnail(self.thumbnail_dir, video_id)
        remove_frames(self.thumbnail_dir, video_id)  # the page's frame strip (frame_cache.py)

    # -- purging --------------------------------------------------------------------------

    async def purge(self, retention_days: int) -> PurgeResult:
        """Remove the trash's day folders `retention_days` old, and their records."""
        names = await asyncio.to_thread(self._day_names)
        result = PurgeResult()
        for day in expired_days(names, self.clock().date(), retention_days):
            ids = await self.repository.drop_trashed_under(f"{TRASH_FOLDER}/{day}")
            for video_id in ids:
                self.remove_thumbnail_of(video_id)
            files = await asyncio.to_thread(self._remove_day, day)
            log.info("trash_purged", day=day, files=files, records=len(ids))
            result = PurgeResult(
                [*result.days, day], result.files + files, result.records + len(ids)
            )
        return result

    def _day_names(self) -> list[str]:
        if self.folder.is_symlink():  # purging through a link could delete outside the root
            log.error("trash_not_purged", path=str(self.folder), reason="the trash is a symlink")
            return []
        try:
            return [
                entry.name
                for entry in os.scandir(self.folder)
                if entry.is_dir(follow_symlinks=False)
            ]
        except FileNotFoundError:
            return []

    def _remove_day(self, day: str) -> int:
        """Delete one day folder (blocking): the one place videolib unlinks library files."""
        folder = self.folder / day
        files = sum(len(names) for _top, _dirs, names in os.walk(folder))
        failures: list[str] = []

        def failed(
            _function: object, path: str, info: tuple[object, BaseException, object]
        ) -> None:
            failures.append(path)
            log.error("trash_purge_failed", path=path, error=str(info[1]))

        shutil.rmtree(folder, onerror=failed)  # never follows a symlink inside
        return files - len(failures)

    # -- the file steps, run inside the record's transaction -------------------------------

    def _free_target(self, video: Video) -> str:
        source = self.library.absolute(video.path)
        if not source.is_file():
            raise TrashRefusedError(f"{video.path}: no file to move to the trash")
        return self._free_path(video.path)

    def _free_path(self, stored_path: str) -> str:
        day = trash_day(self.clock())
        attempt = 0
        while os.path.lexists(self.library.root / trash_path(stored_path, day, attempt)):
            attempt += 1
        return trash_path(stored_path, day, attempt)

    def _check_restorable(self, video: Video) -> None:
        if not is_trash_path(video.path):
            raise TrashRefusedError(f"{video.path}: not a path in the trash")
        if not (self.library.root / video.path).is_file():
            raise TrashRefusedError(f"{video.path}: the trashed file is gone (purged?)")
        original = self._original(video)
        if os.path.lexists(original):
            raise TrashRefusedError(f"{video.trashed_from}: cannot restore: a file is there now")

    def _original(self, video: Video) -> Path:
        try:
            return self.library.absolute(video.trashed_from or "")
        except PathError as error:
            raise TrashRefusedError(f"{video.trashed_from}: {error.reason}") from None

    def _rename(self, source: Path, target: Path, moves: list[Move]) -> None:
        """Rename without replacing, remembered in `moves`; errors name stored paths only."""
        # Blocking, on purpose, on the loop: one rename, and a cancellation between the
        # rename and learning its result would leave the file's place unknown.
        shown = self._shown(source)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            rename_no_replace(source, target)
        except FileExistsError:
            raise TrashRefusedError(f"{shown}: {self._shown(target)} exists") from None
        except OSError as error:
            if error.errno == errno.EXDEV:
                raise TrashRefusedError(
                    f"{shown}: on another file system than the library's trash "
                    f"({TRASH_FOLDER}): the trash moves files by rename only (a type folder "
                    "mounted on its own has no trash)"
                ) from None
            raise TrashRefusedError(f"{shown}: {error.strerror or error}") from None
        moves.append((source, target))

    def _shown(self, path: Path) -> str:
        """A path as the user knows it: relative to the root (or the inbox), never absolute."""
        for base, prefix in ((self.library.root, ""), (self.library.inbox, "inbox/")):
            try:
                return prefix + path.relative_to(base).as_posix()
            except ValueError:
                continue
        return path.name
