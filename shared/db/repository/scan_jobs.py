"""The `scan_jobs` table: the report of the API's background scans (jobs of the engine:
shared/jobs/scan_jobs.py), their progress and result."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.schema import scan_jobs

from .errors import translate_errors


@dataclass(frozen=True, slots=True)
class ScanJob:
    """One row of `scan_jobs`."""

    id: uuid.UUID
    directory_types: list[str]
    skip_existing: bool
    status: str
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ScanJobRepository:
    """Statements on `scan_jobs`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def create(self, directory_types: Sequence[str], skip_existing: bool) -> ScanJob:
        async with self.engine.begin() as connection:
            return await self.create_in(connection, directory_types, skip_existing)

    async def create_in(
        self, connection: AsyncConnection, directory_types: Sequence[str], skip_existing: bool
    ) -> ScanJob:
        """`create` inside the caller's transaction (the engine's job is queued in it too)."""
        statement = (
            insert(scan_jobs)
            .values(
                directory_types=list(directory_types),
                skip_existing=skip_existing,
                status="running",
            )
            .returning(*scan_jobs.c)
        )
        row = (await connection.execute(statement)).one()
        return ScanJob(**row._mapping)

    @translate_errors
    async def get(self, job_id: uuid.UUID) -> ScanJob | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(select(scan_jobs).where(scan_jobs.c.id == job_id))
            ).first()
        return ScanJob(**row._mapping) if row else None

    @translate_errors
    async def progress(self, job_id: uuid.UUID, result: dict[str, Any]) -> None:
        """Store the counts so far of a running job."""
        async with self.engine.begin() as connection:
            await connection.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id, scan_jobs.c.status == "running")
                .values(result=result, updated_at=func.now())
            )

    @translate_errors
    async def finish(
        self, job_id: uuid.UUID, status: str, result: dict[str, Any], error: str | None = None
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id)
                .values(
                    status=status,
                    result=result,
                    error=error,
                    updated_at=func.now(),
                    finished_at=func.now(),
                )
            )

    @translate_errors
    async def restart(self, job_id: uuid.UUID) -> bool:
        """Clear the counts of a running job about to be scanned (again); False if it ended.

        A job retried after its worker died starts over: its old counts are of a scan that
        will not finish, and the new one counts every file again (skipped or not)."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id, scan_jobs.c.status == "running")
                .values(result={}, updated_at=func.now())
            )
        return bool(result.rowcount)

    @translate_errors
    async def count_by_status(self) -> dict[str, int]:
        statement = select(scan_jobs.c.status, func.count()).group_by(scan_jobs.c.status)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return {str(row[0]): int(row[1]) for row in rows}
