"""`video_fingerprints` and `fingerprint_attempts`: the fingerprint job's results and failures.

State, not a queue: the job engine holds what is pending (shared/jobs/); `state` reads the
engine's row of a video's job to say whether it is being worked on or waits for its retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, column, func, literal, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from videolib.shared.db.schema import fingerprint_attempts, video_fingerprints, videos
from videolib.shared.jobs.names import MAKE_FINGERPRINT

from .errors import translate_errors

#: The engine's job table (PgQueuer's, not declared in our schema): only what `state` reads.
_engine_jobs = table("pgqueuer", column("dedupe_key"), column("status"), column("execute_after"))


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
    #: When the pending job of the video runs (next), from the engine's queue.
    retry_at: datetime | None
    #: A worker has the video's job now.
    running: bool


class FingerprintRepository:
    """Statements on `video_fingerprints` and `fingerprint_attempts`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def task(self, video_id: uuid.UUID, max_attempts: int) -> FingerprintTask | None:
        """The video to fingerprint, or None: gone, invalid, fingerprinted, or given up."""
        v = videos.c
        statement = _needing(max_attempts).add_columns(v.path, v.file_hash).where(v.id == video_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        return FingerprintTask(*row) if row else None

    @translate_errors
    async def needing(
        self, max_attempts: int, paths: Sequence[str] | None = None
    ) -> list[uuid.UUID]:
        """Valid videos without a fingerprint that were not given up on, newest first.

        `paths`: only among these stored paths (the daemon's just-ingested batch).
        """
        statement = _needing(max_attempts)
        if paths is not None:
            statement = statement.where(videos.c.path.in_(list(paths)))
        async with self.engine.connect() as connection:
            rows = await connection.execute(statement.order_by(videos.c.created_at.desc()))
            return list(rows.scalars())

    @translate_errors
    async def record_made(self, task: FingerprintTask, fingerprint: StoredFingerprint) -> bool:
        """Store a video's fingerprint, unless its file changed (or it went) meanwhile.

        Returns whether it was stored. The video's row is share-locked first, so a new
        file_hash written at the same time waits, and its trigger (0013) then removes this
        fingerprint of the old file.
        """
        async with self.engine.begin() as connection:
            if not await _still_the_file(connection, task):
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
    async def record_failed(self, task: FingerprintTask, error: str) -> int | None:
        """Count a failed attempt and keep its reason (the engine keeps when to retry).

        Returns the attempts so far, or None when the file changed meanwhile (a new file
        starts again from no attempts)."""
        a = fingerprint_attempts.c
        async with self.engine.begin() as connection:
            if not await _still_the_file(connection, task):
                return None
            attempts = await connection.scalar(
                select(a.attempts).where(a.video_id == task.video_id).with_for_update()
            )
            attempts = (attempts or 0) + 1
            values = {"attempts": attempts, "error": error[:2000], "updated_at": func.now()}
            await connection.execute(
                insert(fingerprint_attempts)
                .values(video_id=task.video_id, **values)
                .on_conflict_do_update(index_elements=[a.video_id], set_=values)
            )
        return int(attempts)

    @translate_errors
    async def state(self, video_id: uuid.UUID) -> FingerprintState | None:
        """A video's fingerprint or the job's attempts at it; None when there is no video."""
        v, f, a, j = videos.c, video_fingerprints.c, fingerprint_attempts.c, _engine_jobs.c
        # The video's pending job (one at most: its key is unique among pending jobs).
        status = cast(j.status, Text)  # the engine's enum, compared as text
        job = (
            select(status.label("status"), j.execute_after)
            .where(
                j.dedupe_key
                == func.concat(cast(literal(f"{MAKE_FINGERPRINT}:"), Text), cast(v.id, Text)),
                status.in_(["queued", "picked"]),
            )
            .limit(1)
            .lateral("job")
        )
        statement = (
            select(
                v.id,
                f.computed_at,
                f.phash,
                func.cardinality(f.frame_hashes),
                f.algorithm,
                func.coalesce(a.attempts, literal(0)),
                a.error,
                job.c.execute_after,
                func.coalesce(job.c.status == literal("picked"), literal(False)),
            )
            .select_from(
                videos.outerjoin(video_fingerprints, f.video_id == v.id)
                .outerjoin(fingerprint_attempts, a.video_id == v.id)
                .outerjoin(job, literal(True))
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


def _needing(max_attempts: int) -> Select[Any]:
    """Valid videos with a file hash, no fingerprint, and fewer than `max_attempts` failures."""
    v, a = videos.c, fingerprint_attempts.c
    fingerprinted = select(video_fingerprints.c.video_id).where(
        video_fingerprints.c.video_id == v.id
    )
    given_up = select(a.video_id).where(a.video_id == v.id, a.attempts >= max_attempts)
    # `is_valid` bare, not `IS true`: the partial index's predicate, word for word.
    return select(v.id).where(
        v.is_valid, v.file_hash.is_not(None), ~fingerprinted.exists(), ~given_up.exists()
    )
