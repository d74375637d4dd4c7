"""The `thumbnails` table and the `thumbnail_path` of `videos`: which video has a thumbnail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
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


class ThumbnailRepository:
    """Statements on `thumbnails` and the `thumbnail_path` of `videos` (state, not a queue:
    the job engine holds what is pending, shared/jobs/)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def task(self, video_id: uuid.UUID) -> ThumbnailTask | None:
        """The video to make a thumbnail of, or None: gone, invalid, or it has one already."""
        v = videos.c
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(v.id, v.path, v.duration_seconds).where(
                        v.id == video_id, v.is_valid, v.thumbnail_path.is_(None)
                    )
                )
            ).first()
        return ThumbnailTask(*row) if row else None

    @translate_errors
    async def needing(self, paths: Sequence[str] | None = None) -> list[uuid.UUID]:
        """Valid videos without a thumbnail that were not given up on, newest first.

        `paths`: only among these stored paths (the daemon's just-ingested batch).
        """
        v, t = videos.c, thumbnails.c
        given_up = select(t.video_id).where(t.video_id == v.id, t.status == "gave_up").exists()
        # `is_valid` bare, not `IS true`: the partial index's predicate, word for word.
        statement = select(v.id).where(v.is_valid, v.thumbnail_path.is_(None), ~given_up)
        if paths is not None:
            statement = statement.where(v.path.in_(list(paths)))
        async with self.engine.connect() as connection:
            rows = await connection.execute(statement.order_by(v.created_at.desc()))
            return list(rows.scalars())

    @translate_errors
    async def backlog(
        self, *, missing_only: bool, ids: Sequence[uuid.UUID] | None = None
    ) -> list[ThumbnailTask]:
        """Valid videos without a thumbnail, and unless `missing_only` those with one of ours.

        Videos with a custom thumbnail are never listed. Failures are listed regardless of
        their retry time: this is the admin's backfill. `ids`: only among these (a chunk).
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
        if ids is not None:
            statement = statement.where(v.id.in_(list(ids)))
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
                        "error": None,
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
    async def record_failed(self, video_id: uuid.UUID, error: str, *, gave_up: bool) -> None:
        """Record why a try failed; `gave_up`: it was the last one (the engine stops too).

        The video itself is not touched: a thumbnail's failure never makes it invalid.
        """
        t = thumbnails.c
        values = {"status": "gave_up" if gave_up else "failed", "error": error[:2000]}
        await self._execute(
            insert(thumbnails)
            .values(video_id=video_id, **values)
            .on_conflict_do_update(
                index_elements=[t.video_id], set_={**values, "updated_at": func.now()}
            )
        )

    async def _execute(self, statement: Any) -> Any:
        async with self.engine.begin() as connection:
            return await connection.execute(statement)

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
