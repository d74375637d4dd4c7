"""`video_fingerprints` and `fingerprint_attempts`: the fingerprint job's queue and results."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.schema import fingerprint_attempts, video_fingerprints, videos

from .errors import translate_errors


@dataclass(frozen=True, slots=True)
class FingerprintTask:
    """A video to fingerprint: its id, stored path, and the sha256 of the file it had."""

    video_id: uuid.UUID
    path: str
    file_hash: str


@dataclass(frozen=True, slots=True)
class StoredFingerprint:
    """What the job computed, as the table holds it (signed 64-bit values)."""

    phash: int | None
    frame_hashes: Sequence[int]
    mirrored_hashes: Sequence[int]
    index_keys: Sequence[int]
    algorithm: int


@dataclass(frozen=True, slots=True)
class FingerprintState:
    """One video's fingerprint, or how far the job got with it (the API's view)."""

    video_id: uuid.UUID
    computed_at: datetime | None
    phash: int | None
    seconds: int | None
    algorithm: int | None
    attempts: int
    error: str | None
    retry_at: datetime | None
    claimed_at: datetime | None


def _due(max_attempts: int, stale: timedelta) -> Any:
    """True for an attempts row that does not hold its video back from a new attempt."""
    a = fingerprint_attempts.c
    return and_(
        a.attempts < max_attempts,
        or_(a.retry_at.is_(None), a.retry_at <= func.now()),
        or_(a.claimed_at.is_(None), a.claimed_at <= func.now() - stale),
    )


class FingerprintRepository:
    """Statements on `video_fingerprints` and `fingerprint_attempts`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def claim(self, limit: int, stale: timedelta, max_attempts: int) -> list[FingerprintTask]:
        """Mark up to `limit` valid videos without a fingerprint as being worked on.

        Newest first. Skips videos waiting for their retry, those past `max_attempts` and
        those another worker claimed less than `stale` ago; ON CONFLICT re-checks that under
        the row lock, so two workers never claim the same video.
        """
        v, a = videos.c, fingerprint_attempts.c
        fingerprinted = select(video_fingerprints.c.video_id).where(
            video_fingerprints.c.video_id == v.id
        )
        held = select(a.video_id).where(a.video_id == v.id, ~_due(max_attempts, stale))
        candidates = (
            select(v.id, func.now())
            .where(
                v.is_valid,
                v.file_hash.is_not(None),
                ~fingerprinted.exists(),
                ~held.exists(),
            )
            .order_by(v.created_at.desc())
            .limit(limit)
        )
        statement = (
            insert(fingerprint_attempts)
            .from_select(["video_id", "claimed_at"], candidates)
            .on_conflict_do_update(
                index_elements=[a.video_id],
                set_={"claimed_at": func.now(), "updated_at": func.now()},
                where=_due(max_attempts, stale),
            )
            .returning(a.video_id)
        )
        async with self.engine.begin() as connection:
            claimed = list((await connection.execute(statement)).scalars())
            if not claimed:
                return []
            rows = await connection.execute(
                select(v.id, v.path, v.file_hash)
                .where(v.id.in_(claimed))
                .order_by(v.created_at.desc())
            )
            return [FingerprintTask(*row) for row in rows]

    @translate_errors
    async def record_made(self, task: FingerprintTask, fingerprint: StoredFingerprint) -> bool:
        """Store a video's fingerprint, unless its file changed (or it went) meanwhile.

        Returns whether it was stored. The video's row is share-locked first, so a new
        file_hash written at the same time waits, and its trigger (0013) then removes this
        fingerprint of the old file.
        """
        async with self.engine.begin() as connection:
            if not await _still_the_file(connection, task):
                await _release(connection, task.video_id)
                return False
            values = {
                "phash": fingerprint.phash,
                "frame_hashes": list(fingerprint.frame_hashes),
                "mirrored_hashes": list(fingerprint.mirrored_hashes),
                "index_keys": list(fingerprint.index_keys),
                "algorithm": fingerprint.algorithm,
            }
            await connection.execute(
                insert(video_fingerprints)
                .values(video_id=task.video_id, **values)
                .on_conflict_do_update(
                    index_elements=[video_fingerprints.c.video_id],
                    set_={**values, "computed_at": func.now()},
                )
            )
            await connection.execute(
                fingerprint_attempts.delete().where(
                    fingerprint_attempts.c.video_id == task.video_id
                )
            )
        return True

    @translate_errors
    async def record_failed(
        self, task: FingerprintTask, error: str, retry_delay: Callable[[int], float]
    ) -> int | None:
        """Count a failed attempt, keep its reason and set when to retry
        (`retry_delay(attempts)` seconds). Returns the attempts so far, or None when the
        file changed meanwhile (a new file starts again from no attempts)."""
        a = fingerprint_attempts.c
        async with self.engine.begin() as connection:
            if not await _still_the_file(connection, task):
                await _release(connection, task.video_id)
                return None
            attempts = await connection.scalar(
                select(a.attempts).where(a.video_id == task.video_id).with_for_update()
            )
            attempts = (attempts or 0) + 1
            retry_at = func.now() + timedelta(seconds=retry_delay(attempts))
            values = {
                "attempts": attempts,
                "error": error,
                "retry_at": retry_at,
                "claimed_at": None,
                "updated_at": func.now(),
            }
            await connection.execute(
                insert(fingerprint_attempts)
                .values(video_id=task.video_id, **values)
                .on_conflict_do_update(index_elements=[a.video_id], set_=values)
            )
        return int(attempts)

    @translate_errors
    async def state(self, video_id: uuid.UUID) -> FingerprintState | None:
        """A video's fingerprint or the job's attempts at it; None when there is no video."""
        v, f, a = videos.c, video_fingerprints.c, fingerprint_attempts.c
        statement = (
            select(
                v.id,
                f.computed_at,
                f.phash,
                func.cardinality(f.frame_hashes),
                f.algorithm,
                func.coalesce(a.attempts, literal(0)),
                a.error,
                a.retry_at,
                a.claimed_at,
            )
            .select_from(
                videos.outerjoin(video_fingerprints, f.video_id == v.id).outerjoin(
                    fingerprint_attempts, a.video_id == v.id
                )
            )
            .where(v.id == video_id)
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else FingerprintState(*row)


async def _still_the_file(connection: AsyncConnection, task: FingerprintTask) -> bool:
    """Whether the video is still there with the file the task was claimed for (share-locked)."""
    current = await connection.scalar(
        select(videos.c.file_hash).where(videos.c.id == task.video_id).with_for_update(read=True)
    )
    return current is not None and current == task.file_hash


async def _release(connection: AsyncConnection, video_id: uuid.UUID) -> None:
    """Drop a claim whose result is no longer wanted; its attempts stay counted."""
    await connection.execute(
        fingerprint_attempts.update()
        .where(fingerprint_attempts.c.video_id == video_id)
        .values(claimed_at=None)
    )
