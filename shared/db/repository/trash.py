"""The trash's statements on `videos`: trash, restore, purge, clean-up.

Each state change is one method and one transaction that holds the record's row lock
while the caller's file step (a rename) runs, and commits after it: a watcher or a scan
that looks at the record meanwhile waits for the lock and then sees the outcome, never the
halfway state (a file gone from its path while its record still says it is there). The
file step runs last, after every statement that could fail, so a failed statement leaves
the file where it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from videolib.shared.db.records import Video
from videolib.shared.db.schema import videos
from videolib.shared.errors import ConflictError

from .errors import translate_errors
from .videos import VideoReader

#: The reasons a clean-up may select (issue 11 §4).
CLEANUP_REASONS = ("deleted", "missing", "corrupt")
#: Records listed by one clean-up selection at most.
CLEANUP_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Dropped:
    """A record a clean-up dropped, and where its file went (None: it had none)."""

    video: Video
    trash_path: str | None


class TrashRepository(VideoReader):
    """Trash and restore one video, purge a day of the trash, clean up invalid records."""

    @translate_errors
    async def trash(
        self,
        video_id: uuid.UUID,
        target_of: Callable[[Video], str],
        move: Callable[[Video, str], None],
    ) -> Video | None:
        """Record a video trashed at `target_of(video)` and `move` its file there.

        None if there is no such video. The record's path becomes the trash path (the
        original path is free for a new file) and `trashed_from` keeps where it was.
        """
        async with self.engine.begin() as connection:
            video = await _locked(connection, video_id)
            if video is None:
                return None
            if video.invalid_reason == "trashed":
                raise ConflictError(f"{video.path}: already in the trash")
            target = target_of(video)
            row = (
                await connection.execute(
                    update(videos)
                    .where(videos.c.id == video_id)
                    .values(
                        path=target,
                        trashed_from=video.path,
                        trashed_at=func.now(),
                        is_valid=False,
                        invalid_reason="trashed",
                        updated_at=func.now(),
                    )
                    .returning(*videos.c)
                )
            ).one()
            move(video, target)
        return Video.from_row(row)

    @translate_errors
    async def restore(
        self,
        video_id: uuid.UUID,
        check: Callable[[Video], None],
        move_back: Callable[[Video], None],
    ) -> Video | None:
        """Give a trashed video its path back, valid, same id; `move_back` moves its file.

        `check` refuses (raises) before anything changes; ConflictError when the original
        path is recorded again meanwhile.
        """
        async with self.engine.begin() as connection:
            video = await _locked(connection, video_id)
            if video is None:
                return None
            if video.invalid_reason != "trashed" or video.trashed_from is None:
                raise ConflictError(f"{video.path}: not in the trash")
            check(video)
            statement = (
                update(videos)
                .where(videos.c.id == video_id)
                .values(
                    path=video.trashed_from,
                    trashed_from=None,
                    trashed_at=None,
                    is_valid=True,
                    invalid_reason=None,
                    probe_error=None,
                    updated_at=func.now(),
                )
                .returning(*videos.c)
            )
            try:
                row = (await connection.execute(statement)).one()
            except IntegrityError:  # the unique path: a new file was recorded there
                raise ConflictError(
                    f"{video.trashed_from}: cannot restore: another record has this path now"
                ) from None
            move_back(video)
        return Video.from_row(row)

    @translate_errors
    async def drop_trashed_under(self, prefix: str) -> list[uuid.UUID]:
        """Remove the records of the trashed files under a trash folder; their ids."""
        statement = (
            delete(videos)
            .where(
                videos.c.path.startswith(prefix.rstrip("/") + "/", autoescape=True),
                videos.c.invalid_reason == "trashed",
            )
            .returning(videos.c.id)
        )
        async with self.engine.begin() as connection:
            # The history trigger records these as purged, not as an admin's delete.
            await connection.execute(text("SELECT set_config('videolib.removal', 'purged', true)"))
            return list((await connection.execute(statement)).scalars())

    @translate_errors
    async def cleanup_candidates(
        self, reasons: Collection[str], invalid_before: datetime, limit: int = CLEANUP_LIMIT
    ) -> list[Video]:
        """Invalid records with one of `reasons`, unchanged since `invalid_before`, oldest first.

        `updated_at` is the age: set when a record became invalid, and by any later edit
        (which makes it younger: the safe side for a clean-up).
        """
        statement = (
            select(videos)
            .where(*_still_selected(reasons, invalid_before))
            .order_by(videos.c.updated_at, videos.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            result = await connection.execute(statement)
        return [Video.from_row(row) for row in result]

    @translate_errors
    async def drop_if_still(
        self,
        video_id: uuid.UUID,
        reasons: Collection[str],
        invalid_before: datetime,
        act: Callable[[Video], str | None],
    ) -> Dropped | None:
        """Drop one record if it still matches the selection, after `act` (its file to the
        trash; returns the trash path, None when there is no file). None: it changed."""
        async with self.engine.begin() as connection:
            row = (
                await connection.execute(
                    select(videos)
                    .where(videos.c.id == video_id, *_still_selected(reasons, invalid_before))
                    .with_for_update()
                )
            ).first()
            if row is None:
                return None
            video = Video.from_row(row)
            await connection.execute(delete(videos).where(videos.c.id == video_id))
            trash_path = act(video)
        return Dropped(video, trash_path)


async def _locked(connection: AsyncConnection, video_id: uuid.UUID) -> Video | None:
    row = (
        await connection.execute(select(videos).where(videos.c.id == video_id).with_for_update())
    ).first()
    return Video.from_row(row) if row else None


def _still_selected(reasons: Collection[str], invalid_before: datetime) -> list[Any]:
    return [
        videos.c.is_valid.is_(False),
        videos.c.invalid_reason.in_(list(reasons)),
        videos.c.updated_at < invalid_before,
    ]
