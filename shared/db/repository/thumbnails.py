"""The `thumbnails` table and the `thumbnail_path` of `videos`: the thumbnail queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.schema import thumbnails, videos

from .errors import translate_errors


@dataclass(frozen=True, slots=True)
class ThumbnailTask:
    """A video to make a thumbnail of: its id, stored path and duration."""

    video_id: uuid.UUID
    path: str
    duration_seconds: int | None


def _thumbnail_due(stale: timedelta) -> Any:
    """True for a `thumbnails` row that does not hold its video back from a new attempt."""
    t = thumbnails.c
    return ~or_(
        and_(t.status == "failed", t.retry_at.is_not(None), t.retry_at > func.now()),
        and_(t.status == "working", t.updated_at > func.now() - stale),
    )


class ThumbnailRepository:
    """Statements on `thumbnails` and the `thumbnail_path` of `videos`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def claim(self, limit: int, stale: timedelta) -> list[ThumbnailTask]:
        """Mark up to `limit` valid videos without a thumbnail as being worked on; return them.

        Newest first. Skips videos that failed recently (until `retry_at`) and those another
        worker claimed less than `stale` ago; ON CONFLICT re-checks that under the row lock,
        so two workers never claim the same video.
        """
        v = videos.c
        blocked = (
            select(thumbnails.c.video_id)
            .where(thumbnails.c.video_id == v.id, ~_thumbnail_due(stale))
            .exists()
        )
        candidates = (
            select(v.id, literal("working"))
            # `is_valid` bare, not `IS true`: the partial index's predicate, word for word.
            .where(v.is_valid, v.thumbnail_path.is_(None), ~blocked)
            .order_by(v.created_at.desc())
            .limit(limit)
        )
        statement = (
            insert(thumbnails)
            .from_select(["video_id", "status"], candidates)
            .on_conflict_do_update(
                index_elements=[thumbnails.c.video_id],
                set_={"status": "working", "updated_at": func.now()},
                where=_thumbnail_due(stale),
            )
            .returning(thumbnails.c.video_id)
        )
        async with self.engine.begin() as connection:
            claimed = list((await connection.execute(statement)).scalars())
            if not claimed:
                return []
            rows = await connection.execute(
                select(v.id, v.path, v.duration_seconds)
                .where(v.id.in_(claimed))
                .order_by(v.created_at.desc())
            )
            return [ThumbnailTask(*row) for row in rows]

    @translate_errors
    async def backlog(self, *, missing_only: bool) -> list[ThumbnailTask]:
        """Valid videos without a thumbnail, and unless `missing_only` those with one of ours.

        Videos with a custom thumbnail are never listed. Failures are listed regardless of
        their retry time: this is the admin's backfill.
        """
        v, t = videos.c, thumbnails.c
        ours = and_(t.path.is_not(None), v.thumbnail_path == t.path)
        needed = (
            v.thumbnail_path.is_(None) if missing_only else or_(v.thumbnail_path.is_(None), ours)
        )
        statement = (
            select(v.id, v.path, v.duration_seconds)
            .select_from(videos.outerjoin(thumbnails, t.video_id == v.id))
            .where(v.is_valid, needed)
            .order_by(v.created_at.desc(), v.id)
        )
        async with self.engine.connect() as connection:
            return [ThumbnailTask(*row) for row in await connection.execute(statement)]

    @translate_errors
    async def record_made(self, video_id: uuid.UUID, path: str) -> bool:
        """Record a written thumbnail; point the video at it unless it has a custom one.

        Returns whether the video now shows it (False: a custom thumbnail won, or the
        video is gone).
        """
        v, t = videos.c, thumbnails.c
        async with self.engine.begin() as connection:
            previous = await connection.scalar(
                select(t.path).where(t.video_id == video_id).with_for_update()
            )
            await connection.execute(
                insert(thumbnails)
                .values(video_id=video_id, status="done", path=path)
                .on_conflict_do_update(
                    index_elements=[t.video_id],
                    set_={
                        "status": "done",
                        "path": path,
                        "attempts": 0,
                        "error": None,
                        "retry_at": None,
                        "updated_at": func.now(),
                    },
                )
            )
            # Derived data, not an admin's edit: `updated_at` of the video stays as it is.
            ours = [p for p in (path, previous) if p is not None]
            result = await connection.execute(
                update(videos)
                .where(
                    v.id == video_id, or_(v.thumbnail_path.is_(None), v.thumbnail_path.in_(ours))
                )
                .values(thumbnail_path=path)
            )
        return bool(result.rowcount)

    @translate_errors
    async def record_failed(
        self, video_id: uuid.UUID, error: str, retry_delay: Callable[[int], float]
    ) -> int:
        """Count a failed attempt and set when to retry (`retry_delay(attempts)` seconds).

        Returns the number of attempts so far. The video itself is not touched.
        """
        t = thumbnails.c
        async with self.engine.begin() as connection:
            attempts = await connection.scalar(
                select(t.attempts).where(t.video_id == video_id).with_for_update()
            )
            attempts = (attempts or 0) + 1
            retry_at = func.now() + timedelta(seconds=retry_delay(attempts))
            values = {"status": "failed", "attempts": attempts, "error": error[:2000]}
            await connection.execute(
                insert(thumbnails)
                .values(video_id=video_id, retry_at=retry_at, **values)
                .on_conflict_do_update(
                    index_elements=[t.video_id],
                    set_={**values, "retry_at": retry_at, "updated_at": func.now()},
                )
            )
        return attempts

    @translate_errors
    async def generated_path(self, video_id: uuid.UUID) -> str | None:
        """The path (relative to the thumbnail directory) of the thumbnail made for a video."""
        async with self.engine.connect() as connection:
            return await connection.scalar(
                select(thumbnails.c.path).where(
                    thumbnails.c.video_id == video_id, thumbnails.c.path.is_not(None)
                )
            )

    @translate_errors
    async def counts(self) -> dict[str, int]:
        """Thumbnail rows by status, plus `missing`: valid videos with no thumbnail at all."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(thumbnails.c.status, func.count()).group_by(thumbnails.c.status)
            )
            counts = {str(status): int(n) for status, n in rows}
            counts["missing"] = int(
                await connection.scalar(
                    select(func.count())
                    .select_from(videos)
                    .where(videos.c.is_valid, videos.c.thumbnail_path.is_(None))
                )
                or 0
            )
        return counts
