"""`job_batches` and `job_batch_items`: what a batch of chunk jobs has done, item by item.

A batch is state, not a queue: its chunks are jobs of the engine (shared/jobs/batch_jobs.py).
Each item's result is written once (ON CONFLICT DO NOTHING on the (batch, item) key), so a
chunk run twice, after its worker was killed, counts each item once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.schema import job_batch_items, job_batches

from .errors import translate_errors


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """How far a batch is: items recorded of its total, and how many of them failed."""

    total: int
    done: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One item's recorded result (error None: it went well)."""

    item_id: uuid.UUID
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


class BatchRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def create(self, kind: str, total: int) -> uuid.UUID:
        """A new batch of `total` items (finished at once if none)."""
        finished_at = func.now() if total == 0 else None
        async with self.engine.begin() as connection:
            statement = job_batches.insert().values(kind=kind, total=total, finished_at=finished_at)
            return uuid.UUID(str(await connection.scalar(statement.returning(job_batches.c.id))))

    @translate_errors
    async def forget_old(self, *, finished_days: float, unfinished_days: float) -> int:
        """Drop batches finished `finished_days` ago (their items with them), and those
        unfinished after `unfinished_days` (a caller killed before its chunks were queued)."""
        b = job_batches.c
        finished = b.finished_at < func.now() - timedelta(days=finished_days)
        abandoned = b.created_at < func.now() - timedelta(days=unfinished_days)
        async with self.engine.begin() as connection:
            result = await connection.execute(job_batches.delete().where(finished | abandoned))
        return int(result.rowcount or 0)

    @translate_errors
    async def record(self, batch_id: uuid.UUID, items: Sequence[BatchItem]) -> int:
        """Record results; an item already recorded keeps its first. Returns how many were new.

        The one that records a batch's last item marks it finished, in the same transaction,
        under the batch row's lock.
        """
        if not items:
            return 0
        rows = [
            {"batch_id": batch_id, "item_id": i.item_id, "ok": i.ok, "error": i.error}
            for i in items
        ]
        b, i = job_batches.c, job_batch_items.c
        recorded = select(func.count()).where(i.batch_id == batch_id).scalar_subquery()
        async with self.engine.begin() as connection:
            # One recorder of a batch at a time: two chunks' last items recorded at once
            # would each count without the other's (uncommitted) rows, and neither would
            # mark the batch finished (kept 30 days as abandoned instead of 1).
            await connection.execute(select(b.id).where(b.id == batch_id).with_for_update())
            added = await connection.execute(
                insert(job_batch_items).values(rows).on_conflict_do_nothing()
            )
            await connection.execute(
                update(job_batches)
                .where(b.id == batch_id, b.finished_at.is_(None), recorded >= b.total)
                .values(finished_at=func.now())
            )
        return int(added.rowcount or 0)

    @translate_errors
    async def recorded(self, batch_id: uuid.UUID, item_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `item_ids` with a result already (a retried chunk skips them)."""
        i = job_batch_items.c
        statement = select(i.item_id).where(i.batch_id == batch_id, i.item_id.in_(list(item_ids)))
        async with self.engine.connect() as connection:
            return set((await connection.execute(statement)).scalars())

    @translate_errors
    async def progress(self, batch_id: uuid.UUID) -> BatchProgress:
        """Items recorded (and failed) of the batch's total; raises LookupError if unknown."""
        b, i = job_batches.c, job_batch_items.c
        of_batch = select(func.count()).where(i.batch_id == batch_id)
        statement = select(
            b.total, of_batch.scalar_subquery(), of_batch.where(~i.ok).scalar_subquery()
        ).where(b.id == batch_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise LookupError(f"no batch {batch_id}")
        return BatchProgress(total=int(row[0]), done=int(row[1]), failed=int(row[2]))

    @translate_errors
    async def items(self, batch_id: uuid.UUID, *, failed_only: bool = False) -> list[BatchItem]:
        """The recorded results (only the failed ones with `failed_only`)."""
        i = job_batch_items.c
        statement = select(i.item_id, i.error).where(i.batch_id == batch_id)
        if failed_only:
            statement = statement.where(~i.ok)
        async with self.engine.connect() as connection:
            rows = await connection.execute(statement.order_by(i.item_id))
            return [BatchItem(item_id, error) for item_id, error in rows]

    @translate_errors
    async def pending_chunks(self, key_prefix: str) -> int:
        """The batch's chunk jobs still queued or running in the engine (its dedupe keys
        start with `key_prefix`): none while items are missing means a chunk failed."""
        # The engine's table is PgQueuer's (shared/jobs/schema.py): read, never written here.
        statement = text(
            "SELECT count(*) FROM pgqueuer WHERE dedupe_key LIKE :prefix"
            " AND status IN ('queued', 'picked')"
        )
        async with self.engine.connect() as connection:
            count = await connection.scalar(statement, {"prefix": _like_prefix(key_prefix)})
        return int(count or 0)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
