"""Statements on `video_events`: a video's history, newest first.

The events are written by the database itself (migration 0012's trigger), in the
transaction of each change; this module only reads them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.schema import video_events as events

from .errors import translate_errors


@dataclass(frozen=True)
class VideoEvent:
    id: int
    video_id: uuid.UUID
    occurred_at: datetime
    actor: str
    kind: str
    changes: dict[str, Any]


class HistoryRepository:
    """What happened to a video, whoever did it (the record may be gone since)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def page(
        self, video_id: uuid.UUID, page: int, limit: int
    ) -> tuple[list[VideoEvent], int]:
        """One page of the video's events, newest first, and how many there are."""
        rows_query = (
            select(events)
            .where(events.c.video_id == video_id)
            .order_by(events.c.id.desc())
            .limit(limit)
            .offset((page - 1) * limit)
        )
        count_query = select(func.count()).where(events.c.video_id == video_id)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(rows_query)).all()
            total = await connection.scalar(count_query) or 0
        return [VideoEvent(**row._mapping) for row in rows], total
