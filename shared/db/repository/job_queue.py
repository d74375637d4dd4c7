"""Read-only looks at the job engine's queue (its tables are PgQueuer's: shared/jobs/schema.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .errors import translate_errors


@dataclass(frozen=True, slots=True)
class QueueState:
    installed: bool
    #: Seconds the oldest due, queued job of a kind with no job running has waited (None:
    #: none waits so).
    oldest_due_seconds: float | None = None
    picked: int = 0


class JobQueueRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def state(self) -> QueueState:
        """Whether the engine's schema is there, and how its queue is being worked off."""
        async with self.engine.connect() as connection:
            if await connection.scalar(text("SELECT to_regclass('pgqueuer')")) is None:
                return QueueState(installed=False)
            # By kind: a backlog of a kind that is being worked off (an integrity cycle's
            # ranges, hours of them) is no sign of a missing worker; a kind none of whose
            # jobs runs while one is due is.
            row = (
                await connection.execute(
                    text(
                        "SELECT max(waited) FILTER (WHERE running = 0), sum(running) FROM ("
                        " SELECT extract(epoch FROM now() - min(execute_after)"
                        "  FILTER (WHERE status = 'queued' AND execute_after <= now())) AS waited,"
                        "  count(*) FILTER (WHERE status = 'picked') AS running"
                        " FROM pgqueuer GROUP BY entrypoint) AS kinds"
                    )
                )
            ).one()
        waited = None if row[0] is None else float(row[0])
        return QueueState(installed=True, oldest_due_seconds=waited, picked=int(row[1] or 0))
