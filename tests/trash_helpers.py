"""A trashed record and its file, made directly, for the purge and daemon tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_video
from videolib.shared.db.schema import videos


async def trashed_file(engine: AsyncEngine, root: Path, day: str, original: str) -> uuid.UUID:
    """A real video at `.trash/<day>/<original>` and a trashed record of it; its id."""
    stored = f".trash/{day}/{original}"
    file = root / stored
    file.parent.mkdir(parents=True, exist_ok=True)
    make_video(file)
    async with engine.begin() as connection:
        video_id = (
            await connection.execute(
                insert(videos)
                .values(
                    path=stored,
                    filename=original.rsplit("/", 1)[-1],
                    directory_type=original.split("/", 1)[0],
                    file_size=file.stat().st_size,
                    is_valid=False,
                    invalid_reason="trashed",
                    trashed_from=original,
                    trashed_at=datetime.now(UTC),
                )
                .returning(videos.c.id)
            )
        ).scalar_one()
    return video_id  # type: ignore[no-any-return]
