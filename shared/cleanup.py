"""Clean-up: the seed's manual `rm` of invalid videos' files, made safe (issue 11 §4).

An admin selects invalid videos by reason and age, sees the list with sizes (a dry run
that changes nothing), then applies it to the records seen: each one is checked again
under its row lock, and only a record unchanged since the list (same `updated_at`, still
invalid for a selected reason) is acted on. Its file goes to the trash, never unlinked,
and its record is dropped. `decide` is the pure part (tests/unit/test_trash_rules.py).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from videolib.shared.db.records import Video
from videolib.shared.errors import PathError, VideolibError
from videolib.shared.logging import get_logger
from videolib.shared.trash import Move, Trash

log = get_logger(__name__)

Outcome = Literal["trashed", "dropped", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class Selection:
    """Invalid videos with one of `reasons`, unchanged for `older_than_days`."""

    reasons: tuple[str, ...]
    older_than_days: float = 0.0

    def invalid_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.older_than_days)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One video of a dry run: whether its file is on disk, and its size there."""

    video: Video
    on_disk: bool
    size: int | None


@dataclass(frozen=True, slots=True)
class Seen:
    """A record as the dry run showed it: acted on only if still the same."""

    id: uuid.UUID
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ItemReport:
    id: uuid.UUID
    outcome: Outcome
    path: str | None = None
    trash_path: str | None = None
    size: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TrashFile:
    """Move the record's file to the trash, then drop the record."""


@dataclass(frozen=True, slots=True)
class DropOnly:
    """No file to move: drop the record."""


@dataclass(frozen=True, slots=True)
class Skip:
    why: str


Decision = TrashFile | DropOnly | Skip


def decide(invalid_reason: str | None, file_present: bool) -> Decision:
    """What to do with one re-checked record, by its reason and whether its file is there."""
    if not file_present:
        return DropOnly()
    if invalid_reason == "missing":
        # Its file came back since it was marked: the next pass makes it valid again.
        return Skip("its file is back on disk")
    return TrashFile()


class _Skipped(VideolibError):
    """Raised inside the record's transaction to leave it as it is."""


class Cleanup:
    def __init__(self, trash: Trash) -> None:
        self.trash = trash

    async def preview(self, selection: Selection) -> list[Candidate]:
        """The dry run: the selected records, with their files' sizes on disk."""
        before = selection.invalid_before(self.trash.clock())
        videos = await self.trash.repository.cleanup_candidates(selection.reasons, before)
        return await asyncio.to_thread(lambda: [self._candidate(v) for v in videos])

    async def apply(self, selection: Selection, seen: Sequence[Seen]) -> list[ItemReport]:
        """Trash the files and drop the records of `seen`, each re-checked now."""
        before = selection.invalid_before(self.trash.clock())
        reports = [await self._apply_one(selection, item, before) for item in seen]
        counts = {
            o: sum(r.outcome == o for r in reports)
            for o in ("trashed", "dropped", "skipped", "failed")
        }
        log.info("cleanup_applied", reasons=list(selection.reasons), **counts)
        return reports

    async def _apply_one(self, selection: Selection, item: Seen, before: datetime) -> ItemReport:
        sizes: dict[str, int | None] = {}
        moves: list[Move] = []

        def act(video: Video) -> str | None:
            if _millis(video.updated_at) != _millis(item.updated_at):
                raise _Skipped("changed since the list")
            decision = decide(video.invalid_reason, _present(self.trash, video.path))
            if isinstance(decision, Skip):
                raise _Skipped(decision.why)
            if isinstance(decision, DropOnly):
                return None
            sizes["size"] = _size(self.trash, video.path)
            return self.trash.move_file_in(video.path, moves)

        try:
            with self.trash.undone_on_failure(moves):
                dropped = await self.trash.repository.drop_if_still(
                    item.id, selection.reasons, before, act
                )
        except _Skipped as skipped:
            return ItemReport(item.id, "skipped", reason=skipped.message)
        except VideolibError as error:
            log.warning("cleanup_item_failed", video_id=str(item.id), error=error.message)
            return ItemReport(item.id, "failed", reason=error.message)
        if dropped is None:
            return ItemReport(item.id, "skipped", reason="no longer selected (changed, or gone)")
        self.trash.remove_thumbnail_of(item.id)
        video = dropped.video
        if dropped.trash_path is None:
            return ItemReport(item.id, "dropped", video.path, size=video.file_size)
        return ItemReport(item.id, "trashed", video.path, dropped.trash_path, sizes.get("size"))

    def _candidate(self, video: Video) -> Candidate:
        size = _size(self.trash, video.path)
        return Candidate(video, size is not None, size if size is not None else video.file_size)


def _millis(moment: datetime) -> datetime:
    """A timestamp as JSON carries it (milliseconds): the dry run's client sends it back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _present(trash: Trash, stored_path: str) -> bool:
    try:
        return os.path.lexists(trash.library.absolute(stored_path))
    except PathError:
        return False


def _size(trash: Trash, stored_path: str) -> int | None:
    try:
        return os.stat(trash.library.absolute(stored_path)).st_size
    except (OSError, PathError):
        return None
