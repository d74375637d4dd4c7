"""Statements on `examination_failures`: files that crashed or hung a worker.

Scans read the failures of the types they walk and remember (or forget) them batch by
batch, after the batch is written.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.schema import examination_failures as failures
from videolib.shared.decisions import WorkerFailure, failure_backoff

from .errors import translate_errors


class FailureRepository:
    """What is remembered of files that cost a worker its life."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def under(self, directory_types: Sequence[str]) -> dict[str, WorkerFailure]:
        """The remembered failures of files under these directory types, by path."""
        if not directory_types:
            return {}
        query = select(failures).where(
            or_(*(failures.c.path.startswith(f"{t}/", autoescape=True) for t in directory_types))
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {
            row.path: WorkerFailure(
                row.file_size, row.file_mtime_ns, row.failure, row.attempts, row.retry_at
            )
            for row in rows
        }

    @translate_errors
    async def remember(
        self, files: Sequence[ExaminedFile], known: Container[str], now: datetime
    ) -> None:
        """Remember the files of a batch that lost a worker; forget those that were read.

        `known`: the paths with a failure on record (only those can need forgetting, so a
        batch without failures costs no statement). The same fingerprint failing again
        counts one more attempt; a changed file starts at one.
        """
        lost = [f for f in files if f.lost_worker and f.size is not None]
        read = [f.path for f in files if not f.lost_worker and f.path in known]
        if not lost and not read:
            return
        async with self.engine.begin() as connection:
            if read:
                await connection.execute(delete(failures).where(failures.c.path.in_(read)))
            if not lost:
                return
            before = {
                row.path: row
                for row in await connection.execute(
                    select(failures)
                    .where(failures.c.path.in_([f.path for f in lost]))
                    .with_for_update()
                )
            }
            rows = []
            for file in lost:
                previous = before.get(file.path)
                attempts = 1
                if previous is not None and (previous.file_size, previous.file_mtime_ns) == (
                    file.size,
                    file.mtime_ns,
                ):
                    attempts = previous.attempts + 1
                rows.append(
                    {
                        "path": file.path,
                        "file_size": file.size,
                        "file_mtime_ns": file.mtime_ns,
                        "failure": file.lost_worker,
                        "error": file.error,
                        "attempts": attempts,
                        "retry_at": now + failure_backoff(attempts),
                    }
                )
            statement = insert(failures).values(rows)
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[failures.c.path],
                    set_={
                        **{name: statement.excluded[name] for name in rows[0] if name != "path"},
                        "failed_at": func.now(),
                    },
                )
            )
