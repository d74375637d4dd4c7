"""The API's edits of `videos`: an admin's upload, metadata, deletes and restores.

The API's repository reads and lists videos and makes these edits; the daemon's writes
(moves, missing marks, standardized inbox files) are not part of it. A scan or validation
started through the API records through VideoRepository, the path every scan takes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from videolib.shared.db.records import ExaminedFile, Video
from videolib.shared.db.schema import videos

from .errors import translate_errors
from .listing import VideoListing
from .videos import VideoReader, examined_values


class AdminVideoRepository(VideoReader, VideoListing):
    """The API's statements on `videos`: reads, listing, and an admin's edits."""

    @translate_errors
    async def insert_new(self, file: ExaminedFile, edits: dict[str, Any]) -> Video | None:
        """Record a file not yet recorded, with admin metadata; None if its path is taken.

        ON CONFLICT DO NOTHING on the unique path: a scan or the daemon recording the same
        file at the same moment leaves one row, and this caller learns it lost.
        """
        values = {**examined_values(file), **edits}
        statement = (
            insert(videos)
            .values(values)
            .on_conflict_do_nothing(index_elements=[videos.c.path])
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return Video.from_row(row) if row else None

    @translate_errors
    async def update_metadata(self, ids: Sequence[uuid.UUID], edits: dict[str, Any]) -> list[Video]:
        """Set admin fields (producer, creator, title, tags, thumbnail_path) of some videos."""
        statement = (
            update(videos)
            .where(videos.c.id.in_(list(ids)))
            .values({**edits, "updated_at": func.now()})
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
        return [Video.from_row(row) for row in rows]

    @translate_errors
    async def soft_delete(self, video_id: uuid.UUID) -> Video | None:
        """Mark a video deleted; None if there is no such video, or it is in the trash
        (its reason stays `trashed`: restore it, or let the purge take it)."""
        statement = (
            update(videos)
            .where(videos.c.id == video_id, videos.c.invalid_reason.is_distinct_from("trashed"))
            .values(is_valid=False, invalid_reason="deleted", updated_at=func.now())
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return Video.from_row(row) if row else None

    @translate_errors
    async def delete_invalid(self, video_id: uuid.UUID) -> str:
        """Remove the row of an invalid video: "deleted", "valid" (kept) or "absent"."""
        async with self.engine.begin() as connection:
            deleted = await connection.execute(
                delete(videos)
                .where(videos.c.id == video_id, videos.c.is_valid.is_(False))
                .returning(videos.c.id)
            )
            if deleted.first() is not None:
                return "deleted"
            valid = await connection.scalar(
                select(videos.c.is_valid).where(videos.c.id == video_id)
            )
        return "absent" if valid is None else "valid"

    @translate_errors
    async def undelete(self, video_id: uuid.UUID) -> Video | None:
        """Make a record valid again, before a re-probe decides whether it stays so."""
        statement = (
            update(videos)
            .where(videos.c.id == video_id)
            .values(is_valid=True, invalid_reason=None, probe_error=None, updated_at=func.now())
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return Video.from_row(row) if row else None
